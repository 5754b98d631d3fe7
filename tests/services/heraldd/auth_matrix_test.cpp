// The auth matrix: every route of the REST API × {no token, a bad token, each role}, against a real
// heraldd. The routes are one table (kRoutes); a new route is one more row.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/digest.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

const std::vector<std::string> kRoles = {"drafter",   "reviewer", "duty_officer",
                                         "publisher", "compiler", "admin"};

std::string token_of(const std::string& role) {
  return "matrix-" + role + "-token";
}

// Who may call a route: a set of roles, or everyone (public routes need no token at all).
struct Route {
  std::string method;
  std::string path;  // "{item}" is replaced by a real item's id
  std::set<std::string> roles;
  bool is_public = false;
};

const std::set<std::string> kAnyRole(kRoles.begin(), kRoles.end());

// THE TABLE. Every route heraldd serves, with the roles DESIGN.md §4 gives it.
const std::vector<Route> kRoutes = {
    {"POST", "/v1/items", {"drafter", "duty_officer", "publisher"}},
    {"POST", "/v1/items:batch", {"drafter", "publisher"}},
    {"GET", "/v1/items", kAnyRole},
    {"GET", "/v1/items?kind=alert&limit=2", kAnyRole},
    {"GET", "/v1/items/{item}", kAnyRole},
    {"GET", "/v1/items/{item}/audit", kAnyRole},
    {"POST", "/v1/items/{item}/approvals", {"reviewer", "duty_officer"}},
    {"GET", "/v1/deliveries/dead", {"admin", "duty_officer"}},
    {"POST", "/v1/deliveries/no-such-item.webhook/replay", {"admin", "duty_officer"}},
    {"POST", "/v1/items/{item}/retract", {"duty_officer"}},
    {"POST", "/v1/items/{item}/corrections", {"duty_officer", "drafter"}},
    {"GET", "/v1/stats", {"compiler", "admin"}},
    {"GET", "/v1/stats/reconcile", {"compiler", "admin"}},
    {"GET", "/v1/reports/annual?year=2026", {"compiler", "admin"}},
    {"POST", "/v1/imports", {"admin", "compiler"}},
    {"GET", "/healthz", {}, true},
    {"GET", "/readyz", {}, true},
    {"GET", "/metrics", {}, true},
};

json matrix_config(const std::string& prefix, const std::string& sim_url) {
  json config = test_config(prefix, sim_url);
  json users = json::array();
  for (const auto& role : kRoles) {
    users.push_back({{"name", "only-" + role},
                     {"roles", {role}},
                     {"token_sha256", sha256_hex(token_of(role))}});
  }
  config["auth"]["users"] = users;
  return config;
}

std::string route_name(const Route& route) {
  return route.method + " " + route.path;
}

// The body sent to allowed callers: valid JSON that no route accepts as is, so nothing is created
// beyond the one item the fixture submits (auth is checked before the body).
const char* kProbeBody = "{}";

void check_error_body(const HttpResponse& r) {
  INFO(r.body);
  const json body = json::parse(r.body, nullptr, false);
  REQUIRE(body.is_object());
  REQUIRE(body.contains("error"));
  CHECK(body["error"].at("code").is_string());
  CHECK_FALSE(body["error"].at("message").get<std::string>().empty());
}

bool route_missing(const HttpResponse& r) {
  if (r.status != 404) return false;
  const json body = json::parse(r.body, nullptr, false);
  return body.is_object() && body.contains("error") &&
         body["error"].value("message", "").rfind("no such route", 0) == 0;
}

void check_route(const std::string& base, const Route& route, const std::string& item_id) {
  std::string path = route.path;
  if (auto at = path.find("{item}"); at != std::string::npos) path.replace(at, 6, item_id);
  const std::string url = base + path;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"}};
  const std::string body = route.method == "POST" ? kProbeBody : "";

  struct Caller {
    std::string name;
    std::string token;
  };
  std::vector<Caller> callers = {{"no token", ""}, {"a bad token", "not-a-valid-token"}};
  for (const auto& role : kRoles) callers.push_back({role, token_of(role)});

  for (const auto& caller : callers) {
    INFO(route_name(route) << " as " << caller.name);
    const HttpResponse r = http(route.method, url, caller.token, body, headers);
    INFO("status " << r.status << ": " << r.body);
    if (route.is_public) {
      CHECK(r.status == 200);
      continue;
    }
    CHECK_FALSE(route_missing(r));
    const bool anonymous = caller.token.empty() || caller.name == "a bad token";
    if (anonymous) {
      CHECK(r.status == 401);
      CHECK(r.header("www-authenticate") == "Bearer");
    } else if (route.roles.count(caller.name) == 0) {
      CHECK(r.status == 403);
    } else {
      CHECK(r.status != 401);
      CHECK(r.status != 403);
      CHECK(r.status < 500);
    }
    if (r.status >= 400) check_error_body(r);
  }
}

}  // namespace

TEST_CASE(
    "every route answers 401 without a valid token, 403 to a role it does not serve, and "
    "serves its roles",
    "[api][auth]") {
  const std::string prefix = unique_key_prefix("matrix");
  const std::string dir = make_temp_dir("matrix");
  SimHandle sim = start_sim();
  HeralddHandle daemon = start_heraldd(matrix_config(prefix, sim.url), dir);

  json item = sample_alert();
  auto created = http("POST", daemon.url + "/v1/items", token_of("drafter"), item.dump(),
                      {{"Content-Type", "application/json"}});
  REQUIRE(created.status == 201);
  const std::string id = json_of(created).at("id");

  for (const auto& route : kRoutes) check_route(daemon.url, route, id);

  SECTION("a path under /v1/ that is no route is 401 without a token and 404 with one") {
    CHECK(http("GET", daemon.url + "/v1/nothing-here").status == 401);
    const auto r = http("GET", daemon.url + "/v1/nothing-here", token_of("admin"));
    CHECK(r.status == 404);
    check_error_body(r);
  }
  SECTION("a malformed Authorization header is a bad token") {
    for (const std::string& header :
         {"Basic " + token_of("admin"), std::string("Bearer"), "bearer  " + token_of("admin")}) {
      INFO(header);
      const auto r = http("GET", daemon.url + "/v1/items", "", "", {{"Authorization", header}});
      CHECK(r.status == 401);
      check_error_body(r);
    }
  }
}
