#include "services/heraldd/routes.h"

#include <nlohmann/json.hpp>

namespace herald {

std::optional<ServerResponse> require_roles(const AuthUser* user,
                                            std::initializer_list<const char*> roles,
                                            const std::string& what) {
  if (user == nullptr) {
    auto r = ServerResponse::error(401, "unauthorized", "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (has_any_role(*user, roles)) return std::nullopt;
  std::string names;
  for (const char* role : roles) {
    if (!names.empty()) names += ", ";
    names += role;
  }
  return ServerResponse::error(403, "forbidden", what + " needs one of the roles: " + names);
}

ServerResponse method_not_allowed(const std::string& allowed, const std::string& path) {
  auto r = ServerResponse::error(405, "method_not_allowed", "use " + allowed + " on " + path);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

bool is_json_request(const ServerRequest& request) {
  return request.header("content-type").rfind("application/json", 0) == 0;
}

ServerResponse not_json() {
  return ServerResponse::error(415, "unsupported_media_type",
                               "the body must be JSON (Content-Type: application/json)");
}

ServerResponse error_response(const Error& error) {
  switch (error.kind) {
    case ErrorKind::invalid_input: {
      int status = 422;
      if (error.code == "malformed_json" || error.code == "invalid_utf8") status = 400;
      if (error.code == "idempotency_conflict") status = 409;
      if (error.code == "not_found") status = 404;
      if (error.code == "self_approval" || error.code == "already_reviewed" ||
          error.code == "not_pending" || error.code == "original_retracted") {
        status = 409;
      }
      return ServerResponse::error(status, error.code.empty() ? "validation_failed" : error.code,
                                   error.message, error.field);
    }
    case ErrorKind::retryable:
    case ErrorKind::deferred:
      return ServerResponse::error(
          503, "unavailable", "storage is unavailable, nothing was accepted: " + error.message);
    default:
      return ServerResponse::error(500, "internal", error.message);
  }
}

ServerResponse json_response(int status, const nlohmann::json& body) {
  return ServerResponse::json(status,
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace herald
