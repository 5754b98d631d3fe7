// Threading model. Each Dispatcher runs two threads of its own, started by start() and joined by
// stop(), each with its own Redis connection(s), and its platform calls as coroutines on the
// channel's OutboundIo loop (shared by every channel of the process):
//   claimer   waits (claimer_cv) for a free slot, claims up to that many deliveries in one claim
//             script call (routine work only into slots beyond reserved_for_alerts), reads their
//             bodies (load_payloads, when set) and starts one coroutine per delivery on the loop;
//             when nothing more can be taken it blocks in BLPOP on the channel's wake lists (on a
//             connection of its own) until a wake token, the next due moment the claim reported
//             (a schedule, a retry, any lease deadline; at most idle_block), or, when nothing is
//             due at all, kNothingDueLeases leases. The finisher cuts that block short with
//             CLIENT UNBLOCK when a slot frees for waiting routine work, and at stop.
//   a delivery's coroutine (handle) makes the platform call (Channel::publish_async or
//             ::recall_async, whose waiting costs no thread) and queues the outcome for the
//             finisher. The few blocking steps of a recall (reading its target) are offloaded.
//   finisher  waits (finisher_cv) for outcomes, the next heartbeat (every lease/3) or an
//             unblock to send; acks outcomes in batches (complete script), heartbeats the leases
//             of everything claimed and not acked, and settles item counts after an ack.
// A slot is a claimed delivery whose coroutine has not finished (`busy`): `concurrency` is the
// number of platform calls in flight, not of threads, and the alert reservation is applied when
// claiming. Shared state is guarded by Impl::mutex; Redis is never called while holding it, and
// the loop never waits for it long (only to push an outcome). Both threads' entries are
// run_guarded: a loop that throws is logged and run again after a pause (the queue's leases make
// that safe: what a failed thread held is reclaimed when its lease expires).
#include "services/dispatch/dispatcher.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "services/common/run_guarded.h"

namespace herald {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kDestructorDrain{2000};
constexpr SteadyClock::time_point kNever = SteadyClock::time_point::max();
constexpr milliseconds kRedisBackoffMin{100};
constexpr milliseconds kRedisBackoffMax{5000};
// Something due "now" that claim() did not hand out (routine work while only reserved slots are
// free) must not turn the claimer into a busy loop of claims: never block for less than this.
constexpr milliseconds kMinBlock{10};
// How long the claimer blocks when the claim answers that nothing is due at all (nothing timed,
// and no lease on the channel, this process's or another's) is this many leases, or idle_block if
// longer. Then only an arrival makes work, and every one (enqueue, replay, a retry acked) pushes
// a wake token. What the bound is for: another process's dispatcher may claim while this one sleeps
// (taking the token) and die; its lease expires at most one lease after that claim, so the
// sleeper reclaims the delivery at most one more lease after the expiry.
constexpr int kNothingDueLeases = 2;
constexpr std::chrono::seconds kLogEvery{10};
// CLIENT UNBLOCK answers 0 when the claimer has not reached its blocking call yet; it is retried a
// few times with growing pauses, after which the claimer's own timeout takes over.
constexpr int kUnblockTries = 12;

// Pause after a failed Redis call: grows while failures continue, back to the minimum on success.
class Backoff {
 public:
  milliseconds next() {
    milliseconds d = current_;
    current_ = std::min(current_ * 2, kRedisBackoffMax);
    return d;
  }
  void reset() { current_ = kRedisBackoffMin; }

 private:
  milliseconds current_ = kRedisBackoffMin;
};

// Logs the first failure of a series, then at most one line per kLogEvery with the number of
// lines suppressed, so a Redis outage does not flood the log; notes when things work again.
class ThrottledLog {
 public:
  void warn(const std::string& message) {
    auto now = SteadyClock::now();
    if (failing_ && now - last_ < kLogEvery) {
      ++suppressed_;
      return;
    }
    if (suppressed_ > 0) {
      spdlog::warn("{} ({} similar messages suppressed)", message, suppressed_);
    } else {
      spdlog::warn("{}", message);
    }
    failing_ = true;
    last_ = now;
    suppressed_ = 0;
  }
  void recovered(const std::string& message) {
    if (!failing_) return;
    spdlog::info("{}", message);
    failing_ = false;
    suppressed_ = 0;
  }

 private:
  bool failing_ = false;
  SteadyClock::time_point last_{};
  std::uint64_t suppressed_ = 0;
};

std::string default_owner(const std::string& channel) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string name = host[0] ? host : "unknown-host";
  return name + ":" + std::to_string(getpid()) + ":" + channel;
}

