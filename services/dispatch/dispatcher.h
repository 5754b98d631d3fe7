// Dispatcher: drains one channel's deliveries from the queue through its Channel. It claims
// several deliveries per round trip, publishes each as a coroutine on the channel's loop (so a slow
// routine call never holds up an alert: `reserved_for_alerts` slots are kept for alerts), acks in
// batches, heartbeats the leases of what is in flight, and blocks in Redis (no polling) when there
// is nothing to do.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/channel.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"
#include "queue/stats_store.h"

namespace herald {

// How long a delivery may keep being deferred (DESIGN.md §3) before it becomes a dead letter
// (`deferred_too_long`), per reason.
struct DeferLimits {
  std::chrono::milliseconds rate_limit{std::chrono::hours(24)};
  std::chrono::milliseconds processing{std::chrono::hours(72)};  // "still publishing" checks
};

struct DispatcherOptions {
  std::string channel;  // queue channel; empty → the Channel's name()
  std::string owner;    // identity stored with leases; empty → "<hostname>:<pid>:<channel>"
  int concurrency = 4;  // deliveries published at once by this process
  int reserved_for_alerts = 1;  // of those, slots routine work may never take (< concurrency)
  int max_ack_batch = 64;
  DeferLimits defer_limits;
  RedisOptions redis;  // the dispatcher opens its own connections (claim, block, ack)
  // Runs on the outbound loop right before each publish (heraldd: the content gate, whose word list
  // may have changed since the item was approved). A failure is handled like a failed publish of
  // the same kind and code (permanent → dead letter, retryable → retry); the channel is not called.
  std::function<Result<void>(const Delivery&)> pre_publish_check;
  // Runs on the claimer right after each claim, on its connection: fills in the payload of the
  // deliveries that carry none (heraldd: ItemStore::load_payloads, since an item's body is
  // stored once, with the item). Until it succeeds the claimed deliveries are not started;
  // it is retried with backoff (their leases are heartbeated meanwhile).
  std::function<Result<void>(RedisConnection&, std::vector<Delivery>&)> load_payloads;
  // Retraction deliveries (kind "retraction", DESIGN.md §3 Recall) are not published: their
  // coroutine reads the target delivery's ledger and calls Channel::recall on what it published
  // (the pre_publish_check does not run for them: a withdrawal is never held back). A delivery
  // whose cancel mark the claim returned (set by a retraction while it was in flight) is cancelled
  // instead of published.
  // When set, the finisher settles the item counts of the publications it has just acked
  // (StatsStore::settle_first_publications); what a crash leaves pending, recovery settles.
  const StatsStore* stats = nullptr;
};

struct DispatcherStats {
  // Completions applied by the queue (published / retry scheduled / dead), completions that came
  // back stale (the lease had been lost), and deliveries claimed.
  std::uint64_t published = 0, retried = 0, dead = 0, stale = 0, claimed = 0;
  std::uint64_t cancelled = 0;     // not published: a retraction cancelled them while claimed
  std::uint64_t redis_errors = 0;  // failed Redis calls (each one backed off and retried)
  std::int64_t in_flight = 0;      // claimed and not yet acked
};

class Dispatcher {
 public:
  // Throws std::invalid_argument on inconsistent options (a start-up error).
  Dispatcher(DispatcherOptions options, DeliveryQueue& queue, Channel& channel);
  ~Dispatcher();  // stop() with a short drain if still running
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the claimer and the finisher. Call once.
  void start();
  // Stops claiming; publishes already started finish and are acked, waiting up to `drain` for
  // them (every claimed delivery starts at once). A publish call still running after `drain`
  // cannot be abandoned (its coroutine uses the borrowed Channel; channels bound every call with
  // their own timeouts): stop() logs a warning, waits for it to return and still acks it if Redis
  // takes the ack. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(10000));

  const std::string& owner() const;
  DispatcherStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
