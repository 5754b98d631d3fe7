// WechatSim: a WeChat official account's API as herald-sim serves it under /cgi-bin/
// (channel-apis.md §2, §5A): token and stable_token with their token lifecycles,
// material/add_material, media/uploadimg, draft/add and draft/batchget, freepublish (submit; the
// platform publishes on its own after a delay; get, batchget, getarticle, delete),
// message/mass/sendall with clientmsgid dedup and mass/get, quotas, and WeChat's way of failing:
// HTTP 200 with an errcode.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

class WechatSim : public PlatformSim {
 public:
  static constexpr const char* kDefaultAppId = "wx5e1a1d0000000001";
  static constexpr const char* kDefaultSecret = "wechat-sim-secret";

  WechatSim(std::string appid, std::string secret);

  std::string name() const override { return "wechat"; }
  bool owns(const std::string& path) const override;
  SimReply handle(const ServerRequest& request) override;
  // {"platform", "count", "live", "deleted", "requests", "token_fetches", "forced_refreshes",
  //  "calls": {api: n}, "materials", "drafts", "jobs": [...], "items": [{"kind": "article"|"mass",
  //  "id", ..., "deleted"}]}; count = items (published articles and mass sends, deleted ones
  // marked, not omitted), token_fetches = token and stable_token answers that carried a token.
  nlohmann::json published(const ServerRequest& request) const override;
  // Publishes every submitted draft whose publish delay has run out.
  void advance() override;
  // Forgets recordings, counters and tokens; the AppID, secret and limits stay.
  void reset() override;
  // wechat_appid, wechat_secret; wechat_token_ttl_ms (default 7200000) and wechat_grace_ms (how
  // long a token replaced by /cgi-bin/token or a forced stable_token refresh still works, default
  // 300000); wechat_expire_tokens
  // (true: every token expires now → 42001), wechat_revoke_token (true: the current token is
  // replaced and refused at once → 40001); wechat_next_errors / wechat_token_next_errors
  // ([errcode, ...]: the next API / stable_token calls answer these in turn); wechat_daily_quota
  // ({"freepublish/submit": 100, ...}: calls per API per day, → 45009); wechat_minute_limit
  // (calls per API per minute, 0 = off, → 45011); wechat_mass_quota (successful mass sends a day,
  // default 100, → 45028); wechat_mass_max_chars (default 600, → 45002);
  // wechat_publish_delay_ms (a submitted draft is published by the platform this long after
  // freepublish/submit, polled or not; until then freepublish/get answers publish_status 1;
  // default 1000); wechat_publish_fail_next (a publish_status 2..6 the next submitted job ends in).
  std::vector<std::string> config_keys() const override;
  Result<void> configure(const std::string& key, const nlohmann::json& value) override;
  nlohmann::json config() const override;
  // As WeChat fails: HTTP 200, errcode -1 (system error) or 45011 for a rate limit.
  ServerResponse injected_error(int status, const std::string& message) const override;
  // HTTP 200 with errcode 45009 (daily quota, variant 0) or 45011 (minute quota, variant 1).
  ServerResponse quota_error(int variant, int retry_after_s) const override;

 private:
  struct Token {
    std::string value;
    std::int64_t expires_at = 0;   // unix ms
    std::int64_t valid_until = 0;  // for retired tokens: when they stop working
    bool rotated = false;  // retired by a refresh (→ 40001) rather than expiry (→ 42001)
  };
  struct Material {
    std::string media_id;
    std::string type;
    std::string filename;
    std::string content_type;
    std::size_t size = 0;
  };
  struct Draft {
    std::string media_id;
    nlohmann::json articles;
    std::int64_t update_time = 0;  // unix s
  };
  // publish_status as freepublish/get reports it (§2.5).
  enum class PublishStatus {
    published = 0,
    publishing = 1,
    original_failed = 2,
    failed = 3,
    review_refused = 4,
    deleted_by_user = 5,
    banned = 6
  };
  struct Job {
    std::int64_t publish_id = 0;
    nlohmann::json articles;
    std::int64_t due_ms = 0;  // when the platform ends the job, polled or not
    PublishStatus ends_in = PublishStatus::published;
    PublishStatus status = PublishStatus::publishing;
    std::string article_id;
  };
  enum class ItemKind { article, mass };
  struct Item {
    ItemKind kind = ItemKind::article;
    std::string id;  // article_id or msg_id
    nlohmann::json detail;
    nlohmann::json articles;       // the article's news items as drafted (articles only)
    std::int64_t update_time = 0;  // unix s
    std::string received_at;
    bool deleted = false;
  };
  struct ClientMsg {
    std::int64_t msg_id = 0;
    std::int64_t sent_ms = 0;
  };

