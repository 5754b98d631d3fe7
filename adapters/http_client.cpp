#include "adapters/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "adapters/curl_handles.h"
#include "adapters/curl_transfer.h"
#include "adapters/url.h"
#include "core/utf8.h"

namespace herald {
namespace {

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<CurlTransfer*>(user);
  const std::size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->options.max_response_bytes) {
    transfer->body_too_large = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<CurlTransfer*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    // A new status line: whatever came before belonged to an interim response (100 Continue).
    transfer->response.headers.clear();
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return bytes;  // blank line or folding
  transfer->response.headers.emplace_back(ascii_lower(trim(line.substr(0, colon))),
                                          std::string(trim(line.substr(colon + 1))));
  return bytes;
}

// The one place a CURLcode becomes an Error. Transport trouble is worth retrying (the dispatcher's
// attempt limit bounds it); a request we built wrongly never is. Trouble after a request that
// changes something was sent (a timeout waiting for the answer, a connection dropped before it)
// is ambiguous: the peer may have acted on it (DESIGN.md §3).
Error curl_error(CURLcode code, const char* detail, bool request_sent) {
  std::string message = "curl: ";
  message += (detail != nullptr && detail[0] != '\0') ? detail : curl_easy_strerror(code);
  Error error = Error::retryable(std::move(message));
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      break;  // nothing reached the peer's application
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      if (request_sent) {
        error.kind = ErrorKind::ambiguous;
        error.message += " (the request was sent: the peer may have acted on it)";
      }
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FAILED_INIT:
    case CURLE_TOO_MANY_REDIRECTS:
      error.kind = ErrorKind::permanent;
      break;
    default:
      break;
  }
  error.code = "curl_" + std::to_string(static_cast<int>(code));
  return error;
}

}  // namespace

void init_http_client_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

std::string HttpResponse::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

struct HttpClient::Impl {
  HttpClientOptions options;
  CurlEasy handle;
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  init_http_client_library();
  impl_->options = std::move(options);
  impl_->handle.reset(curl_easy_init());
  if (!impl_->handle) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Result<void> prepare_transfer(CURL* curl, CurlTransfer& transfer) {
  const HttpRequest& request = transfer.request;
  const HttpClientOptions& options = transfer.options;
  transfer.error_buffer[0] = '\0';
  const auto add_header = [&transfer](const std::string& line) {
    curl_slist* appended = curl_slist_append(transfer.headers.get(), line.c_str());
    if (appended == nullptr) return false;
    transfer.headers.release();  // now owned by `appended`, the same list
    transfer.headers.reset(appended);
    return true;
  };
  // No "Expect: 100-continue" round trip for larger bodies: the peers we talk to answer at once.
  bool headers_ok = add_header("Expect:");
  for (const auto& [name, value] : request.headers) {
    // curl drops "Name:" (no value) as "remove this header"; "Name;" sends it empty.
    headers_ok = headers_ok && add_header(value.empty() ? name + ";" : name + ": " + value);
  }
  if (!headers_ok) return Error::permanent("curl: out of memory building the request headers");

  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, transfer.error_buffer);
  curl_easy_setopt(curl, CURLOPT_PRIVATE, &transfer);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: we are threaded
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<long long>(1, request.connect_timeout.count())));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<long long>(1, request.total_timeout.count())));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, transfer.headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" || !request.body.empty()) {
    // The body is sent from the transfer's copy of the request, which outlives the transfer.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    if (request.method != "POST") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  return ok();
}

Result<HttpResponse> finish_transfer(CURL* curl, CurlTransfer& transfer, CURLcode code) {
  // The list must not outlive its registration: unregister before the transfer frees it.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  if (transfer.body_too_large) {
    Error error = Error::permanent("response body larger than " +
                                   std::to_string(transfer.options.max_response_bytes) + " bytes");
    error.code = "response_too_large";
    return error;
  }
  if (code != CURLE_OK) {
    long request_bytes = 0;
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_bytes);
    const std::string& method = transfer.request.method;
    const bool changes_something = method != "GET" && method != "HEAD";
    return curl_error(code, transfer.error_buffer, changes_something && request_bytes > 0);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  return std::move(transfer.response);
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  if (!impl_) return Error::permanent("HttpClient used after being moved from");
  CURL* curl = impl_->handle.get();
  // Reset forgets the previous request's options but keeps the connection, DNS and TLS caches.
  curl_easy_reset(curl);
  CurlTransfer transfer;
  transfer.request = request;
  transfer.options = impl_->options;
  if (auto prepared = prepare_transfer(curl, transfer); !prepared) return prepared.error();
  return finish_transfer(curl, transfer, curl_easy_perform(curl));
}

