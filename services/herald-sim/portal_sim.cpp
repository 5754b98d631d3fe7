#include "services/herald-sim/portal_sim.h"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <utility>

#include "core/clock.h"
#include "core/digest.h"

namespace herald::sim {
namespace {

using nlohmann::json;

constexpr std::string_view kRoot = "/api/v1/submissions";
constexpr std::string_view kWithdrawSuffix = "/withdraw";
constexpr std::int64_t kMaxSkewSeconds = 300;
constexpr std::size_t kMaxBodyBytes = 2 * 1024 * 1024;
constexpr std::size_t kMaxTitleBytes = 600;  // 200 CJK characters in UTF-8
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 100;

std::int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_string_in(const json& body, const char* key) {
  return body.contains(key) && body[key].is_string();
}

// A whole number in [min, max] from the query; absent → fallback; false if malformed.
bool query_int(const ServerRequest& request, const char* key, int fallback, int min, int max,
               int& out) {
  const auto found = request.query.find(key);
  if (found == request.query.end() || found->second.empty()) {
    out = fallback;
    return true;
  }
  const std::string& text = found->second;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), out);
  return parsed.ec == std::errc() && parsed.ptr == text.data() + text.size() && out >= min &&
         out <= max;
}

}  // namespace

PortalSim::PortalSim(std::string key) : key_(std::move(key)) {}

bool PortalSim::owns(const std::string& path) const {
  return path.compare(0, kRoot.size(), kRoot) == 0 &&
         (path.size() == kRoot.size() || path[kRoot.size()] == '/');
}

std::vector<std::string> PortalSim::config_keys() const {
  return {"portal_key", "portal_app_id", "portal_publish_after_polls", "portal_publish_after_ms",
          "portal_reject_next"};
}

Result<void> PortalSim::configure(const std::string& key, const json& value) {
  std::lock_guard lock(mutex_);
  if (key == "portal_key" || key == "portal_app_id" || key == "portal_reject_next") {
    if (!value.is_string()) return Error::invalid(key, key + " must be a string");
    if (key == "portal_key") key_ = value.get<std::string>();
    if (key == "portal_app_id") app_id_ = value.get<std::string>();
    if (key == "portal_reject_next") reject_next_ = value.get<std::string>();
    return ok();
  }
  if (key == "portal_publish_after_polls" || key == "portal_publish_after_ms") {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
        value.get<std::int64_t>() > 3'600'000) {
      return Error::invalid(key, key + " must be an integer from 0 to 3600000");
    }
    if (key == "portal_publish_after_polls") {
      publish_after_polls_ = static_cast<int>(value.get<std::int64_t>());
    } else {
      publish_after_ms_ = value.get<std::int64_t>();
    }
    return ok();
  }
  return PlatformSim::configure(key, value);
}

json PortalSim::config() const {
  std::lock_guard lock(mutex_);
  return {{"portal_key_set", !key_.empty()},
          {"portal_app_id", app_id_},
          {"portal_publish_after_polls", publish_after_polls_},
          {"portal_publish_after_ms", publish_after_ms_},
          {"portal_reject_next", reject_next_}};
}

ServerResponse PortalSim::injected_error(int status, const std::string& message) const {
  const char* code = status == 429   ? "RATE_LIMITED"
                     : status == 503 ? "SERVICE_UNAVAILABLE"
                                     : "INTERNAL_ERROR";
  return ServerResponse::json(
      status, json{{"code", code}, {"message", message}, {"request_id", "sim-injected"}}.dump());
}

ServerResponse PortalSim::fail(int status, const std::string& code, const std::string& message,
                               json errors) {
  json body = {{"code", code},
               {"message", message},
               {"request_id", "req-" + std::to_string(next_request_++)}};
  if (!errors.is_null()) body["errors"] = std::move(errors);
  return ServerResponse::json(status, body.dump());
}

