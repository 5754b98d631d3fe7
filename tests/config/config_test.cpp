// Tests for config/config.h: defaults, comments, ${ENV}, relative paths, and an error naming the
// key for every kind of mistake; the shipped example and demo files must load.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "core/json_fields.h"
#include "tests/support/process.h"

using herald::Config;
using herald::parse_config;

namespace {

const std::set<std::string> kAllChannels = {"weibo", "wechat", "portal", "media", "webhook"};

Config must_parse(const std::string& text, const std::string& base_dir = "") {
  auto config = parse_config(text, kAllChannels, base_dir);
  if (!config) FAIL(config.error().field << ": " << config.error().message);
  return std::move(config).value();
}

herald::Error must_fail(const std::string& text, const std::string& base_dir = "") {
  auto config = parse_config(text, kAllChannels, base_dir);
  REQUIRE_FALSE(config);
  CHECK(config.error().kind == herald::ErrorKind::invalid_input);
  return config.error();
}

// Sets (or unsets, with nullptr) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("An empty config gives every default", "[config]") {
  const Config c = must_parse("{}");
  CHECK(c.http.listen == "127.0.0.1:8080");
  CHECK(c.http.max_body_bytes == 1048576);
  CHECK(c.http.read_timeout_ms == 10000);
  CHECK(c.http.max_connections == 256);
  CHECK(c.http.io_threads == 1);
  CHECK(c.http.handler_threads == 4);
  CHECK(c.http.max_connections_per_client == 64);
  CHECK(c.http.public_listener.listen == "127.0.0.1:8081");
  CHECK(c.http.public_listener.max_connections == 2048);
  CHECK(c.http.public_listener.max_connections_per_client == 32);
  CHECK(c.http.public_listener.header_timeout_ms == 2000);
  CHECK(c.http.public_listener.idle_timeout_ms == 5000);
  CHECK(c.http.public_listener.cache_ms == 1000);
  CHECK(c.redis.url == "embedded");
  CHECK(c.redis.connect_timeout_ms == 2000);
  CHECK(c.redis.command_timeout_ms == 2000);
  CHECK(c.redis.pool_size == 8);
  CHECK(c.redis.key_prefix == "herald:");
  CHECK(c.redis.embedded.binary == "/usr/bin/redis-server");
  CHECK(c.redis.embedded.port == 0);
  CHECK(c.redis.embedded.appendonly);
  CHECK(c.data_dir == "./var");
  CHECK(c.auth.users.empty());
  CHECK(c.review.approvals_required.publication == 2);
  CHECK(c.review.approvals_required.alert == 2);
  CHECK(c.queue.lease_ms == 10000);
  CHECK(c.queue.max_attempts == 8);
  CHECK(c.queue.retry_base_ms == 1000);
  CHECK(c.queue.retry_max_ms == 600000);
  CHECK(c.queue.idle_block_ms == 5000);
  CHECK(c.office.utc_offset_minutes == 480);
  CHECK(c.channels.empty());
  CHECK(c.gate.blocked_words_file.empty());
  CHECK(c.log.level == "info");
  CHECK(c.log.format == "text");
}

