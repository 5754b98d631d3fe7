#include "adapters/portal/portal_channel.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "adapters/url.h"
#include "core/digest.h"
#include "core/item.h"
#include "core/json_fields.h"
#include "core/markup.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;
constexpr const char* kSubmissionsPath = "/api/v1/submissions";
constexpr std::string_view kFieldKeys[] = {"id",   "kind", "title",      "summary",
                                           "body", "link", "publish_at", "expires"};
// Passed through from the item's extra fields when present: the portal's own metadata (§3).
constexpr const char* kPassThrough[] = {"index_no", "doc_no", "subject", "attachments"};

// "scheme://host[:port]" and the path after it, or nullopt for anything but a plain http(s) base
// (no query, fragment, spaces or control characters). The URL is never echoed: it may be secret.
std::optional<std::string> base_path_of(std::string_view url) {
  const std::string prefix = ascii_lower(url.substr(0, 8));
  std::size_t host_start = 0;
  if (prefix.starts_with("https://")) {
    host_start = 8;
  } else if (prefix.starts_with("http://")) {
    host_start = 7;
  } else {
    return std::nullopt;
  }
  if (host_start >= url.size()) return std::nullopt;
  const char first = url[host_start];
  if (first == '/' || first == ':') return std::nullopt;
  if (std::any_of(url.begin(), url.end(),
                  [](unsigned char c) { return c <= 0x20 || c == 0x7F || c == '?' || c == '#'; })) {
    return std::nullopt;
  }
  const std::size_t slash = url.find('/', host_start);
  if (slash == std::string_view::npos) return std::string();
  std::string path(url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

// A portal id goes into a URL path: refuse anything that would need escaping.
bool is_safe_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~';
  });
}

std::string uuid_v4() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // The CSPRNG failing is not a platform error; it is broken hosting.
    throw std::runtime_error("RAND_bytes failed");
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);
  char text[37];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

// Herald bodies are plain text: one <p> per non-empty line.
std::string to_html(std::string_view text) {
  std::string html;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) html += "<p>" + xml_escape(line) + "</p>";
    start = end + 1;
  }
  return html;
}

std::string string_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer() || it->is_number_unsigned()) return it->dump();
  return {};
}

Error portal_error(ErrorKind kind, long status, const json& parsed, std::string_view body,
                   std::string_view lead) {
  const std::string code = parsed.is_object() ? string_field(parsed, "code") : std::string();
  const std::string portal_message =
      parsed.is_object() ? string_field(parsed, "message") : std::string();
  std::string message(lead);
  message += " (portal answered HTTP " + std::to_string(status);
  if (!code.empty()) message += " " + code;
  if (!portal_message.empty()) message += ": " + body_excerpt(portal_message, 200);
  message += ")";
  if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array()) {
    std::string fields;
    for (const auto& e : parsed["errors"]) {
      if (!e.is_object()) continue;
      if (!fields.empty()) fields += ", ";
      fields += string_field(e, "field") + ": " + string_field(e, "reason");
    }
    if (!fields.empty()) message += "; fields: " + body_excerpt(fields, 200);
  }
  if (code.empty() && portal_message.empty() && !body.empty()) {
    message += ": " + body_excerpt(body, 200);
  }
  Error error(kind, std::move(message));
  error.code = code.empty() ? "http_" + std::to_string(status) : ascii_lower(code);
  return error;
}

// The `items` list of a submission search or list answer (§5A extension of §3).
Result<const json*> items_of(const PortalAnswer& answer, const char* what) {
  const json& document = answer.document;
  const auto items = document.is_object() ? document.find("items") : document.end();
  if (!document.is_object() || items == document.end() || !items->is_array()) {
    Error error = Error::retryable(std::string("the portal's submission ") + what +
                                   " answered without an items list");
    error.code = "portal_bad_answer";
    return error;
  }
  return &*items;
}

PortalAnswer answer_of(const json& parsed) {
  PortalAnswer answer;
  if (!parsed.is_object()) return answer;
  answer.submission_id = string_field(parsed, "submission_id");
  answer.status = string_field(parsed, "status");
  answer.published_url = string_field(parsed, "published_url");
  answer.reason = string_field(parsed, "reason");
  answer.code = string_field(parsed, "code");
  answer.document = parsed;
  return answer;
}

}  // namespace

