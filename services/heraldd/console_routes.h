// Console: the web console's front door on the API listener. It serves the console's static files
// (services/console/) under /console/ with strict security and caching headers, turns a user's API
// token into a session cookie (POST /console/session) and lets requests carrying that cookie reach
// the REST API as that user, provided every state-changing one also carries the session's CSRF
// token. Requests with a bearer token go to the API untouched.
//
// Sessions live in Redis with a TTL rather than in signed cookies: several heraldd behind one
// address share them, and signing out (or removing a user) ends a session at once instead of when
// a signed cookie would have expired.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/result.h"
#include "queue/redis.h"
#include "services/common/http_server.h"
#include "services/heraldd/auth.h"

namespace herald {

struct ConsoleOptions {
  std::string static_dir;  // the console's files; empty or missing: no console, the API only
  std::string key_prefix;  // redis.key_prefix
  std::chrono::seconds session_ttl{std::chrono::hours(8)};
  std::set<std::string> channels;  // enabled, offered by the compose page
};

inline constexpr const char* kSessionCookie = "herald_session";
inline constexpr const char* kCsrfHeader = "x-csrf-token";

// The API as the console calls it: the request, and the session's user (null: use the bearer
// token, if any).
using ApiHandler = std::function<ServerResponse(const ServerRequest&, const AuthUser*)>;

class Console {
 public:
  Console(ConsoleOptions options, RedisPool& redis, const Authenticator& auth, ApiHandler api);

  // Reads the static files into memory (they are small, and a deploy replaces them with the
  // binary). Error if static_dir is set but cannot be read.
  Result<void> load();
  bool loaded() const { return !files_.empty(); }

  // Every request of the API listener.
  ServerResponse handle(const ServerRequest& request);

 private:
  struct StaticFile {
    std::string content_type;
    std::string body;
    std::string etag;
  };
  struct Session {
    AuthUser user;
    std::string csrf;
  };
  // The session the request's cookie names; nullopt without a cookie or for an unknown/expired
  // one; an error when Redis could not be asked.
  Result<std::optional<Session>> session_of(const ServerRequest& request);
  ServerResponse serve_static(const ServerRequest& request);
  ServerResponse session_route(const ServerRequest& request);
  ServerResponse sign_in(const ServerRequest& request);
  std::string session_key(const std::string& session_id) const;

  ConsoleOptions options_;
  RedisPool& redis_;
  const Authenticator& auth_;
  ApiHandler api_;
  std::map<std::string, StaticFile> files_;  // by path under /console/, e.g. "js/app.js"
};

// The headers every console answer carries: CSP without inline script or style, no framing, no
// MIME sniffing, no referrer.
void add_console_security_headers(ServerResponse& response);

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(const std::string& cookie_header, const std::string& name);

}  // namespace herald