TEST_CASE("Comments are accepted and values are read into the typed structs", "[config]") {
  const Config c = must_parse(R"(
    // line comment
    {
      /* block
         comment */
      "http": {"listen": "[::1]:0", "max_body_bytes": 2048},  // trailing comment
      "redis": {"url": "redis://127.0.0.1:6380/2", "pool_size": 2},
      "queue": {"retry_base_ms": 50, "retry_max_ms": 50},
      "review": {"approvals_required": {"alert": 1}},
      "auth": {"users": [{"name": "li.wei", "roles": ["reviewer", "duty_officer"],
        "token_sha256": "9DE6A7644E99D4D3C20ED264225C8F6C2C057343FEA0D3193BF5DF9C8F2E26D1"}]},
      "channels": {"weibo": {"enabled": false, "concurrency": 2, "api_base": "http://x",
                             "rate_limit": {"per_hour": 150}},
                   "webhook": {"url": "http://h", "defer": {"processing_max_ms": 60000},
                               "drills": "marked"}},
      "log": {"level": "debug", "format": "json"}
    })");
  CHECK(c.http.listen == "[::1]:0");
  CHECK(c.http.max_body_bytes == 2048);
  CHECK(c.redis.url == "redis://127.0.0.1:6380/2");
  CHECK(c.redis.pool_size == 2);
  CHECK(c.queue.retry_max_ms == 50);
  CHECK(c.review.approvals_required.alert == 1);
  CHECK(c.review.approvals_required.publication == 2);
  REQUIRE(c.auth.users.size() == 1);
  CHECK(c.auth.users[0].roles == std::vector<std::string>{"reviewer", "duty_officer"});
  CHECK(c.auth.users[0].token_sha256 ==
        "9de6a7644e99d4d3c20ed264225c8f6c2c057343fea0d3193bf5df9c8f2e26d1");
  REQUIRE(c.channels.count("weibo") == 1);
  const auto& weibo = c.channels.at("weibo");
  CHECK_FALSE(weibo.enabled);
  CHECK(weibo.concurrency == 2);
  CHECK(weibo.reserved_for_alerts == 1);
  CHECK(weibo.settings ==
        nlohmann::json({{"api_base", "http://x"}, {"rate_limit", {{"per_hour", 150}}}}));
  // The deferral limits are the channel's own keys, never handed on to its factory.
  CHECK(weibo.defer_rate_limit_max_ms == 24LL * 3600 * 1000);
  CHECK(weibo.defer_processing_max_ms == 72LL * 3600 * 1000);
  CHECK(c.channels.at("webhook").defer_processing_max_ms == 60000);
  CHECK_FALSE(c.channels.at("webhook").settings.contains("defer"));
  // Drills are withheld unless a channel says they go out marked.
  CHECK(weibo.drills == "withheld");
  CHECK(c.channels.at("webhook").drills == "marked");
  CHECK_FALSE(c.channels.at("webhook").settings.contains("drills"));
  CHECK(c.channels.at("webhook").enabled);
  CHECK(c.enabled_channels() == std::set<std::string>{"webhook"});
  CHECK(c.log.format == "json");
}

TEST_CASE("${ENV} is substituted in every string value, and $${ escapes it", "[config]") {
  ScopedEnv sim("HERALD_TEST_SIM", "http://127.0.0.1:39999");
  ScopedEnv role("HERALD_TEST_ROLE", "reviewer");
  ScopedEnv unset("HERALD_TEST_UNSET", nullptr);

  const Config c = must_parse(R"({
    "office": {"name": "$${NOT_A_VAR} and ${HERALD_TEST_ROLE}${HERALD_TEST_ROLE} $ {x} $"},
    "auth": {"users": [{"name": "a", "roles": ["${HERALD_TEST_ROLE}"],
                        "token_sha256": "91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37"}]},
    "channels": {"webhook": {"url": "${HERALD_TEST_SIM}/hooks/x", "list": ["${HERALD_TEST_ROLE}"]}}
  })");
  CHECK(c.office.name == "${NOT_A_VAR} and reviewerreviewer $ {x} $");
  CHECK(c.auth.users[0].roles == std::vector<std::string>{"reviewer"});
  CHECK(c.channels.at("webhook").settings["url"] == "http://127.0.0.1:39999/hooks/x");
  CHECK(c.channels.at("webhook").settings["list"][0] == "reviewer");

  SECTION("an unset variable names the key and the variable") {
    auto e = must_fail(R"({"channels": {"webhook": {"url": "${HERALD_TEST_UNSET}/hooks"}}})");
    CHECK(e.field == "channels.webhook.url");
    CHECK_THAT(e.message, Catch::Contains("HERALD_TEST_UNSET") && Catch::Contains("not set"));
    auto in_array = must_fail(R"({"auth": {"users": [{"roles": ["${HERALD_TEST_UNSET}"]}]}})");
    CHECK(in_array.field == "auth.users[0].roles[0]");
  }
  SECTION("an unterminated or malformed reference is an error") {
    CHECK(must_fail(R"({"office": {"name": "${HERALD_TEST_ROLE"}})").field == "office.name");
    CHECK_THAT(must_fail(R"({"office": {"name": "${1X}"}})").message,
               Catch::Contains("not a variable name"));
    CHECK(must_fail(R"({"office": {"name": "${}"}})").field == "office.name");
  }
}