// §3's order: identification, clock window, signature, then the nonce (only a correctly signed
// request may use one up, so a forger cannot burn nonces).
std::optional<ServerResponse> PortalSim::check_auth(const ServerRequest& request) {
  const std::string app_id = request.header("x-gov-appid");
  const std::string timestamp = request.header("x-gov-timestamp");
  const std::string nonce = request.header("x-gov-nonce");
  const std::string signature = request.header("x-gov-signature");
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"X-Gov-AppId", &app_id},
        {"X-Gov-Timestamp", &timestamp},
        {"X-Gov-Nonce", &nonce},
        {"X-Gov-Signature", &signature}}) {
    if (value->empty()) return fail(401, "SIGNATURE_INVALID", std::string("missing ") + name);
  }
  if (!app_id_.empty() && app_id != app_id_) {
    return fail(403, "ORG_NOT_AUTHORIZED", "app " + app_id + " may not submit here");
  }
  std::int64_t ts = 0;
  const auto parsed = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (parsed.ec != std::errc() || parsed.ptr != timestamp.data() + timestamp.size()) {
    return fail(401, "TIMESTAMP_SKEW", "X-Gov-Timestamp is not unix seconds");
  }
  if (std::llabs(unix_seconds_now() - ts) > kMaxSkewSeconds) {
    return fail(401, "TIMESTAMP_SKEW",
                "X-Gov-Timestamp is more than 300 s from the portal's clock");
  }
  if (!key_.empty()) {
    const std::string to_sign = request.method + "\n" + request.path + "\n" + timestamp + "\n" +
                                nonce + "\n" + request.header("idempotency-key") + "\n" +
                                sha256_hex(request.body);
    const std::string expected = "v1=" + hmac_sha256_hex(key_, to_sign);
    if (!constant_time_equal(signature, expected)) {
      return fail(401, "SIGNATURE_INVALID", "X-Gov-Signature does not match the request");
    }
  }
  if (!nonces_.insert(nonce).second) {
    return fail(401, "NONCE_REUSED", "X-Gov-Nonce was used before");
  }
  return std::nullopt;
}

SimReply PortalSim::handle(const ServerRequest& request) {
  std::lock_guard lock(mutex_);
  std::string rest = request.path.substr(kRoot.size());
  if (rest.empty() || rest == "/") {
    if (request.method != "POST" && request.method != "GET") {
      SimReply reply{
          fail(405, "METHOD_NOT_ALLOWED", "submissions take POST (submit) or GET (list)")};
      reply.response.headers.emplace_back("Allow", "GET, POST");
      return reply;
    }
    if (auto refused = check_auth(request)) return {std::move(*refused)};
    if (request.method == "GET") return {list(request)};
    return submit(request);
  }
  rest.erase(0, 1);  // the '/'
  std::string id = rest;
  bool withdrawing = false;
  if (rest.size() > kWithdrawSuffix.size() &&
      rest.compare(rest.size() - kWithdrawSuffix.size(), kWithdrawSuffix.size(), kWithdrawSuffix) ==
          0) {
    id = rest.substr(0, rest.size() - kWithdrawSuffix.size());
    withdrawing = true;
  }
  if (id.empty() || id.find('/') != std::string::npos) {
    return {fail(404, "NOT_FOUND", "no such endpoint")};
  }
  const char* allowed = withdrawing ? "POST" : "GET";
  if (request.method != allowed) {
    SimReply reply{fail(405, "METHOD_NOT_ALLOWED", std::string("this path takes ") + allowed)};
    reply.response.headers.emplace_back("Allow", allowed);
    return reply;
  }
  if (auto refused = check_auth(request)) return {std::move(*refused)};
  return {withdrawing ? withdraw(id, request) : status(id)};
}

