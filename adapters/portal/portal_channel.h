// PortalChannel: submits items to a provincial government portal's information-submission API (the
// proposal of channel-apis.md §3: signed JSON, Idempotency-Key, asynchronous review), follows the
// submission until it is published, and withdraws it on a retraction.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "core/clock.h"
#include "core/delivery.h"
#include "core/result.h"

namespace herald {

// The `channels.portal` section.
struct PortalSettings {
  std::string url;       // API base, e.g. "https://portal.example.gov.cn" (paths are appended)
  std::string hmac_key;  // hmac_key | hmac_key_file
  std::string app_id;    // X-Gov-AppId
  std::string org_code;  // the body's org_code: 统一社会信用代码 (18 characters)
  std::string column;    // the body's "channel" (栏目 code)
  // Herald item field → portal field name ("" leaves the field out). Keys: id, kind, title,
  // summary, body, link, publish_at, expires; defaults as in §3 (see portal_default_field_map()).
  std::map<std::string, std::string> field_map;
  int status_poll_attempts = 5;
  std::chrono::milliseconds status_poll_interval{500};
  // status_poll.recheck_ms: after the polls, how long until the next look at a submission still
  // in review (a deferral: no attempt is spent).
  std::chrono::milliseconds review_recheck{60000};
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{3000};
};

// id→doc_id, kind→doc_type, title→title, summary→summary, body→content_html, link→source_url,
// publish_at→publish_time, expires→expires_at.
std::map<std::string, std::string> portal_default_field_map();

// Reads and validates a section: url (required), hmac_key | hmac_key_file (exactly one), app_id
// (required), org_code (required, 18 characters), column (default "default"), field_map,
// status_poll {attempts 1..100 (5), interval_ms 0..60000 (500)}, timeout_ms, connect_timeout_ms.
// A problem, an unknown key included, is an invalid_input Error naming the key's full path.
Result<PortalSettings> parse_portal_settings(const nlohmann::json& section,
                                             const std::string& path);

// The submission body (§3 field names after field_map). Deterministic for a delivery: no attempt
// number or clock in it, so a retry under the same Idempotency-Key sends the very same bytes (a
// portal answers a changed body under a used key with 409 IDEMPOTENCY_CONFLICT).
Result<std::string> portal_submission_body(const Delivery& delivery,
                                           const PortalSettings& settings);

// "v1=<lower hex HMAC-SHA256(key, METHOD\nPATH\nTS\nNONCE\nIDEM_KEY\nhex(sha256(body)))>"; §3
// defines it for the submission POST, Herald signs its status and withdraw calls the same way (an
// empty Idempotency-Key where none is sent).
std::string portal_signature(std::string_view key, std::string_view method, std::string_view path,
                             std::string_view timestamp, std::string_view nonce,
                             std::string_view idempotency_key, std::string_view body);

// The useful part of a portal answer.
struct PortalAnswer {
  std::string submission_id;
  std::string status;  // pending_review | published | rejected | withdrawn ("" if absent)
  std::string published_url;
  std::string reason;
  std::string code;         // the error body's code, e.g. "ALREADY_WITHDRAWN" on a 409
  bool replayed = false;    // 200 with Idempotent-Replayed, or a 409 naming the existing submission
  nlohmann::json document;  // the whole parsed body (a search's items list)
};

// Classifies any portal answer (§3):
//   2xx                         → ok (the body's fields; replayed from Idempotent-Replayed: true);
//   409 naming a submission_id  → ok, replayed (a portal that answers a replay with 409);
//   409 ALREADY_WITHDRAWN       → ok, code set (recall treats it as done);
//   409 IDEMPOTENCY_CONFLICT    → permanent "idempotency_conflict";
//   401 TIMESTAMP_SKEW          → retryable "timestamp_skew" (the next attempt signs a new time);
//   401 (SIGNATURE_INVALID, NONCE_REUSED, ...) and 403 → permanent, saying to check the key/app id;
//   429                         → deferred with Retry-After;
//   5xx                         → ambiguous (the portal may have stored it), Retry-After kept;
//   408                         → retryable (the request did not arrive whole);
//   other statuses              → permanent (413, 422 with the portal's errors, 404, 1xx, 3xx).
// Error codes are the portal's code in lower case when it gives one, else "http_<status>"; the
// message carries the status, the portal's code and message and the 422 field list.
Result<PortalAnswer> classify_portal_response(long status, std::string_view idempotent_replayed,
                                              std::string_view retry_after_header,
                                              std::string_view body, TimePoint now);

// Many calls may be in flight at once on the channel's loop. A publish waits (without holding the
// loop) for at most status_poll attempts × (interval + request timeout).
class PortalChannel final : public Channel {
 public:
  PortalChannel(PortalSettings settings, const Clock& clock, HttpClientOptions http_options = {},
                OutboundIo* io = nullptr);

 protected:
  Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) override;
  // GET /api/v1/submissions?idempotency_key=K (§5A, an extension of §3): found → followed up like
  // a submission's answer (published → its id; still in review → deferred).
  Task<Result<Lookup>> do_lookup(const Delivery& delivery) override;
  Task<Result<void>> do_recall(const Delivery& delivery, const std::string& remote_id) override;
  // GET /api/v1/submissions?from=&to=&page= (§5A, an extension of §3), 100 a page: published
  // submissions are live, withdrawn ones withdrawn, the rest never appeared on the portal.
  Task<Result<PlatformListing>> do_list_published(TimePoint from, TimePoint to,
                                                  const std::vector<HeldDelivery>& held) override;

 private:
  // Signs and sends one request to `path` (below the base URL) and classifies the answer.
  Task<Result<PortalAnswer>> call(const std::string& method, const std::string& path,
                                  const std::string& idempotency_key, const std::string& body);
  Task<Result<PublishReceipt>> follow_up(const Delivery& delivery, const PortalAnswer& submitted);

  PortalSettings settings_;
  std::string base_path_;  // the base URL's own path ("" or "/gateway"), part of the signed path
  const Clock& clock_;
  AsyncHttpClient http_;
};

// The factory registered as "portal".
Result<ChannelPtr> make_portal_channel(const nlohmann::json& section, const std::string& path,
                                       ChannelDeps& deps);

}  // namespace herald