std::map<std::string, std::string> portal_default_field_map() {
  return {{"id", "doc_id"},
          {"kind", "doc_type"},
          {"title", "title"},
          {"summary", "summary"},
          {"body", "content_html"},
          {"link", "source_url"},
          {"publish_at", "publish_time"},
          {"expires", "expires_at"}};
}

Result<PortalSettings> parse_portal_settings(const json& section, const std::string& path) {
  PortalSettings settings;
  FieldReader r(section, path);
  settings.url = r.string("url");
  if (r.ok() && !base_path_of(settings.url)) {
    r.fail("url", "must be an http:// or https:// base URL with a host and no query or spaces");
  }
  settings.hmac_key = r.secret("hmac_key");
  settings.app_id = r.string("app_id");
  if (r.ok() && (settings.app_id.empty() || !is_safe_id(settings.app_id))) {
    r.fail("app_id", "must be a non-empty id of letters, digits and -_.~");
  }
  settings.org_code = r.string("org_code");
  if (r.ok() && (settings.org_code.size() != 18 ||
                 !std::all_of(settings.org_code.begin(), settings.org_code.end(),
                              [](unsigned char c) { return std::isalnum(c) != 0; }))) {
    r.fail("org_code", "must be the 18-character unified social credit code");
  }
  settings.column = r.string("column", "default");
  settings.field_map = portal_default_field_map();
  FieldReader map = r.child("field_map");
  for (const std::string& key : map.keys()) {
    if (std::find(std::begin(kFieldKeys), std::end(kFieldKeys), key) == std::end(kFieldKeys)) {
      map.fail(key,
               "is not a mapped Herald field (known: id, kind, title, summary, body, link, "
               "publish_at, expires)");
      break;
    }
    settings.field_map[key] = map.string(key);
  }
  FieldReader poll = r.child("status_poll");
  settings.status_poll_attempts =
      static_cast<int>(poll.integer("attempts", 1, 100, settings.status_poll_attempts));
  settings.status_poll_interval = std::chrono::milliseconds(
      poll.integer("interval_ms", 0, 60000, settings.status_poll_interval.count()));
  settings.review_recheck = std::chrono::milliseconds(
      poll.integer("recheck_ms", 1000, 24LL * 3600 * 1000, settings.review_recheck.count()));
  settings.timeout = std::chrono::milliseconds(
      r.integer("timeout_ms", 1, kMaxTimeoutMs, settings.timeout.count()));
  settings.connect_timeout = std::chrono::milliseconds(
      r.integer("connect_timeout_ms", 1, kMaxTimeoutMs, settings.connect_timeout.count()));
  if (auto done = r.finish(); !done) return done.error();
  return settings;
}

