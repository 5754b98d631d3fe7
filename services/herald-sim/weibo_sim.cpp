#include "services/herald-sim/weibo_sim.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <limits>
#include <optional>
#include <utility>

namespace herald::sim {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/2/";

// Weibo's own texts for the codes this simulator answers (channel-apis.md §1.4-1.5).
const char* error_text(int code) {
  switch (code) {
    case 10001:
      return "System error!";
    case 10002:
      return "Service unavailable!";
    case 10003:
      return "Remote service error!";
    case 10004:
      return "IP limit!";
    case 10006:
      return "Source paramter (appkey) is missing!";
    case 10014:
      return "Insufficient app permissions!";
    case 10016:
      return "Miss required parameter, see doc for more info.";
    case 10017:
      return "Parameter value invalid, see doc for more info.";
    case 10020:
      return "Request api not found!";
    case 10021:
      return "HTTP method not supported!";
    case 10022:
      return "IP requests out of rate limit!";
    case 10023:
      return "User requests out of rate limit!";
    case 10024:
      return "User requests for (update) out of rate limit!";
    case 20003:
      return "User does not exists!";
    case 20008:
      return "Content is null!";
    case 20012:
      return "Text too long, please input text less than 140 characters!";
    case 20016:
      return "Out of limit!";
    case 20017:
      return "Repeat content!";
    case 20019:
      return "Repeat conetnt!";
    case 20032:
      return "Update success, while server slow now, please wait 1-2 minutes!";
    case 20101:
      return "Target weibo does not exist!";
    case 21301:
      return "auth faild!";
    case 21327:
      return "expired_token";
    case 21332:
      return "invalid_access_token";
    default:
      return "error";
  }
}

// The reference leaves the status per code open; 403 for the rate limits, 400 for the rest.
int http_status_for(int code) {
  return code >= 10022 && code <= 10024 ? 403 : 400;
}

SimReply weibo_error(int code, const std::string& request_path, const std::string& text = "") {
  const json body = {{"error", text.empty() ? error_text(code) : text},
                     {"error_code", code},
                     {"request", request_path}};
  return {ServerResponse::json(http_status_for(code), body.dump())};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// application/x-www-form-urlencoded; the first of repeated keys wins.
std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> fields;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (!pair.empty()) {
      fields.emplace(form_decode(pair.substr(0, eq)),
                     eq == std::string_view::npos ? "" : form_decode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return fields;
}

std::size_t code_points(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Does the text carry an http(s) link whose host is `domain` or under it ("" = any host)?
bool has_link_under(const std::string& text, const std::string& domain) {
  const std::string lowered = to_lower(text);
  for (std::size_t at = lowered.find("http"); at != std::string::npos;
       at = lowered.find("http", at + 4)) {
    std::size_t host_start = 0;
    if (lowered.compare(at, 7, "http://") == 0) {
      host_start = at + 7;
    } else if (lowered.compare(at, 8, "https://") == 0) {
      host_start = at + 8;
    } else {
      continue;
    }
    std::size_t host_end = host_start;
    while (host_end < lowered.size() && lowered[host_end] != '/' && lowered[host_end] != '?' &&
           lowered[host_end] != '#' && lowered[host_end] != ':' && lowered[host_end] != ' ' &&
           static_cast<unsigned char>(lowered[host_end]) < 0x80) {
      ++host_end;
    }
    const std::string host = lowered.substr(host_start, host_end - host_start);
    if (host.empty() || host.find('@') != std::string::npos) continue;
    if (domain.empty() || host == domain ||
        (host.size() > domain.size() + 1 &&
         host.compare(host.size() - domain.size(), domain.size(), domain) == 0 &&
         host[host.size() - domain.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

bool looks_like_ip(const std::string& text) {
  return !text.empty() && text.size() <= 45 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ':';
  });
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "Wed Oct 24 23:49:17 +0800 2012", Beijing time, as Weibo writes created_at.
std::string weibo_created_at() {
  std::time_t seconds = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  seconds += 8 * 3600;
  std::tm beijing{};
  gmtime_r(&seconds, &beijing);
  char text[40];
  std::strftime(text, sizeof text, "%a %b %d %H:%M:%S +0800 %Y", &beijing);
  return text;
}

// "2011-06-03 18:00:00", Beijing time, as rate_limit_status writes reset_time.
std::string beijing_datetime(std::int64_t unix_s) {
  std::time_t seconds = static_cast<std::time_t>(unix_s + 8 * 3600);
  std::tm beijing{};
  gmtime_r(&seconds, &beijing);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &beijing);
  return text;
}

// A whole number within [min, max] from a query parameter; absent → fallback; nullopt if bad.
std::optional<std::int64_t> int_param(const std::map<std::string, std::string>& params,
                                      const std::string& key, std::int64_t fallback,
                                      std::int64_t min, std::int64_t max) {
  const auto found = params.find(key);
  if (found == params.end() || found->second.empty()) return fallback;
  std::int64_t value = 0;
  const std::string& text = found->second;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || value < min ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool WeiboSim::owns(const std::string& path) const {
  return path.compare(0, kPrefix.size(), kPrefix) == 0;
}

SimReply WeiboSim::handle(const ServerRequest& request) {
  Params params(request.query.begin(), request.query.end());
  const std::string content_type = to_lower(request.header("content-type"));
  if (content_type.find("multipart/") == std::string::npos) {
    for (auto& [key, value] : parse_form(request.body)) params[key] = std::move(value);
  }
  std::string token;
  if (auto found = params.find("access_token"); found != params.end()) token = found->second;
  const std::string authorization = request.header("authorization");
  if (token.empty() && authorization.rfind("OAuth2 ", 0) == 0) token = authorization.substr(7);

  std::lock_guard lock(mutex_);
  ++requests_;
  const std::string& path = request.path;
  if (path == "/2/statuses/update.json" || path == "/2/statuses/upload.json") {
    return weibo_error(10014, path);  // closed to ordinary apps since ~2017
  }
  enum class Api { share, destroy, user_timeline, rate_limit_status };
  static const std::map<std::string, std::pair<Api, const char*>> kApis = {
      {"/2/statuses/share.json", {Api::share, "POST"}},
      {"/2/statuses/destroy.json", {Api::destroy, "POST"}},
      {"/2/statuses/user_timeline.json", {Api::user_timeline, "GET"}},
      {"/2/account/rate_limit_status.json", {Api::rate_limit_status, "GET"}}};
  const auto api = kApis.find(path);
  if (api == kApis.end()) return weibo_error(10020, path);
  if (request.method != api->second.second) return weibo_error(10021, path);
  if (token.empty()) return weibo_error(10006, path);
  if (token != token_) return weibo_error(21332, path);
  switch (api->second.first) {
    case Api::user_timeline:
      return user_timeline(token, params, path);
    case Api::rate_limit_status:
      return rate_limit_status(token);
    case Api::destroy:
      if (!next_errors_.empty()) {
        const int code = next_errors_.front();
        next_errors_.pop_front();
        return weibo_error(code, path);
      }
      return destroy(params, path);
    case Api::share:
      break;
  }
  return share(token, params, path);
}

int WeiboSim::spend_posting_limit(const std::string& account) {
  const std::int64_t now = unix_seconds();
  int& this_hour = per_hour_[{account, now / 3600}];
  if (this_hour >= hourly_limit_) return 10024;
  int& this_minute = per_minute_[{account, now / 60}];
  if (minute_limit_ > 0 && this_minute >= minute_limit_) return 20016;
  ++this_hour;
  ++this_minute;
  return 0;
}

const WeiboSim::Post* WeiboSim::latest_live_post(const std::string& account) const {
  for (auto post = posts_.rbegin(); post != posts_.rend(); ++post) {
    if (post->account == account && !post->deleted) return &*post;
  }
  return nullptr;
}

SimReply WeiboSim::share(const std::string& account, const Params& params,
                         const std::string& request_path) {
  // The limits count requests at the door, before Weibo looks at the content (§1.6).
  if (const int limited = spend_posting_limit(account); limited != 0) {
    return weibo_error(limited, request_path);
  }
  const auto status = params.find("status");
  if (status == params.end()) {
    return weibo_error(10016, request_path,
                       "Miss required parameter (status), see doc for more info.");
  }
  const auto rip = params.find("rip");
  if (rip == params.end() || rip->second.empty()) {
    return weibo_error(10016, request_path, "Miss required parameter (rip)");
  }
  if (!looks_like_ip(rip->second)) {
    return weibo_error(10017, request_path, "Parameter (rip)'s value invalid, expect (rip = ip).");
  }
  const std::string& text = status->second;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return weibo_error(20008, request_path);
  }
  if (code_points(text) > max_chars_) {
    return weibo_error(20012, request_path,
                       "Text too long, please input text less than " + std::to_string(max_chars_) +
                           " characters!");
  }
  if (!has_link_under(text, safe_domain_))
    return weibo_error(10017, request_path, "text not find domain!");
  // "连续两次发布的微博不可以重复" (§1.3): only the account's latest post counts; the same text
  // posted earlier, with another post since, is a new post.
  if (const Post* latest = latest_live_post(account); latest != nullptr && latest->text == text) {
    return weibo_error(20019, request_path);
  }

  int injected = 0;
  if (!next_errors_.empty()) {
    injected = next_errors_.front();
    next_errors_.pop_front();
    if (injected != 20032) return weibo_error(injected, request_path);
  }
  Post post;
  post.id = next_id_++;
  post.account = account;
  post.text = text;
  for (const auto& [key, value] : params) {
    if (key != "access_token") post.fields[key] = value;
  }
  post.created_at = weibo_created_at();
  post.received_at = utc_now_iso8601();
  SimReply reply = injected == 20032
                       ? weibo_error(20032, request_path)
                       : SimReply{ServerResponse::json(200, status_json(post).dump())};
  reply.recorded = true;
  posts_.push_back(std::move(post));
  return reply;
}

SimReply WeiboSim::destroy(const Params& params, const std::string& request_path) {
  const auto id = params.find("id");
  if (id == params.end() || id->second.empty()) {
    return weibo_error(10016, request_path, "Miss required parameter (id), see doc for more info.");
  }
  for (Post& post : posts_) {
    if (std::to_string(post.id) == id->second && !post.deleted) {
      post.deleted = true;
      post.deleted_at = utc_now_iso8601();
      return {ServerResponse::json(200, status_json(post).dump())};
    }
  }
  return weibo_error(20101, request_path);
}

// §5A: the token owner's own live posts, newest first, `count` (1..100, default 20) a page.
SimReply WeiboSim::user_timeline(const std::string& account, const Params& params,
                                 const std::string& request_path) const {
  constexpr std::int64_t kMaxId = std::numeric_limits<std::int64_t>::max();
  const auto count = int_param(params, "count", 20, 1, 100);
  if (!count) {
    return weibo_error(10017, request_path,
                       "Parameter (count)'s value invalid, expect (count = 1~100).");
  }
  const auto page = int_param(params, "page", 1, 1, 1000000);
  if (!page) return weibo_error(10017, request_path, "Parameter (page)'s value invalid.");
  const auto since_id = int_param(params, "since_id", 0, 0, kMaxId);
  if (!since_id) return weibo_error(10017, request_path, "Parameter (since_id)'s value invalid.");
  const auto max_id = int_param(params, "max_id", 0, 0, kMaxId);
  if (!max_id) return weibo_error(10017, request_path, "Parameter (max_id)'s value invalid.");

  std::vector<const Post*> matching;
  std::size_t live = 0;
  for (auto post = posts_.rbegin(); post != posts_.rend(); ++post) {
    if (post->account != account || post->deleted) continue;
    ++live;
    const auto id = static_cast<std::int64_t>(post->id);
    if (id > *since_id && (*max_id == 0 || id <= *max_id)) matching.push_back(&*post);
  }
  json statuses = json::array();
  const std::size_t first = static_cast<std::size_t>((*page - 1) * *count);
  for (std::size_t i = first; i < matching.size() && i < first + *count; ++i) {
    statuses.push_back(status_json(*matching[i]));
  }
  return {ServerResponse::json(200, json{{"statuses", std::move(statuses)},
                                         {"previous_cursor", 0},
                                         {"next_cursor", 0},
                                         {"total_number", live}}
                                        .dump())};
}

// §1.6's shape; the posting limit appears as the update_status API limit.
SimReply WeiboSim::rate_limit_status(const std::string& account) const {
  const std::int64_t now = unix_seconds();
  const auto used = per_hour_.find({account, now / 3600});
  const int spent = used == per_hour_.end() ? 0 : used->second;
  const std::int64_t reset_at = (now / 3600 + 1) * 3600;
  const int remaining = std::max(0, hourly_limit_ - spent);
  const json body = {{"api_rate_limits", json::array({{{"api", "update_status"},
                                                       {"limit", hourly_limit_},
                                                       {"limit_time_unit", "HOURS"},
                                                       {"remaining_hits", remaining}}})},
                     {"ip_limit", 10000},
                     {"limit_time_unit", "HOURS"},
                     {"remaining_ip_hits", 10000},
                     {"remaining_user_hits", 150},
                     {"reset_time", beijing_datetime(reset_at)},
                     {"reset_time_in_seconds", reset_at - now},
                     {"user_limit", 150}};
  return {ServerResponse::json(200, body.dump())};
}

json WeiboSim::status_json(const Post& post) const {
  const std::string idstr = std::to_string(post.id);
  return {{"created_at", post.created_at},
          {"id", post.id},
          {"mid", idstr},
          {"idstr", idstr},
          {"text", post.text},
          {"source", "<a href=\"https://open.weibo.com\" rel=\"nofollow\">herald-sim</a>"},
          {"favorited", false},
          {"truncated", false},
          {"in_reply_to_status_id", ""},
          {"in_reply_to_user_id", ""},
          {"in_reply_to_screen_name", ""},
          {"geo", nullptr},
          {"user", {{"id", 1404376560}, {"screen_name", "herald-sim"}}},
          {"reposts_count", 0},
          {"comments_count", 0},
          {"annotations", json::array()}};
}

json WeiboSim::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  json items = json::array();
  std::size_t deleted = 0;
  for (const Post& post : posts_) {
    deleted += post.deleted ? 1 : 0;
    items.push_back({{"id", std::to_string(post.id)},
                     {"idstr", std::to_string(post.id)},
                     {"text", post.text},
                     {"fields", post.fields},
                     {"created_at", post.created_at},
                     {"received_at", post.received_at},
                     {"deleted", post.deleted},
                     {"deleted_at", post.deleted ? json(post.deleted_at) : json(nullptr)}});
  }
  return {{"platform", name()}, {"count", posts_.size()}, {"live", posts_.size() - deleted},
          {"deleted", deleted}, {"requests", requests_},  {"items", std::move(items)}};
}

void WeiboSim::reset() {
  std::lock_guard lock(mutex_);
  posts_.clear();
  next_errors_.clear();
  per_hour_.clear();
  per_minute_.clear();
  requests_ = 0;
}

std::vector<std::string> WeiboSim::config_keys() const {
  return {"weibo_token",        "weibo_max_chars",   "weibo_hourly_limit",
          "weibo_minute_limit", "weibo_safe_domain", "weibo_next_errors"};
}

Result<void> WeiboSim::configure(const std::string& key, const json& value) {
  std::lock_guard lock(mutex_);
  if (key == "weibo_token") {
    if (!value.is_string() || value.get<std::string>().empty()) {
      return Error::invalid(key, "weibo_token must be a non-empty string");
    }
    token_ = value.get<std::string>();
    return ok();
  }
  if (key == "weibo_max_chars" || key == "weibo_hourly_limit") {
    if (!value.is_number_integer() || value.get<long long>() < 1 ||
        value.get<long long>() > 100000) {
      return Error::invalid(key, key + " must be an integer between 1 and 100000");
    }
    if (key == "weibo_max_chars") {
      max_chars_ = value.get<std::size_t>();
    } else {
      hourly_limit_ = value.get<int>();
    }
    return ok();
  }
  if (key == "weibo_minute_limit") {
    if (!value.is_number_integer() || value.get<long long>() < 0 ||
        value.get<long long>() > 100000) {
      return Error::invalid(key, key + " must be an integer between 0 (off) and 100000");
    }
    minute_limit_ = value.get<int>();
    return ok();
  }
  if (key == "weibo_safe_domain") {
    if (!value.is_string()) return Error::invalid(key, "weibo_safe_domain must be a string");
    safe_domain_ = to_lower(value.get<std::string>());
    return ok();
  }
  if (key == "weibo_next_errors") {
    if (!value.is_array())
      return Error::invalid(key, "weibo_next_errors must be [error_code, ...]");
    std::deque<int> codes;
    for (const json& code : value) {
      if (!code.is_number_integer() || code.get<long long>() < 10000 ||
          code.get<long long>() > 99999) {
        return Error::invalid(key, "weibo_next_errors must hold 5-digit Weibo error codes");
      }
      codes.push_back(code.get<int>());
    }
    next_errors_ = std::move(codes);
    return ok();
  }
  return PlatformSim::configure(key, value);
}

json WeiboSim::config() const {
  std::lock_guard lock(mutex_);
  return {{"weibo_token_set", !token_.empty()},  {"weibo_max_chars", max_chars_},
          {"weibo_hourly_limit", hourly_limit_}, {"weibo_minute_limit", minute_limit_},
          {"weibo_safe_domain", safe_domain_},   {"weibo_next_errors", next_errors_}};
}

ServerResponse WeiboSim::injected_error(int status, const std::string& message) const {
  const int code = status == 429 ? 10023 : (status == 503 ? 10002 : 10001);
  const json body = {{"error", std::string(error_text(code)) + " (" + message + ")"},
                     {"error_code", code},
                     {"request", "/2/statuses/share.json"}};
  return ServerResponse::json(status == 429 ? 403 : status, body.dump());
}

ServerResponse WeiboSim::quota_error(int variant, int /*retry_after_s*/) const {
  // Weibo sends no Retry-After: the client learns the window from rate_limit_status.
  const int code = variant == 0 ? 10023 : 20016;
  const json body = {{"error", std::string(error_text(code)) + " (injected quota)"},
                     {"error_code", code},
                     {"request", "/2/statuses/share.json"}};
  return ServerResponse::json(http_status_for(code), body.dump());
}

}  // namespace herald::sim