TEST_CASE("Unknown keys are rejected at every depth with their full path", "[config]") {
  struct Case {
    const char* text;
    const char* field;
    const char* hint;
  };
  const Case cases[] = {
      {R"({"htp": {}})", "htp", "did you mean 'http'"},
      {R"({"http": {"listn": "1.2.3.4:80"}})", "http.listn", "did you mean 'listen'"},
      {R"({"http": {"public": {"cache": 10}}})", "http.public.cache", "known: listen"},
      {R"({"redis": {"embedded": {"prt": 1}}})", "redis.embedded.prt", "known: binary, port"},
      {R"({"review": {"approvals_required": {"alerts": 1}}})", "review.approvals_required.alerts",
       "did you mean 'alert'"},
      {R"({"auth": {"users": [{"name": "a", "roles": ["admin"], "role": "x",
          "token_sha256": "91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37"}]}})",
       "auth.users[0].role", "did you mean 'roles'"},
      {R"({"log": {"level": "info", "colour": true}})", "log.colour", "known: level, format"},
      {R"({"queue": {"lease": 1000}})", "queue.lease", "lease_ms"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto e = must_fail(c.text);
    CHECK(e.field == c.field);
    CHECK_THAT(e.message, Catch::StartsWith("unknown key '" + std::string(c.field) + "'") &&
                              Catch::Contains(c.hint));
  }
}

TEST_CASE("Wrong types, values out of range and bad enums name the key and what was expected",
          "[config]") {
  const std::string token = "91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37";
  struct Case {
    std::string text;
    const char* field;
    const char* expected;
  };
  const std::vector<Case> cases = {
      // wrong type
      {R"({"http": 8080})", "http", "expected an object, got 8080"},
      {R"({"http": {"max_body_bytes": "1MB"}})", "http.max_body_bytes", "an integer between"},
      {R"({"http": {"read_timeout_ms": 1.5}})", "http.read_timeout_ms", "got 1.5"},
      {R"({"redis": {"embedded": {"appendonly": "yes"}}})", "redis.embedded.appendonly",
       "expected true or false"},
      {R"({"data_dir": 5})", "data_dir", "expected a string"},
      {R"({"auth": {"users": {"name": "a"}}})", "auth.users", "an array of objects"},
      {R"({"auth": {"users": ["a"]}})", "auth.users[0]", "expected an object"},
      {R"({"channels": ["webhook"]})", "channels", "expected an object"},
      {R"({"channels": {"webhook": true}})", "channels.webhook", "expected an object"},
      {R"({"channels": {"webhook": {"enabled": "no"}}})", "channels.webhook.enabled",
       "true or false"},
      // out of range
      {R"({"review": {"approvals_required": {"alert": 6}}})", "review.approvals_required.alert",
       "between 1 and 5, got 6"},
      {R"({"review": {"approvals_required": {"publication": 0}}})",
       "review.approvals_required.publication", "between 1 and 5"},
      {R"({"http": {"io_threads": 0}})", "http.io_threads", "between 1 and 64"},
      {R"({"http": {"max_connections_per_client": 0}})", "http.max_connections_per_client",
       "between 1 and 100000"},
      {R"({"http": {"public": {"max_connections": 0}}})", "http.public.max_connections",
       "between 1 and 100000"},
      {R"({"http": {"public": {"cache_ms": -1}}})", "http.public.cache_ms", "between 0 and"},
      {R"({"http": {"public": {"header_timeout_ms": 50}}})", "http.public.header_timeout_ms",
       "between 100 and"},
      {R"({"http": {"public": {"listen": "8081"}}})", "http.public.listen", "host:port"},
      {R"({"http": {"listen": "127.0.0.1:9000", "public": {"listen": "127.0.0.1:9000"}}})",
       "http.public.listen", "must differ from http.listen"},
      {R"({"redis": {"embedded": {"port": 70000}}})", "redis.embedded.port", "0 and 65535"},
      {R"({"office": {"utc_offset_minutes": 900}})", "office.utc_offset_minutes", "-720 and 840"},
      {R"({"queue": {"retry_base_ms": 5000, "retry_max_ms": 4000}})", "queue.retry_max_ms",
       "at least retry_base_ms (5000)"},
      {R"({"channels": {"weibo": {"concurrency": 0}}})", "channels.weibo.concurrency",
       "between 1 and 256"},
      {R"({"channels": {"weibo": {"concurrency": 2, "reserved_for_alerts": 2}}})",
       "channels.weibo.reserved_for_alerts", "less than concurrency (2)"},
      // bad enums and malformed values
      {R"({"log": {"level": "verbose"}})", "log.level", "trace, debug, info"},
      {R"({"log": {"format": "xml"}})", "log.format", "text, json"},
      {R"({"channels": {"weibo": {"drills": "silent"}}})", "channels.weibo.drills",
       "withheld, marked"},
      {R"({"http": {"listen": "localhost"}})", "http.listen", "host:port"},
      {R"({"http": {"listen": "0.0.0.0:99999"}})", "http.listen", "host:port"},
      {R"({"redis": {"url": "http://127.0.0.1:6379"}})", "redis.url", "redis://host:port/db"},
      {R"({"redis": {"url": "redis://:6379/0"}})", "redis.url", "unix:///path"},
      {R"({"redis": {"url": "unix://relative.sock"}})", "redis.url", "embedded"},
      {R"({"redis": {"key_prefix": ""}})", "redis.key_prefix", "non-empty"},
      {R"({"data_dir": ""})", "data_dir", "must not be empty"},
      {R"({"auth": {"users": [{"name": "a", "roles": ["admin", "boss"], "token_sha256": ")" +
           token + R"("}]}})",
       "auth.users[0].roles[1]", "drafter, reviewer, duty_officer, publisher, compiler, admin"},
      {R"({"auth": {"users": [{"name": "a", "roles": [], "token_sha256": ")" + token + R"("}]}})",
       "auth.users[0].roles", "at least one role"},
      {R"({"auth": {"users": [{"name": "a", "roles": ["admin", "admin"], "token_sha256": ")" +
           token + R"("}]}})",
       "auth.users[0].roles[1]", "twice"},
      {R"({"auth": {"users": [{"name": "a b", "roles": ["admin"], "token_sha256": ")" + token +
           R"("}]}})",
       "auth.users[0].name", "letters, digits"},
      {R"({"auth": {"users": [{"name": "a", "roles": ["admin"], "token_sha256": "abc"}]}})",
       "auth.users[0].token_sha256", "64 hex digits"},
      {R"({"auth": {"users": [{"name": "a", "roles": ["admin"]}]}})", "auth.users[0].token_sha256",
       "is required"},
      {R"({"gate": {"blocked_words_file": "/nonexistent/words.txt"}})", "gate.blocked_words_file",
       "No such file"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto e = must_fail(c.text);
    CHECK(e.field == c.field);
    CHECK_THAT(e.message, Catch::Contains(c.expected));
  }
}

