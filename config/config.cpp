#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/json_fields.h"
#include "core/redact.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxConfigBytes = 16 << 20;

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_port(std::string_view text, int min) {
  if (!is_digits(text) || text.size() > 5) return false;
  const int port = std::stoi(std::string(text));
  return port >= min && port <= 65535;
}

bool is_host(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') return host.size() > 2 && host.back() == ']';  // [::1]
  return std::none_of(host.begin(), host.end(), [](unsigned char c) {
    return c <= 0x20 || c == 0x7F || c == '/' || c == '[' || c == ']' || c == '@';
  });
}

// "host:port", the port possibly 0 (bind to any free port).
bool is_listen_address(std::string_view text) {
  const auto colon = text.rfind(':');
  return colon != std::string_view::npos && is_host(text.substr(0, colon)) &&
         is_port(text.substr(colon + 1), 0);
}

// "db=N&user=U&password=P", the query queue/redis.h reads after a socket path or a database.
bool is_redis_query(std::string_view query) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.starts_with("db=")) {
      if (!is_digits(pair.substr(3))) return false;
    } else if (!pair.starts_with("user=") && !pair.starts_with("password=")) {
      return false;
    }
  }
  return true;
}

// The password a redis URL carries, in its user-info or its query (still percent-encoded: only
// whether there is one matters here).
bool redis_url_has_password(std::string_view url) {
  if (url.find("password=") != std::string_view::npos) return true;
  if (!url.starts_with("redis://")) return false;
  std::string_view authority = url.substr(8);
  authority = authority.substr(0, authority.find_first_of("/?"));
  return authority.find('@') != std::string_view::npos;
}

// The forms queue/redis.h understands; checked here too so a typo stops start-up with its key.
bool is_redis_url(std::string_view url) {
  if (url == "embedded") return true;
  if (url.starts_with("unix://")) {
    std::string_view path = url.substr(7);
    if (const auto query = path.find('?'); query != std::string_view::npos) {
      if (!is_redis_query(path.substr(query + 1))) return false;
      path = path.substr(0, query);
    }
    return path.size() > 1 && path.front() == '/';
  }
  if (!url.starts_with("redis://")) return false;
  std::string_view rest = url.substr(8);
  if (const auto query = rest.find('?'); query != std::string_view::npos) {
    if (!is_redis_query(rest.substr(query + 1))) return false;
    rest = rest.substr(0, query);
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !is_digits(db)) return false;
    rest = rest.substr(0, slash);
  }
  // [user]:password@ (a password may hold an unencoded '@': the last one ends the user-info).
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']', colon) == std::string_view::npos) {
    return is_host(rest.substr(0, colon)) && is_port(rest.substr(colon + 1), 1);
  }
  return is_host(rest);
}

bool is_user_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-' || c == '.';
         });
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); });
}

int int_in(FieldReader& r, std::string_view key, int min, int max, int fallback) {
  return static_cast<int>(r.integer(key, min, max, fallback));
}

// Expands ${NAME} in one string.
Result<std::string> expand(const std::string& text, const std::string& path) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const auto end = text.find('}', i + 2);
    if (end == std::string::npos) {
      return Error::invalid(path, "unterminated '${' (write '$${' for a literal '${')");
    }
    const std::string name = text.substr(i + 2, end - i - 2);
    const bool good_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                           std::all_of(name.begin(), name.end(),
                                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    if (!good_name) {
      return Error::invalid(path, "'${" + name + "}' is not a variable name (letters, digits, _)");
    }
    const char* value = std::getenv(name.c_str());
    if (!value) {
      return Error::invalid(path, "environment variable " + name + " is not set");
    }
    out += value;
    i = end + 1;
  }
  return out;
}

