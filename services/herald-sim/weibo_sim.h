// WeiboSim: Sina Weibo's posting API as herald-sim serves it (POST /2/statuses/share.json and
// destroy.json, GET statuses/user_timeline.json and account/rate_limit_status.json), with Weibo's
// checks and error answers (channel-apis.md §1, §5A): token, required rip, 140-character limit,
// link under the safe domain, hourly posting limit per account, consecutive repeated text.
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
  // {"platform", "count", "live", "deleted", "requests", "items": [{"id", "idstr", "text",
  // "fields", "created_at", "received_at", "deleted", "deleted_at"}]}: every post Weibo holds, in
  // the order accepted; deleted ones stay listed, marked. "requests" counts every request that
  // reached Weibo's paths.
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;
  // weibo_token (the one valid access token), weibo_max_chars (default 140), weibo_hourly_limit
  // (share requests per account per clock hour, default 30, → 10024), weibo_minute_limit (share
  // requests per account per clock minute, default 0 = off, → 20016 "posting too often"),
  // weibo_safe_domain ("" = any http(s) link will do), weibo_next_errors ([error_code, ...]: the
  // next share/destroy requests that pass the token check answer these codes in turn; 20032 still
  // records the post, as Weibo does).
  std::vector<std::string> config_keys() const override;
  Result<void> configure(const std::string& key, const nlohmann::json& value) override;
  nlohmann::json config() const override;
  // In Weibo's format: 500 → 10001, 503 → 10002, 429 → HTTP 403 with 10023.
  ServerResponse injected_error(int status, const std::string& message) const override;
  // Variant 0: 10023 (user requests out of rate limit, HTTP 403); 1: 20016 (out of limit, 400).
  ServerResponse quota_error(int variant, int retry_after_s) const override;

 private:
  struct Post {
    std::uint64_t id = 0;
    std::string account;
    std::string text;
    std::map<std::string, std::string> fields;  // the form as received, access_token left out
    std::string created_at;                     // Weibo's format, Beijing time
    std::string received_at;
    bool deleted = false;
    std::string deleted_at;
  };

  using Params = std::map<std::string, std::string>;

  // Everything below runs with mutex_ held.
  SimReply share(const std::string& account, const Params& params, const std::string& request_path);
  // 0 when the account may post now, else 10024 (hourly) or 20016 (per minute); counts the
  // request when it may.
  int spend_posting_limit(const std::string& account);
  const Post* latest_live_post(const std::string& account) const;
  SimReply destroy(const Params& params, const std::string& request_path);
  SimReply user_timeline(const std::string& account, const Params& params,
                         const std::string& request_path) const;
  SimReply rate_limit_status(const std::string& account) const;
  nlohmann::json status_json(const Post& post) const;

  mutable std::mutex mutex_;
  std::string token_ = kDefaultToken;
  std::size_t max_chars_ = 140;
  int hourly_limit_ = 30;
  int minute_limit_ = 0;
  std::string safe_domain_;
  // Share requests per (account, unix hour) and (account, unix minute): Weibo limits requests
  // ("每小时只能请求 30 次", §1.6), so refused posts count too.
  std::map<std::pair<std::string, std::int64_t>, int> per_hour_;
  std::map<std::pair<std::string, std::int64_t>, int> per_minute_;
  std::deque<int> next_errors_;
  std::vector<Post> posts_;
  std::uint64_t requests_ = 0;
  // Not reset by reset(): an id never names two different posts within one sim process.
  std::uint64_t next_id_ = 4900000000000001ULL;
};

}  // namespace herald::sim