Result<std::string> portal_submission_body(const Delivery& delivery,
                                           const PortalSettings& settings) {
  const json item = json::parse(delivery.payload, nullptr, false);
  if (!item.is_object()) {
    Error error = Error::permanent("delivery " + delivery.id + ": payload is not a JSON object");
    error.code = "bad_payload";
    return error;
  }
  const auto mapped = [&](const char* key) {
    const auto it = settings.field_map.find(key);
    return it == settings.field_map.end() ? std::string() : it->second;
  };
  json body = json::object();
  const auto put = [&](const char* key, json value) {
    const std::string name = mapped(key);
    if (!name.empty()) body[name] = std::move(value);
  };
  body["org_code"] = settings.org_code;
  put("id", item.value("id", delivery.item_id));
  body["version"] = 1;
  const std::string kind = item.value("kind", std::string(to_string(delivery.kind)));
  const std::string category = item.value("category", delivery.category);
  put("kind", kind == "alert" ? "alert" : (category == "regulation" ? "notice" : "news"));
  body["channel"] = settings.column;
  // A drill goes out only on a channel whose drills are "marked": then nothing of it reads as real.
  const std::string mark =
      item.value("status", "") == "exercise" ? std::string(kDrillPrefix) : std::string();
  const auto marked = [&](const char* key) {
    const std::string text = item.value(key, "");
    return text.empty() ? text : mark + text;
  };
  put("title", mark + item.value("title", ""));
  put("summary", marked("summary"));
  put("body", to_html(marked("body")));
  if (item.contains("link")) put("link", item["link"]);
  // The time it is meant to appear; an immediate item takes its acceptance time, never "now",
  // so the body (and its signature's hash) is the same on every retry.
  if (item.contains("publish_at")) {
    put("publish_at", item["publish_at"]);
  } else if (item.contains("created_at")) {
    put("publish_at", item["created_at"]);
  }
  const json* alert = item.contains("alert") ? &item["alert"] : nullptr;
  put("expires", alert != nullptr && alert->is_object() && alert->contains("expires")
                     ? (*alert)["expires"]
                     : json(nullptr));
  for (const char* key : kPassThrough) {
    if (item.contains(key)) body[key] = item[key];
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string portal_signature(std::string_view key, std::string_view method, std::string_view path,
                             std::string_view timestamp, std::string_view nonce,
                             std::string_view idempotency_key, std::string_view body) {
  std::string to_sign;
  to_sign.append(method).append("\n").append(path).append("\n").append(timestamp).append("\n");
  to_sign.append(nonce).append("\n").append(idempotency_key).append("\n").append(sha256_hex(body));
  return "v1=" + hmac_sha256_hex(key, to_sign);
}

Result<PortalAnswer> classify_portal_response(long status, std::string_view idempotent_replayed,
                                              std::string_view retry_after_header,
                                              std::string_view body, TimePoint now) {
  const json parsed = json::parse(body, nullptr, false);
  if (status >= 200 && status <= 299) {
    PortalAnswer answer = answer_of(parsed);
    answer.replayed = ascii_lower(idempotent_replayed) == "true";
    return answer;
  }
  const std::string code = parsed.is_object() ? string_field(parsed, "code") : std::string();
  if (status == 409) {
    PortalAnswer answer = answer_of(parsed);
    if (code == "ALREADY_WITHDRAWN") return answer;
    if (code != "IDEMPOTENCY_CONFLICT" && !answer.submission_id.empty()) {
      answer.replayed = true;
      return answer;
    }
    Error error = portal_error(
        ErrorKind::permanent, status, parsed, body,
        "the portal holds a different body under this Idempotency-Key: the item changed after "
        "its first submission");
    if (code.empty()) error.code = "idempotency_conflict";
    return error;
  }
  const auto retry_after =
      retry_after_header.empty() ? std::nullopt : parse_retry_after(retry_after_header, now);
  if (status == 429) {
    Error error = portal_error(ErrorKind::deferred, status, parsed, body,
                               "the portal is rate limiting submissions");
    error.retry_after = retry_after;
    return error;
  }
  if (status >= 500 && status <= 599) {
    // After the body was sent: the portal may have stored it (the next attempt looks it up by
    // its Idempotency-Key first).
    Error error = portal_error(ErrorKind::ambiguous, status, parsed, body,
                               "the portal failed, maybe after storing the request");
    error.retry_after = retry_after;
    return error;
  }
  if (status == 408) {
    Error error = portal_error(ErrorKind::retryable, status, parsed, body,
                               "the request did not reach the portal whole");
    error.retry_after = retry_after;
    return error;
  }
  if (status == 401 && code == "TIMESTAMP_SKEW") {
    return portal_error(ErrorKind::retryable, status, parsed, body,
                        "the portal says our clock is off by more than 300 s; check NTP");
  }
  if (status == 401) {
    return portal_error(ErrorKind::permanent, status, parsed, body,
                        "the portal refused the request signature: check hmac_key and app_id");
  }
  if (status == 403) {
    return portal_error(ErrorKind::permanent, status, parsed, body,
                        "the portal does not let this app/org submit: check app_id, org_code "
                        "and the portal's authorisation");
  }
  if (status == 413) {
    return portal_error(ErrorKind::permanent, status, parsed, body, "the item is too large");
  }
  if (status == 422) {
    return portal_error(ErrorKind::permanent, status, parsed, body,
                        "the portal refused the item's fields");
  }
  return portal_error(ErrorKind::permanent, status, parsed, body,
                      status >= 400 && status <= 499 ? "the portal refused the request"
                                                     : "the portal answered an unexpected status");
}

PortalChannel::PortalChannel(PortalSettings settings, const Clock& clock,
                             HttpClientOptions http_options, OutboundIo* io)
    : Channel("portal", io),
      settings_(std::move(settings)),
      base_path_(base_path_of(settings_.url).value_or("")),
      clock_(clock),
      http_(this->io(), std::move(http_options)) {
  while (!settings_.url.empty() && settings_.url.back() == '/') settings_.url.pop_back();
}

Task<Result<PortalAnswer>> PortalChannel::call(const std::string& method, const std::string& path,
                                               const std::string& idempotency_key,
                                               const std::string& body) {
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count());
  const std::string nonce = uuid_v4();
  // The signature covers the path without its query (§3 signs "POST\n/api/v1/submissions").
  const std::string signed_path = base_path_ + path.substr(0, path.find('?'));

  HttpRequest request;
  request.method = method;
  request.url = settings_.url + path;
  request.connect_timeout = settings_.connect_timeout;
  request.total_timeout = settings_.timeout;
  if (method != "GET")
    request.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  request.headers.emplace_back("X-Gov-AppId", settings_.app_id);
  request.headers.emplace_back("X-Gov-Timestamp", timestamp);
  request.headers.emplace_back("X-Gov-Nonce", nonce);
  if (!idempotency_key.empty()) request.headers.emplace_back("Idempotency-Key", idempotency_key);
  request.headers.emplace_back(
      "X-Gov-Signature", portal_signature(settings_.hmac_key, method, signed_path, timestamp, nonce,
                                          idempotency_key, body));
  request.body = body;

  auto response = co_await http_.send(request);
  if (!response) co_return response.error();
  co_return classify_portal_response(response->status, response->header("idempotent-replayed"),
                                     response->header("retry-after"), response->body, clock_.now());
}

Task<Result<Lookup>> PortalChannel::do_lookup(const Delivery& delivery) {
  auto listed = co_await call(
      "GET",
      std::string(kSubmissionsPath) + "?idempotency_key=" + form_escape(delivery.idempotency_key()),
      "", "");
  if (!listed) co_return listed.error();
  auto items = items_of(*listed, "search");
  if (!items) co_return items.error();
  for (const json& entry : **items) {
    if (!entry.is_object()) continue;
    PortalAnswer found = answer_of(entry);
    if (found.submission_id.empty()) found.submission_id = string_field(entry, "id");
    if (!is_safe_id(found.submission_id)) continue;
    // Stored: where it stands decides, exactly as after a submission's answer.
    auto followed = co_await follow_up(delivery, found);
    if (!followed) co_return followed.error();
    co_return Lookup{LookupState::found, *followed};
  }
  co_return Lookup{LookupState::absent, {}};
}

Task<Result<PublishReceipt>> PortalChannel::do_publish(const Delivery& delivery) {
  auto body = portal_submission_body(delivery, settings_);
  if (!body) co_return body.error();
  auto submitted = co_await call("POST", kSubmissionsPath, delivery.idempotency_key(), *body);
  if (!submitted) co_return submitted.error();
  if (!is_safe_id(submitted->submission_id)) {
    // The portal may have stored it: the next attempt looks it up by its key first.
    Error error = Error::ambiguous("the portal's submission answer has no usable submission_id");
    error.code = "portal_bad_answer";
    co_return error;
  }
  co_return co_await follow_up(delivery, *submitted);
}

// Review is asynchronous: poll a bounded number of times, then defer (the portal holds it and is
// still reviewing it: no attempt is spent); the next attempt re-submits under the same key, is
// answered as a replay, and polls again.
Task<Result<PublishReceipt>> PortalChannel::follow_up(const Delivery& delivery,
                                                      const PortalAnswer& submitted) {
  const std::string& id = submitted.submission_id;
  std::string status = submitted.status;
  std::string reason = submitted.reason;
  for (int polls = 0;; ++polls) {
    if (status == "published") co_return PublishReceipt{id};
    if (status == "rejected") {
      Error error =
          Error::permanent("the portal rejected submission " + id + " of " + delivery.id + ": " +
                           (reason.empty() ? "no reason given" : body_excerpt(reason)));
      error.code = "portal_rejected";
      co_return error;
    }
    if (status == "withdrawn") {
      Error error = Error::permanent("submission " + id + " of " + delivery.id +
                                     " was withdrawn on the portal before it was published");
      error.code = "portal_withdrawn";
      co_return error;
    }
    if (polls == settings_.status_poll_attempts) break;
    co_await pause(settings_.status_poll_interval);
    auto answer = co_await call("GET", std::string(kSubmissionsPath) + "/" + id, "", "");
    if (!answer) co_return answer.error();
    status = answer->status;
    reason = answer->reason;
  }
  Error error = Error::deferred("submission " + id + " of " + delivery.id + " still '" + status +
                                    "' after " + std::to_string(settings_.status_poll_attempts) +
                                    " status polls; checking again later",
                                settings_.review_recheck, DeferReason::processing);
  error.code = "portal_pending";
  co_return error;
}

Task<Result<void>> PortalChannel::do_recall(const Delivery& delivery,
                                            const std::string& remote_id) {
  if (!is_safe_id(remote_id)) {
    Error error = Error::permanent("remote id '" + body_excerpt(remote_id, 64) +
                                   "' is not a portal submission id");
    error.code = "bad_remote_id";
    co_return error;
  }
  const std::string body = json{{"reason", "retracted by the issuer"}}.dump();
  auto answer = co_await call("POST", std::string(kSubmissionsPath) + "/" + remote_id + "/withdraw",
                              delivery.idempotency_key() + ".withdraw", body);
  if (!answer) co_return answer.error();
  co_return ok();
}

Task<Result<PlatformListing>> PortalChannel::do_list_published(
    TimePoint from, TimePoint to, const std::vector<HeldDelivery>& /*held*/) {
  constexpr int kPageSize = 100;
  // A million submissions: only a broken paging would get there.
  constexpr int kMaxPages = 10000;
  const std::string key_prefix = Delivery{}.idempotency_key();  // "herald-"
  // The portal's `to` is exclusive (§5A); ours is the period's last millisecond.
  const std::string range = "?from=" + form_escape(format_rfc3339(from, 0)) +
                            "&to=" + form_escape(format_rfc3339(to + std::chrono::seconds(1), 0)) +
                            "&page_size=" + std::to_string(kPageSize);
  PlatformListing listing;
  for (int page = 1; page <= kMaxPages; ++page) {
    auto answer = co_await call(
        "GET", std::string(kSubmissionsPath) + range + "&page=" + std::to_string(page), "", "");
    if (!answer) co_return answer.error();
    auto items = items_of(*answer, "list");
    if (!items) co_return items.error();
    const json& document = answer->document;
    for (const json& entry : **items) {
      if (!entry.is_object()) continue;
      std::string id = string_field(entry, "submission_id");
      if (id.empty()) id = string_field(entry, "id");
      const std::string status = string_field(entry, "status");
      // Still in review, or refused: never on the portal's pages.
      if (id.empty() || (status != "published" && status != "withdrawn")) continue;
      PlatformRecord record{id, "", std::nullopt, status == "withdrawn"};
      for (const char* field : {"published_at", "received_at"}) {
        TimePoint at{};
        if (!record.at && parse_rfc3339(string_field(entry, field), at)) record.at = at;
      }
      // The portal keeps Herald's Idempotency-Key, "herald-<delivery id>": the marker follows.
      const std::string key = string_field(entry, "idempotency_key");
      if (key.rfind(key_prefix, 0) == 0 && key.size() > key_prefix.size()) {
        Delivery delivery;
        delivery.id = key.substr(key_prefix.size());
        record.marker = delivery.marker();
      }
      listing.records.push_back(std::move(record));
    }
    const auto more = document.find("has_more");
    const bool has_more = more != document.end() && more->is_boolean()
                              ? more->get<bool>()
                              : (*items)->size() >= static_cast<std::size_t>(kPageSize);
    if (!has_more) co_return listing;
  }
  listing.notes.push_back("the submission list still had pages after " + std::to_string(kMaxPages) +
                          "; later ones were not read");
  co_return listing;
}

Result<ChannelPtr> make_portal_channel(const json& section, const std::string& path,
                                       ChannelDeps& deps) {
  auto settings = parse_portal_settings(section, path);
  if (!settings) return settings.error();
  return ChannelPtr(std::make_unique<PortalChannel>(std::move(*settings), deps.clock,
                                                    HttpClientOptions{}, deps.io));
}

}  // namespace herald