SimReply PortalSim::submit(const ServerRequest& request) {
  if (request.body.size() > kMaxBodyBytes) {
    return {fail(413, "PAYLOAD_TOO_LARGE", "a submission is at most 2 MB")};
  }
  const std::string key = request.header("idempotency-key");
  if (key.empty()) {
    return {fail(422, "VALIDATION_FAILED", "Idempotency-Key is required",
                 json::array({{{"field", "Idempotency-Key"}, {"reason", "missing"}}}))};
  }
  if (request.header("content-type").rfind("application/json", 0) != 0) {
    return {fail(422, "VALIDATION_FAILED", "the body must be application/json",
                 json::array({{{"field", "Content-Type"}, {"reason", "not_json"}}}))};
  }
  const std::string body_hash = sha256_hex(request.body);
  if (auto seen = index_by_key_.find(key); seen != index_by_key_.end()) {
    const Submission& original = submissions_[seen->second];
    if (original.body_sha256 != body_hash) {
      ++conflicts_;
      return {
          fail(409, "IDEMPOTENCY_CONFLICT",
               "Idempotency-Key was used for a different body (submission " + original.id + ")")};
    }
    ++replays_;
    SimReply reply{ServerResponse::json(200, original.first_answer)};
    reply.response.headers.emplace_back("Idempotent-Replayed", "true");
    return reply;
  }
  json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    return {fail(422, "VALIDATION_FAILED", "the body is not a JSON object",
                 json::array({{{"field", "$"}, {"reason", "not_json_object"}}}))};
  }
  json errors = json::array();
  if (!is_string_in(body, "org_code") || body["org_code"].get<std::string>().size() != 18) {
    errors.push_back({{"field", "org_code"}, {"reason", "invalid"}});
  }
  for (const char* field : {"doc_id", "title"}) {
    if (!is_string_in(body, field) || body[field].get<std::string>().empty()) {
      errors.push_back({{"field", field}, {"reason", "missing"}});
    }
  }
  if (is_string_in(body, "title") && body["title"].get<std::string>().size() > kMaxTitleBytes) {
    errors.push_back({{"field", "title"}, {"reason", "too_long"}});
  }
  if (!is_string_in(body, "content_html")) {
    errors.push_back({{"field", "content_html"}, {"reason", "missing"}});
  }
  if (body.contains("doc_type")) {
    const json& type = body["doc_type"];
    if (!type.is_string() || (type != "news" && type != "notice" && type != "alert")) {
      errors.push_back({{"field", "doc_type"}, {"reason", "not_one_of_news_notice_alert"}});
    }
  }
  if (!errors.empty()) {
    return {fail(422, "VALIDATION_FAILED", "the submission has invalid fields", std::move(errors))};
  }

  Submission submission;
  submission.id = "s-" + std::to_string(next_id_++);
  submission.idempotency_key = key;
  submission.body_sha256 = body_hash;
  submission.signature = request.header("x-gov-signature");
  submission.headers = request.headers;
  submission.body = std::move(body);
  submission.received_at = utc_now_iso8601();
  submission.created = std::chrono::steady_clock::now();
  submission.received = std::chrono::system_clock::now();
  submission.publish_after_polls = publish_after_polls_;
  submission.publish_after_ms = publish_after_ms_;
  submission.reject_reason = std::exchange(reject_next_, std::string());
  submission.first_answer = json{
      {"submission_id", submission.id},
      {"status", "pending_review"},
      {"received_at",
       submission.received_at}}.dump();
  SimReply reply{ServerResponse::json(201, submission.first_answer)};
  reply.recorded = true;
  index_by_key_.emplace(key, submissions_.size());
  submissions_.push_back(std::move(submission));
  return reply;
}

PortalSim::Submission* PortalSim::find(const std::string& id) {
  for (auto& submission : submissions_) {
    if (submission.id == id) return &submission;
  }
  return nullptr;
}

std::string PortalSim::review_state(const Submission& s) const {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - s.created)
                           .count();
  const bool decided = (s.publish_after_polls == 0 && s.publish_after_ms == 0) ||
                       (s.publish_after_polls > 0 && s.polls >= s.publish_after_polls) ||
                       (s.publish_after_ms > 0 && elapsed >= s.publish_after_ms);
  if (!decided) return "pending_review";
  return s.reject_reason.empty() ? "published" : "rejected";
}

json PortalSim::status_json(const Submission& s) const {
  const std::string state = review_state(s);
  json answer = {{"submission_id", s.id}, {"status", s.withdrawn ? "withdrawn" : state}};
  if (state == "published") answer["published_url"] = "https://portal.sim.gov.cn/art/" + s.id;
  if (state == "rejected") answer["reason"] = s.reject_reason;
  return answer;
}

ServerResponse PortalSim::status(const std::string& id) {
  Submission* submission = find(id);
  if (submission == nullptr) return fail(404, "SUBMISSION_NOT_FOUND", "no submission " + id);
  ++submission->polls;
  return ServerResponse::json(200, status_json(*submission).dump());
}

json PortalSim::list_item(const Submission& s) const {
  json item = status_json(s);
  item["id"] = s.id;
  item["idempotency_key"] = s.idempotency_key;
  item["received_at"] = s.received_at;
  for (const char* field : {"doc_id", "version", "title", "doc_type", "channel"}) {
    if (s.body.contains(field)) item[field] = s.body[field];
  }
  return item;
}

