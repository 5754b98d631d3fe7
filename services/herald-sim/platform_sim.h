// PlatformSim: one simulated platform inside herald-sim (webhooks, the portal, Weibo, WeChat, the
// WebSub hub, the SMTP sink), answering under the platform's real paths. The Simulator routes,
// injects faults, controls.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "services/common/http_server.h"

namespace herald::sim {

struct SimReply {
  ServerResponse response;
  // The platform kept the request as published: "accept_then_5xx" may now answer 500 anyway.
  bool recorded = false;
};

class PlatformSim {
 public:
  virtual ~PlatformSim() = default;

  // The name used in fault specs and in /_sim/published?platform=NAME.
  virtual std::string name() const = 0;
  // True if the (decoded) request path belongs to this platform, e.g. "/hooks/...".
  virtual bool owns(const std::string& path) const = 0;
  // Called concurrently from the server's handler pool.
  virtual SimReply handle(const ServerRequest& request) = 0;
  // The JSON object /_sim/published answers for this platform: the platform's truth, everything it
  // holds, however the client's call ended.
  virtual nlohmann::json published(const ServerRequest& request) const = 0;
  // Lets the platform do what it does on its own up to now (WeChat publishes submitted drafts
  // whether or not anyone asks); called before /_sim/published reads the truth.
  virtual void advance() {}
  // Forgets everything recorded (configuration such as secrets stays).
  virtual void reset() = 0;

  // Keys this platform accepts in POST /_sim/config, and how to apply one of them.
  virtual std::vector<std::string> config_keys() const { return {}; }
  virtual Result<void> configure(const std::string& key, const nlohmann::json& value);
  virtual nlohmann::json config() const { return nlohmann::json::object(); }

  // The answer of an injected failure, in the platform's own error format.
  virtual ServerResponse injected_error(int status, const std::string& message) const;
  // The answer of an injected "quota" fault: the platform's own quota or frequency refusal.
  // `variant` (0 or 1) picks between the platform's two such answers where it has two. The
  // default, for platforms without quota codes: 429 with Retry-After.
  virtual ServerResponse quota_error(int variant, int retry_after_s) const;
};

// Now as "2026-11-29T08:00:00.123Z", for received_at fields.
std::string utc_now_iso8601();

}  // namespace herald::sim
