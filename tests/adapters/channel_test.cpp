// Tests for adapters/channel.h: what Channel::publish adds around a platform's transport
// (exceptions contained, kinds kept sane) and how the registry builds channels by name.
#include <catch2/catch.hpp>
#include <stdexcept>

#include "adapters/channel.h"

using herald::Channel;
using herald::ChannelDeps;
using herald::ChannelPtr;
using herald::ChannelRegistry;
using herald::Delivery;
using herald::Error;
using herald::ErrorKind;
using herald::PublishReceipt;
using herald::Result;
using nlohmann::json;

namespace {

// A channel whose transport does whatever the test says.
class FakeChannel final : public Channel {
 public:
  explicit FakeChannel(std::function<Result<PublishReceipt>(const Delivery&)> behaviour)
      : Channel("fake"), behaviour_(std::move(behaviour)) {}

 protected:
  herald::Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) override {
    co_return behaviour_(delivery);
  }

 private:
  std::function<Result<PublishReceipt>(const Delivery&)> behaviour_;
};

Delivery sample_delivery() {
  Delivery d;
  d.id = "it-1.fake";
  d.item_id = "it-1";
  d.channel = "fake";
  d.attempt = 1;
  d.payload = "{}";
  return d;
}

herald::ChannelFactory fake_factory() {
  return [](const json&, const std::string&, ChannelDeps&) -> Result<ChannelPtr> {
    return ChannelPtr(std::make_unique<FakeChannel>(
        [](const Delivery& d) { return Result<PublishReceipt>(PublishReceipt{"r-" + d.id}); }));
  };
}

}  // namespace

TEST_CASE("Channel::publish returns what the transport returns", "[adapters][channel]") {
  SECTION("a receipt") {
    FakeChannel channel([](const Delivery& d) { return PublishReceipt{"remote-" + d.item_id}; });
    auto result = channel.publish(sample_delivery());
    REQUIRE(result.ok());
    CHECK(result->remote_id == "remote-it-1");
  }
  SECTION("a classified error, unchanged") {
    FakeChannel channel([](const Delivery&) -> Result<PublishReceipt> {
      return Error::deferred("slow down", std::chrono::milliseconds(1500));
    });
    auto result = channel.publish(sample_delivery());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().message == "slow down");
    CHECK(result.error().retry_after == std::chrono::milliseconds(1500));
  }
}

TEST_CASE("Channel::publish turns a transport's exception into a permanent error",
          "[adapters][channel]") {
  SECTION("a std::exception keeps its message") {
    FakeChannel channel(
        [](const Delivery&) -> Result<PublishReceipt> { throw std::out_of_range("index 7"); });
    auto result = channel.publish(sample_delivery());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "internal_error");
    CHECK_THAT(result.error().message, Catch::Contains("index 7"));
  }
  SECTION("anything else thrown") {
    FakeChannel channel([](const Delivery&) -> Result<PublishReceipt> { throw 42; });
    auto result = channel.publish(sample_delivery());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "internal_error");
  }
}

TEST_CASE("Channel::publish keeps error kinds within what the dispatcher handles",
          "[adapters][channel]") {
  SECTION("invalid_input from a channel becomes permanent") {
    FakeChannel channel([](const Delivery&) -> Result<PublishReceipt> {
      return Error::invalid("title", "too long for this platform");
    });
    auto result = channel.publish(sample_delivery());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().message == "too long for this platform");
    CHECK(result.error().field == "title");
  }
  SECTION("a negative retry_after becomes zero") {
    FakeChannel channel([](const Delivery&) -> Result<PublishReceipt> {
      return Error::deferred("wait", std::chrono::milliseconds(-5));
    });
    auto result = channel.publish(sample_delivery());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().retry_after == std::chrono::milliseconds(0));
  }
}

TEST_CASE("ChannelRegistry builds channels by name and refuses unknown or duplicate names",
          "[adapters][channel]") {
  herald::SystemClock clock;
  ChannelDeps deps{clock};
  ChannelRegistry registry;
  registry.add("beta", fake_factory());
  registry.add("alpha", fake_factory());

  SECTION("names are listed sorted") {
    CHECK(registry.names() == std::vector<std::string>{"alpha", "beta"});
    CHECK(registry.has("alpha"));
    CHECK_FALSE(registry.has("gamma"));
  }
  SECTION("a known name builds its channel") {
    auto channel = registry.create("alpha", json::object(), "channels.alpha", deps);
    REQUIRE(channel.ok());
    auto receipt = (*channel)->publish(sample_delivery());
    REQUIRE(receipt.ok());
    CHECK(receipt->remote_id == "r-it-1.fake");
  }
  SECTION("an unknown name is an invalid_input error listing the registered names") {
    auto channel = registry.create("x", json::object(), "channels.x", deps);
    REQUIRE_FALSE(channel.ok());
    CHECK(channel.error().kind == ErrorKind::invalid_input);
    CHECK(channel.error().field == "channels.x");
    CHECK(channel.error().message == "unknown channel 'x' (registered: alpha, beta)");
  }
  SECTION("a duplicate name is a programming error") {
    CHECK_THROWS_AS(registry.add("alpha", fake_factory()), std::logic_error);
  }
  SECTION("a factory that returns no channel is a programming error") {
    registry.add("broken", [](const json&, const std::string&, ChannelDeps&) -> Result<ChannelPtr> {
      return ChannelPtr();
    });
    CHECK_THROWS_AS(registry.create("broken", json::object(), "channels.broken", deps),
                    std::logic_error);
  }
}

TEST_CASE("register_builtin_channels registers the webhook channel with its validation",
          "[adapters][channel]") {
  herald::SystemClock clock;
  ChannelDeps deps{clock};
  ChannelRegistry registry;
  herald::register_builtin_channels(registry);
  CHECK(registry.has("webhook"));

  auto ok = registry.create("webhook", json{{"url", "http://127.0.0.1:9/hooks/x"}, {"secret", "s"}},
                            "channels.webhook", deps);
  REQUIRE(ok.ok());
  CHECK((*ok)->name() == "webhook");

  auto bad =
      registry.create("webhook", json{{"url", "http://127.0.0.1:9/"}}, "channels.webhook", deps);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "channels.webhook.secret");

  auto unknown = registry.create("telegraph", json::object(), "channels.telegraph", deps);
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message, Catch::Contains("unknown channel 'telegraph'"));
  CHECK_THAT(unknown.error().message,
             Catch::Contains("webhook"));  // the registered names are listed
}
