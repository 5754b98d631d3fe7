// OutboundIo: where heraldd's calls to the platforms run. Three parts, one per kind of waiting:
//   the loop      one thread running an Asio io_context; every channel call is a coroutine on it
//                 (Task<T>), so a channel's concurrency is a number of calls in flight, not
//                 threads. Coroutines never block it for long: HTTP goes to the engine, anything
//                 slow and blocking (SMTP, a token refresh) to offload(). Short Redis calls
//                 a channel makes (token cache, rate limiter, feed store: sub-millisecond on a
//                 local Redis, bounded by the connection's timeout) run on the loop itself.
//   the engine    one thread running libcurl's multi interface (curl_multi_poll): every HTTP
//                 request of every channel, sharing one connection cache; a finished request
//                 resumes its coroutine on the loop. A thread of its own rather than curl's
//                 sockets registered with Asio: curl_multi_poll is level-triggered, so no edge
//                 can be missed between curl reading part of an answer and the next wait.
//   offload()     blocking calls, each on a thread of its own, resuming the coroutine on the loop.
// heraldd makes one and hands it to every channel (ChannelDeps::io); a channel made without one
// (tests, --check-config, tools) makes its own.
#pragma once

// Before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "adapters/http_client.h"

namespace herald {

template <class T>
using Task = boost::asio::awaitable<T>;

// libcurl's multi interface on a thread of its own. Thread-safe.
class HttpEngine {
 public:
  // Called on the engine's thread when the request is done, with the same outcomes as
  // HttpClient::send.
  using Done = std::function<void(Result<HttpResponse>)>;

  HttpEngine();
  ~HttpEngine();  // ends every request still running with a retryable error
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  void start(HttpRequest request, HttpClientOptions options, Done done);
  std::size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class OutboundIo {
 public:
  OutboundIo();
  // Waits for offloaded calls (each bounded by its own timeouts), then stops the loop and the
  // engine and joins their threads.
  ~OutboundIo();
  OutboundIo(const OutboundIo&) = delete;
  OutboundIo& operator=(const OutboundIo&) = delete;

  boost::asio::io_context& context() { return io_; }
  HttpEngine& http() { return http_; }

  // Runs `task` on the loop and waits for it: for callers outside the loop (tests, tools, the
  // reconciler). Calling it from the loop itself would wait forever: a logic_error instead.
  template <class T>
  T run(Task<T> task) {
    check_not_on_loop();
    std::optional<T> out;
    boost::asio::co_spawn(io_, store_into(std::move(task), &out), boost::asio::use_future).get();
    return std::move(*out);
  }

  // Runs a blocking call on a thread of its own and resumes on the loop with its result (or
  // exception). A thread per call, not a fixed pool: a blocking call may itself wait for the
  // loop (OutboundIo::run), and nested waits on a full pool would wait for ever. The calls that
  // come here are few and slow (SMTP, token refreshes, the media channel), so the thread's cost
  // does not matter. `call` must return a value.
  template <class F>
  Task<std::invoke_result_t<F&>> offload(F call) {
    using R = std::invoke_result_t<F&>;
    auto result = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                       void(std::exception_ptr, std::optional<R>)>(
        [this, &call](auto handler) {
          begin_blocking();
          std::thread([this, &call, handler = std::move(handler)]() mutable {
            std::exception_ptr error;
            std::optional<R> value;
            try {
              value.emplace(call());
            } catch (...) {
              error = std::current_exception();
            }
            auto executor = boost::asio::get_associated_executor(handler);
            boost::asio::dispatch(executor, [handler = std::move(handler), error,
                                             value = std::move(value)]() mutable {
              handler(error, std::move(value));
            });
            end_blocking();
          }).detach();
        },
        boost::asio::use_awaitable);
    co_return std::move(*result);
  }

 private:
  template <class T>
  static Task<void> store_into(Task<T> task, std::optional<T>* out) {
    out->emplace(co_await std::move(task));
  }
  void check_not_on_loop() const;
  void begin_blocking();
  void end_blocking();

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  HttpEngine http_;
  std::thread loop_;
  std::mutex blocking_mutex_;
  std::condition_variable blocking_done_;
  int blocking_ = 0;  // offloaded calls running (guarded by blocking_mutex_)
};

// Resumes after `duration` without holding the loop (a timer on the coroutine's executor).
Task<void> pause(std::chrono::milliseconds duration);

// One channel's HTTP: its options, over the shared engine. send() resumes on the loop.
class AsyncHttpClient {
 public:
  AsyncHttpClient(OutboundIo& io, HttpClientOptions options)
      : io_(&io), options_(std::move(options)) {}

  Task<Result<HttpResponse>> send(HttpRequest request);

 private:
  OutboundIo* io_;
  HttpClientOptions options_;
};

}  // namespace herald
