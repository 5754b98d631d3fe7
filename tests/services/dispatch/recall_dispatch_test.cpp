// The dispatcher's side of a retraction: recall deliveries (kind "retraction") call
// Channel::recall on what their target published, wait while it is in flight, and settle without
// a platform call when nothing went out; a claimed delivery whose cancel mark is set is cancelled,
// not published. A real redis-server and DeliveryQueue, a fake Channel.
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/dispatch/dispatcher.h"
#include "tests/support/enum_printers.h"
#include "tests/support/gate.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace herald {
namespace {

using namespace std::chrono_literals;
using test::Gate;
using test::wait_until;

constexpr std::chrono::milliseconds kDeadline = 30s;
const std::string kChannel = "fake";

class RecallingChannel final : public Channel {
 public:
  RecallingChannel() : Channel(kChannel) {}

  Gate publish_gate;
  bool hold_publishes = false;               // set before the dispatcher starts
  std::vector<Result<void>> recall_answers;  // answered in order; then ok

  int publishes(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = publishes_.find(id);
    return it == publishes_.end() ? 0 : it->second;
  }
  int publishing() const {
    std::lock_guard lock(mutex_);
    return publishing_;
  }
  std::vector<std::pair<std::string, std::string>> recalls() const {
    std::lock_guard lock(mutex_);
    return recalls_;
  }

 protected:
  // The test holds publishes at a gate, which blocks: off the loop, as a channel's blocking work.
  herald::Task<Result<PublishReceipt>> do_publish(const Delivery& d) override {
    co_return co_await io().offload([&] { return publish_blocking(d); });
  }
  herald::Task<Result<void>> do_recall(const Delivery& d, const std::string& remote_id) override {
    std::lock_guard lock(mutex_);
    const std::size_t n = recalls_.size();
    recalls_.emplace_back(d.id, remote_id);
    if (n < recall_answers.size()) co_return recall_answers[n];
    co_return ok();
  }

 private:
  Result<PublishReceipt> publish_blocking(const Delivery& d) {
    {
      std::lock_guard lock(mutex_);
      ++publishes_[d.id];
      ++publishing_;
    }
    const bool opened = !hold_publishes || publish_gate.wait();
    std::lock_guard lock(mutex_);
    --publishing_;
    if (!opened) return Error::retryable("test gate never opened");
    return PublishReceipt{"remote-" + d.id};
  }

  mutable std::mutex mutex_;
  std::map<std::string, int> publishes_;
  int publishing_ = 0;
  std::vector<std::pair<std::string, std::string>> recalls_;
};

Error platform_error(ErrorKind kind, const std::string& message, const std::string& code) {
  Error e(kind, message);
  e.code = code;
  return e;
}

struct Harness {
  Harness() : queue(options(), clock), conn(test::test_redis_options()) {}

  static QueueOptions options() {
    QueueOptions q;
    q.prefix = test::unique_key_prefix("recall");
    q.retry_base = 10ms;
    q.retry_max = 50ms;
    q.idle_block = 1s;
    q.lease = 500ms;
    q.max_attempts = 20;
    return q;
  }
  DispatcherOptions dispatcher_options() const {
    DispatcherOptions o;
    o.channel = kChannel;
    o.concurrency = 4;
    o.reserved_for_alerts = 1;
    o.redis = test::test_redis_options();
    return o;
  }

  NewDelivery delivery(const std::string& item) {
    NewDelivery nd;
    nd.delivery.item_id = item;
    nd.delivery.channel = kChannel;
    nd.delivery.id = delivery_id_for(item, kChannel);
    nd.delivery.lane = Lane::alert;
    nd.delivery.kind = herald::DeliveryKind::alert;
    nd.delivery.category = "overseas_safety";
    nd.delivery.payload = R"({"title":"t"})";
    return nd;
  }
  // The recall delivery a retraction of `item` queues (ItemStore::retract's shape).
  NewDelivery recall_of(const std::string& item) {
    NewDelivery nd = delivery(item + "-recall");
    nd.delivery.item_id = item;
    nd.delivery.kind = herald::DeliveryKind::retraction;
    nd.delivery.payload = nlohmann::json{
        {"op", "recall"},
        {"target", delivery_id_for(item, kChannel)},
        {"reason", "wrong"}}.dump();
    return nd;
  }
  void enqueue(const NewDelivery& nd) {
    auto added = queue.enqueue(conn, {nd});
    REQUIRE(added);
    REQUIRE(*added == 1);
  }
  std::string state(const std::string& id) {
    auto r = queue.get(conn, id);
    REQUIRE(r);
    return *r ? to_string((*r)->state) : "";
  }
  DeliveryRecord record(const std::string& id) {
    auto r = queue.get(conn, id);
    REQUIRE(r);
    REQUIRE(r->has_value());
    return **r;
  }
  long long tally(const std::string& kind) {
    long long total = 0;
    const int year = std::stoi(tally_day(clock.now(), queue.options().utc_offset_minutes));
    auto t = queue.read_tally(conn, kChannel, year);
    REQUIRE(t);
    for (const auto& [key, count] : *t) {
      if (key.size() > kind.size() &&
          key.compare(key.size() - kind.size(), kind.size(), kind) == 0 &&
          key[key.size() - kind.size() - 1] == '|') {
        total += count;
      }
    }
    return total;
  }

  SystemClock clock;
  DeliveryQueue queue;
  RedisConnection conn;
  RecallingChannel channel;
};

}  // namespace