// What a publish outcome means for the queue (DESIGN.md §3). Whether a retry still has an
// attempt left is the queue's decision (complete.lua), made from the ledger's count.
Completion completion_for(const Delivery& delivery, const Result<PublishReceipt>& result,
                          const DeliveryQueue& queue, const DeferLimits& limits,
                          std::mt19937_64& rng) {
  Completion c;
  c.delivery_id = delivery.id;
  c.lease_token = delivery.lease_token;
  if (result) {
    c.outcome = OutcomeKind::published;
    c.remote_id = result->remote_id;
    return c;
  }
  const Error& error = result.error();
  c.error_code = error.code.empty() ? to_string(error.kind) : error.code;
  c.error_message = error.message;
  switch (error.kind) {
    case ErrorKind::ambiguous:
      c.maybe_sent = true;
      [[fallthrough]];
    case ErrorKind::retryable:
    case ErrorKind::credentials:
      c.outcome = OutcomeKind::retry;
      c.retry_in = queue.backoff(delivery.attempt, error.retry_after, rng);
      break;
    case ErrorKind::deferred:
      c.outcome = OutcomeKind::deferred;
      // The platform's window when it named one; otherwise the backoff of a first attempt, so a
      // deferral without a window never spins.
      c.retry_in = queue.backoff(1, error.retry_after, rng);
      c.defer_limit =
          error.defer_reason == DeferReason::processing ? limits.processing : limits.rate_limit;
      break;
    case ErrorKind::permanent:
    case ErrorKind::invalid_input:
      c.outcome = OutcomeKind::dead;
      break;
  }
  return c;
}

// Comes back when the target of a recall is settled: waiting on another delivery spends no
// attempt (that one may itself be deferred for hours).
Completion wait_for_target(const Delivery& delivery, const char* code, std::string message,
                           const DeliveryQueue& queue, const DeferLimits& limits,
                           std::mt19937_64& rng) {
  Error error = Error::deferred(std::move(message), std::nullopt, DeferReason::processing);
  error.code = code;
  Result<PublishReceipt> waiting = std::move(error);
  return completion_for(delivery, waiting, queue, limits, rng);
}

// A completion that needs no platform call: cancelled (a retraction's mark was found), or a
// recall that found nothing to withdraw (done, but not tallied: nothing was withdrawn).
Completion settled_completion(const Delivery& delivery, OutcomeKind outcome, std::string note) {
  Completion c;
  c.delivery_id = delivery.id;
  c.lease_token = delivery.lease_token;
  c.outcome = outcome;
  c.counted = false;
  c.error_message = std::move(note);
  return c;
}

// Comes back later: the target of a recall is still being worked on, or Redis could not be read.
Completion try_later(const Delivery& delivery, const char* code, std::string message,
                     const DeliveryQueue& queue, const DeferLimits& limits, std::mt19937_64& rng) {
  Error error = Error::retryable(std::move(message));
  error.code = code;
  Result<PublishReceipt> failed = std::move(error);
  return completion_for(delivery, failed, queue, limits, rng);
}

}  // namespace

struct Dispatcher::Impl {
  Impl(DispatcherOptions o, DeliveryQueue& q, Channel& c)
      : options(std::move(o)), queue(q), channel(c) {}

  void claimer_loop();
  // One delivery, on the loop: its outcome queued for the finisher and its slot freed.
  Task<void> handle(Delivery delivery);
  // One delivery's outcome: a publish (unless its cancel mark is set), or a recall.
  Task<Completion> publish_completion(const Delivery& delivery);
  Completion failed_in_worker(const Delivery& delivery, const std::string& what);
  Task<Completion> recall_completion(const Delivery& delivery);
  void finisher_loop();
  // Sleeps for a Redis backoff unless stop() is called meanwhile.
  void claimer_pause(milliseconds duration);
  // What each thread does after its loop threw (run_guarded): put its shared state back as the
  // loop expects it on entry, wait a little, and run the loop again.
  AfterThrow after_claimer_failure(const ThreadFailure& failure);
  AfterThrow after_finisher_failure(const ThreadFailure& failure);
  std::string thread_name(const char* role) const {
    return "dispatch " + options.channel + " " + role;
  }

  DispatcherOptions options;
  DeliveryQueue& queue;
  Channel& channel;