  // Everything below runs with mutex_ held.
  SimReply stable_token(const ServerRequest& request);
  SimReply plain_token(const ServerRequest& request);
  SimReply api(const std::string& api_name, const ServerRequest& request);
  SimReply json_api(const std::string& api_name, const nlohmann::json& body);
  SimReply add_material(const ServerRequest& request);
  SimReply upload_image(const ServerRequest& request);
  SimReply draft_add(const nlohmann::json& body);
  SimReply draft_batchget(const nlohmann::json& body);
  SimReply submit(const nlohmann::json& body);
  SimReply get_status(const nlohmann::json& body);
  SimReply publish_batchget(const nlohmann::json& body);
  SimReply get_article(const nlohmann::json& body);
  SimReply delete_article(const nlohmann::json& body);
  SimReply sendall(const nlohmann::json& body);
  SimReply mass_get(const nlohmann::json& body);
  SimReply delete_mass(const nlohmann::json& body);
  // Ends every job that is due, in due order, as the platform would have on its own.
  void settle_jobs();
  void finish_job(Job& job);
  // The news_item list as freepublish/batchget, getarticle and draft/batchget write it.
  nlohmann::json news_items(const nlohmann::json& articles, const std::string& article_id,
                            bool deleted, bool with_content) const;
  Item* find_item(ItemKind kind, const std::string& id);
  void retire(Token& current, std::int64_t valid_for_ms);
  SimReply error(long errcode, const std::string& errmsg);
  // 0 when the token works, else the errcode WeChat answers for it.
  long token_error(const std::string& token) const;
  Token mint();
  std::string random_hex(std::size_t digits);
  bool over_quota(const std::string& api_name, long& errcode);

  mutable std::mutex mutex_;
  std::mt19937_64 rng_;
  std::string appid_;
  std::string secret_;
  std::int64_t token_ttl_ms_ = 7200 * 1000;
  std::int64_t grace_ms_ = 300 * 1000;
  std::map<std::string, int> daily_quota_;
  int minute_limit_ = 0;
  int mass_quota_ = 100;
  std::size_t mass_max_chars_ = 600;
  std::int64_t publish_delay_ms_ = 1000;
  int publish_fail_next_ = 0;
  std::deque<long> next_errors_;
  std::deque<long> token_next_errors_;

  Token current_;  // stable_token's
  Token plain_;  // /cgi-bin/token's: "与 getAccessToken 获取的调用凭证完全隔离" (§2.2)
  std::vector<Token> retired_;
  // Every token value ever handed out, for tests that check no log or answer shows one.
  std::vector<std::string> issued_;
  std::int64_t last_force_ms_ = 0;
  std::map<std::int64_t, int> forces_per_day_;
  std::map<std::string, std::uint64_t> calls_;
  std::map<std::pair<std::string, std::int64_t>, int> per_day_;
  std::map<std::pair<std::string, std::int64_t>, int> per_minute_;
  std::map<std::int64_t, int> mass_per_day_;
  std::uint64_t requests_ = 0;
  std::uint64_t token_fetches_ = 0;
  std::uint64_t forced_refreshes_ = 0;
  std::map<std::string, Material> materials_;
  std::map<std::string, Draft> drafts_;
  std::map<std::int64_t, Job> jobs_;
  std::map<std::string, ClientMsg> client_msg_ids_;
  std::vector<Item> items_;
  // Not reset: an id never names two things within one sim process.
  std::int64_t next_id_ = 1;
};

}  // namespace herald::sim
