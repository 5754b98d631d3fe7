// Tests for adapters/webhook/: the pure parts (response classification, signature, body, config
// validation) and the channel end to end, against herald-sim (a careful receiver that checks the
// signature and dedupes by Idempotency-Key) and against a scripted server for exact answers.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>
#include <thread>

#include "adapters/webhook/webhook_channel.h"
#include "core/digest.h"
#include "tests/adapters/scripted_http_server.h"
#include "tests/adapters/settings_problems.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/test_time.h"

using herald::Delivery;
using herald::ErrorKind;
using herald::WebhookChannel;
using herald::WebhookSettings;
using herald::test::ScriptedHttpServer;
using herald::test::ScriptedRequest;
using herald::test::ScriptedResponse;
using herald::test::time_at;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "s3cret-for-tests";

Delivery delivery_for(const std::string& item_id, int attempt = 1) {
  Delivery d;
  d.item_id = item_id;
  d.channel = "webhook";
  d.id = herald::delivery_id_for(item_id, "webhook");
  d.kind = herald::DeliveryKind::alert;
  d.category = "overseas_safety";
  d.attempt = attempt;
  d.payload = json{{"id", item_id}, {"kind", "alert"}, {"title", "泰国南部安全提醒"}}.dump();
  return d;
}

WebhookSettings settings_for(const std::string& url, const std::string& secret = kSecret) {
  WebhookSettings s;
  s.url = url;
  s.secret = secret;
  s.connect_timeout = 2000ms;
  s.timeout = 5000ms;
  return s;
}

// herald-sim on a kernel-chosen port; the URL is read from its "listening on" line. The sim is
// stopped and its log directory removed when the test is done with it.
struct Sim {
  std::string dir;
  herald::test::ChildProcess process;
  std::string url;

  Sim() = default;
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;
  ~Sim() {
    process.kill_now();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

std::unique_ptr<Sim> start_sim(const std::vector<std::string>& extra_args) {
  auto sim = std::make_unique<Sim>();
  sim->dir = herald::test::make_temp_dir("adapters-sim");
  const std::string log = sim->dir + "/herald-sim.log";
  std::vector<std::string> argv = {HERALD_SIM_PATH, "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  sim->process = herald::test::ChildProcess::spawn(argv, {}, log);
  const std::string marker = "herald-sim listening on ";
  const bool up = herald::test::wait_until(
      [&] {
        std::ifstream in(log);
        std::string line;
        while (std::getline(in, line)) {
          const auto at = line.find(marker);
          if (at != std::string::npos && !in.eof()) {  // a whole line, not one being written
            sim->url = line.substr(at + marker.size());
            return true;
          }
        }
        return !sim->process.running();
      },
      10s);
  std::ifstream in(log);
  const std::string log_text((std::istreambuf_iterator<char>(in)), {});
  INFO("herald-sim log: " << log_text);
  REQUIRE(up);
  REQUIRE_FALSE(sim->url.empty());
  return sim;
}

json sim_items(const std::unique_ptr<Sim>& sim) {
  return herald::test::sim_published(sim->url, "webhook").at("items");
}

}  // namespace

TEST_CASE("classify_webhook_response maps statuses onto error kinds", "[adapters][webhook]") {
  const auto now = time_at("2026-11-29T08:00:00+00:00");
  using herald::classify_webhook_response;

  SECTION("2xx is success; the remote id is the body's id when it has one") {
    auto with_id = classify_webhook_response(200, "", R"({"id": "wh-9", "duplicate": false})", now);
    REQUIRE(with_id.ok());
    CHECK(with_id->remote_id == "wh-9");
    auto numeric = classify_webhook_response(201, "", R"({"id": 42})", now);
    REQUIRE(numeric.ok());
    CHECK(numeric->remote_id == "42");
    for (const char* body : {"", "accepted", "[1,2]", R"({"ok": true})", R"({"id": null})"}) {
      auto no_id = classify_webhook_response(204, "", body, now);
      REQUIRE(no_id.ok());
      CHECK(no_id->remote_id.empty());
    }
  }

  SECTION("429 is deferred, with Retry-After in seconds or as an HTTP-date") {
    auto seconds = classify_webhook_response(429, "120", "slow down", now);
    REQUIRE_FALSE(seconds.ok());
    CHECK(seconds.error().kind == ErrorKind::deferred);
    CHECK(seconds.error().retry_after == 120s);
    CHECK(seconds.error().code == "http_429");

    auto date = classify_webhook_response(429, "Sun, 29 Nov 2026 08:01:30 GMT", "", now);
    REQUIRE_FALSE(date.ok());
    CHECK(date.error().kind == ErrorKind::deferred);
    CHECK(date.error().retry_after == 90s);

    auto none = classify_webhook_response(429, "", "", now);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().kind == ErrorKind::deferred);
    CHECK_FALSE(none.error().retry_after.has_value());

    auto garbage = classify_webhook_response(429, "whenever", "", now);
    REQUIRE_FALSE(garbage.ok());
    CHECK(garbage.error().kind == ErrorKind::deferred);
    CHECK_FALSE(garbage.error().retry_after.has_value());
  }

  SECTION("408 and 5xx are retryable, honouring Retry-After when given") {
    for (long status : {408L, 500L, 502L, 503L, 504L, 599L}) {
      CAPTURE(status);
      auto result = classify_webhook_response(status, "", "busy", now);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ErrorKind::retryable);
      CHECK(result.error().code == "http_" + std::to_string(status));
      CHECK_FALSE(result.error().retry_after.has_value());
    }
    auto with_wait = classify_webhook_response(503, "5", "", now);
    REQUIRE_FALSE(with_wait.ok());
    CHECK(with_wait.error().kind == ErrorKind::retryable);
    CHECK(with_wait.error().retry_after == 5s);
  }

