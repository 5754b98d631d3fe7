// Redaction of secrets in text that is about to be shown: a URL is printed in errors, logs and
// answers, and its user-info or query may carry a password.
#pragma once

#include <string>
#include <string_view>

namespace herald {

// `url` with the password of its user-info replaced by "***" ("redis://user:***@host:6379/0",
// "redis://***@host" for a bare password) and the values of query parameters that name a secret
// (password, pass, secret, token, access_token, key) replaced likewise. Text that is not a URL
// comes back unchanged.
std::string redact_url(std::string_view url);

}  // namespace herald
