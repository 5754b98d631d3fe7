// HttpClient: the one libcurl wrapper every adapter (and the tests) use. One instance per thread:
// it keeps a curl easy handle so connections are reused. Every call has a connect and total timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace herald {

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
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Transport failures (DNS, connect, timeout, TLS) come back as ErrorKind::retryable errors with
  // the curl message; any HTTP status, 5xx included, is a successful HttpResponse for the caller to
  // classify.
  Result<HttpResponse> send(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