  std::mutex lifecycle_mutex;  // start() / stop()
  bool started = false;
  bool stopped = false;

  // Everything below up to the counters is guarded by `mutex`.
  std::mutex mutex;
  std::condition_variable claimer_cv;   // a slot freed, or stop
  std::condition_variable finisher_cv;  // outcomes to ack, an unblock to send, or stop
  std::condition_variable drained_cv;   // a publish returned (stop() waits for busy == 0)
  int busy = 0;                         // slots taken: claimed, coroutine not yet finished
  std::uint64_t slot_generation = 0;    // bumped whenever a slot frees
  std::vector<Completion> outcomes;
  std::map<std::string, std::string> leases;  // id → lease token: claimed and not yet acked
  bool in_redis_wait = false;                 // the claimer is in (or entering) wait_for_work
  bool wait_capped = false;  // ... with routine work unclaimable for want of a free slot
  bool unblock_wanted = false;
  long long block_client_id = 0;  // CLIENT ID of the blocking connection; 0 = not known
  bool stop_claiming = false;
  bool stop_finisher = false;
  SteadyClock::time_point flush_deadline{};

  // Claimed by the claimer and not yet started on the loop: id → lease token (guarded).
  std::vector<std::pair<std::string, std::string>> unhanded;
  // Outcomes taken from `outcomes` and not acked yet; the finisher's alone (not guarded).
  std::vector<Completion> unacked;

  std::atomic<std::uint64_t> published{0}, retried{0}, dead{0}, stale{0}, claimed{0};
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> redis_errors{0};
  std::atomic<std::int64_t> in_flight{0};

  // The coroutines' own: used on the loop only.
  std::mt19937_64 rng{std::random_device{}()};
  // A recall's reads of its target, offloaded from the loop (recalls are rare: one at a time).
  std::mutex recall_mutex;
  RedisConnection recall_conn{options.redis};

  std::thread claimer;
  std::thread finisher;
};

void Dispatcher::Impl::claimer_pause(milliseconds duration) {
  std::unique_lock lock(mutex);
  claimer_cv.wait_for(lock, duration, [&] { return stop_claiming; });
}

// A claim that threw after Redis ran it leaves deliveries leased to this owner that no slot holds:
// they are no longer heartbeated, so their leases expire and they are claimed again. The
// claimer's connections are rebuilt on entry, so the blocking client's id is forgotten.
AfterThrow Dispatcher::Impl::after_claimer_failure(const ThreadFailure& failure) {
  {
    std::lock_guard lock(mutex);
    for (const auto& [id, token] : unhanded) {
      auto it = leases.find(id);
      if (it != leases.end() && it->second == token) leases.erase(it);
    }
    unhanded.clear();
    in_redis_wait = false;
    wait_capped = false;
    unblock_wanted = false;
    block_client_id = 0;
  }
  claimer_pause(restart_backoff(failure.failures));
  std::lock_guard lock(mutex);
  return stop_claiming ? AfterThrow::stop : AfterThrow::restart;
}

// The outcomes the finisher held unacked are given up, not retried (one of them may be what
// threw): their leases are no longer heartbeated, so they expire and the deliveries are claimed
// again, marked maybe_sent, as after a crash of this process. That bounds the retries, so a
// stop() never waits on a finisher that throws forever.
AfterThrow Dispatcher::Impl::after_finisher_failure(const ThreadFailure& failure) {
  if (!unacked.empty()) {
    spdlog::error(
        "dispatch {}: {} outcome(s) not acked after the finisher failed; their deliveries will be "
        "reclaimed when their leases expire",
        options.channel, unacked.size());
    {
      std::lock_guard lock(mutex);
      for (const Completion& c : unacked) {
        auto it = leases.find(c.delivery_id);
        if (it != leases.end() && it->second == c.lease_token) leases.erase(it);
      }
    }
    in_flight.fetch_sub(static_cast<std::int64_t>(unacked.size()));
    unacked.clear();
  }
  std::unique_lock lock(mutex);
  finisher_cv.wait_for(lock, restart_backoff(failure.failures), [&] { return stop_finisher; });
  return AfterThrow::restart;
}

