// Tests for adapters/http_client.h against a local scripted server: what goes out and comes back,
// connection reuse, transport failures as retryable errors, bad URLs as permanent ones, and the
// Retry-After and body-excerpt helpers.
#include <catch2/catch.hpp>
#include <chrono>

#include "adapters/http_client.h"
#include "tests/adapters/scripted_http_server.h"
#include "tests/support/process.h"

using herald::ErrorKind;
using herald::HttpClient;
using herald::HttpClientOptions;
using herald::HttpClientPool;
using herald::HttpRequest;
using herald::test::ScriptedHttpServer;
using herald::test::ScriptedRequest;
using herald::test::ScriptedResponse;
using namespace std::chrono_literals;

namespace {

HttpRequest request_to(const std::string& url, std::string method = "GET", std::string body = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.url = url;
  request.body = std::move(body);
  request.connect_timeout = 2000ms;
  request.total_timeout = 5000ms;
  return request;
}

ScriptedResponse echo(const ScriptedRequest& request) {
  return {200,
          {{"X-Echo-Method", request.method},
           {"X-Echo-Target", request.target},
           {"X-Echo-Token", request.header("x-token")}},
          request.body};
}

}  // namespace

TEST_CASE("HttpClient sends the method, headers and body and returns status, headers and body",
          "[adapters][http_client]") {
  ScriptedHttpServer server(echo);
  HttpClient client;

  SECTION("a POST with a body and custom headers") {
    auto request = request_to(server.url() + "/hooks/a?x=1", "POST", R"({"k":"v"})");
    request.headers = {{"X-Token", "t-1"}, {"Content-Type", "application/json"}};
    auto response = client.send(request);
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(response->body == R"({"k":"v"})");
    // Names come back lower-cased, whatever case the server used.
    CHECK(response->header("x-echo-method") == "POST");
    CHECK(response->header("x-echo-target") == "/hooks/a?x=1");
    CHECK(response->header("x-echo-token") == "t-1");
    CHECK(response->header("X-Echo-Method").empty());
    const auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].header("content-type") == "application/json");
    CHECK(seen[0].header("user-agent") == "herald/0.1");
    CHECK(seen[0].header("expect").empty());
  }

  SECTION("a GET, then a DELETE and a PUT on the same client: no options leak between them") {
    auto get = client.send(request_to(server.url() + "/one"));
    REQUIRE(get.ok());
    CHECK(get->header("x-echo-method") == "GET");
    auto del = client.send(request_to(server.url() + "/two", "DELETE"));
    REQUIRE(del.ok());
    CHECK(del->header("x-echo-method") == "DELETE");
    auto put = client.send(request_to(server.url() + "/three", "PUT", "body"));
    REQUIRE(put.ok());
    CHECK(put->header("x-echo-method") == "PUT");
    CHECK(put->body == "body");
    auto get_again = client.send(request_to(server.url() + "/four"));
    REQUIRE(get_again.ok());
    CHECK(get_again->header("x-echo-method") == "GET");
    CHECK(get_again->body.empty());
  }
}

TEST_CASE("HttpClient returns any HTTP status as a response for the caller to classify",
          "[adapters][http_client]") {
  const int status = GENERATE(404, 429, 500, 503);
  ScriptedHttpServer server([status](const ScriptedRequest&) {
    return ScriptedResponse{status, {{"Retry-After", "7"}}, "nope"};
  });
  HttpClient client;
  auto response = client.send(request_to(server.url() + "/x"));
  REQUIRE(response.ok());
  CHECK(response->status == status);
  CHECK(response->header("retry-after") == "7");
  CHECK(response->body == "nope");
}

TEST_CASE("HttpClient keeps its connection open across requests", "[adapters][http_client]") {
  ScriptedHttpServer server(echo);

  SECTION("one client") {
    HttpClient client;
    for (int i = 0; i < 3; ++i) REQUIRE(client.send(request_to(server.url() + "/r")).ok());
    CHECK(server.connections_accepted() == 1);
  }

  SECTION("a moved client keeps its connection") {
    HttpClient first;
    REQUIRE(first.send(request_to(server.url() + "/r")).ok());
    HttpClient second = std::move(first);
    REQUIRE(second.send(request_to(server.url() + "/r")).ok());
    CHECK(server.connections_accepted() == 1);
    CHECK(first.send(request_to(server.url() + "/r")).error().kind == ErrorKind::permanent);
  }

  SECTION("a pool used by one caller at a time") {
    HttpClientPool pool;
    for (int i = 0; i < 3; ++i) REQUIRE(pool.send(request_to(server.url() + "/r")).ok());
    CHECK(server.connections_accepted() == 1);
    CHECK(pool.idle_count() == 1);
  }
}

