#include "adapters/outbound_io.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "adapters/curl_transfer.h"

namespace herald {
namespace {

struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;

// The longest curl_multi_poll waits when curl names no timeout of its own: only a request
// started meanwhile (which wakes the poll) or stop() can need the thread sooner.
constexpr int kIdlePollMs = 1000;
// Easy handles kept for reuse once their requests are done (their buffers stay allocated).
constexpr std::size_t kIdleHandles = 64;

struct Job {
  CurlTransfer transfer;
  HttpEngine::Done done;
};

}  // namespace

struct HttpEngine::Impl {
  CurlMulti multi;
  mutable std::mutex mutex;
  std::deque<std::unique_ptr<Job>> starting;  // guarded: handed over by start()
  bool stopping = false;                      // guarded
  std::size_t running = 0;                    // guarded: jobs added to the multi handle
  // The engine thread's alone:
  std::map<CURL*, std::pair<CurlEasy, std::unique_ptr<Job>>> active;
  std::vector<CurlEasy> idle;
  std::thread thread;

  void loop();
  void add(std::unique_ptr<Job> job);
  void finish(CURL* easy, CURLcode code);
};

void HttpEngine::Impl::add(std::unique_ptr<Job> job) {
  CurlEasy easy;
  if (!idle.empty()) {
    easy = std::move(idle.back());
    idle.pop_back();
    curl_easy_reset(easy.get());
  } else {
    easy.reset(curl_easy_init());
  }
  if (!easy) {
    job->done(Error::retryable("curl: could not make an easy handle"));
    return;
  }
  if (auto prepared = prepare_transfer(easy.get(), job->transfer); !prepared) {
    job->done(prepared.error());
    return;
  }
  if (CURLMcode code = curl_multi_add_handle(multi.get(), easy.get()); code != CURLM_OK) {
    job->done(Error::retryable(std::string("curl: ") + curl_multi_strerror(code)));
    return;
  }
  CURL* key = easy.get();
  active.emplace(key, std::make_pair(std::move(easy), std::move(job)));
  std::lock_guard lock(mutex);
  ++running;
}

void HttpEngine::Impl::finish(CURL* easy, CURLcode code) {
  auto found = active.find(easy);
  if (found == active.end()) return;
  auto [handle, job] = std::move(found->second);
  active.erase(found);
  curl_multi_remove_handle(multi.get(), easy);
  Result<HttpResponse> result = finish_transfer(easy, job->transfer, code);
  if (idle.size() < kIdleHandles) idle.push_back(std::move(handle));
  {
    std::lock_guard lock(mutex);
    --running;
  }
  // The callback resumes a coroutine elsewhere (it posts to the loop): it must not throw here.
  try {
    job->done(std::move(result));
  } catch (const std::exception& e) {
    spdlog::error("http engine: a completion handler threw: {}", e.what());
  }
}

void HttpEngine::Impl::loop() {
  while (true) {
    std::deque<std::unique_ptr<Job>> batch;
    bool stop = false;
    {
      std::lock_guard lock(mutex);
      batch.swap(starting);
      stop = stopping;
    }
    if (stop) break;
    for (auto& job : batch) add(std::move(job));

    int still_running = 0;
    curl_multi_perform(multi.get(), &still_running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
      if (message->msg == CURLMSG_DONE) finish(message->easy_handle, message->data.result);
    }
    long timeout_ms = -1;
    curl_multi_timeout(multi.get(), &timeout_ms);
    const int wait_ms =
        timeout_ms < 0 ? kIdlePollMs : static_cast<int>(std::min<long>(timeout_ms, kIdlePollMs));
    if (wait_ms > 0) curl_multi_poll(multi.get(), nullptr, 0, wait_ms, nullptr);
  }
  // Stopping: what is still running ends now, as a transport failure (sent requests ambiguous).
  std::vector<CURL*> left;
  for (const auto& entry : active) left.push_back(entry.first);
  for (CURL* easy : left) finish(easy, CURLE_ABORTED_BY_CALLBACK);
  std::deque<std::unique_ptr<Job>> never_started;
  {
    std::lock_guard lock(mutex);
    never_started.swap(starting);
  }
  for (auto& job : never_started) job->done(Error::retryable("http engine stopped"));
}

HttpEngine::HttpEngine() : impl_(std::make_unique<Impl>()) {
  init_http_client_library();
  impl_->multi.reset(curl_multi_init());
  if (!impl_->multi) throw std::runtime_error("curl_multi_init failed");
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

HttpEngine::~HttpEngine() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi.get());
  impl_->thread.join();
}

void HttpEngine::start(HttpRequest request, HttpClientOptions options, Done done) {
  auto job = std::make_unique<Job>();
  job->transfer.request = std::move(request);
  job->transfer.options = std::move(options);
  job->done = std::move(done);
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->stopping) {
      impl_->starting.push_back(std::move(job));
    }
  }
  if (job) {
    job->done(Error::retryable("http engine stopped"));
    return;
  }
  curl_multi_wakeup(impl_->multi.get());
}

std::size_t HttpEngine::in_flight() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->running + impl_->starting.size();
}

OutboundIo::OutboundIo() : work_(io_.get_executor()) {
  loop_ = std::thread([this] {
    // A coroutine that lets an exception escape is a bug in it; the loop must keep serving the
    // others (co_spawn with `detached` rethrows here).
    while (true) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("outbound loop: a task threw: {}", e.what());
      } catch (...) {
        spdlog::error("outbound loop: a task threw an unknown exception");
      }
    }
  });
}

OutboundIo::~OutboundIo() {
  {
    std::unique_lock lock(blocking_mutex_);
    blocking_done_.wait(lock, [this] { return blocking_ == 0; });
  }
  work_.reset();
  io_.stop();
  loop_.join();
}

void OutboundIo::begin_blocking() {
  std::lock_guard lock(blocking_mutex_);
  ++blocking_;
}

void OutboundIo::end_blocking() {
  std::lock_guard lock(blocking_mutex_);
  --blocking_;
  blocking_done_.notify_all();
}

void OutboundIo::check_not_on_loop() const {
  if (std::this_thread::get_id() == loop_.get_id()) {
    throw std::logic_error("OutboundIo::run called from the loop: it would wait for itself");
  }
}

Task<void> pause(std::chrono::milliseconds duration) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, duration);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

Task<Result<HttpResponse>> AsyncHttpClient::send(HttpRequest request) {
  HttpEngine& engine = io_->http();
  HttpClientOptions options = options_;
  auto result = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                     void(std::optional<Result<HttpResponse>>)>(
      [&engine, &request, &options](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        engine.start(
            std::move(request), std::move(options), [shared](Result<HttpResponse> response) {
              auto executor = boost::asio::get_associated_executor(*shared);
              boost::asio::dispatch(executor, [shared, response = std::move(response)]() mutable {
                (*shared)(std::optional<Result<HttpResponse>>(std::move(response)));
              });
            });
      },
      boost::asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace herald