// Claims as many deliveries as there are free slots (routine work never takes the reserved ones),
// then blocks in Redis until new work is signalled or something timed becomes due. A slot that
// frees while routine work was left waiting cuts that block short (see unblock in the finisher).
void Dispatcher::Impl::claimer_loop() {
  RedisConnection claim_conn(options.redis);
  // Used only for CLIENT ID and wait_for_work, so its id names exactly the blocked client.
  RedisConnection block_conn(options.redis);
  Backoff backoff;
  ThrottledLog log;
  const std::string& ch = options.channel;
  auto failed = [&](const char* what, const Error& error) {
    redis_errors.fetch_add(1);
    log.warn(fmt::format("dispatch {}: {} failed, backing off: {}", ch, what, error.message));
    claimer_pause(backoff.next());
  };

  while (true) {
    int free_slots = 0;
    std::uint64_t generation = 0;
    {
      std::unique_lock lock(mutex);
      claimer_cv.wait(lock, [&] { return stop_claiming || busy < options.concurrency; });
      if (stop_claiming) return;
      free_slots = options.concurrency - busy;
      generation = slot_generation;
    }
    ClaimRequest request;
    request.owner = options.owner;
    request.max_alert = free_slots;
    request.max_routine = std::max(0, free_slots - options.reserved_for_alerts);
    request.max_total = free_slots;

    auto got = queue.claim(claim_conn, ch, request);
    if (!got) {
      failed("claim", got.error());
      continue;
    }
    backoff.reset();
    log.recovered(fmt::format("dispatch {}: Redis reachable again", ch));
    if (!got->deliveries.empty()) {
      // Until their coroutines start, only this loop knows these leases: see
      // after_claimer_failure().
      std::lock_guard lock(mutex);
      unhanded.clear();
      for (const Delivery& d : got->deliveries) unhanded.emplace_back(d.id, d.lease_token);
    }
    if (options.load_payloads && !got->deliveries.empty()) {
      auto loaded = options.load_payloads(claim_conn, got->deliveries);
      if (!loaded) {
        // Registered now, so the finisher heartbeats them while the read is retried (a read
        // that succeeds at once leaves that to the hand-over below).
        {
          std::lock_guard lock(mutex);
          for (const Delivery& d : got->deliveries) leases[d.id] = d.lease_token;
        }
        while (!loaded) {
          failed("reading item bodies", loaded.error());
          {
            std::lock_guard lock(mutex);
            if (stop_claiming) return;  // still leased: reclaimed when the leases expire
          }
          loaded = options.load_payloads(claim_conn, got->deliveries);
        }
      }
    }

    int alerts = 0;
    for (const Delivery& d : got->deliveries) alerts += d.lane == Lane::alert ? 1 : 0;
    const int routine = static_cast<int>(got->deliveries.size()) - alerts;
    if (!got->deliveries.empty()) {
      {
        std::lock_guard lock(mutex);
        for (const Delivery& d : got->deliveries) leases[d.id] = d.lease_token;
        busy += alerts + routine;
        unhanded.clear();
      }
      claimed.fetch_add(alerts + routine);
      in_flight.fetch_add(alerts + routine);
      for (Delivery& d : got->deliveries) {
        boost::asio::co_spawn(channel.io().context(), handle(std::move(d)), boost::asio::detached);
      }
    }

    // claim() takes routine work only when no alert is left, so fewer alerts than asked means the
    // alert lane is empty, and fewer routine than asked means the routine lane is empty too,
    // unless the claim was cut at the free slots.
    const bool capped = request.max_routine == 0;
    const bool maybe_more = alerts >= request.max_alert || alerts + routine >= request.max_total ||
                            (!capped && routine >= request.max_routine);
    if (maybe_more) continue;

    const milliseconds idle_block = queue.options().idle_block;
    const milliseconds timeout =
        got->next_due_in ? std::clamp(*got->next_due_in, kMinBlock, std::max(kMinBlock, idle_block))
                         : std::max(idle_block, kNothingDueLeases * queue.options().lease);

    bool know_id = false;
    {
      std::lock_guard lock(mutex);
      know_id = block_client_id != 0;
    }
    if (!know_id) {
      auto id = block_conn.command({"CLIENT", "ID"});
      if (!id || id->type != RedisValue::Type::integer) {
        failed("CLIENT ID", id ? error_from_reply(*id, "CLIENT ID") : id.error());
        continue;
      }
      std::lock_guard lock(mutex);
      block_client_id = id->integer;
    }
    {
      std::lock_guard lock(mutex);
      if (stop_claiming) return;
      // Routine work is waiting for a slot and one freed since the claim: claim again instead.
      if (capped && slot_generation != generation) continue;
      in_redis_wait = true;
      wait_capped = capped;
    }
    // Capped, a routine arrival must not wake us (we could not take it and would spin on its
    // token); the slot that frees wakes us instead.
    auto woke = queue.wait_for_work(block_conn, ch, timeout, /*routine_capacity=*/!capped);
    {
      std::lock_guard lock(mutex);
      in_redis_wait = false;
      wait_capped = false;
      unblock_wanted = false;
      if (!woke) block_client_id = 0;  // the connection is re-established: a new client id
    }
    if (!woke) failed("wait_for_work", woke.error());
  }
}

