#include "adapters/webhook/webhook_channel.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "adapters/url.h"
#include "core/digest.h"
#include "core/json_fields.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;

// RFC 9110 token characters.
bool is_header_name(std::string_view name) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || kSymbols.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

// Headers the channel sets itself (or curl manages); a config override would break the contract.
bool is_reserved_header(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"content-type",
                                                   "content-length",
                                                   "transfer-encoding",
                                                   "host",
                                                   "expect",
                                                   "idempotency-key",
                                                   "x-herald-signature",
                                                   "x-herald-delivery",
                                                   "x-herald-timestamp"};
  const std::string lowered = ascii_lower(name);
  return std::find(std::begin(kReserved), std::end(kReserved), lowered) != std::end(kReserved);
}

std::string remote_id_of(std::string_view body) {
  const json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object()) return {};
  const auto id = parsed.find("id");
  if (id == parsed.end()) return {};
  if (id->is_string()) return id->get<std::string>();
  if (id->is_number_integer() || id->is_number_unsigned()) return id->dump();
  return {};
}

Error http_error(ErrorKind kind, long status, std::string_view body) {
  std::string message = (kind == ErrorKind::permanent && (status < 400 || status > 499))
                            ? "webhook answered unexpected HTTP "
                            : "webhook answered HTTP ";
  message += std::to_string(status);
  if (!body.empty()) message += ": " + body_excerpt(body, 200);
  Error error(kind, std::move(message));
  error.code = "http_" + std::to_string(status);
  return error;
}

}  // namespace

Result<WebhookSettings> parse_webhook_settings(const json& section, const std::string& path) {
  WebhookSettings settings;
  FieldReader r(section, path);
  settings.url = read_http_url(r, "url");
  settings.secret = r.secret("secret");
  settings.timeout = std::chrono::milliseconds(
      r.integer("timeout_ms", 1, kMaxTimeoutMs, settings.timeout.count()));
  settings.connect_timeout = std::chrono::milliseconds(
      r.integer("connect_timeout_ms", 1, kMaxTimeoutMs, settings.connect_timeout.count()));
  FieldReader headers = r.child("headers");
  for (const std::string& name : headers.keys()) {
    std::string value = headers.string(name);
    if (!headers.ok()) break;
    if (!is_header_name(name)) {
      headers.fail(name, "is not a valid HTTP header name");
    } else if (is_reserved_header(name)) {
      headers.fail(name, "is set by Herald itself and cannot be configured");
    } else if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      headers.fail(name, "must not contain line breaks or NUL");
    } else {
      settings.headers.emplace_back(name, std::move(value));
    }
  }
  if (auto done = r.finish(); !done) return done.error();
  return settings;
}

Result<std::string> webhook_body(const Delivery& delivery) {
  json item = json::parse(delivery.payload, nullptr, false);
  if (item.is_discarded()) {
    Error error = Error::permanent("delivery " + delivery.id + ": payload is not valid JSON");
    error.code = "bad_payload";
    return error;
  }
  item.erase("author");
  const json body = {{"delivery_id", delivery.id},
                     {"item_id", delivery.item_id},
                     {"channel", delivery.channel},
                     {"attempt", delivery.attempt},
                     {"item", std::move(item)}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::string> webhook_retraction_body(const Delivery& delivery,
                                            const std::string& remote_id) {
  const json payload = json::parse(delivery.payload, nullptr, false);
  if (!payload.is_object()) {
    Error error = Error::permanent("delivery " + delivery.id + ": payload is not valid JSON");
    error.code = "bad_payload";
    return error;
  }
  auto text = [&](const char* key) {
    const auto it = payload.find(key);
    return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const json body = {{"event", "retraction"},
                     {"delivery_id", delivery.id},
                     {"item_id", delivery.item_id},
                     {"channel", delivery.channel},
                     {"attempt", delivery.attempt},
                     {"retracts", {{"delivery_id", text("target")}, {"remote_id", remote_id}}},
                     {"reason", text("reason")}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds,
                              std::string_view body) {
  std::string signed_text = std::to_string(unix_seconds);
  signed_text += '.';
  signed_text += body;
  return "sha256=" + hmac_sha256_hex(secret, signed_text);
}

Result<PublishReceipt> classify_webhook_response(long status, std::string_view retry_after_header,
                                                 std::string_view body, TimePoint now) {
  if (status >= 200 && status <= 299) return PublishReceipt{remote_id_of(body)};
  const auto retry_after =
      retry_after_header.empty() ? std::nullopt : parse_retry_after(retry_after_header, now);
  if (status == 429) {
    Error error = http_error(ErrorKind::deferred, status, body);
    error.retry_after = retry_after;
    return error;
  }
  if (status == 408 || (status >= 500 && status <= 599)) {
    Error error = http_error(ErrorKind::retryable, status, body);
    error.retry_after = retry_after;
    return error;
  }
  return http_error(ErrorKind::permanent, status, body);
}

WebhookChannel::WebhookChannel(WebhookSettings settings, const Clock& clock,
                               HttpClientOptions http_options, OutboundIo* io)
    : Channel("webhook", io),
      settings_(std::move(settings)),
      clock_(clock),
      http_(this->io(), std::move(http_options)) {}

Task<Result<PublishReceipt>> WebhookChannel::do_publish(const Delivery& delivery) {
  auto body = webhook_body(delivery);
  if (!body) co_return body.error();
  auto receipt = co_await post(*body, delivery.idempotency_key(), delivery.id);
  if (receipt && receipt->remote_id.empty()) receipt->remote_id = delivery.idempotency_key();
  co_return receipt;
}

Task<Result<void>> WebhookChannel::do_recall(const Delivery& delivery,
                                             const std::string& remote_id) {
  auto body = webhook_retraction_body(delivery, remote_id);
  if (!body) co_return body.error();
  auto receipt = co_await post(*body, delivery.idempotency_key(), delivery.id);
  if (!receipt) co_return receipt.error();
  co_return ok();
}

Task<Result<PublishReceipt>> WebhookChannel::post(const std::string& body,
                                                  const std::string& idempotency_key,
                                                  const std::string& delivery_id) {
  HttpRequest request;
  request.method = "POST";
  request.url = settings_.url;
  request.connect_timeout = settings_.connect_timeout;
  request.total_timeout = settings_.timeout;
  const std::int64_t timestamp = clock_.now_ms() / 1000;
  request.headers = {
      {"Content-Type", "application/json"},
      {"Idempotency-Key", idempotency_key},
      {"X-Herald-Timestamp", std::to_string(timestamp)},
      {"X-Herald-Signature", webhook_signature(settings_.secret, timestamp, body)},
      {"X-Herald-Delivery", delivery_id},
  };
  request.headers.insert(request.headers.end(), settings_.headers.begin(), settings_.headers.end());
  request.body = body;

  auto response = co_await http_.send(request);
  if (!response) co_return response.error();
  co_return classify_webhook_response(response->status, response->header("retry-after"),
                                      response->body, clock_.now());
}

Result<ChannelPtr> make_webhook_channel(const json& section, const std::string& path,
                                        ChannelDeps& deps) {
  auto settings = parse_webhook_settings(section, path);
  if (!settings) return settings.error();
  return ChannelPtr(std::make_unique<WebhookChannel>(std::move(*settings), deps.clock,
                                                     HttpClientOptions{}, deps.io));
}

}  // namespace herald