TEST_CASE("Channels must be known to the binary", "[config]") {
  const auto e = must_fail(R"({"channels": {"webhook": {}, "tiktok": {"url": "x"}}})");
  CHECK(e.field == "channels.tiktok");
  CHECK_THAT(
      e.message,
      Catch::Contains("unknown channel 'tiktok' (known: media, portal, webhook, wechat, weibo)"));
  auto none = parse_config(R"({"channels": {"weibo": {}}})", {}, "");
  REQUIRE_FALSE(none);
  CHECK_THAT(none.error().message, Catch::Contains("known: none"));
}

TEST_CASE("Users must have distinct names and distinct tokens", "[config]") {
  const std::string a = "91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37";
  const std::string b = "9de6a7644e99d4d3c20ed264225c8f6c2c057343fea0d3193bf5df9c8f2e26d1";
  auto user = [](const std::string& name, const std::string& token) {
    return R"({"name": ")" + name + R"(", "roles": ["reviewer"], "token_sha256": ")" + token +
           R"("})";
  };
  SECTION("duplicate name") {
    const auto e =
        must_fail(R"({"auth": {"users": [)" + user("wang", a) + "," + user("wang", b) + "]}}");
    CHECK(e.field == "auth.users[1].name");
    CHECK_THAT(e.message, Catch::Contains("duplicate user name \"wang\" (also auth.users[0])"));
  }
  SECTION("duplicate token, whatever its case") {
    std::string upper = a;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    const auto e =
        must_fail(R"({"auth": {"users": [)" + user("wang", a) + "," + user("li", upper) + "]}}");
    CHECK(e.field == "auth.users[1].token_sha256");
    CHECK_THAT(e.message, Catch::Contains("auth.users[0]"));
  }
}

TEST_CASE("Malformed config text gives the line of the mistake", "[config]") {
  const auto e = must_fail("{\n  \"http\": {\"listen\": \"x:1\"},\n  \"log\": {level: 1}\n}");
  CHECK(e.code == "malformed_json");
  CHECK_THAT(e.message, Catch::Contains("line 3"));
  CHECK(must_fail(R"({"log": {"level": "info"}, "log": {}})").field == "log");
}

