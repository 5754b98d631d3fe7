#include "services/heraldd/console_routes.h"

#include <sys/random.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/digest.h"
#include "services/heraldd/routes.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kConsolePrefix = "/console/";
constexpr const char* kSignInPage = "/console/sign-in.html";
constexpr const char* kSessionPath = "/console/session";

std::string content_type_for(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".png") return "image/png";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

// Session ids and CSRF tokens: 32 bytes from the kernel's CSPRNG, as hex.
Result<std::string> random_hex() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorKind::permanent, "getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

bool is_safe_method(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

bool wants_html(const ServerRequest& request) {
  return request.header("accept").find("text/html") != std::string::npos;
}

std::string session_cookie(const ServerRequest& request, const std::string& value,
                           std::chrono::seconds max_age) {
  std::string cookie =
      std::string(kSessionCookie) + "=" + value +
      "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age.count());
  // heraldd speaks plain HTTP; TLS, when used, ends at a reverse proxy, which says so.
  if (request.header("x-forwarded-proto") == "https") cookie += "; Secure";
  return cookie;
}

ServerResponse csrf_refusal() {
  return ServerResponse::error(403, "csrf_failed",
                               "a change made with a console session needs the session's CSRF "
                               "token in the X-CSRF-Token header");
}

json session_json(const AuthUser& user, const std::string& csrf,
                  const std::set<std::string>& channels) {
  return {{"user", user.name}, {"roles", user.roles}, {"csrf_token", csrf}, {"channels", channels}};
}

}  // namespace

void add_console_security_headers(ServerResponse& response) {
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
}

std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view part(header.data() + pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return "";
}

Console::Console(ConsoleOptions options, RedisPool& redis, const Authenticator& auth,
                 ApiHandler api)
    : options_(std::move(options)), redis_(redis), auth_(auth), api_(std::move(api)) {}

Result<void> Console::load() {
  namespace fs = std::filesystem;
  if (options_.static_dir.empty()) return ok();
  std::error_code ec;
  const fs::path root(options_.static_dir);
  if (!fs::is_directory(root, ec)) {
    return Error(ErrorKind::invalid_input, "console directory not found: " + root.string());
  }
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in && !in.eof()) {
      return Error(ErrorKind::invalid_input, "cannot read " + it->path().string());
    }
    StaticFile file{content_type_for(it->path()), body.str(), ""};
    file.etag = "\"" + sha256_hex(file.body).substr(0, 32) + "\"";
    files_[fs::relative(it->path(), root).generic_string()] = std::move(file);
  }
  if (ec) return Error(ErrorKind::invalid_input, "cannot list " + root.string());
  return ok();
}

std::string Console::session_key(const std::string& session_id) const {
  // Only a hash of the id is stored: reading Redis does not hand out live sessions.
  return options_.key_prefix + "console:session:" + sha256_hex(session_id);
}

Result<std::optional<Console::Session>> Console::session_of(const ServerRequest& request) {
  const std::string id = cookie_value(request.header("cookie"), kSessionCookie);
  if (id.size() != 64) return std::optional<Session>();
  auto conn = redis_.acquire();
  if (!conn) return conn.error();
  auto reply = (*conn)->command({"GET", session_key(id)});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "reading a console session");
  if (reply->is_nil()) return std::optional<Session>();
  const json stored = json::parse(reply->str, nullptr, false);
  if (!stored.is_object() || !stored.contains("user") || !stored.contains("csrf")) {
    return std::optional<Session>();
  }
  // A user taken out of the configuration loses their sessions with their token.
  auto user = auth_.find(stored["user"].get<std::string>());
  if (!user) return std::optional<Session>();
  return std::optional<Session>(Session{*user, stored["csrf"].get<std::string>()});
}

ServerResponse Console::handle(const ServerRequest& request) {
  const std::string& path = request.path;
  if (path == kSessionPath) {
    auto response = session_route(request);
    add_console_security_headers(response);
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }
  if (path == "/console" || path.rfind(kConsolePrefix, 0) == 0) {
    auto response = serve_static(request);
    add_console_security_headers(response);
    return response;
  }
  // The REST API: a bearer token decides as before; without one, a session cookie may.
  if (!request.header("authorization").empty() || request.header("cookie").empty()) {
    return api_(request, nullptr);
  }
  auto session = session_of(request);
  if (!session) return error_response(session.error());
  if (!*session) return api_(request, nullptr);
  if (!is_safe_method(request.method) &&
      !constant_time_equal(request.header(kCsrfHeader), (*session)->csrf)) {
    return csrf_refusal();
  }
  return api_(request, &(*session)->user);
}

