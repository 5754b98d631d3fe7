// PortalSim: a provincial government portal's information-submission API as channel-apis.md §3
// proposes it: X-Gov-* headers with an HMAC-SHA256 signature, Idempotency-Key replay semantics,
// asynchronous review (pending_review → published | rejected) and withdrawal, and §5A's read-back
// listing: GET /api/v1/submissions?idempotency_key=K or ?from=&to=&page=.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

class PortalSim : public PlatformSim {
 public:
  // An empty key turns the signature check off (the other header checks stay).
  explicit PortalSim(std::string key);

  std::string name() const override { return "portal"; }
  bool owns(const std::string& path) const override;
  SimReply handle(const ServerRequest& request) override;
  // {"platform", "count", "live", "withdrawn", "unique_keys", "duplicates", "conflicts", "items":
  // [{"id", "doc_id", "version", "title", "idempotency_key", "status", "state", "withdrawn",
  // ...}]}: every submission the portal holds, in arrival order; withdrawn ones stay listed,
  // marked.
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;
  // portal_key: the HMAC key; portal_app_id: the only X-Gov-AppId accepted ("" any);
  // portal_publish_after_polls / portal_publish_after_ms: review ends at the Nth status poll or
  // M ms after submission, whichever first (0 disables that rule; both 0: at once);
  // portal_reject_next: a reason, and the next new submission is rejected with it.
  std::vector<std::string> config_keys() const override;
  Result<void> configure(const std::string& key, const nlohmann::json& value) override;
  nlohmann::json config() const override;
  ServerResponse injected_error(int status, const std::string& message) const override;

 private:
  struct Submission {
    std::string id;
    std::string idempotency_key;
    std::string body_sha256;
    std::string signature;
    std::vector<std::pair<std::string, std::string>> headers;
    nlohmann::json body;
    std::string received_at;
    std::string first_answer;  // the 201 body, answered again on a replay
    std::chrono::steady_clock::time_point created;
    std::chrono::system_clock::time_point received;  // for the from/to listing
    int publish_after_polls = 0;
    std::int64_t publish_after_ms = 0;
    std::string reject_reason;  // non-empty: the review ends in "rejected"
    int polls = 0;
    bool withdrawn = false;
    std::string withdraw_reason;
  };

  // Everything below runs with mutex_ held.
  ServerResponse fail(int status, const std::string& code, const std::string& message,
                      nlohmann::json errors = nullptr);
  std::optional<ServerResponse> check_auth(const ServerRequest& request);
  SimReply submit(const ServerRequest& request);
  ServerResponse status(const std::string& id);
  ServerResponse list(const ServerRequest& request);
  nlohmann::json list_item(const Submission& submission) const;
  ServerResponse withdraw(const std::string& id, const ServerRequest& request);
  std::string review_state(const Submission& submission) const;
  nlohmann::json status_json(const Submission& submission) const;
  Submission* find(const std::string& id);

  mutable std::mutex mutex_;
  std::string key_;
  std::string app_id_;
  int publish_after_polls_ = 1;
  std::int64_t publish_after_ms_ = 0;
  std::string reject_next_;
  std::vector<Submission> submissions_;
  std::unordered_map<std::string, std::size_t> index_by_key_;
  std::set<std::string> nonces_;
  std::uint64_t replays_ = 0;
  std::uint64_t conflicts_ = 0;
  // Not reset: an id never names two submissions within one sim process.
  std::uint64_t next_id_ = 1;
  std::uint64_t next_request_ = 1;
};

}  // namespace herald::sim