TEST_CASE("Relative paths are resolved against the config file's directory", "[config]") {
  const std::string dir = herald::test::make_temp_dir("config");
  write_file(dir + "/words.txt", "敏感词\n");
  write_file(dir + "/herald.json", R"({
    "data_dir": "./var/x",
    "redis": {"embedded": {"binary": "bin/redis-server"}},
    "gate": {"blocked_words_file": "words.txt"},
    "channels": {"webhook": {"url": "http://h", "secret_file": "secrets/hook",
                             "nested": {"cert_file": "/abs/cert.pem", "ca_dir": "ca"}}}
  })");
  auto loaded = herald::load_config_file(dir + "/herald.json", kAllChannels);
  REQUIRE(loaded);
  const Config& c = *loaded;
  CHECK(c.base_dir == dir);
  CHECK(c.data_dir == dir + "/var/x");
  CHECK(c.redis.embedded.binary == dir + "/bin/redis-server");
  CHECK(c.gate.blocked_words_file == dir + "/words.txt");
  const auto& settings = c.channels.at("webhook").settings;
  CHECK(settings["secret_file"] == dir + "/secrets/hook");
  CHECK(settings["nested"]["cert_file"] == "/abs/cert.pem");
  CHECK(settings["nested"]["ca_dir"] == dir + "/ca");

  SECTION("a bare binary name is left for PATH, and the default data_dir is anchored too") {
    write_file(dir + "/bare.json", R"({"redis": {"embedded": {"binary": "redis-server"}}})");
    auto bare = herald::load_config_file(dir + "/bare.json", kAllChannels);
    REQUIRE(bare);
    CHECK(bare->redis.embedded.binary == "redis-server");
    CHECK(bare->data_dir == dir + "/var");
  }

  SECTION("a channel factory reads its secret from the resolved file, or says it is missing") {
    herald::FieldReader missing(settings, "channels.webhook");
    missing.string("url");
    missing.secret("secret");
    auto error = missing.finish();
    REQUIRE_FALSE(error);
    CHECK(error.error().field == "channels.webhook.secret_file");
    CHECK_THAT(error.error().message, Catch::Contains(dir + "/secrets/hook"));

    write_file(dir + "/secrets/hook", "hook-secret\n");
    herald::FieldReader present(settings, "channels.webhook");
    present.string("url");
    CHECK(present.secret("secret") == "hook-secret");
    present.child("nested").string("cert_file");
    present.child("nested").string("ca_dir");
    CHECK(present.finish().ok());
  }

  SECTION("secret and secret_file together are refused") {
    nlohmann::json both = settings;
    both["secret"] = "inline";
    herald::FieldReader reader(both, "channels.webhook");
    reader.secret("secret");
    CHECK(reader.finish().error().field == "channels.webhook.secret");
  }

  SECTION("a missing config file is an error") {
    auto absent = herald::load_config_file(dir + "/nope.json", kAllChannels);
    REQUIRE_FALSE(absent);
    CHECK_THAT(absent.error().message, Catch::Contains("nope.json"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("The example config loads and documents the defaults", "[config]") {
  auto example = herald::load_config_file(
      std::string(HERALD_SOURCE_DIR) + "/config/herald.example.json", kAllChannels);
  if (!example) FAIL(example.error().field << ": " << example.error().message);
  const Config& c = *example;
  const Config defaults;
  // Every documented value is the default, so the example cannot drift from the code.
  CHECK(c.http.listen == defaults.http.listen);
  CHECK(c.http.max_body_bytes == defaults.http.max_body_bytes);
  CHECK(c.http.read_timeout_ms == defaults.http.read_timeout_ms);
  CHECK(c.http.max_connections == defaults.http.max_connections);
  CHECK(c.http.io_threads == defaults.http.io_threads);
  CHECK(c.http.handler_threads == defaults.http.handler_threads);
  CHECK(c.redis.url == defaults.redis.url);
  CHECK(c.redis.connect_timeout_ms == defaults.redis.connect_timeout_ms);
  CHECK(c.redis.command_timeout_ms == defaults.redis.command_timeout_ms);
  CHECK(c.redis.pool_size == defaults.redis.pool_size);
  CHECK(c.redis.key_prefix == defaults.redis.key_prefix);
  CHECK(c.redis.embedded.binary == defaults.redis.embedded.binary);
  CHECK(c.redis.embedded.port == defaults.redis.embedded.port);
  CHECK(c.redis.embedded.appendonly == defaults.redis.embedded.appendonly);
  CHECK(c.redis.wait_replicas == defaults.redis.wait_replicas);
  CHECK(c.redis.wait_timeout_ms == defaults.redis.wait_timeout_ms);
  CHECK(c.data_dir == std::string(HERALD_SOURCE_DIR) + "/config/var");
  CHECK(c.review.approvals_required.publication == defaults.review.approvals_required.publication);
  CHECK(c.review.approvals_required.alert == defaults.review.approvals_required.alert);
  CHECK(c.queue.lease_ms == defaults.queue.lease_ms);
  CHECK(c.queue.max_attempts == defaults.queue.max_attempts);
  CHECK(c.queue.retry_base_ms == defaults.queue.retry_base_ms);
  CHECK(c.queue.retry_max_ms == defaults.queue.retry_max_ms);
  CHECK(c.queue.idle_block_ms == defaults.queue.idle_block_ms);
  CHECK(c.office.utc_offset_minutes == defaults.office.utc_offset_minutes);
  CHECK(c.gate.blocked_words_file == defaults.gate.blocked_words_file);
  CHECK(c.log.level == defaults.log.level);
  CHECK(c.log.format == defaults.log.format);
  CHECK(c.import.historic_channels == defaults.import.historic_channels);
  CHECK(c.review.accept_cms_approvals == defaults.review.accept_cms_approvals);
  CHECK(c.review.cms.empty());
  CHECK(c.review.cms_alerts == defaults.review.cms_alerts);
  CHECK(c.auth.users.size() == 1);
  // The channels documented in the example keep the common defaults.
  for (const char* name : {"weibo", "wechat", "portal", "media", "webhook"}) {
    INFO(name);
    REQUIRE(c.channels.count(name) == 1);
    CHECK(c.channels.at(name).concurrency == herald::ChannelConfig{}.concurrency);
    CHECK(c.channels.at(name).reserved_for_alerts == herald::ChannelConfig{}.reserved_for_alerts);
  }
  CHECK(c.enabled_channels().empty());
}

TEST_CASE("The demo config loads with the simulator URL from the environment", "[config]") {
  const std::string path = std::string(HERALD_SOURCE_DIR) + "/config/herald.demo.json";
  {
    ScopedEnv sim("HERALD_SIM_URL", "http://127.0.0.1:40123");
    auto demo = herald::load_config_file(path, kAllChannels);
    if (!demo) FAIL(demo.error().field << ": " << demo.error().message);
    CHECK(demo->redis.url == "embedded");
    CHECK(demo->http.listen == "127.0.0.1:8080");
    CHECK(demo->http.public_listener.listen == "127.0.0.1:8081");
    CHECK(demo->data_dir == std::string(HERALD_SOURCE_DIR) + "/var/demo");
    CHECK(demo->enabled_channels() ==
          std::set<std::string>{"media", "portal", "webhook", "wechat", "weibo"});
    const auto& webhook = demo->channels.at("webhook").settings;
    CHECK(webhook["url"] == "http://127.0.0.1:40123/hooks/media-desk");
    CHECK(webhook["secret"] == "demo-secret");
    REQUIRE(demo->auth.users.size() == 3);
    // The tokens named in the file's comment are the ones whose hashes it holds.
    CHECK(demo->auth.users[0].name == "admin");
    CHECK(demo->auth.users[0].token_sha256 ==
          "91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37");  // demo-admin-token
    CHECK(demo->auth.users[1].name == "duty");
    CHECK(demo->auth.users[1].roles == std::vector<std::string>{"duty_officer", "drafter"});
    CHECK(demo->auth.users[1].token_sha256 ==
          "9de6a7644e99d4d3c20ed264225c8f6c2c057343fea0d3193bf5df9c8f2e26d1");  // demo-duty-token
    CHECK(demo->auth.users[2].name == "reviewer2");
    CHECK(
        demo->auth.users[2].token_sha256 ==
        "62af8af38d61c9ea36734d3493487a1cd268c8ad9e3ca6f7ff7a7469b400ccbc");  // demo-reviewer-token
    // 两级审核: the demo needs what the seed's rule needs.
    CHECK(demo->review.approvals_required.publication == 2);
    CHECK(demo->review.approvals_required.alert == 2);
  }
  ScopedEnv unset("HERALD_SIM_URL", nullptr);
  auto without = herald::load_config_file(path, kAllChannels);
  REQUIRE_FALSE(without);
  CHECK(without.error().field == "channels.media.webhooks[0].url");  // the first use of it
  CHECK_THAT(without.error().message, Catch::Contains("HERALD_SIM_URL"));
}

TEST_CASE("redis.wait_replicas and redis.wait_timeout_ms: defaults, values, refusals",
          "[config][durability]") {
  const Config defaults = must_parse("{}");
  CHECK(defaults.redis.wait_replicas == 0);
  CHECK(defaults.redis.wait_timeout_ms == 1000);

  const Config c = must_parse(
      R"({"redis": {"url": "redis://10.0.0.5:6379/0", "wait_replicas": 2, "wait_timeout_ms": 250}})");
  CHECK(c.redis.wait_replicas == 2);
  CHECK(c.redis.wait_timeout_ms == 250);

  struct Case {
    const char* text;
    const char* field;
    const char* says;
  };
  const Case cases[] = {
      {R"({"redis": {"url": "redis://h:1/0", "wait_replicas": -1}})", "redis.wait_replicas", "0"},
      {R"({"redis": {"url": "redis://h:1/0", "wait_replicas": 65}})", "redis.wait_replicas", "64"},
      {R"({"redis": {"url": "redis://h:1/0", "wait_replicas": "1"}})", "redis.wait_replicas", ""},
      {R"({"redis": {"wait_timeout_ms": 0}})", "redis.wait_timeout_ms", "1"},
      {R"({"redis": {"wait_timeout_ms": 60001}})", "redis.wait_timeout_ms", "60000"},
      // The embedded server has no replicas: every write would answer 503.
      {R"({"redis": {"wait_replicas": 1}})", "redis.wait_replicas", "embedded"},
      // Unknown keys are still refused, with the new keys among the known ones.
      {R"({"redis": {"wait_replica": 1}})", "redis.wait_replica", "wait_replicas"},
  };
  for (const auto& k : cases) {
    INFO(k.text);
    const auto e = must_fail(k.text);
    CHECK(e.field == k.field);
    CHECK_THAT(e.message, Catch::Contains(k.says));
  }
}

TEST_CASE("import.historic_channels: default, values, refusals", "[config]") {
  CHECK(must_parse("{}").import.historic_channels ==
        std::vector<std::string>{"website", "periodicals"});
  CHECK(must_parse(R"({"import": {"historic_channels": ["website", "old-portal"]}})")
            .import.historic_channels == std::vector<std::string>{"website", "old-portal"});
  CHECK(must_parse(R"({"import": {"historic_channels": []}})").import.historic_channels.empty());
  CHECK(must_fail(R"({"import": {"historic_channels": ["website", "Web Site"]}})").field ==
        "import.historic_channels[1]");
  CHECK(must_fail(R"({"import": {"historic_channels": "website"}})").field ==
        "import.historic_channels");
  CHECK(must_fail(R"({"import": {"historic_channel": ["website"]}})").field ==
        "import.historic_channel");
}

TEST_CASE("review.cms and review.cms_alerts: defaults, values, refusals", "[config][cms]") {
  const Config defaults = must_parse("{}");
  CHECK_FALSE(defaults.review.accept_cms_approvals);
  CHECK(defaults.review.cms.empty());
  CHECK(defaults.review.cms_alerts == "refused");

  const std::string users = R"("auth": {"users": [
      {"name": "cms-bot", "roles": ["publisher"], "token_sha256": ")" +
                            std::string(64, 'a') + R"("},
      {"name": "rev1", "roles": ["reviewer"], "token_sha256": ")" +
                            std::string(64, 'b') + R"("}]})";
  auto with_review = [&](const std::string& review) {
    return "{" + users + R"(, "review": )" + review + "}";
  };
  const Config c =
      must_parse(with_review(R"({"accept_cms_approvals": true, "cms_alerts": "accepted",
      "cms": [{"name": "trs", "publisher_user": "cms-bot", "hmac_key": "k1"}]})"));
  REQUIRE(c.review.cms.size() == 1);
  CHECK(c.review.cms[0].name == "trs");
  CHECK(c.review.cms[0].publisher_user == "cms-bot");
  CHECK(c.review.cms[0].hmac_key == "k1");
  CHECK(c.review.cms_alerts == "accepted");

  const std::string dir = herald::test::make_temp_dir("config-cms");
  write_file(dir + "/trs.key", "file-key\n");
  CHECK(must_parse(with_review(R"({"cms": [{"name": "trs", "publisher_user": "cms-bot",
      "hmac_key_file": "trs.key"}]})"),
                   dir)
            .review.cms.at(0)
            .hmac_key == "file-key");

  struct Bad {
    const char* review;
    const char* field;
  };
  for (const Bad& b : std::vector<Bad>{
           {R"({"accept_cms_approvals": true})", "review.cms"},
           {R"({"cms_alerts": "sometimes"})", "review.cms_alerts"},
           {R"({"cms": [{"name": "trs", "publisher_user": "rev1", "hmac_key": "k"}]})",
            "review.cms[0].publisher_user"},
           {R"({"cms": [{"name": "trs", "publisher_user": "nobody", "hmac_key": "k"}]})",
            "review.cms[0].publisher_user"},
           {R"({"cms": [{"name": "trs", "publisher_user": "cms-bot"}]})", "review.cms[0].hmac_key"},
           {R"({"cms": [{"name": "trs", "publisher_user": "cms-bot", "hmac_key": "k"},
                        {"name": "trs", "publisher_user": "cms-bot", "hmac_key": "k"}]})",
            "review.cms[1].name"},
           {R"({"cms": [{"name": "a", "publisher_user": "cms-bot", "hmac_key": "k"},
                        {"name": "b", "publisher_user": "cms-bot", "hmac_key": "k"}]})",
            "review.cms[1].publisher_user"},
           {R"({"cms": [{"name": "trs", "publisher_user": "cms-bot", "hmac_key": "k",
                         "hmac": "x"}]})",
            "review.cms[0].hmac"},
       }) {
    INFO(b.review);
    const auto e = must_fail(with_review(b.review));
    CHECK(e.field == b.field);
    // A key is a secret: no message repeats it.
    CHECK(e.message.find("\"k\"") == std::string::npos);
  }
}