ServerResponse Console::serve_static(const ServerRequest& request) {
  if (request.method != "GET") return method_not_allowed("GET", request.path);
  if (request.path == "/console") {
    // The pages link to each other relatively, which works under /console/ only.
    ServerResponse r;
    r.status = 308;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Location", std::string(kConsolePrefix));
    return r;
  }
  std::string name = request.path.substr(kConsolePrefix.size());
  if (name.empty()) name = "index.html";
  const auto found = files_.find(name);
  if (found == files_.end()) {
    return ServerResponse::error(404, "not_found", "no such console page: " + request.path);
  }
  const StaticFile& file = found->second;
  const bool page = file.content_type.rfind("text/html", 0) == 0;
  // Pages other than the sign-in page are for signed-in users: a browser without a session is
  // sent to sign in rather than shown a page that could only fail.
  if (page && name != "sign-in.html") {
    auto session = session_of(request);
    if (!session) return error_response(session.error());
    if (!*session) {
      if (!wants_html(request)) {
        auto r = ServerResponse::error(401, "unauthorized", "sign in to use the console");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      }
      ServerResponse r;
      r.status = 303;
      r.content_type = "text/plain; charset=utf-8";
      r.headers.emplace_back("Location", kSignInPage);
      r.headers.emplace_back("Cache-Control", "no-store");
      r.body = "sign in first\n";
      return r;
    }
  }
  // no-cache, not max-age: the files are not named by content, so a browser revalidates each
  // time and gets a 304 while the ETag (a hash of the content) still matches.
  ServerResponse r;
  r.headers.emplace_back("ETag", file.etag);
  r.headers.emplace_back("Cache-Control", page ? "no-cache, private" : "no-cache");
  if (request.header("if-none-match") == file.etag) {
    r.status = 304;
    r.content_type = file.content_type;
    return r;
  }
  r.content_type = file.content_type;
  r.body = file.body;
  return r;
}

ServerResponse Console::session_route(const ServerRequest& request) {
  if (request.method == "POST") return sign_in(request);
  auto session = session_of(request);
  if (!session) return error_response(session.error());
  if (request.method == "GET") {
    if (!*session) return ServerResponse::error(401, "unauthorized", "not signed in");
    return json_response(200, session_json((*session)->user, (*session)->csrf, options_.channels));
  }
  if (request.method == "DELETE") {
    if (*session) {
      if (!constant_time_equal(request.header(kCsrfHeader), (*session)->csrf)) {
        return csrf_refusal();
      }
      auto conn = redis_.acquire();
      if (!conn) return error_response(conn.error());
      const std::string id = cookie_value(request.header("cookie"), kSessionCookie);
      auto reply = (*conn)->command({"DEL", session_key(id)});
      if (!reply) return error_response(reply.error());
    }
    ServerResponse r;
    r.status = 204;
    r.headers.emplace_back("Set-Cookie", session_cookie(request, "", std::chrono::seconds(0)));
    return r;
  }
  return method_not_allowed("GET, POST, DELETE", request.path);
}

ServerResponse Console::sign_in(const ServerRequest& request) {
  // JSON only: a cross-site form cannot send it, so signing someone in to another account (login
  // CSRF) needs more than a form on another site; SameSite=Strict does the rest.
  if (!is_json_request(request)) return not_json();
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("token") || !body["token"].is_string()) {
    return ServerResponse::error(422, "validation_failed", "\"token\" (a string) is required",
                                 "token");
  }
  auto user = auth_.authenticate("Bearer " + body["token"].get<std::string>());
  if (!user) return ServerResponse::error(401, "unauthorized", "unknown token", "token");
  auto id = random_hex();
  if (!id) return error_response(id.error());
  auto csrf = random_hex();
  if (!csrf) return error_response(csrf.error());
  const json stored = {{"user", user->name}, {"csrf", *csrf}};
  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  auto reply = (*conn)->command(
      {"SET", session_key(*id), stored.dump(), "EX", std::to_string(options_.session_ttl.count())});
  if (!reply) return error_response(reply.error());
  if (reply->is_error()) return error_response(error_from_reply(*reply, "storing a session"));
  auto r = json_response(200, session_json(*user, *csrf, options_.channels));
  r.headers.emplace_back("Set-Cookie", session_cookie(request, *id, options_.session_ttl));
  return r;
}

}  // namespace herald