  SECTION("other 4xx are permanent, with the status and the first 200 bytes of the body") {
    const std::string body = std::string(200, 'e') + "TAIL";
    for (long status : {400L, 401L, 403L, 404L, 409L, 410L, 413L, 422L}) {
      CAPTURE(status);
      auto result = classify_webhook_response(status, "30", body, now);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ErrorKind::permanent);
      CHECK_THAT(result.error().message, Catch::Contains("HTTP " + std::to_string(status)));
      CHECK_THAT(result.error().message, Catch::Contains(std::string(200, 'e')));
      CHECK_THAT(result.error().message, !Catch::Contains("TAIL"));
    }
  }

  SECTION("1xx and 3xx are permanent: the URL is wrong") {
    for (long status : {101L, 301L, 302L, 307L}) {
      CAPTURE(status);
      auto result = classify_webhook_response(status, "", "", now);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ErrorKind::permanent);
    }
  }
}

TEST_CASE("webhook_signature is sha256= and the lower-case hex HMAC-SHA256 of timestamp.body",
          "[adapters][webhook]") {
  // RFC 4231 test case 2 checks the HMAC itself...
  CHECK(herald::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // ...and openssl the signed text: printf '%s' '1765000000.{"a":1}' | openssl dgst -sha256
  // -hmac s3cret.
  CHECK(herald::webhook_signature("s3cret", 1765000000, R"({"a":1})") ==
        "sha256=f54d269257fc57d4e645d2742512e7d2cca0c852f18441066c457b735c9b4e43");
}

TEST_CASE("webhook_body wraps the item JSON with the delivery's identity", "[adapters][webhook]") {
  const Delivery d = delivery_for("it-7", 3);
  auto body = herald::webhook_body(d);
  REQUIRE(body.ok());
  const json parsed = json::parse(*body);
  CHECK(parsed.at("delivery_id") == "it-7.webhook");
  CHECK(parsed.at("item_id") == "it-7");
  CHECK(parsed.at("channel") == "webhook");
  CHECK(parsed.at("attempt") == 3);
  CHECK(parsed.at("item") == json::parse(d.payload));
  CHECK(parsed.size() == 5);

  SECTION("without the drafter's name, which stays inside the office") {
    Delivery authored = d;
    json item = json::parse(d.payload);
    item["author"] = "zhang.wei";
    item["source"] = "外交部";  // an extra field travels on
    authored.payload = item.dump();
    auto sent_text = herald::webhook_body(authored);
    REQUIRE(sent_text.ok());
    CHECK(sent_text->find("zhang.wei") == std::string::npos);
    const json sent = json::parse(*sent_text);
    CHECK_FALSE(sent.at("item").contains("author"));
    CHECK(sent.at("item").at("source") == "外交部");
  }

  Delivery broken = d;
  broken.payload = "{not json";
  auto bad = herald::webhook_body(broken);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == ErrorKind::permanent);
}