bool is_path_key(std::string_view key) {
  return key.ends_with("_file") || key.ends_with("_dir");
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// Anchors relative paths to the config file, wherever they are (channel sections included), so
// that no factory needs to know where the config came from.
void resolve_paths(json& value, const std::string& base_dir) {
  if (value.is_array()) {
    for (auto& element : value) resolve_paths(element, base_dir);
    return;
  }
  if (!value.is_object()) return;
  for (auto& [key, member] : value.items()) {
    if (member.is_string() && is_path_key(key)) {
      member = resolve(base_dir, member.get<std::string>());
    } else {
      resolve_paths(member, base_dir);
    }
  }
}

std::string read_listen(FieldReader& r, const std::string& fallback) {
  std::string listen = r.string("listen", fallback);
  if (r.ok() && !is_listen_address(listen)) {
    r.fail("listen",
           "expected \"host:port\" with a port from 0 to 65535, e.g. \"127.0.0.1:8080\", "
           "got " +
               json(listen).dump());
  }
  return listen;
}

void read_public_http(FieldReader r, PublicHttpConfig& pub) {
  pub.listen = read_listen(r, pub.listen);
  pub.max_connections = int_in(r, "max_connections", 1, 100000, pub.max_connections);
  pub.max_connections_per_client =
      int_in(r, "max_connections_per_client", 1, 100000, pub.max_connections_per_client);
  pub.header_timeout_ms = int_in(r, "header_timeout_ms", 100, 3600000, pub.header_timeout_ms);
  pub.idle_timeout_ms = int_in(r, "idle_timeout_ms", 100, 3600000, pub.idle_timeout_ms);
  pub.read_timeout_ms = int_in(r, "read_timeout_ms", 100, 3600000, pub.read_timeout_ms);
  pub.cache_ms = int_in(r, "cache_ms", 0, 3600000, pub.cache_ms);
  pub.io_threads = int_in(r, "io_threads", 1, 64, pub.io_threads);
  pub.handler_threads = int_in(r, "handler_threads", 1, 256, pub.handler_threads);
}

void read_http(FieldReader r, HttpConfig& http) {
  http.listen = read_listen(r, http.listen);
  http.max_body_bytes =
      static_cast<std::size_t>(r.integer("max_body_bytes", 1024, std::int64_t{1} << 30,
                                         static_cast<std::int64_t>(http.max_body_bytes)));
  http.read_timeout_ms = int_in(r, "read_timeout_ms", 100, 3600000, http.read_timeout_ms);
  http.header_timeout_ms = int_in(r, "header_timeout_ms", 100, 3600000, http.header_timeout_ms);
  http.idle_timeout_ms = int_in(r, "idle_timeout_ms", 100, 3600000, http.idle_timeout_ms);
  http.max_connections = int_in(r, "max_connections", 1, 100000, http.max_connections);
  http.max_connections_per_client =
      int_in(r, "max_connections_per_client", 1, 100000, http.max_connections_per_client);
  http.io_threads = int_in(r, "io_threads", 1, 64, http.io_threads);
  http.handler_threads = int_in(r, "handler_threads", 1, 256, http.handler_threads);
  read_public_http(r.child("public"), http.public_listener);
  // Both on one port would be one listener again (or a start-up failure): refused here, by key.
  if (r.ok() && http.public_listener.listen == http.listen && !http.listen.ends_with(":0")) {
    r.fail_at("http.public.listen",
              "must differ from http.listen: the public listener needs its own port");
  }
}

void read_redis(FieldReader r, RedisConfig& redis, const std::string& base_dir) {
  redis.url = r.string("url", redis.url);
  if (r.ok() && !is_redis_url(redis.url)) {
    // Shown redacted: the URL may carry the password.
    r.fail("url",
           "expected \"embedded\", \"redis://host:port/db\" (with a password: "
           "\"redis://[user]:password@host:port/db\") or \"unix:///path/to/socket\", got " +
               json(redact_url(redis.url)).dump());
  }
  // redis.password / redis.password_file (and redis.username for an ACL user): the password
  // kept out of the URL, so the URL can be shown and the password file locked down on its own.
  redis.password = r.optional_secret("password").value_or("");
  redis.username = r.string("username", "");
  if (r.ok() && !redis.username.empty() &&
      redis.username.find_first_of(" \t\r\n") != std::string::npos) {
    r.fail("username", "must not contain white space");
  }
  if (r.ok() && redis.url == "embedded" && (!redis.password.empty() || !redis.username.empty())) {
    r.fail(redis.password.empty() ? "username" : "password",
           "must not be set with url \"embedded\" (the embedded Redis generates its own password "
           "under data_dir)");
  }
  if (r.ok() && !redis.password.empty() && redis_url_has_password(redis.url)) {
    r.fail("password", "the url already carries a password; give it in one place only");
  }
  if (r.ok() && !redis.username.empty() && redis.password.empty()) {
    r.fail("username", "needs redis.password or redis.password_file");
  }
  redis.connect_timeout_ms = int_in(r, "connect_timeout_ms", 1, 60000, redis.connect_timeout_ms);
  redis.command_timeout_ms = int_in(r, "command_timeout_ms", 1, 60000, redis.command_timeout_ms);
  redis.pool_size = int_in(r, "pool_size", 1, 256, redis.pool_size);
  redis.key_prefix = r.string("key_prefix", redis.key_prefix);
  if (r.ok() && (redis.key_prefix.empty() ||
                 redis.key_prefix.find_first_of(" \t\r\n") != std::string::npos)) {
    r.fail("key_prefix", "expected a non-empty prefix without white space, e.g. \"herald:\"");
  }
  redis.wait_replicas = int_in(r, "wait_replicas", 0, 64, redis.wait_replicas);
  redis.wait_timeout_ms = int_in(r, "wait_timeout_ms", 1, 60000, redis.wait_timeout_ms);
  // The embedded server has no replicas: every WAIT would time out and every write answer 503.
  if (r.ok() && redis.url == "embedded" && redis.wait_replicas > 0) {
    r.fail("wait_replicas", "must be 0 with url \"embedded\" (the embedded Redis has no replicas)");
  }

  FieldReader embedded = r.child("embedded");
  auto& e = redis.embedded;
  e.binary = embedded.string("binary", e.binary);
  if (embedded.ok() && e.binary.empty()) embedded.fail("binary", "must not be empty");
  // A bare name is looked up on PATH; anything with a slash is a path like the others.
  if (e.binary.find('/') != std::string::npos) e.binary = resolve(base_dir, e.binary);
  e.port = int_in(embedded, "port", 0, 65535, e.port);
  // A TCP port is open to every local user (and more); the unix socket sits in a 0700 directory.
  if (embedded.ok() && e.port != 0) {
    embedded.fail("port",
                  "must be 0: the embedded Redis listens only on a unix socket under data_dir");
  }
  e.appendonly = embedded.boolean("appendonly", e.appendonly);
}

void read_auth(FieldReader r, AuthConfig& auth) {
  static constexpr std::string_view kRoles[] = {"drafter",   "reviewer", "duty_officer",
                                                "publisher", "compiler", "admin"};
  std::map<std::string, std::string> name_paths, token_paths;
  for (FieldReader u : r.children("users")) {
    UserConfig user;
    user.name = u.string("name");
    if (u.ok() && !is_user_name(user.name)) {
      u.fail("name",
             "expected 1 to 64 letters, digits, '_', '-' or '.', got " + json(user.name).dump());
    }
    if (u.ok() && !name_paths.emplace(user.name, u.path()).second) {
      u.fail("name", "duplicate user name " + json(user.name).dump() + " (also " +
                         name_paths[user.name] + ")");
    }

    user.roles = u.strings("roles");
    if (u.ok() && user.roles.empty()) u.fail("roles", "must name at least one role");
    for (std::size_t i = 0; i < user.roles.size() && u.ok(); ++i) {
      const auto& role = user.roles[i];
      const std::string role_path = index_path(u.path_of("roles"), i);
      if (std::find(std::begin(kRoles), std::end(kRoles), role) == std::end(kRoles)) {
        u.fail_at(role_path,
                  "expected one of drafter, reviewer, duty_officer, publisher, compiler, admin; "
                  "got " +
                      json(role).dump());
      } else if (std::find(user.roles.begin(), user.roles.begin() + static_cast<long>(i), role) !=
                 user.roles.begin() + static_cast<long>(i)) {
        u.fail_at(role_path, "role " + json(role).dump() + " is listed twice");
      }
    }

    user.token_sha256 = u.string("token_sha256");
    if (u.ok() && !is_sha256_hex(user.token_sha256)) {
      // Not echoed: it is only a hash, but it is still a credential's fingerprint.
      u.fail("token_sha256",
             "expected 64 hex digits (the SHA-256 of the token, e.g. from `printf %s TOKEN | "
             "sha256sum`)");
    }
    std::transform(user.token_sha256.begin(), user.token_sha256.end(), user.token_sha256.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (u.ok() && !token_paths.emplace(user.token_sha256, u.path()).second) {
      u.fail("token_sha256", "the same token as " + token_paths[user.token_sha256] +
                                 "; every user needs a token of their own");
    }
    auth.users.push_back(std::move(user));
  }
}

void read_cms(FieldReader r, ReviewConfig& review, const AuthConfig& auth) {
  review.accept_cms_approvals = r.boolean("accept_cms_approvals", review.accept_cms_approvals);
  review.cms_alerts = r.one_of("cms_alerts", {"refused", "accepted"}, review.cms_alerts);
  std::set<std::string> names, publishers;
  for (FieldReader c : r.children("cms")) {
    CmsConfig cms;
    cms.name = c.string("name");
    if (c.ok() && !is_user_name(cms.name)) {
      c.fail("name",
             "expected 1 to 64 letters, digits, '_', '-' or '.', got " + json(cms.name).dump());
    }
    if (c.ok() && !names.insert(cms.name).second) {
      c.fail("name", "duplicate CMS name " + json(cms.name).dump());
    }
    cms.publisher_user = c.string("publisher_user");
    const auto user = std::find_if(auth.users.begin(), auth.users.end(), [&](const UserConfig& u) {
      return u.name == cms.publisher_user;
    });
    if (c.ok() && (user == auth.users.end() || std::find(user->roles.begin(), user->roles.end(),
                                                         "publisher") == user->roles.end())) {
      c.fail("publisher_user", "must name a user of auth.users with the publisher role, got " +
                                   json(cms.publisher_user).dump());
    }
    // One user per CMS: the submitting user is what picks the key a record is checked with.
    if (c.ok() && !publishers.insert(cms.publisher_user).second) {
      c.fail("publisher_user",
             json(cms.publisher_user).dump() + " already submits for another CMS");
    }
    cms.hmac_key = c.secret("hmac_key");
    review.cms.push_back(std::move(cms));
  }
  if (r.ok() && review.accept_cms_approvals && review.cms.empty()) {
    r.fail("cms",
           "accept_cms_approvals is on but no CMS is configured: list each CMS with its "
           "name, publisher_user and hmac_key (or hmac_key_file)");
  }
}

void read_queue(FieldReader r, QueueConfig& q) {
  q.lease_ms = int_in(r, "lease_ms", 1000, 3600000, q.lease_ms);
  q.max_attempts = int_in(r, "max_attempts", 1, 1000, q.max_attempts);
  q.retry_base_ms = int_in(r, "retry_base_ms", 1, 3600000, q.retry_base_ms);
  q.retry_max_ms = int_in(r, "retry_max_ms", 1, 86400000, q.retry_max_ms);
  if (r.ok() && q.retry_max_ms < q.retry_base_ms) {
    r.fail("retry_max_ms",
           "must be at least retry_base_ms (" + std::to_string(q.retry_base_ms) + ")");
  }
  q.idle_block_ms = int_in(r, "idle_block_ms", 10, 60000, q.idle_block_ms);
}

void read_channels(FieldReader r, std::map<std::string, ChannelConfig>& channels,
                   const std::set<std::string>& known_channels) {
  std::string known;
  for (const auto& name : known_channels) known += (known.empty() ? "" : ", ") + name;
  for (const auto& name : r.keys()) {
    if (known_channels.count(name) == 0) {
      r.fail(name,
             "unknown channel '" + name + "' (known: " + (known.empty() ? "none" : known) + ")");
      return;
    }
    FieldReader section = r.child(name);
    ChannelConfig channel;
    channel.enabled = section.boolean("enabled", channel.enabled);
    channel.concurrency = int_in(section, "concurrency", 1, 256, channel.concurrency);
    channel.reserved_for_alerts =
        int_in(section, "reserved_for_alerts", 0, 255, channel.reserved_for_alerts);
    if (section.ok() && channel.reserved_for_alerts >= channel.concurrency) {
      section.fail("reserved_for_alerts",
                   "must be less than concurrency (" + std::to_string(channel.concurrency) + ")");
    }
    FieldReader defer = section.child("defer");
    constexpr long long kYearMs = 366LL * 24 * 3600 * 1000;
    channel.defer_rate_limit_max_ms =
        defer.integer("rate_limit_max_ms", 1000, kYearMs, channel.defer_rate_limit_max_ms);
    channel.defer_processing_max_ms =
        defer.integer("processing_max_ms", 1000, kYearMs, channel.defer_processing_max_ms);
    channel.drills = section.one_of("drills", {"withheld", "marked"}, channel.drills);
    channel.settings = section.rest();
    channels.emplace(name, std::move(channel));
  }
}

void read_gate(FieldReader r, GateConfig& gate) {
  gate.blocked_words_file = r.string("blocked_words_file", gate.blocked_words_file);
  if (r.ok() && !gate.blocked_words_file.empty()) {
    std::ifstream in(gate.blocked_words_file);
    if (!in) {
      r.fail("blocked_words_file",
             "cannot read file '" + gate.blocked_words_file + "': " + std::strerror(errno));
    }
  }
}

bool is_plain_address(const std::string& address) {
  return address.find('@') != std::string::npos &&
         address.find_first_of(" <>\r\n") == std::string::npos;
}

// Mirrors the media channel's "smtp" section, with the recipients under "to".
void read_notify_email(FieldReader m, NotifyEmailConfig& email) {
  email.smtp_url = m.string("smtp_url");
  if (m.ok() && email.smtp_url.rfind("smtp://", 0) != 0 &&
      email.smtp_url.rfind("smtps://", 0) != 0) {
    m.fail("smtp_url", "must be an smtp:// or smtps:// URL");
  }
  if (m.ok()) {
    // A password in the URL would be printed wherever the URL is; credentials have keys of their
    // own.
    const std::string_view rest =
        std::string_view(email.smtp_url).substr(email.smtp_url.find("://") + 3);
    if (rest.substr(0, rest.find('/')).find('@') != std::string_view::npos) {
      m.fail("smtp_url", "must not carry credentials; use \"username\" and \"password\"");
    }
  }
  email.from = m.string("from");
  if (m.ok() && !is_plain_address(email.from)) m.fail("from", "must be an e-mail address");
  email.to = m.strings("to");
  if (m.ok() && email.to.empty()) m.fail("to", "must name at least one recipient");
  for (std::size_t i = 0; i < email.to.size() && m.ok(); ++i) {
    if (!is_plain_address(email.to[i])) {
      m.fail_at(index_path(m.path_of("to"), i), "must be a plain e-mail address");
    }
  }
  email.subject_prefix = m.string("subject_prefix", email.subject_prefix);
  email.starttls = m.boolean("starttls", false);
  email.username = m.string("username", "");
  email.password = m.optional_secret("password").value_or("");
  // Over plain smtp:// without STARTTLS the credentials would cross the network readable.
  if (m.ok() && (!email.username.empty() || !email.password.empty()) &&
      email.smtp_url.rfind("smtp://", 0) == 0 && !email.starttls) {
    m.fail(email.password.empty() ? "username" : "password",
           "credentials over smtp:// need \"starttls\": true (or an smtps:// url)");
  }
  email.timeout_ms = int_in(m, "timeout_ms", 1, 600000, email.timeout_ms);
}

void read_notify(FieldReader r, NotifyConfig& notify) {
  if (r.has("email")) read_notify_email(r.child("email"), notify.email.emplace());
  if (r.has("wecom")) {
    FieldReader w = r.child("wecom");
    NotifyWecomConfig& wecom = notify.wecom.emplace();
    wecom.webhook_url = w.string("webhook_url");
    if (w.ok() && wecom.webhook_url.rfind("https://", 0) != 0 &&
        wecom.webhook_url.rfind("http://", 0) != 0) {
      w.fail("webhook_url", "must be an http:// or https:// URL");
    }
    wecom.timeout_ms = int_in(w, "timeout_ms", 1, 600000, wecom.timeout_ms);
  }
  notify.max_attempts = int_in(r, "max_attempts", 1, 20, notify.max_attempts);
}

}  // namespace

std::set<std::string> Config::enabled_channels() const {
  std::set<std::string> names;
  for (const auto& [name, channel] : channels) {
    if (channel.enabled) names.insert(name);
  }
  return names;
}

Result<void> substitute_env(json& value, const std::string& path) {
  if (value.is_string()) {
    auto expanded = expand(value.get_ref<const std::string&>(), path);
    if (!expanded) return expanded.error();
    value = std::move(*expanded);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (auto done = substitute_env(value[i], index_path(path, i)); !done) return done;
    }
  } else if (value.is_object()) {
    for (auto& [key, member] : value.items()) {
      if (auto done = substitute_env(member, join_path(path, key)); !done) return done;
    }
  }
  return {};
}

