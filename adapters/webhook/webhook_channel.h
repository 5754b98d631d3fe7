// WebhookChannel: POSTs each delivery as signed JSON to a configured URL (a media desk, a partner
// system), with an Idempotency-Key that stays the same on every retry so the receiver can dedupe.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "core/clock.h"
#include "core/delivery.h"
#include "core/result.h"

namespace herald {

// The `channels.webhook` section.
struct WebhookSettings {
  std::string url;                                  // http:// or https://
  std::string secret;                               // HMAC-SHA256 key for X-Herald-Signature
  std::chrono::milliseconds timeout{10000};         // timeout_ms: the whole request
  std::chrono::milliseconds connect_timeout{3000};  // connect_timeout_ms
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in key order
};

// Reads and validates a section: url (required), secret | secret_file (exactly one), timeout_ms,
// connect_timeout_ms, headers {name: value}. Any problem, an unknown key included, is an
// invalid_input Error naming the key's full path under `path` (e.g. "channels.webhook.urll").
Result<WebhookSettings> parse_webhook_settings(const nlohmann::json& section,
                                               const std::string& path);

// What we POST: {"delivery_id", "item_id", "channel", "attempt", "item": <the payload's JSON>},
// without the item's author: who drafted an item inside the office is not the public's business.
// A payload that is not JSON is a permanent error (it never will be).
Result<std::string> webhook_body(const Delivery& delivery);

// What we POST for a retraction (a webhook cannot be unsent, so the receiver is told instead):
// {"event": "retraction", "delivery_id" (the recall delivery), "item_id", "channel", "attempt",
//  "retracts": {"delivery_id", "remote_id"}, "reason"}. `delivery` is the recall delivery, whose
// payload is {"op": "recall", "target", "reason", ...}.
Result<std::string> webhook_retraction_body(const Delivery& delivery, const std::string& remote_id);

// The X-Herald-Signature value: "sha256=<lower hex HMAC-SHA256(secret, "<timestamp>.<body>")>",
// where timestamp is the X-Herald-Timestamp header (Unix seconds). Signing the time with the body
// lets a receiver refuse a captured request replayed later: it checks the signature, then that
// the timestamp is within its tolerance (herald-sim and the README use 300 s).
std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds,
                              std::string_view body);

// Classifies the receiver's answer:
//   2xx              → ok; remote_id is the body's JSON "id" when it has one, else "" (the
//                      channel then records the Idempotency-Key);
//   429              → deferred, retry_after from Retry-After (seconds or HTTP-date);
//   408, 5xx         → retryable, retry_after from Retry-After when given;
//   other 4xx, 1xx, 3xx → permanent.
// Errors carry code "http_<status>" and the status and first 200 bytes of the body in the message.
Result<PublishReceipt> classify_webhook_response(long status, std::string_view retry_after_header,
                                                 std::string_view body, TimePoint now);

// Many calls may be in flight at once on the channel's loop (requests share the loop's libcurl
// connections).
class WebhookChannel final : public Channel {
 public:
  WebhookChannel(WebhookSettings settings, const Clock& clock, HttpClientOptions http_options = {},
                 OutboundIo* io = nullptr);

 protected:
  Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) override;
  // POSTs webhook_retraction_body, signed, with the recall delivery's own Idempotency-Key.
  Task<Result<void>> do_recall(const Delivery& delivery, const std::string& remote_id) override;

 private:
  // POSTs `body` (signed, with `idempotency_key`) and classifies the answer.
  Task<Result<PublishReceipt>> post(const std::string& body, const std::string& idempotency_key,
                                    const std::string& delivery_id);
  WebhookSettings settings_;
  const Clock& clock_;
  AsyncHttpClient http_;
};

// The factory registered as "webhook".
Result<ChannelPtr> make_webhook_channel(const nlohmann::json& section, const std::string& path,
                                        ChannelDeps& deps);

}  // namespace herald