TEST_CASE("HttpClient reports transport failures as retryable curl errors",
          "[adapters][http_client]") {
  HttpClient client;

  SECTION("connection refused") {
    const int port = herald::test::free_tcp_port();  // nothing listens there
    auto response = client.send(request_to("http://127.0.0.1:" + std::to_string(port) + "/"));
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::retryable);
    CHECK(response.error().code == "curl_7");
    CHECK_THAT(response.error().message, Catch::StartsWith("curl: "));
  }

  SECTION("a server that accepts a POST and never answers: ambiguous, it may have acted") {
    herald::test::SilentListener silent;
    auto request = request_to(silent.url(), "POST", "{}");
    request.total_timeout = 300ms;
    auto response = client.send(request);
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::ambiguous);
    CHECK(response.error().code == "curl_28");
    CHECK_THAT(response.error().message, Catch::StartsWith("curl: "));
    CHECK_THAT(response.error().message, Catch::Contains("may have acted"));
  }

  SECTION("a GET that is never answered changes nothing: retryable") {
    herald::test::SilentListener silent;
    auto request = request_to(silent.url());
    request.total_timeout = 300ms;
    auto response = client.send(request);
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::retryable);
    CHECK(response.error().code == "curl_28");
  }

  SECTION("a host name that does not resolve") {
    auto request = request_to("http://no-such-host.invalid/");
    request.connect_timeout = 1000ms;
    auto response = client.send(request);
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::retryable);
  }
}

TEST_CASE("HttpClient refuses malformed URLs and schemes other than http and https",
          "[adapters][http_client]") {
  HttpClient client;
  const std::string url =
      GENERATE(as<std::string>{}, "http://exa mple.com/", "http://[::1/", "ftp://127.0.0.1/file",
               "file:///etc/passwd", "gopher://127.0.0.1/");
  CAPTURE(url);
  auto response = client.send(request_to(url));
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::permanent);
  CHECK_THAT(response.error().message, Catch::StartsWith("curl: "));
}

TEST_CASE("HttpClient refuses a response body above its limit", "[adapters][http_client]") {
  ScriptedHttpServer server([](const ScriptedRequest&) {
    return ScriptedResponse{200, {}, std::string(1000, 'x')};
  });
  HttpClientOptions options;
  options.max_response_bytes = 100;
  HttpClient client(options);
  auto response = client.send(request_to(server.url() + "/big"));
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::permanent);
  CHECK(response.error().code == "response_too_large");

  HttpClient roomy;
  auto fine = roomy.send(request_to(server.url() + "/big"));
  REQUIRE(fine.ok());
  CHECK(fine->body.size() == 1000);
}

TEST_CASE("parse_retry_after reads delay-seconds and all three HTTP-date forms",
          "[adapters][http_client]") {
  herald::TimePoint now{};
  REQUIRE(herald::parse_rfc3339("1994-11-06T08:49:00+00:00", now));
  using herald::parse_retry_after;

  SECTION("delay-seconds") {
    CHECK(parse_retry_after("120", now) == std::chrono::milliseconds(120000));
    CHECK(parse_retry_after(" 0 ", now) == std::chrono::milliseconds(0));
    CHECK(parse_retry_after("999999999999", now) == herald::kMaxRetryAfter);
    CHECK(parse_retry_after("172800", now) == herald::kMaxRetryAfter);
  }
  SECTION("HTTP-dates, 37 seconds after now") {
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 37s);
    CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == 37s);
    CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", now) == 37s);
  }
  SECTION("a date in the past means now") {
    CHECK(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now) == 0s);
  }
  SECTION("malformed values") {
    for (const char* bad :
         {"", "soon", "-5", "1.5", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 31 Feb 1994 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
          "Sun, 06 Nov 1994 08:49 GMT",
          // past 2262, beyond a 64-bit nanosecond clock: refused (it overflowed once)
          "Fri, 31 Dec 9999 23:59:59 GMT"}) {
      CAPTURE(bad);
      CHECK_FALSE(parse_retry_after(bad, now).has_value());
    }
  }
}

TEST_CASE("body_excerpt keeps at most the given bytes without splitting a UTF-8 character",
          "[adapters][http_client]") {
  CHECK(herald::body_excerpt("short", 200) == "short");
  CHECK(herald::body_excerpt(std::string(300, 'a'), 200) == std::string(200, 'a') + "...");
  // "安" is three bytes: cutting at 4 would split the second one.
  CHECK(herald::body_excerpt("安安安", 4) == "安...");
  CHECK(herald::body_excerpt("安安安", 6) == "安安...");
}