HttpClientPool::HttpClientPool(HttpClientOptions options) : options_(std::move(options)) {
  init_http_client_library();
}

Result<HttpResponse> HttpClientPool::send(const HttpRequest& request) {
  std::optional<HttpClient> client;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      client.emplace(std::move(idle_.back()));
      idle_.pop_back();
    }
  }
  if (!client) client.emplace(options_);
  auto result = client->send(request);
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(*client));
  return result;
}

std::size_t HttpClientPool::idle_count() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

}  // namespace herald

namespace herald {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

std::optional<unsigned> month_from_name(std::string_view name) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < 12; ++i) {
    if (name == kMonths[i]) return i + 1;
  }
  return std::nullopt;
}

// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and
// asctime "Sun Nov  6 08:49:37 1994". The weekday is redundant and not checked against the date.
std::optional<TimePoint> parse_http_date(std::string_view text, TimePoint now) {
  std::vector<std::string_view> tokens;
  std::string normalised(text);
  std::replace(normalised.begin(), normalised.end(), ',', ' ');
  std::replace(normalised.begin(), normalised.end(), '-', ' ');
  std::string_view rest(normalised);
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = std::min(rest.find(' '), rest.size());
    tokens.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  std::string_view day_text, month_text, year_text, time_text;
  if (tokens.size() == 6 && tokens[5] == "GMT") {
    day_text = tokens[1], month_text = tokens[2], year_text = tokens[3], time_text = tokens[4];
  } else if (tokens.size() == 5) {
    month_text = tokens[1], day_text = tokens[2], time_text = tokens[3], year_text = tokens[4];
  } else {
    return std::nullopt;
  }
  const auto month = month_from_name(month_text);
  if (!month || !all_digits(day_text) || day_text.size() > 2 || !all_digits(year_text) ||
      (year_text.size() != 2 && year_text.size() != 4) || time_text.size() != 8 ||
      time_text[2] != ':' || time_text[5] != ':' || !all_digits(time_text.substr(0, 2)) ||
      !all_digits(time_text.substr(3, 2)) || !all_digits(time_text.substr(6, 2))) {
    return std::nullopt;
  }
  using namespace std::chrono;
  int year = to_int(year_text);
  if (year_text.size() == 2) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
    const int this_year = static_cast<int>(year_month_day(floor<days>(now)).year());
    year += 2000;
    if (year > this_year + 50) year -= 100;
  }
  const year_month_day date{std::chrono::year(year), std::chrono::month(*month),
                            std::chrono::day(static_cast<unsigned>(to_int(day_text)))};
  const int hour = to_int(time_text.substr(0, 2));
  const int minute = to_int(time_text.substr(3, 2));
  const int second = to_int(time_text.substr(6, 2));
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return to_time_point(sys_days(date) + hours(hour) + minutes(minute) + seconds(second));
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, TimePoint now) {
  using namespace std::chrono;
  value = trim(value);
  const milliseconds cap = kMaxRetryAfter;
  if (all_digits(value)) {
    // More digits than the cap has seconds cannot be below it (and would overflow).
    if (value.size() > 6) return cap;
    return std::min<milliseconds>(seconds(to_int(value)), cap);
  }
  const auto date = parse_http_date(value, now);
  if (!date) return std::nullopt;
  if (*date <= now) return milliseconds(0);
  return std::min<milliseconds>(duration_cast<milliseconds>(*date - now), cap);
}

std::string body_excerpt(std::string_view body, std::size_t max_bytes) {
  // A platform may answer in GBK or garbage: the excerpt ends up in last_error and the audit
  // trail, which the API serves as JSON, so it must be UTF-8.
  if (body.size() <= max_bytes) return to_valid_utf8(body);
  std::size_t cut = max_bytes;
  // Step back over continuation bytes (10xxxxxx) so a multi-byte character is not split.
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  return to_valid_utf8(body.substr(0, cut)) + "...";
}

}  // namespace herald