Task<Completion> Dispatcher::Impl::publish_completion(const Delivery& delivery) {
  // The claim read the cancel mark, so no round trip is spent on it here: a retraction that came
  // while an earlier holder had this delivery marked it, and then it must not go out. One that
  // comes after the claim is the recall delivery's business (the retraction queued one for every
  // delivery in flight), and the claim is at most a moment ago: claims take only free slots.
  if (delivery.cancel_requested) {
    co_return settled_completion(delivery, OutcomeKind::cancelled, "retracted before publishing");
  }
  Result<PublishReceipt> result = Error::permanent("not published");
  Result<void> allowed = options.pre_publish_check ? options.pre_publish_check(delivery) : ok();
  if (allowed) {
    // Never throws: failures come back classified.
    result = co_await channel.publish_async(delivery);
  } else {
    result = allowed.error();
  }
  co_return completion_for(delivery, result, queue, options.defer_limits, rng);
}

Task<Completion> Dispatcher::Impl::recall_completion(const Delivery& delivery) {
  const auto payload = nlohmann::json::parse(delivery.payload, nullptr, false);
  std::string target = delivery_id_for(delivery.item_id, delivery.channel);
  if (payload.is_object() && payload.contains("target") && payload["target"].is_string()) {
    target = payload["target"].get<std::string>();
  }
  if (channel_of_delivery(target) != delivery.channel) {
    Error bad = Error::permanent("recall target " + target + " is not on " + delivery.channel);
    bad.code = "bad_recall_target";
    Result<PublishReceipt> failed = std::move(bad);
    co_return completion_for(delivery, failed, queue, options.defer_limits, rng);
  }
  auto record = co_await channel.io().offload([&] {
    std::lock_guard lock(recall_mutex);
    return queue.get(recall_conn, target);
  });
  if (!record) {
    co_return try_later(
        delivery, "redis_unavailable",
        "could not read the recall target " + target + ": " + record.error().message, queue,
        options.defer_limits, rng);
  }
  // No ledger: never queued, so nothing went out (handled below with cancelled and dead).
  const DeliveryState state = *record ? (*record)->state : DeliveryState::cancelled;
  if (state == DeliveryState::published) {
    Result<void> recalled = co_await channel.recall_async(delivery, (*record)->remote_id);
    if (recalled) {
      Completion c;
      c.delivery_id = delivery.id;
      c.lease_token = delivery.lease_token;
      c.outcome = OutcomeKind::published;
      c.remote_id = (*record)->remote_id;  // what was withdrawn
      co_return c;
    }
    Result<PublishReceipt> failed = recalled.error();
    co_return completion_for(delivery, failed, queue, options.defer_limits, rng);
  }
  if (state == DeliveryState::in_flight) {
    co_return wait_for_target(delivery, "target_in_flight",
                              target + " is being published right now; its recall comes after",
                              queue, options.defer_limits, rng);
  }
  if (state == DeliveryState::queued || state == DeliveryState::scheduled ||
      state == DeliveryState::retry_wait) {
    // Waiting again (its lease expired after the retraction marked it): cancel it here.
    auto cancelled_now = co_await channel.io().offload([&] {
      std::lock_guard lock(recall_mutex);
      return queue.cancel(recall_conn, target, options.owner, "retracted");
    });
    if (!cancelled_now || cancelled_now->result != "cancelled") {
      co_return wait_for_target(delivery, "target_pending",
                                target + " is still pending; its recall comes after", queue,
                                options.defer_limits, rng);
    }
    co_return settled_completion(delivery, OutcomeKind::published, "nothing to withdraw");
  }
  // Cancelled, dead, or never queued: nothing went out, so nothing to withdraw or to count.
  co_return settled_completion(delivery, OutcomeKind::published, "nothing to withdraw");
}