TEST_CASE("redis passwords: in the url, redis.password(_file) and redis.username; never echoed",
          "[config][secrets]") {
  SECTION("the url may carry a user and a password, or a password alone") {
    CHECK(must_parse(R"({"redis": {"url": "redis://herald:p%40ss@10.0.0.5:6379/1"}})").redis.url ==
          "redis://herald:p%40ss@10.0.0.5:6379/1");
    must_parse(R"({"redis": {"url": "redis://:pw@cache/0"}})");
    must_parse(R"({"redis": {"url": "redis://cache:6379/0?password=pw"}})");
    must_parse(R"({"redis": {"url": "unix:///run/redis.sock?db=2&password=pw"}})");
  }
  SECTION("password_file and username, for TCP and unix sockets") {
    const std::string dir = herald::test::make_temp_dir("config-redis");
    std::ofstream(dir + "/redis.pw") << "file-pass-31\n";
    const Config tcp = must_parse(
        R"({"redis": {"url": "redis://10.0.0.5:6379/0", "username": "herald",
                      "password_file": "redis.pw"}})",
        dir);
    CHECK(tcp.redis.password == "file-pass-31");
    CHECK(tcp.redis.username == "herald");
    const Config unix_socket =
        must_parse(R"({"redis": {"url": "unix:///run/redis.sock", "password_file": ")" + dir +
                   R"(/redis.pw"}})");
    CHECK(unix_socket.redis.password == "file-pass-31");
    CHECK(unix_socket.redis.username.empty());
  }
  SECTION("refusals name the key and never quote the password") {
    struct Case {
      std::string text;
      const char* field;
      const char* says;
    };
    const Case cases[] = {
        {R"({"redis": {"url": "redis://u:leak-me-1@host:notaport/0"}})", "redis.url",
         "redis://u:***@host:notaport/0"},
        {R"({"redis": {"url": "redis://host/0?password=leak-me-1&size=2"}})", "redis.url",
         "password=***"},
        {R"({"redis": {"url": "redis://:leak-me-1@h/0", "password": "leak-me-2"}})",
         "redis.password", "one place only"},
        {R"({"redis": {"password": "leak-me-1"}})", "redis.password", "embedded"},
        {R"({"redis": {"url": "redis://h/0", "username": "herald"}})", "redis.username",
         "password_file"},
        {R"({"redis": {"url": "redis://h/0", "password_file": "/nonexistent/leak-me-1"}})",
         "redis.password_file", "cannot read"},
        {R"({"redis": {"embedded": {"port": 6390}}})", "redis.embedded.port", "unix socket"},
    };
    for (const auto& c : cases) {
      INFO(c.text);
      const auto e = must_fail(c.text);
      CHECK(e.field == c.field);
      CHECK_THAT(e.message, Catch::Contains(c.says));
      if (c.text.find("password_file") == std::string::npos) {
        CHECK(e.message.find("leak-me") == std::string::npos);
      }
    }
  }
}
