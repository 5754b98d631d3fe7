// Dispatcher: drains one channel's deliveries from the queue through its Channel. It claims
// several deliveries per round trip, publishes them on a small pool (so a slow routine call never
// holds up an alert: `reserved_for_alerts` slots are kept for alerts), acks in batches, heartbeats
// the leases of what is in flight, and blocks in Redis (no polling) when there is nothing to do.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "adapters/channel.h"
#include "core/clock.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"

namespace herald {

struct DispatcherOptions {
  std::string channel;
  std::string owner;          // identity stored with leases, e.g. "host:pid"
  int concurrency = 4;        // deliveries published at once by this process
  int reserved_for_alerts = 1;  // of those, slots routine work may never take
  int max_ack_batch = 64;
  RedisOptions redis;         // the dispatcher opens its own connections (claim, block, ack)
};

struct DispatcherStats {
  std::uint64_t published = 0, retried = 0, dead = 0, stale = 0, claimed = 0;
  std::int64_t in_flight = 0;
};

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, DeliveryQueue& queue, Channel& channel, const Clock& clock);
  ~Dispatcher();  // stop() with a short drain if still running
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Stops claiming; publishes already started finish and are acked, up to `drain`. What is still
  // in flight after that keeps its lease and is reclaimed by another worker when it expires.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(10000));

  DispatcherStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
