#include "services/heraldd/auth.h"

#include "core/digest.h"

namespace herald {

std::optional<AuthUser> Authenticator::authenticate(const std::string& header) const {
  static constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size() || header.compare(0, kScheme.size(), kScheme) != 0) {
    return std::nullopt;
  }
  const std::string presented = sha256_hex(std::string_view(header).substr(kScheme.size()));
  const AuthUser* found = nullptr;
  for (const auto& user : users_) {  // no early exit: the time taken does not depend on the match
    if (constant_time_equal(presented, user.token_sha256)) found = &user;
  }
  if (found == nullptr) return std::nullopt;
  return *found;
}

std::optional<AuthUser> Authenticator::find(const std::string& name) const {
  for (const auto& user : users_) {
    if (user.name == name) return user;
  }
  return std::nullopt;
}

bool has_any_role(const AuthUser& user, std::initializer_list<const char*> roles) {
  for (const char* role : roles) {
    if (user.roles.count(role) != 0) return true;
  }
  return false;
}

}  // namespace herald
