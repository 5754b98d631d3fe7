// WebhookSim: the receiving end of Herald's media webhooks (POST /hooks/{name}), with the checks a
// careful receiver makes: JSON body, HMAC signature, Idempotency-Key de-duplication. A body with
// "event": "retraction" withdraws the delivery its "retracts.remote_id" names (a receiver that
// shows what it got would take that down); /_sim/published shows it as retracted.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

class WebhookSim : public PlatformSim {
 public:
  static constexpr const char* kSignatureHeader = "x-herald-signature";
  static constexpr const char* kTimestampHeader = "x-herald-timestamp";
  // A receiver's tolerance for the signed timestamp: older (or further ahead) is a replay.
  static constexpr long long kTimestampToleranceSeconds = 300;

  // An empty secret turns the signature check off.
  explicit WebhookSim(std::string secret);

  std::string name() const override { return "webhook"; }
  bool owns(const std::string& path) const override;
  SimReply handle(const ServerRequest& request) override;
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;
  std::vector<std::string> config_keys() const override { return {"webhook_secret"}; }
  Result<void> configure(const std::string& key, const nlohmann::json& value) override;
  nlohmann::json config() const override;

 private:
  struct Delivery {
    std::string id;
    std::string name;
    std::string idempotency_key;
    std::string signature;
    std::vector<std::pair<std::string, std::string>> headers;
    nlohmann::json body;
    std::string received_at;
    bool retracted = false;
    std::string retraction_id;  // the id of the retraction event that withdrew this one
    std::string retraction_reason;
  };

  mutable std::mutex mutex_;
  std::string secret_;
  std::vector<Delivery> deliveries_;
  std::unordered_map<std::string, std::string> id_by_key_;
  std::uint64_t duplicates_ = 0;
  // Not reset by reset(): an id never names two different deliveries within one sim process.
  std::uint64_t next_id_ = 1;
};

}  // namespace herald::sim