// An exception while one delivery was handled (a check or a recall that threw): the platform
// call may or may not have been made, so it is retried as after an ambiguous attempt (looked up
// before anything is sent again), and the slot is freed like any other.
Completion Dispatcher::Impl::failed_in_worker(const Delivery& delivery, const std::string& what) {
  spdlog::error("dispatch {}: handling {} threw: {}", options.channel, delivery.id, what);
  Error error = Error::ambiguous("internal error while handling the delivery: " + what);
  error.code = "internal_error";
  Result<PublishReceipt> failed = std::move(error);
  return completion_for(delivery, failed, queue, options.defer_limits, rng);
}

Task<void> Dispatcher::Impl::handle(Delivery delivery) {
  Completion completion;
  // Whatever the delivery's handling throws costs that delivery an attempt, never the slot: the
  // slot must free below, or stop() would wait for it for ever.
  std::string thrown;
  try {
    // Not a conditional expression: GCC 12 destroys a co_await's temporary twice in one.
    if (delivery.kind == DeliveryKind::retraction) {
      completion = co_await recall_completion(delivery);
    } else {
      completion = co_await publish_completion(delivery);
    }
  } catch (const std::exception& e) {
    thrown = e.what();
  } catch (...) {
    thrown = "unknown exception";
  }
  if (!thrown.empty()) completion = failed_in_worker(delivery, thrown);
  if (completion.outcome == OutcomeKind::cancelled) {
    spdlog::info("dispatch {}: {} not published: it was retracted", options.channel, delivery.id);
  } else if (completion.outcome != OutcomeKind::published) {
    spdlog::info("dispatch {}: {} attempt {} failed ({}): {} → {}", options.channel, delivery.id,
                 delivery.attempt, completion.error_code, completion.error_message,
                 completion.outcome == OutcomeKind::retry      ? "retry"
                 : completion.outcome == OutcomeKind::deferred ? "deferred"
                                                               : "dead letter");
  }
  {
    std::lock_guard lock(mutex);
    outcomes.push_back(std::move(completion));
    --busy;
    ++slot_generation;
    if (in_redis_wait && wait_capped) unblock_wanted = true;
  }
  finisher_cv.notify_one();
  claimer_cv.notify_one();
  drained_cv.notify_all();
}

