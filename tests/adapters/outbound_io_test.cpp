// Tests for adapters/outbound_io.h: many HTTP calls in flight on one loop, the same failure
// classes as the blocking client, blocking work kept off the loop, and a clean stop.
#include "adapters/outbound_io.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/adapters/scripted_http_server.h"

using herald::AsyncHttpClient;
using herald::ErrorKind;
using herald::HttpEngine;
using herald::HttpRequest;
using herald::HttpResponse;
using herald::OutboundIo;
using herald::Result;
using herald::Task;
using herald::test::ScriptedHttpServer;
using herald::test::ScriptedRequest;
using herald::test::ScriptedResponse;
using herald::test::SilentListener;
using namespace std::chrono_literals;

namespace {

HttpRequest request_to(const std::string& url, std::string method = "GET") {
  HttpRequest request;
  request.method = std::move(method);
  request.url = url;
  if (request.method == "POST") request.body = "{}";
  request.connect_timeout = 2000ms;
  request.total_timeout = 10000ms;
  return request;
}

Task<Result<HttpResponse>> send(AsyncHttpClient& client, HttpRequest request) {
  co_return co_await client.send(std::move(request));
}

// The answer's status and body, or the error: a type co_spawn can hand to a future.
Task<std::string> answer_text(AsyncHttpClient& client, HttpRequest request) {
  auto response = co_await client.send(std::move(request));
  if (!response) co_return "error: " + response.error().message;
  co_return std::to_string(response->status) + " " + response->body;
}

// Holds each request until `expected` have arrived (or a deadline passes), then answers each with
// whether they were all there at once.
class Rendezvous {
 public:
  explicit Rendezvous(int expected) : expected_(expected) {}
  ScriptedResponse operator()(const ScriptedRequest&) {
    std::unique_lock lock(mutex_);
    ++arrived_;
    arrived_cv_.notify_all();
    const bool together = arrived_cv_.wait_for(lock, 5s, [&] { return arrived_ >= expected_; });
    return {200, {}, together ? "together" : "alone"};
  }

 private:
  const int expected_;
  std::mutex mutex_;
  std::condition_variable arrived_cv_;
  int arrived_ = 0;
};

}  // namespace

TEST_CASE("one loop keeps many HTTP calls in flight at once", "[adapters][outbound]") {
  constexpr int kCalls = 16;
  Rendezvous rendezvous(kCalls);
  ScriptedHttpServer server([&](const ScriptedRequest& r) { return rendezvous(r); });
  OutboundIo io;
  AsyncHttpClient client(io, {});
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < kCalls; ++i) {
    answers.push_back(boost::asio::co_spawn(
        io.context(), answer_text(client, request_to(server.url())), boost::asio::use_future));
  }
  // Served one after another, each would wait for the others in vain and answer "alone".
  for (auto& answer : answers) {
    REQUIRE(answer.wait_for(20s) == std::future_status::ready);
    CHECK(answer.get() == "200 together");
  }
  CHECK(io.http().in_flight() == 0);
}

TEST_CASE("an asynchronous call fails as the blocking client does", "[adapters][outbound]") {
  OutboundIo io;
  SilentListener silent;
  AsyncHttpClient client(io, {});
  SECTION("a POST that timed out after it was sent is ambiguous") {
    HttpRequest request = request_to(silent.url(), "POST");
    request.total_timeout = 300ms;
    auto response = io.run(send(client, request));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == ErrorKind::ambiguous);
  }
  SECTION("a GET that timed out is only retryable") {
    HttpRequest request = request_to(silent.url());
    request.total_timeout = 300ms;
    auto response = io.run(send(client, request));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == ErrorKind::retryable);
  }
  SECTION("a URL that is not http(s) is permanent") {
    auto response = io.run(send(client, request_to("ftp://127.0.0.1/")));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == ErrorKind::permanent);
  }
}

TEST_CASE("blocking work runs off the loop, and waiting on the loop from it is refused",
          "[adapters][outbound]") {
  OutboundIo io;
  auto task = [&]() -> Task<std::pair<std::thread::id, std::thread::id>> {
    const auto loop_thread = std::this_thread::get_id();
    const auto worker_thread = co_await io.offload([] { return std::this_thread::get_id(); });
    // Resumed on the loop again.
    CHECK(std::this_thread::get_id() == loop_thread);
    co_return std::make_pair(loop_thread, worker_thread);
  };
  const auto [loop_thread, worker_thread] = io.run(task());
  CHECK(loop_thread != worker_thread);
  CHECK(loop_thread != std::this_thread::get_id());

  auto nested = [&]() -> Task<bool> {
    try {
      (void)io.run([]() -> Task<int> { co_return 1; }());
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(io.run(nested()));

  auto thrown = [&]() -> Task<bool> {
    try {
      (void)co_await io.offload([]() -> int { throw std::runtime_error("from the call"); });
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "from the call";
    }
    co_return false;
  };
  CHECK(io.run(thrown()));
}

TEST_CASE("an engine that stops ends the requests it still runs", "[adapters][outbound]") {
  SilentListener silent;
  std::promise<Result<HttpResponse>> ended;
  {
    HttpEngine engine;
    engine.start(request_to(silent.url(), "POST"), {},
                 [&](Result<HttpResponse> response) { ended.set_value(std::move(response)); });
    // Wait until it is running (connected and sent), then stop the engine under it.
    for (int i = 0; i < 200 && engine.in_flight() == 0; ++i) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
  }
  auto answer = ended.get_future();
  REQUIRE(answer.wait_for(5s) == std::future_status::ready);
  auto response = answer.get();
  REQUIRE_FALSE(response);
  CHECK((response.error().kind == ErrorKind::ambiguous ||
         response.error().kind == ErrorKind::retryable));
}
