// Authenticator: maps "Authorization: Bearer <token>" to a configured user. Tokens are kept only as
// their SHA-256; the comparison runs in constant time and over every user, so timing says nothing.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace herald {

struct AuthUser {
  std::string name;
  std::set<std::string> roles;
  std::string token_sha256;  // lower-case hex
};

class Authenticator {
 public:
  explicit Authenticator(std::vector<AuthUser> users) : users_(std::move(users)) {}
  // The user the header's bearer token belongs to, or nullopt (missing, malformed, or unknown).
  std::optional<AuthUser> authenticate(const std::string& authorization_header) const;
  // The configured user with this name, or nullopt: for a console session, which stores the name
  // of the user who signed in rather than their token.
  std::optional<AuthUser> find(const std::string& name) const;

 private:
  std::vector<AuthUser> users_;
};

bool has_any_role(const AuthUser& user, std::initializer_list<const char*> roles);

}  // namespace herald