// Acks outcomes as soon as there are any (in batches of at most max_ack_batch), heartbeats every
// lease/3 what is claimed and not yet acked, and wakes the claimer out of Redis when asked to.
// Outcomes that cannot be acked (Redis down) are kept and retried with backoff.
void Dispatcher::Impl::finisher_loop() {
  RedisConnection conn(options.redis);
  Backoff backoff;
  ThrottledLog log;
  const std::string& ch = options.channel;
  const milliseconds heartbeat_every = std::max(milliseconds(1), queue.options().lease / 3);
  const std::size_t batch_size = static_cast<std::size_t>(options.max_ack_batch);

  auto next_heartbeat = SteadyClock::now() + heartbeat_every;
  // Plain time points rather than optionals (GCC 12 warns maybe-uninitialized on those here).
  SteadyClock::time_point ack_retry_at{};             // acks wait until then after a failure
  SteadyClock::time_point unblock_retry_at = kNever;  // kNever: no unblock retry pending
  int unblock_tries = 0;
  bool saw_stop = false;
  bool acked_after_stop = false;

  while (true) {
    bool send_unblock = false;
    long long client_id = 0;
    std::vector<std::pair<std::string, std::string>> to_heartbeat;
    bool heartbeat_due = false;
    SteadyClock::time_point now;
    {
      std::unique_lock lock(mutex);
      auto deadline = next_heartbeat;
      if (!unacked.empty()) deadline = std::min(deadline, ack_retry_at);
      deadline = std::min(deadline, unblock_retry_at);
      finisher_cv.wait_until(lock, deadline, [&] {
        return !outcomes.empty() || (stop_finisher && !saw_stop) ||
               (unblock_wanted && in_redis_wait && unblock_retry_at == kNever);
      });
      now = SteadyClock::now();
      if (unacked.empty()) {
        unacked.swap(outcomes);
      } else {
        unacked.insert(unacked.end(), std::make_move_iterator(outcomes.begin()),
                       std::make_move_iterator(outcomes.end()));
        outcomes.clear();
      }
      if (now >= unblock_retry_at) unblock_retry_at = kNever;
      if (!in_redis_wait) unblock_wanted = false;
      if (!unblock_wanted) {
        unblock_retry_at = kNever;
        unblock_tries = 0;
      }
      send_unblock = unblock_wanted && unblock_retry_at == kNever && block_client_id != 0;
      client_id = block_client_id;
      if (now >= next_heartbeat) {
        heartbeat_due = true;
        to_heartbeat.assign(leases.begin(), leases.end());
      }
      saw_stop = stop_finisher;
    }

    if (send_unblock) {
      auto r = conn.command({"CLIENT", "UNBLOCK", std::to_string(client_id)});
      bool done = r && r->type == RedisValue::Type::integer && r->integer == 1;
      if (!r) {
        redis_errors.fetch_add(1);
        log.warn(fmt::format("dispatch {}: CLIENT UNBLOCK failed: {}", ch, r.error().message));
      }
      if (done || !r || ++unblock_tries >= kUnblockTries) {
        std::lock_guard lock(mutex);
        unblock_wanted = false;
        unblock_tries = 0;
      } else {
        unblock_retry_at = now + milliseconds(1 << std::min(unblock_tries, 6));
      }
    }

    if (!unacked.empty() && now >= ack_retry_at) {
      if (saw_stop) acked_after_stop = true;
      while (!unacked.empty()) {
        const std::size_t n = std::min(unacked.size(), batch_size);
        // Copied, not moved: until they are acked `unacked` holds them whole, which is what
        // after_finisher_failure() reads if anything below throws.
        const std::vector<Completion> batch(unacked.begin(), unacked.begin() + n);
        auto results = queue.complete(conn, ch, batch);
        if (!results) {
          redis_errors.fetch_add(1);
          log.warn(fmt::format("dispatch {}: ack of {} outcome(s) failed, keeping them: {}", ch,
                               unacked.size(), results.error().message));
          ack_retry_at = SteadyClock::now() + backoff.next();
          break;
        }
        backoff.reset();
        log.recovered(fmt::format("dispatch {}: Redis reachable again", ch));
        for (std::size_t i = 0; i < n; ++i) {
          const Completion& c = batch[i];
          const CompletionResult result =
              i < results->size() ? (*results)[i] : CompletionResult::applied;
          if (result == CompletionResult::stale) {
            stale.fetch_add(1);
            spdlog::warn(
                "dispatch {}: outcome of {} came back stale: its lease was lost and it was "
                "reclaimed",
                ch, c.delivery_id);
          } else if (c.outcome == OutcomeKind::published) {
            published.fetch_add(1);
          } else if (result == CompletionResult::buried) {
            dead.fetch_add(1);
          } else if (c.outcome == OutcomeKind::retry || c.outcome == OutcomeKind::deferred) {
            retried.fetch_add(1);
          } else if (c.outcome == OutcomeKind::cancelled) {
            cancelled.fetch_add(1);
          } else {
            dead.fetch_add(1);
          }
        }
        {
          std::lock_guard lock(mutex);
          for (const Completion& c : batch) {
            auto it = leases.find(c.delivery_id);
            if (it != leases.end() && it->second == c.lease_token) leases.erase(it);
          }
        }
        in_flight.fetch_sub(static_cast<std::int64_t>(n));
        unacked.erase(unacked.begin(), unacked.begin() + n);
        if (options.stats != nullptr &&
            std::any_of(batch.begin(), batch.end(),
                        [](const Completion& c) { return c.outcome == OutcomeKind::published; })) {
          // After the ack, never before: the ack put them in the pending set in its own step.
          // A failure here only delays the count until the recovery loop settles it.
          if (auto settled = options.stats->settle_first_publications(conn, ch, milliseconds(0));
              !settled) {
            log.warn(fmt::format("dispatch {}: item counts left to recovery: {}", ch,
                                 settled.error().message));
          }
        }
      }
    }

    if (heartbeat_due) {
      next_heartbeat = SteadyClock::now() + heartbeat_every;
      if (!to_heartbeat.empty()) {
        auto extended = queue.heartbeat(conn, ch, to_heartbeat);
        if (!extended) {
          redis_errors.fetch_add(1);
          log.warn(fmt::format("dispatch {}: heartbeat of {} lease(s) failed: {}", ch,
                               to_heartbeat.size(), extended.error().message));
        } else if (*extended < static_cast<int>(to_heartbeat.size())) {
          // Leases acked meanwhile are not extended either; a lost one shows up as a stale ack.
          spdlog::debug("dispatch {}: heartbeat extended {} of {} lease(s)", ch, *extended,
                        to_heartbeat.size());
        }
      }
    }

    if (saw_stop) {
      if (unacked.empty()) return;
      if (acked_after_stop && SteadyClock::now() >= flush_deadline) {
        spdlog::error(
            "dispatch {}: stopping with {} outcome(s) not acked; their deliveries will be "
            "reclaimed when their leases expire",
            ch, unacked.size());
        return;
      }
    }
  }
}

