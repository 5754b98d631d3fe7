// WecomSim: a WeCom group robot (企业微信群机器人) as Herald's reviewer notifications meet it:
// POST /cgi-bin/webhook/send?key=KEY with {"msgtype": "text"|"markdown", <msgtype>: {"content"}}.
// Like the real robot, every refusal is HTTP 200 with a non-zero errcode: 93000 for a key that is
// no robot's, 45009 past 20 messages a minute per robot, 40008 for a message type it does not
// know, 44004 for empty content, 40058 for content over the limit (text 2048, markdown 4096
// bytes). /_sim/published?platform=wecom shows what each robot received.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

class WecomSim : public PlatformSim {
 public:
  static constexpr const char* kDefaultKey = "herald-sim-wecom-key";
  static constexpr std::size_t kMessagesPerMinute = 20;

  WecomSim();

  std::string name() const override { return "wecom"; }
  bool owns(const std::string& path) const override;
  SimReply handle(const ServerRequest& request) override;
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;
  // "wecom_keys": the robots' keys (an array of strings) that exist.
  std::vector<std::string> config_keys() const override { return {"wecom_keys"}; }
  Result<void> configure(const std::string& key, const nlohmann::json& value) override;
  nlohmann::json config() const override;
  ServerResponse injected_error(int status, const std::string& message) const override;
  ServerResponse quota_error(int variant, int retry_after_s) const override;

 private:
  struct Message {
    std::string key;
    std::string msgtype;
    std::string content;
    std::string received_at;
  };

  mutable std::mutex mutex_;
  std::set<std::string> keys_;
  std::vector<Message> messages_;
  std::size_t refused_ = 0;
  // Per key, when its recent messages were accepted: the rate limit's sliding minute.
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> recent_;
};

}  // namespace herald::sim