// §5A read-back. ?idempotency_key=K: the submission made under K (an empty list when none);
// otherwise ?from=&to= (RFC 3339, from inclusive, to exclusive, both optional) in arrival order,
// page by page. Listing is not a status poll: it does not move a review along.
ServerResponse PortalSim::list(const ServerRequest& request) {
  if (const auto key = request.query.find("idempotency_key"); key != request.query.end()) {
    json items = json::array();
    if (const auto found = index_by_key_.find(key->second); found != index_by_key_.end()) {
      items.push_back(list_item(submissions_[found->second]));
    }
    return ServerResponse::json(200, json{{"items", std::move(items)}}.dump());
  }
  std::optional<std::chrono::system_clock::time_point> bounds[2];
  const char* names[2] = {"from", "to"};
  for (int i = 0; i < 2; ++i) {
    const auto given = request.query.find(names[i]);
    if (given == request.query.end() || given->second.empty()) continue;
    std::chrono::system_clock::time_point at;
    if (!parse_rfc3339(given->second, at)) {
      return fail(422, "VALIDATION_FAILED",
                  std::string(names[i]) + " is not an RFC 3339 time (a '+' offset must be sent " +
                      "as %2B in a query)",
                  json::array({{{"field", names[i]}, {"reason", "not_rfc3339"}}}));
    }
    bounds[i] = at;
  }
  int page = 1;
  int page_size = kDefaultPageSize;
  if (!query_int(request, "page", 1, 1, 1'000'000, page)) {
    return fail(422, "VALIDATION_FAILED", "page must be a whole number >= 1",
                json::array({{{"field", "page"}, {"reason", "invalid"}}}));
  }
  if (!query_int(request, "page_size", kDefaultPageSize, 1, kMaxPageSize, page_size)) {
    return fail(422, "VALIDATION_FAILED", "page_size must be 1..100",
                json::array({{{"field", "page_size"}, {"reason", "invalid"}}}));
  }
  std::vector<const Submission*> matching;
  for (const auto& s : submissions_) {
    if (bounds[0] && s.received < *bounds[0]) continue;
    if (bounds[1] && s.received >= *bounds[1]) continue;
    matching.push_back(&s);
  }
  json items = json::array();
  const std::size_t first = static_cast<std::size_t>(page - 1) * page_size;
  for (std::size_t i = first; i < matching.size() && i < first + page_size; ++i) {
    items.push_back(list_item(*matching[i]));
  }
  return ServerResponse::json(200, json{{"items", std::move(items)},
                                        {"page", page},
                                        {"page_size", page_size},
                                        {"total", matching.size()},
                                        {"has_more", first + page_size < matching.size()}}
                                       .dump());
}

ServerResponse PortalSim::withdraw(const std::string& id, const ServerRequest& request) {
  Submission* submission = find(id);
  if (submission == nullptr) return fail(404, "SUBMISSION_NOT_FOUND", "no submission " + id);
  if (submission->withdrawn) {
    json body = {{"code", "ALREADY_WITHDRAWN"},
                 {"message", "submission " + id + " was already withdrawn"},
                 {"request_id", "req-" + std::to_string(next_request_++)},
                 {"submission_id", id},
                 {"status", "withdrawn"}};
    return ServerResponse::json(409, body.dump());
  }
  submission->withdrawn = true;
  const json body = json::parse(request.body, nullptr, false);
  if (body.is_object() && body.contains("reason") && body["reason"].is_string()) {
    submission->withdraw_reason = body["reason"].get<std::string>();
  }
  return ServerResponse::json(200, status_json(*submission).dump());
}

json PortalSim::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  json items = json::array();
  std::size_t withdrawn = 0;
  for (const auto& s : submissions_) {
    withdrawn += s.withdrawn ? 1 : 0;
    json headers = json::object();
    for (const auto& [header, value] : s.headers) headers[header] = value;
    items.push_back({{"id", s.id},
                     {"doc_id", s.body.value("doc_id", "")},
                     {"version", s.body.value("version", json(nullptr))},
                     {"title", s.body.value("title", "")},
                     {"status", s.withdrawn ? "withdrawn" : review_state(s)},
                     {"idempotency_key", s.idempotency_key},
                     {"signature", s.signature},
                     {"headers", std::move(headers)},
                     {"body", s.body},
                     {"received_at", s.received_at},
                     {"state", review_state(s)},
                     {"withdrawn", s.withdrawn},
                     {"withdraw_reason", s.withdraw_reason},
                     {"reason", s.reject_reason},
                     {"polls", s.polls}});
  }
  return {{"platform", name()},
          {"count", submissions_.size()},
          {"live", submissions_.size() - withdrawn},
          {"withdrawn", withdrawn},
          {"unique_keys", index_by_key_.size()},
          {"duplicates", replays_},
          {"conflicts", conflicts_},
          {"items", std::move(items)}};
}

void PortalSim::reset() {
  std::lock_guard lock(mutex_);
  submissions_.clear();
  index_by_key_.clear();
  nonces_.clear();
  replays_ = 0;
  conflicts_ = 0;
  reject_next_.clear();
}

}  // namespace herald::sim