Dispatcher::Dispatcher(DispatcherOptions options, DeliveryQueue& queue, Channel& channel) {
  if (options.channel.empty()) options.channel = channel.name();
  if (options.concurrency < 1) {
    throw std::invalid_argument("dispatcher " + options.channel + ": concurrency must be >= 1");
  }
  if (options.reserved_for_alerts < 0 || options.reserved_for_alerts >= options.concurrency) {
    throw std::invalid_argument("dispatcher " + options.channel +
                                ": reserved_for_alerts must be in [0, concurrency)");
  }
  if (options.max_ack_batch < 1) {
    throw std::invalid_argument("dispatcher " + options.channel + ": max_ack_batch must be >= 1");
  }
  if (options.owner.empty()) options.owner = default_owner(options.channel);
  impl_ = std::make_unique<Impl>(std::move(options), queue, channel);
}

Dispatcher::~Dispatcher() {
  stop(kDestructorDrain);
}

void Dispatcher::start() {
  Impl& s = *impl_;
  std::lock_guard lifecycle(s.lifecycle_mutex);
  if (s.started) throw std::logic_error("dispatcher " + s.options.channel + " started twice");
  s.started = true;
  spdlog::info("dispatch {}: starting as {} with {} slot(s), {} reserved for alerts",
               s.options.channel, s.options.owner, s.options.concurrency,
               s.options.reserved_for_alerts);
  s.finisher = std::thread([&s] {
    run_guarded(
        s.thread_name("finisher"), [&s] { s.finisher_loop(); },
        [&s](const ThreadFailure& f) { return s.after_finisher_failure(f); });
  });
  s.claimer = std::thread([&s] {
    run_guarded(
        s.thread_name("claimer"), [&s] { s.claimer_loop(); },
        [&s](const ThreadFailure& f) { return s.after_claimer_failure(f); });
  });
}

// The claimer may be blocked in Redis for up to idle_block (or kNothingDueLeases leases when
// nothing is due). Rather than shortening that block (which would cost commands while idle) or
// pushing a wake token (which any other process's dispatcher on this channel could consume
// instead), stop() has the finisher send CLIENT UNBLOCK for the claimer's own blocking
// connection: it wakes exactly that client, at once.
void Dispatcher::stop(milliseconds drain) {
  Impl& s = *impl_;
  {
    std::lock_guard lifecycle(s.lifecycle_mutex);
    if (!s.started || s.stopped) return;
    s.stopped = true;
  }
  const auto deadline = SteadyClock::now() + drain;
  {
    std::lock_guard lock(s.mutex);
    s.stop_claiming = true;
    if (s.in_redis_wait) s.unblock_wanted = true;
  }
  s.claimer_cv.notify_all();
  s.finisher_cv.notify_all();
  s.claimer.join();

  int still_running = 0;
  {
    std::unique_lock lock(s.mutex);
    s.drained_cv.wait_until(lock, deadline, [&] { return s.busy == 0; });
    still_running = s.busy;
  }
  if (still_running > 0) {
    spdlog::warn(
        "dispatch {}: {} publish call(s) still running after the {} ms drain; waiting for "
        "them to return",
        s.options.channel, still_running, drain.count());
    // They use the borrowed Channel: they cannot be abandoned, and the channel's timeouts bound
    // them.
    std::unique_lock lock(s.mutex);
    s.drained_cv.wait(lock, [&] { return s.busy == 0; });
  }
  {
    std::lock_guard lock(s.mutex);
    s.stop_finisher = true;
    s.flush_deadline = deadline;
  }
  s.finisher_cv.notify_all();
  s.finisher.join();
  spdlog::info("dispatch {}: stopped", s.options.channel);
}

const std::string& Dispatcher::owner() const {
  return impl_->options.owner;
}

DispatcherStats Dispatcher::stats() const {
  const Impl& s = *impl_;
  DispatcherStats out;
  out.published = s.published.load();
  out.retried = s.retried.load();
  out.dead = s.dead.load();
  out.stale = s.stale.load();
  out.claimed = s.claimed.load();
  out.cancelled = s.cancelled.load();
  out.redis_errors = s.redis_errors.load();
  out.in_flight = s.in_flight.load();
  return out;
}

}  // namespace herald
