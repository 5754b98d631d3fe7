// RouteGroup: one area of the REST API (items, recall, deliveries, stats, feeds, metrics …) in
// its own class and file, so Api::handle stays a short list and each area owns its paths.
#pragma once

#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "core/result.h"
#include "services/common/http_server.h"
#include "services/heraldd/auth.h"

namespace herald {

class RouteGroup {
 public:
  virtual ~RouteGroup() = default;
  // The answer, or nullopt when `request.path` is none of this group's routes (the next group is
  // asked). `user` is null when the request had no valid token: a /v1/ route must then answer
  // 401 (require_roles does), a public route (feeds, metrics) answers anyway.
  virtual std::optional<ServerResponse> handle(const ServerRequest& request,
                                               const AuthUser* user) = 0;
};

// 401 without a user, 403 when the user has none of `roles` (`what` says what was attempted,
// e.g. "retracting items"); nullopt when the user may go on.
std::optional<ServerResponse> require_roles(const AuthUser* user,
                                            std::initializer_list<const char*> roles,
                                            const std::string& what);

// 405 naming the method to use.
ServerResponse method_not_allowed(const std::string& allowed, const std::string& path);

bool is_json_request(const ServerRequest& request);
// 415 for a body that is not declared as JSON.
ServerResponse not_json();

// Maps an Error onto the status and body the API answers with.
ServerResponse error_response(const Error& error);

// A JSON answer. Strings that are not UTF-8 (a platform's text that slipped through unrepaired)
// come out with U+FFFD instead of throwing: one bad byte must not turn an answer into a 500.
ServerResponse json_response(int status, const nlohmann::json& body);

}  // namespace herald
