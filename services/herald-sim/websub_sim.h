// WebSubHubSim: a WebSub hub's publish endpoint (POST /websub/hub, channel-apis.md §4.4), recording
// each publish ping, so tests can see that a feed change was announced (and how often).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

// Only hub.mode=publish: subscriptions (subscribe/unsubscribe and callback verification) are not
// simulated, because Herald only publishes; they answer 400 so a mistaken client notices.
class WebSubHubSim : public PlatformSim {
 public:
  std::string name() const override { return "websub"; }
  bool owns(const std::string& path) const override;
  SimReply handle(const ServerRequest& request) override;
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;

 private:
  struct Ping {
    std::string id;
    std::vector<std::string> urls;  // hub.url and hub.topic values, in order, without repeats
    std::string received_at;
  };

  mutable std::mutex mutex_;
  std::vector<Ping> pings_;
  std::uint64_t next_id_ = 1;  // not reset: an id never names two pings in one process
};

}  // namespace herald::sim