TEST_CASE("parse_webhook_settings reads the section and names the key of any problem",
          "[adapters][webhook]") {
  const std::string path = "channels.webhook";

  SECTION("a minimal section gets the defaults") {
    auto s = herald::parse_webhook_settings(
        json{{"url", "https://desk.example.cn/hooks/herald"}, {"secret", "k"}}, path);
    REQUIRE(s.ok());
    CHECK(s->url == "https://desk.example.cn/hooks/herald");
    CHECK(s->secret == "k");
    CHECK(s->timeout == 10000ms);
    CHECK(s->connect_timeout == 3000ms);
    CHECK(s->headers.empty());
  }

  SECTION("every key set") {
    auto s = herald::parse_webhook_settings(json{{"url", "http://127.0.0.1:8080/hooks/x"},
                                                 {"secret", "k"},
                                                 {"timeout_ms", 2500},
                                                 {"connect_timeout_ms", 400},
                                                 {"headers", {{"X-Desk", "cctv"}, {"X-B", ""}}}},
                                            path);
    REQUIRE(s.ok());
    CHECK(s->timeout == 2500ms);
    CHECK(s->connect_timeout == 400ms);
    CHECK(s->headers ==
          std::vector<std::pair<std::string, std::string>>{{"X-B", ""}, {"X-Desk", "cctv"}});
  }

  SECTION("the secret from a file") {
    const std::string dir = herald::test::make_temp_dir("webhook-secret");
    std::ofstream(dir + "/secret") << "from-file\n";
    auto s = herald::parse_webhook_settings(
        json{{"url", "https://x.example/"}, {"secret_file", dir + "/secret"}}, path);
    std::filesystem::remove_all(dir);
    REQUIRE(s.ok());
    CHECK(s->secret == "from-file");
  }

  SECTION("problems") {
    const json base = {{"url", "https://x.example/h"}, {"secret", "k"}};
    const herald::test::SectionVariants v{base};
    const std::vector<herald::test::SettingsProblem> cases = {
        {v.without("url"), "channels.webhook.url", "required"},
        {v.with("url", 5), "channels.webhook.url", "string"},
        {v.with("url", "ftp://x.example/h"), "channels.webhook.url", "http"},
        {v.with("url", "https://"), "channels.webhook.url", "http"},
        {v.with("url", "https://x.example/a b"), "channels.webhook.url", "http"},
        {v.without("secret"), "channels.webhook.secret", "required"},
        {v.with("secret", ""), "channels.webhook.secret", "empty"},
        {v.with("secret_file", "/nonexistent/secret"), "channels.webhook.secret", "not both"},
        {v.with("timeout_ms", 0), "channels.webhook.timeout_ms", "between"},
        {v.with("timeout_ms", "10s"), "channels.webhook.timeout_ms", "integer"},
        {v.with("connect_timeout_ms", -1), "channels.webhook.connect_timeout_ms", "between"},
        {v.with("headers", json::array()), "channels.webhook.headers", "object"},
        {v.with("headers", {{"X-Desk", 1}}), "channels.webhook.headers.X-Desk", "string"},
        {v.with("headers", {{"Bad Name", "v"}}), "channels.webhook.headers.Bad Name",
         "header name"},
        {v.with("headers", {{"idempotency-key", "v"}}), "channels.webhook.headers.idempotency-key",
         "set by Herald"},
        {v.with("headers", {{"X-Sig", "a\r\nX-Evil: 1"}}), "channels.webhook.headers.X-Sig",
         "line breaks"},
        {v.with("urll", "https://typo/"), "channels.webhook.urll", "unknown key"},
    };
    herald::test::check_settings_problems(
        cases, [&](const json& section) { return herald::parse_webhook_settings(section, path); },
        "\"k\"");
  }

  SECTION("a secret never appears in a message") {
    auto s =
        herald::parse_webhook_settings(json{{"url", "gopher://x/"}, {"secret", "hunter2"}}, path);
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error().message, !Catch::Contains("hunter2"));
  }
}

