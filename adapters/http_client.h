// HttpClient: the one libcurl wrapper every adapter (and the tests) use. One instance per thread:
// it keeps a curl easy handle so connections are reused. Every call has a connect and total
// timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace herald {

// curl_global_init is not thread-safe: call this from main() before any thread starts. It runs
// once (later calls do nothing); HttpClient's constructor calls it too, as a safety net for tools
// and tests that have a single thread anyway.
void init_http_client_library();

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds total_timeout{10000};
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // First header with this (lower-case) name, or "".
  std::string header(const std::string& lower_name) const;
};

struct HttpClientOptions {
  bool verify_tls = true;  // on by default; only a test may turn it off
  std::string user_agent = "herald/0.1";
  // A larger response body is a permanent error, so a broken or hostile peer cannot fill memory.
  std::size_t max_response_bytes = 8 * 1024 * 1024;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Transport failures (DNS, connect, timeout, TLS) come back as ErrorKind::retryable errors with
  // the curl message, except a failure after a POST/PUT/PATCH/DELETE was sent (a timeout waiting
  // for the answer, a dropped connection), which is ErrorKind::ambiguous; any HTTP status, 5xx
  // included, is a successful HttpResponse for the caller to classify. A malformed URL or a scheme
  // other than http/https is a permanent error. Redirects are not followed (a platform that
  // redirects a POST is misconfigured). Not thread-safe: one call at a time per client.
  Result<HttpResponse> send(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HttpClients shared by the threads that call one channel: send() borrows an idle client (or makes
// one) and puts it back afterwards, so each client keeps its connections warm and there are never
// more clients than concurrent callers. Owned by the channel rather than thread_local, so the
// clients (and their sockets) go away with the channel and options can differ per channel.
class HttpClientPool {
 public:
  explicit HttpClientPool(HttpClientOptions options = {});
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  // Thread-safe; the request itself runs outside the pool's lock.
  Result<HttpResponse> send(const HttpRequest& request);
  // Clients currently idle in the pool (for tests and metrics).
  std::size_t idle_count() const;

 private:
  HttpClientOptions options_;
  mutable std::mutex mutex_;
  std::vector<HttpClient> idle_;
};

// Reads a Retry-After value: delay-seconds ("120") or an HTTP-date in any of the three forms
// RFC 9110 makes recipients accept, taken relative to `now` (a date in the past is 0). Malformed →
// nullopt. Capped at kMaxRetryAfter, so a confused peer cannot park a delivery for years.
inline constexpr std::chrono::hours kMaxRetryAfter{24};
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, TimePoint now);

// The first `max_bytes` of a response body for an error message, cut at a UTF-8 character
// boundary, with "..." when something was cut; bytes that are not UTF-8 become U+FFFD.
std::string body_excerpt(std::string_view body, std::size_t max_bytes = 200);

}  // namespace herald
