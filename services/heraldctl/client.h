// ApiClient: heraldctl's one way to heraldd's REST API (libcurl via HttpClient, with timeouts), and
// the translation of every failure, local or remote, into the exit code policy below.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "adapters/http_client.h"
#include "core/result.h"

namespace herald::ctl {

// Exit codes. The line between 1 and 2 is "could the same command succeed if run again later?":
//   0  ok.
//   1  runtime failure, worth retrying as is: heraldd unreachable or timed out, a 5xx, 408 or 429,
//      an answer that is not what the API promises, `wait` running out of time or seeing the item
//      end in another state.
//   2  bad usage or bad config, the command must change first: argument errors, no token, an
//      unreadable local file, a malformed server URL, and every other 4xx refusal (401/403 a wrong
//      token or role, 404 no such item, 409 conflict, 413, 415, 422 validation or gate refusal).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

// The exit code for an error: retryable, ambiguous and deferred errors are runtime failures (1),
// the other kinds mean the command itself must change (2).
int exit_code_for(const Error& error);

// "heraldctl: <message>" on stderr; returns exit_code_for(error).
int report_failure(const Error& error);

// A usage error (exit 2) without a server round trip.
Error usage_error(std::string message, std::string field = {});

struct ConnectionOptions {
  std::string server = "http://127.0.0.1:8080";
  std::string token;  // never printed, never part of an error message
  std::chrono::milliseconds timeout{15000};
};

struct ApiReply {
  long status = 0;
  std::string body;
  std::string content_type;
  nlohmann::json json;  // the parsed body; null when the body is empty or not JSON
};

// Query-string parameters in order; empty values are left out.
using Query = std::vector<std::pair<std::string, std::string>>;

// "?a=1&b=2" for the non-empty parameters, "" when none.
std::string query_string(const Query& query);

class ApiClient {
 public:
  explicit ApiClient(ConnectionOptions options);

  // Sends one request; a 2xx answer is a value, anything else an Error whose message names the
  // method, path, status, and the server's error code, message, field and details (the gate's
  // matched words). Requests with a body are sent with `content_type`.
  Result<ApiReply> call(const std::string& method, const std::string& path,
                        const std::string& body = "",
                        const std::string& content_type = "application/json",
                        const std::vector<std::pair<std::string, std::string>>& headers = {});

  // call() for endpoints that must answer a JSON object; anything else is a runtime failure.
  Result<nlohmann::json> call_json(
      const std::string& method, const std::string& path, const nlohmann::json* body = nullptr,
      const std::vector<std::pair<std::string, std::string>>& headers = {});

  // GET `path` page by page: `list_key` is the array in each page ("items", "deliveries"),
  // `next_cursor` the continuation; reading starts at `cursor` ("" = the first page). With `all`
  // false only one page is read. Returns
  // {list_key: [...], "next_cursor": cursor-after-the-last-page-read|null}.
  Result<nlohmann::json> get_pages(const std::string& path, Query query,
                                   const std::string& list_key, bool all,
                                   const std::string& cursor = "");

  const ConnectionOptions& options() const { return options_; }

 private:
  ConnectionOptions options_;
  HttpClient http_;
};

}  // namespace herald::ctl