TEST_CASE("WebhookChannel publishes to herald-sim with a valid signature and idempotency key",
          "[adapters][webhook][sim]") {
  // With --webhook-secret the sim refuses (401) a body whose signature does not match.
  auto sim = start_sim({"--webhook-secret", kSecret});
  herald::SystemClock clock;
  WebhookChannel channel(settings_for(sim->url + "/hooks/media-desk"), clock);
  const Delivery d = delivery_for("it-100");

  auto receipt = channel.publish(d);
  REQUIRE(receipt.ok());
  json items = sim_items(sim);
  REQUIRE(items.size() == 1);
  const json& seen = items[0];
  CHECK(receipt->remote_id == seen.at("id"));
  CHECK(seen.at("name") == "media-desk");
  CHECK(seen.at("idempotency_key") == d.idempotency_key());
  CHECK(seen.at("headers").at("x-herald-delivery") == d.id);
  CHECK(seen.at("headers").at("content-type") == "application/json");
  CHECK_THAT(seen.at("signature").get<std::string>(), Catch::StartsWith("sha256="));
  CHECK(seen.at("body").at("delivery_id") == d.id);
  CHECK(seen.at("body").at("item") == json::parse(d.payload));

  SECTION("a retry of the same delivery is recognised by its key, not published twice") {
    auto again = channel.publish(delivery_for("it-100", 2));
    REQUIRE(again.ok());
    CHECK(again->remote_id == receipt->remote_id);
    CHECK(sim_items(sim).size() == 1);
  }

  SECTION("a wrong secret is refused by the receiver: permanent") {
    WebhookChannel wrong(settings_for(sim->url + "/hooks/media-desk", "not-the-secret"), clock);
    auto refused = wrong.publish(delivery_for("it-101"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::permanent);
    CHECK(refused.error().code == "http_401");
    CHECK_THAT(refused.error().message, Catch::Contains("bad_signature"));
    CHECK(sim_items(sim).size() == 1);
  }
}

TEST_CASE("WebhookChannel classifies herald-sim's faults", "[adapters][webhook][sim]") {
  herald::SystemClock clock;

  SECTION("5xx is retryable and nothing is recorded") {
    auto sim = start_sim({"--faults", "webhook:5xx=1.0"});
    WebhookChannel channel(settings_for(sim->url + "/hooks/d"), clock);
    auto result = channel.publish(delivery_for("it-200"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::retryable);
    CHECK_THAT(result.error().code, Catch::Equals("http_500") || Catch::Equals("http_503"));
    CHECK(sim_items(sim).empty());
  }

  SECTION("fail_next=2: two retryable failures, then the same delivery succeeds") {
    auto sim = start_sim({"--faults", "webhook:fail_next=2"});
    WebhookChannel channel(settings_for(sim->url + "/hooks/d"), clock);
    for (int attempt = 1; attempt <= 2; ++attempt) {
      auto failed = channel.publish(delivery_for("it-201", attempt));
      REQUIRE_FALSE(failed.ok());
      CHECK(failed.error().kind == ErrorKind::retryable);
    }
    auto third = channel.publish(delivery_for("it-201", 3));
    REQUIRE(third.ok());
    const json items = sim_items(sim);
    REQUIRE(items.size() == 1);
    CHECK(items[0].at("body").at("attempt") == 3);
  }

  SECTION("429 is deferred with the sim's Retry-After") {
    auto sim = start_sim({"--faults", "webhook:429=1.0,retry_after_s=7"});
    WebhookChannel channel(settings_for(sim->url + "/hooks/d"), clock);
    auto result = channel.publish(delivery_for("it-202"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().retry_after == 7s);
  }

  SECTION("a path the sim does not serve is a permanent 4xx") {
    auto sim = start_sim({});
    WebhookChannel channel(settings_for(sim->url + "/hooks/a/b"), clock);
    auto result = channel.publish(delivery_for("it-203"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK_THAT(result.error().message, Catch::Contains("HTTP 404"));
  }
}

TEST_CASE("WebhookChannel sends exactly the documented request", "[adapters][webhook]") {
  ScriptedHttpServer server([](const ScriptedRequest&) {
    return ScriptedResponse{202, {}, R"({"id": "desk-77"})"};
  });
  herald::SystemClock clock;
  WebhookSettings settings = settings_for(server.url() + "/in");
  settings.headers = {{"X-Desk", "cctv-13"}};
  WebhookChannel channel(settings, clock);
  const Delivery d = delivery_for("it-300", 4);

  auto receipt = channel.publish(d);
  REQUIRE(receipt.ok());
  CHECK(receipt->remote_id == "desk-77");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const ScriptedRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/in");
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.header("idempotency-key") == "herald-it-300.webhook");
  CHECK(r.header("x-herald-delivery") == "it-300.webhook");
  CHECK(r.header("x-herald-signature") ==
        "sha256=" +
            herald::hmac_sha256_hex(kSecret, r.header("x-herald-timestamp") + "." + r.body));
  CHECK(r.header("x-desk") == "cctv-13");
  CHECK(json::parse(r.body) == json::parse(*herald::webhook_body(d)));
}

TEST_CASE("WebhookChannel classifies exact answers and transport failures", "[adapters][webhook]") {
  herald::SystemClock clock;

  SECTION("2xx without an id records the Idempotency-Key as the remote id") {
    ScriptedHttpServer server([](const ScriptedRequest&) { return ScriptedResponse{204, {}, ""}; });
    WebhookChannel channel(settings_for(server.url() + "/in"), clock);
    auto receipt = channel.publish(delivery_for("it-400"));
    REQUIRE(receipt.ok());
    CHECK(receipt->remote_id == "herald-it-400.webhook");
  }

  SECTION("429 with Retry-After in seconds") {
    ScriptedHttpServer server([](const ScriptedRequest&) {
      return ScriptedResponse{429, {{"Retry-After", "30"}}, R"({"error": "too many"})"};
    });
    WebhookChannel channel(settings_for(server.url() + "/in"), clock);
    auto result = channel.publish(delivery_for("it-401"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().retry_after == 30s);
  }

  SECTION("a 4xx is permanent with the status and the body in the message") {
    ScriptedHttpServer server([](const ScriptedRequest&) {
      return ScriptedResponse{422, {}, R"({"error": "title missing"})"};
    });
    WebhookChannel channel(settings_for(server.url() + "/in"), clock);
    auto result = channel.publish(delivery_for("it-402"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK_THAT(result.error().message, Catch::Contains("HTTP 422"));
    CHECK_THAT(result.error().message, Catch::Contains("title missing"));
  }

  SECTION("connection refused is retryable") {
    const int port = herald::test::free_tcp_port();
    WebhookChannel channel(settings_for("http://127.0.0.1:" + std::to_string(port) + "/in"), clock);
    auto result = channel.publish(delivery_for("it-403"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::retryable);
    CHECK_THAT(result.error().message, Catch::StartsWith("curl: "));
  }

  SECTION("a receiver that never answers times out: ambiguous (the resend carries the same key)") {
    herald::test::SilentListener silent;
    WebhookSettings settings = settings_for(silent.url());
    settings.timeout = 300ms;
    WebhookChannel channel(settings, clock);
    auto result = channel.publish(delivery_for("it-404"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::ambiguous);
    CHECK(result.error().code == "curl_28");
  }
}

TEST_CASE("WebhookChannel can be called from several threads at once", "[adapters][webhook]") {
  ScriptedHttpServer server([](const ScriptedRequest& r) {
    const json body = json::parse(r.body);
    return ScriptedResponse{
        200, {}, json{{"id", "r-" + body.at("item_id").get<std::string>()}}.dump()};
  });
  herald::SystemClock clock;
  WebhookChannel channel(settings_for(server.url() + "/in"), clock);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::vector<std::string>> remote_ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string item = "it-" + std::to_string(t) + "-" + std::to_string(i);
        auto receipt = channel.publish(delivery_for(item));
        remote_ids[t].push_back(receipt ? receipt->remote_id : "error: " + receipt.error().message);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      CHECK(remote_ids[t][i] == "r-it-" + std::to_string(t) + "-" + std::to_string(i));
    }
  }
  const auto requests = server.requests();
  CHECK(requests.size() == kThreads * kPerThread);
  for (const auto& r : requests) {
    CHECK(r.header("x-herald-signature") ==
          "sha256=" +
              herald::hmac_sha256_hex(kSecret, r.header("x-herald-timestamp") + "." + r.body));
  }
  // Connections are reused: never more than one per concurrent caller.
  CHECK(server.connections_accepted() <= kThreads);
}
