// WeiboSim: Sina Weibo's posting API as herald-sim serves it (POST /2/statuses/share.json and
// destroy.json), with Weibo's checks and error answers (channel-apis.md §1): token, 140-character
// limit, link under the safe domain, hourly posting limit per account, repeated text.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

class WeiboSim : public PlatformSim {
 public:
  static constexpr const char* kDefaultToken = "weibo-sim-token";

  WeiboSim() = default;

  std::string name() const override { return "weibo"; }
  bool owns(const std::string& path) const override;
  SimReply handle(const ServerRequest& request) override;
  // {"platform", "count", "deleted", "requests", "items": [{"id", "fields", "text", "received_at",
  // "deleted", "deleted_at"}]}; "requests" counts every request that reached Weibo's paths.
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;
  // weibo_token (the one valid access token), weibo_max_chars (default 140), weibo_hourly_limit
  // (posts per account per clock hour, default 30), weibo_safe_domain ("" = any http(s) link will
  // do), weibo_next_errors ([error_code, ...]: the next requests that pass the token check answer
  // these codes in turn; 20032 still records the post, as Weibo does).
  std::vector<std::string> config_keys() const override;
  Result<void> configure(const std::string& key, const nlohmann::json& value) override;
  nlohmann::json config() const override;
  // In Weibo's format: 500 → 10001, 503 → 10002, 429 → HTTP 403 with 10023.
  ServerResponse injected_error(int status, const std::string& message) const override;

 private:
  struct Post {
    std::uint64_t id = 0;
    std::string account;
    std::string text;
    std::map<std::string, std::string> fields;  // the form as received, access_token left out
    std::string received_at;
    std::int64_t hour = 0;  // unix hour it was accepted in, for the hourly limit
    bool deleted = false;
    std::string deleted_at;
  };

  SimReply share(const std::string& account, const std::map<std::string, std::string>& params,
                 const std::string& request_path);
  SimReply destroy(const std::map<std::string, std::string>& params,
                   const std::string& request_path);
  nlohmann::json status_json(const Post& post) const;

  mutable std::mutex mutex_;
  std::string token_ = kDefaultToken;
  std::size_t max_chars_ = 140;
  int hourly_limit_ = 30;
  std::string safe_domain_;
  std::deque<int> next_errors_;
  std::vector<Post> posts_;
  std::uint64_t requests_ = 0;
  // Not reset by reset(): an id never names two different posts within one sim process.
  std::uint64_t next_id_ = 4900000000000001ULL;
};

}  // namespace herald::sim
