// Herald's configuration: typed structs with their defaults, and the loader that fills them from
// JSON-with-comments, substitutes ${ENV}, and rejects unknown keys and bad values by their path.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald {

// Every member mirrors a key of the same name; herald.example.json documents each one.

// http.public: the internet-facing listener of the feeds and CAP documents (and /healthz). Its own
// acceptor, threads and caps, so that a flood on it never reaches the API listener.
struct PublicHttpConfig {
  std::string listen = "127.0.0.1:8081";
  int max_connections = 2048;
  int max_connections_per_client = 32;  // open connections from one client address
  int header_timeout_ms = 2000;         // short: a slow client is dropped early
  int idle_timeout_ms = 5000;           // a keep-alive connection waiting for its next request
  int read_timeout_ms = 5000;
  int cache_ms = 1000;  // a rendered feed or CAP document is served from memory this long; 0: never
  int io_threads = 1;
  int handler_threads = 2;  // each with its own Redis connection, apart from the API's pool
};

// http: the API listener (/v1, /metrics, /readyz, /healthz); `public` is the feeds' listener.
struct HttpConfig {
  std::string listen = "127.0.0.1:8080";  // "host:port"; port 0 picks a free one (tests)
  std::size_t max_body_bytes = 1048576;
  int read_timeout_ms = 10000;
  int header_timeout_ms = 5000;  // the request line and headers, from their first byte
  int idle_timeout_ms = 30000;   // a keep-alive connection waiting for its next request
  int max_connections = 256;
  int max_connections_per_client = 64;  // open connections from one client address
  int io_threads = 1;
  int handler_threads = 4;
  PublicHttpConfig public_listener;  // key "public"
};

struct EmbeddedRedisConfig {
  std::string binary = "/usr/bin/redis-server";
  int port = 0;  // must be 0: a unix socket in a 0700 directory under data_dir, no TCP port
  bool appendonly = true;
};

struct RedisConfig {
  // "embedded", "redis://[[user]:password@]host:port/db" or "unix:///path[?db=N]"
  std::string url = "embedded";
  // From redis.password or redis.password_file, and redis.username (an ACL user); sent with AUTH
  // on every connection. Never printed.
  std::string username;
  std::string password;
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 2000;
  int pool_size = 8;
  std::string key_prefix = "herald:";
  // With replicas: a submission, an approval and an ack are answered only after this many replicas
  // acknowledged their writes (Redis WAIT), waiting at most wait_timeout_ms. 0: no WAIT.
  int wait_replicas = 0;
  int wait_timeout_ms = 1000;
  EmbeddedRedisConfig embedded;
};

struct UserConfig {
  std::string name;
  std::vector<std::string> roles;  // drafter, reviewer, duty_officer, publisher, compiler, admin
  std::string token_sha256;        // 64 lower-case hex digits (upper case is accepted and lowered)
};

struct AuthConfig {
  std::vector<UserConfig> users;
};

struct ApprovalsRequired {
  int publication = 2;
  int alert = 2;
};

// One `review.cms[i]`: a CMS whose approval records Herald accepts, the publisher user that
// submits on its behalf, and the key its records are signed with (HMAC-SHA256).
struct CmsConfig {
  std::string name;            // shown on read as "via": "cms:<name>"
  std::string publisher_user;  // an auth.users name with the publisher role, one CMS per user
  std::string hmac_key;        // from hmac_key or hmac_key_file
};

struct ReviewConfig {
  ApprovalsRequired approvals_required;
  bool accept_cms_approvals = false;  // a publisher may submit an item approved in its CMS
  std::vector<CmsConfig> cms;         // required (non-empty) when accept_cms_approvals is on
  // "refused": an alert always goes through Herald's own review, even from a CMS; "accepted".
  std::string cms_alerts = "refused";
};

struct QueueConfig {
  int lease_ms = 10000;
  int max_attempts = 8;
  int retry_base_ms = 1000;
  int retry_max_ms = 600000;
  int idle_block_ms = 5000;
};

struct OfficeConfig {
  int utc_offset_minutes = 480;  // the office's zone for counting days and years; China has no DST
  std::string name;              // e.g. "XX省人民政府外事办公室", for reports
};