TEST_CASE("a recall delivery withdraws what its target published, through Channel::recall",
          "[dispatch][recall]") {
  Harness h;
  DispatcherOptions options = h.dispatcher_options();
  // The gate holds every publication; a withdrawal is never held back by it.
  options.pre_publish_check = [](const Delivery& d) -> Result<void> {
    if (d.item_id == "blocked") return platform_error(ErrorKind::permanent, "held", "gate_blocked");
    return ok();
  };
  Dispatcher d(options, h.queue, h.channel);
  d.start();
  h.enqueue(h.delivery("a1"));
  REQUIRE(wait_until([&] { return h.state("a1.fake") == "published"; }, kDeadline));
  const std::string recall_id = "a1-recall.fake";

  SECTION("a successful recall is done, remembers what it withdrew, and counts as a retraction") {
    h.enqueue(h.recall_of("a1"));
    REQUIRE(wait_until([&] { return h.state(recall_id) == "published"; }, kDeadline));
    d.stop();
    const auto recalls = h.channel.recalls();
    REQUIRE(recalls.size() == 1);
    CHECK(recalls[0].first == recall_id);
    CHECK(recalls[0].second == "remote-a1.fake");
    CHECK(h.record(recall_id).remote_id == "remote-a1.fake");
    CHECK(h.state("a1.fake") == "published");  // the publication's own record stays as it was
    CHECK(h.tally("retraction") == 1);
    CHECK(h.tally("alert") == 1);
  }
  SECTION("a retryable recall failure is retried, a permanent one is a dead letter") {
    h.channel.recall_answers = {
        platform_error(ErrorKind::retryable, "busy", "10002"),
        platform_error(ErrorKind::permanent, "cannot withdraw", "recall_unsupported")};
    h.enqueue(h.recall_of("a1"));
    REQUIRE(wait_until([&] { return h.state(recall_id) == "dead"; }, kDeadline));
    d.stop();
    CHECK(h.channel.recalls().size() == 2);
    const DeliveryRecord r = h.record(recall_id);
    CHECK(r.attempts == 2);
    CHECK(r.last_error_code == "recall_unsupported");
    CHECK(r.last_error == "cannot withdraw");
    CHECK(h.tally("retraction") == 0);
  }
}

TEST_CASE("a recall whose target never went out is done without calling the platform",
          "[dispatch][recall]") {
  Harness h;
  Dispatcher d(h.dispatcher_options(), h.queue, h.channel);

  SECTION("the target was cancelled") {
    h.enqueue(h.delivery("a1"));
    auto cancelled = h.queue.cancel(h.conn, "a1.fake", "duty", "wrong");
    REQUIRE(cancelled);
    REQUIRE(cancelled->result == "cancelled");
  }
  SECTION("the target was never queued") {}
  h.enqueue(h.recall_of("a1"));
  d.start();
  REQUIRE(wait_until([&] { return h.state("a1-recall.fake") == "published"; }, kDeadline));
  d.stop();
  CHECK(h.channel.recalls().empty());
  CHECK(h.channel.publishes("a1.fake") == 0);
  CHECK(h.record("a1-recall.fake").remote_id.empty());
  CHECK(h.tally("retraction") == 0);
}

TEST_CASE("a recall waits while its target is being published, then withdraws it",
          "[dispatch][recall]") {
  Harness h;
  h.channel.hold_publishes = true;
  Dispatcher d(h.dispatcher_options(), h.queue, h.channel);
  d.start();
  h.enqueue(h.delivery("a1"));
  REQUIRE(wait_until([&] { return h.channel.publishing() == 1; }, kDeadline));
  h.enqueue(h.recall_of("a1"));
  // The recall is claimed, finds its target in flight and is put back for later: a deferral,
  // which gives its attempt back (the target may itself wait for hours).
  REQUIRE(wait_until(
      [&] { return h.record("a1-recall.fake").last_error_code == "target_in_flight"; }, kDeadline));
  CHECK(h.channel.recalls().empty());
  CHECK(h.record("a1-recall.fake").attempts <= 1);
  h.channel.publish_gate.open();
  REQUIRE(wait_until([&] { return h.state("a1-recall.fake") == "published"; }, kDeadline));
  d.stop();
  const auto recalls = h.channel.recalls();
  REQUIRE(recalls.size() == 1);
  CHECK(recalls[0].second == "remote-a1.fake");
}

TEST_CASE("a delivery whose cancel mark is set when its worker gets to it is not published",
          "[dispatch][recall]") {
  Harness h;
  h.enqueue(h.delivery("a1"));
  // Another worker holds it when the retraction comes, then dies: its lease expires.
  auto claimed = h.queue.claim(h.conn, kChannel, ClaimRequest{"dead-worker", 1, 0});
  REQUIRE(claimed);
  REQUIRE(claimed->deliveries.size() == 1);
  auto marked = h.queue.cancel(h.conn, "a1.fake", "duty", "wrong");
  REQUIRE(marked);
  REQUIRE(marked->result == "cancel_requested");

  Dispatcher d(h.dispatcher_options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return h.state("a1.fake") == "cancelled"; }, kDeadline));
  REQUIRE(wait_until([&] { return d.stats().cancelled == 1; }, kDeadline));
  d.stop();
  CHECK(h.channel.publishes("a1.fake") == 0);
  CHECK(d.stats().published == 0);
  CHECK(h.tally("alert") == 0);
}

}  // namespace herald
