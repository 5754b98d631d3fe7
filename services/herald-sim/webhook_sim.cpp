#include "services/herald-sim/webhook_sim.h"

#include <charconv>
#include <chrono>
#include <utility>

#include "core/digest.h"

namespace herald::sim {
namespace {

constexpr std::string_view kPrefix = "/hooks/";

}  // namespace

WebhookSim::WebhookSim(std::string secret) : secret_(std::move(secret)) {}

bool WebhookSim::owns(const std::string& path) const {
  return path.compare(0, kPrefix.size(), kPrefix) == 0 || path == "/hooks";
}

SimReply WebhookSim::handle(const ServerRequest& request) {
  std::string hook_name = request.path.size() > kPrefix.size() && owns(request.path)
                              ? request.path.substr(kPrefix.size())
                              : std::string();
  if (hook_name.empty() || hook_name.find('/') != std::string::npos) {
    return {ServerResponse::error(404, "not_found", "webhooks live at /hooks/{name}")};
  }
  if (request.method != "POST") {
    SimReply reply{ServerResponse::error(405, "method_not_allowed", "webhooks take POST")};
    reply.response.headers.emplace_back("Allow", "POST");
    return reply;
  }

  std::string signature = request.header(kSignatureHeader);
  {
    std::string secret;
    {
      std::lock_guard lock(mutex_);
      secret = secret_;
    }
    if (!secret.empty()) {
      // What a careful receiver does: the signature covers "<timestamp>.<body>", and a timestamp
      // outside the tolerance is refused even with a valid signature (a replayed capture).
      const std::string timestamp = request.header(kTimestampHeader);
      long long seconds = 0;
      const auto [end, parsed] =
          std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), seconds);
      if (timestamp.empty() || parsed != std::errc() ||
          end != timestamp.data() + timestamp.size()) {
        return {ServerResponse::error(401, "bad_timestamp",
                                      "X-Herald-Timestamp is missing or not Unix seconds")};
      }
      std::string expected = "sha256=" + hmac_sha256_hex(secret, timestamp + "." + request.body);
      if (!constant_time_equal(signature, expected)) {
        return {ServerResponse::error(401, "bad_signature",
                                      "X-Herald-Signature does not match the timestamp and body")};
      }
      const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
      if (seconds < now - kTimestampToleranceSeconds ||
          seconds > now + kTimestampToleranceSeconds) {
        return {ServerResponse::error(401, "stale_timestamp",
                                      "X-Herald-Timestamp is more than 300 s from now: a replay?")};
      }
    }
  }

  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded()) {
    return {ServerResponse::error(400, "invalid_json", "the body is not JSON")};
  }

  std::string key = request.header("idempotency-key");
  std::lock_guard lock(mutex_);
  if (!key.empty()) {
    auto seen = id_by_key_.find(key);
    if (seen != id_by_key_.end()) {
      ++duplicates_;
      return {ServerResponse::json(
          200, nlohmann::json{{"id", seen->second}, {"duplicate", true}}.dump())};
    }
  }
  Delivery delivery;
  delivery.id = "wh-" + std::to_string(next_id_++);
  delivery.name = hook_name;
  delivery.idempotency_key = key;
  delivery.signature = signature;
  delivery.headers = request.headers;
  delivery.body = std::move(body);
  delivery.received_at = utc_now_iso8601();
  if (!key.empty()) id_by_key_.emplace(key, delivery.id);
  if (delivery.body.is_object() && delivery.body.value("event", "") == "retraction") {
    const nlohmann::json target = delivery.body.value("retracts", nlohmann::json::object());
    const std::string target_id =
        target.is_object() && target.contains("remote_id") && target["remote_id"].is_string()
            ? target["remote_id"].get<std::string>()
            : std::string();
    for (auto& earlier : deliveries_) {
      if (earlier.id != target_id || earlier.retracted) continue;
      earlier.retracted = true;
      earlier.retraction_id = delivery.id;
      const auto reason = delivery.body.find("reason");
      if (reason != delivery.body.end() && reason->is_string()) {
        earlier.retraction_reason = reason->get<std::string>();
      }
    }
  }
  SimReply reply{
      ServerResponse::json(200, nlohmann::json{{"id", delivery.id}, {"duplicate", false}}.dump())};
  reply.recorded = true;
  deliveries_.push_back(std::move(delivery));
  return reply;
}

nlohmann::json WebhookSim::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  std::size_t retracted = 0;
  for (const auto& delivery : deliveries_) {
    retracted += delivery.retracted ? 1 : 0;
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [header, value] : delivery.headers) headers[header] = value;
    items.push_back({{"id", delivery.id},
                     {"name", delivery.name},
                     {"idempotency_key", delivery.idempotency_key},
                     {"signature", delivery.signature},
                     {"headers", std::move(headers)},
                     {"body", delivery.body},
                     {"received_at", delivery.received_at},
                     {"retracted", delivery.retracted},
                     {"retraction_id", delivery.retraction_id},
                     {"retraction_reason", delivery.retraction_reason}});
  }
  return {{"platform", name()},
          {"count", deliveries_.size()},
          {"unique_keys", id_by_key_.size()},
          {"duplicates", duplicates_},
          {"retracted", retracted},
          {"items", std::move(items)}};
}

void WebhookSim::reset() {
  std::lock_guard lock(mutex_);
  deliveries_.clear();
  id_by_key_.clear();
  duplicates_ = 0;
}

Result<void> WebhookSim::configure(const std::string& key, const nlohmann::json& value) {
  if (key != "webhook_secret") return PlatformSim::configure(key, value);
  if (!value.is_string()) return Error::invalid(key, "webhook_secret must be a string");
  std::lock_guard lock(mutex_);
  secret_ = value.get<std::string>();
  return ok();
}

nlohmann::json WebhookSim::config() const {
  std::lock_guard lock(mutex_);
  return {{"webhook_secret_set", !secret_.empty()}};
}

}  // namespace herald::sim