// One `channels.<name>` section: the keys every channel has, and the rest for its factory.
struct ChannelConfig {
  bool enabled = true;
  int concurrency = 4;          // deliveries in flight at once, 1..256
  int reserved_for_alerts = 1;  // of those, slots routine work may never take; < concurrency
  // defer.rate_limit_max_ms / defer.processing_max_ms: how long a delivery may keep waiting for
  // a platform's rate-limit window, or for the platform to finish publishing it, before it
  // becomes a dead letter (deferred_too_long). A deferral never spends an attempt.
  long long defer_rate_limit_max_ms = 24LL * 3600 * 1000;
  long long defer_processing_max_ms = 72LL * 3600 * 1000;
  // What a drill (an item with status "exercise") does on this channel: "withheld" (nothing is
  // sent; the fan-out creates no delivery and says so in the item's audit trail) or "marked" (it
  // is sent, every text starting with 【演练】, and CAP says <status>Exercise</status>).
  std::string drills = "withheld";
  // Every other key of the section, for the channel's factory to validate (with FieldReader).
  // ${ENV} is already substituted and relative *_file / *_dir paths already resolved.
  nlohmann::json settings = nlohmann::json::object();
};

struct GateConfig {
  std::string blocked_words_file;  // "" for none; otherwise an existing file (absolute path)
};

struct AuditConfig {
  int retention_days = 3660;  // audit streams expire this long after their last entry (ten years)
};

// POST /v1/imports: records of past years, possibly on channels that no longer exist.
struct ImportConfig {
  // Channel names an import may use besides the enabled channels (a misspelt name is refused).
  std::vector<std::string> historic_channels = {"website", "periodicals"};
};

// report: which Herald categories each category of the annual report includes, so that years
// stay comparable with the office's earlier reports. Empty: the seed's (工作动态 includes
// overseas_safety).
struct ReportConfig {
  std::map<std::string, std::vector<std::string>> categories;
};

// notify: reviewers are told (by e-mail and/or a WeCom group robot) when an item waits for them.
// Every key is optional; a section left out sends nothing.
struct NotifyEmailConfig {
  std::string smtp_url;  // smtp://host:port or smtps://host:port, no credentials in it
  bool starttls = false;
  std::string username, password;
  std::string from;
  std::vector<std::string> to;
  std::string subject_prefix = "[Herald]";
  int timeout_ms = 10000;
};
struct NotifyWecomConfig {
  std::string webhook_url;  // the robot's https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
  int timeout_ms = 5000;
};
struct NotifyConfig {
  std::optional<NotifyEmailConfig> email;
  std::optional<NotifyWecomConfig> wecom;
  int max_attempts = 5;  // per message and recipient kind, then it is logged and dropped
  bool enabled() const { return email.has_value() || wecom.has_value(); }
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text or json (one object per line)
};

struct Config {
  HttpConfig http;
  RedisConfig redis;
  std::string data_dir = "./var";  // resolved against the config file's directory
  AuthConfig auth;
  ReviewConfig review;
  QueueConfig queue;
  OfficeConfig office;
  std::map<std::string, ChannelConfig> channels;
  GateConfig gate;
  AuditConfig audit;
  ImportConfig import;
  ReportConfig report;
  LogConfig log;
  NotifyConfig notify;
  std::string console_public_url;  // console.public_url: links in notifications ("" = none)

  std::string base_dir;  // the directory relative paths were resolved against ("" = unchanged)

  // The names of the channels with enabled = true.
  std::set<std::string> enabled_channels() const;
};

// Parses config text. `known_channels` are the channel names the binary can build (the channel
// registry's names); `base_dir` anchors relative paths (keys ending in "_file" or "_dir", and
// redis.embedded.binary when it contains a '/'), "" leaves them as written.
// Every failure is an invalid_input Error whose `field` is the key's full path
// ("channels.webhook.urll", "auth.users[1].name") and whose message says what was expected.
Result<Config> parse_config(std::string_view text, const std::set<std::string>& known_channels,
                            const std::string& base_dir);

// Reads and parses a config file; relative paths are resolved against its directory.
Result<Config> load_config_file(const std::string& path,
                                const std::set<std::string>& known_channels);

// Replaces ${NAME} in every string value of `value` (not in keys) with the environment variable;
// "$${" stands for a literal "${". An unset variable is an error naming the key and the variable.
// Exposed for tests and for tools that read config fragments.
Result<void> substitute_env(nlohmann::json& value, const std::string& path);

}  // namespace herald