Result<Config> parse_config(std::string_view text, const std::set<std::string>& known_channels,
                            const std::string& base_dir) {
  auto parsed = parse_json_text(text, /*allow_comments=*/true);
  if (!parsed) return parsed.error();
  json& doc = *parsed;
  if (auto done = substitute_env(doc, ""); !done) return done.error();
  resolve_paths(doc, base_dir);

  Config config;
  config.base_dir = base_dir;
  FieldReader r(doc, "");
  read_http(r.child("http"), config.http);
  read_redis(r.child("redis"), config.redis, base_dir);
  config.data_dir = resolve(base_dir, r.string("data_dir", config.data_dir));
  if (r.ok() && config.data_dir.empty()) r.fail("data_dir", "must not be empty");
  read_auth(r.child("auth"), config.auth);

  FieldReader approvals = r.child("review").child("approvals_required");
  auto& required = config.review.approvals_required;
  required.publication = int_in(approvals, "publication", 1, 5, required.publication);
  required.alert = int_in(approvals, "alert", 1, 5, required.alert);
  read_cms(r.child("review"), config.review, config.auth);

  read_queue(r.child("queue"), config.queue);

  FieldReader office = r.child("office");
  config.office.utc_offset_minutes =
      int_in(office, "utc_offset_minutes", -720, 840, config.office.utc_offset_minutes);
  config.office.name = office.string("name", config.office.name);

  read_channels(r.child("channels"), config.channels, known_channels);
  read_gate(r.child("gate"), config.gate);
  FieldReader audit = r.child("audit");
  config.audit.retention_days =
      int_in(audit, "retention_days", 1, 36600, config.audit.retention_days);

  FieldReader import = r.child("import");
  config.import.historic_channels =
      import.strings("historic_channels", config.import.historic_channels);
  for (std::size_t i = 0; i < config.import.historic_channels.size() && r.ok(); ++i) {
    const std::string& name = config.import.historic_channels[i];
    const bool well_formed =
        !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        });
    if (!well_formed) {
      r.fail_at(index_path("import.historic_channels", i),
                "expected a channel name (1 to 32 of a-z, 0-9, _ and -), got \"" + name + "\"");
    }
  }

  FieldReader report = r.child("report");
  if (const auto* categories = report.object("categories")) {
    FieldReader c = report.child("categories");
    for (const auto& [name, value] : categories->items()) {
      config.report.categories[name] = c.strings(name);
    }
  }

  read_notify(r.child("notify"), config.notify);
  FieldReader console = r.child("console");
  config.console_public_url = console.string("public_url", "");
  if (r.ok() && !config.console_public_url.empty() &&
      config.console_public_url.rfind("https://", 0) != 0 &&
      config.console_public_url.rfind("http://", 0) != 0) {
    console.fail("public_url", "must be an http:// or https:// URL");
  }

  FieldReader log = r.child("log");
  config.log.level =
      log.one_of("level", {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"},
                 config.log.level);
  config.log.format = log.one_of("format", {"text", "json"}, config.log.format);

  if (auto done = r.finish(); !done) return done.error();
  return config;
}

Result<Config> load_config_file(const std::string& path,
                                const std::set<std::string>& known_channels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::invalid("", "cannot read config file '" + path + "': " + std::strerror(errno));
  }
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    return Error::invalid("", "config file '" + path + "' is larger than 16 MiB");
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  if (ec) return Error::invalid("", "cannot resolve '" + path + "': " + ec.message());
  return parse_config(text, known_channels, absolute.parent_path().lexically_normal().string());
}

}  // namespace herald
