// Small text helpers every adapter needs for URLs and header values.
#pragma once

#include <string>
#include <string_view>

namespace herald {

// ASCII lower case (URL schemes, hosts, header names, platform codes).
std::string ascii_lower(std::string_view text);

// An http:// or https:// URL with a non-empty host and no spaces or control characters anywhere.
// Never echo a URL in an error message: it may carry a token.
bool is_http_url(std::string_view url);

// Percent-encodes everything but RFC 3986's unreserved characters: form bodies
// (application/x-www-form-urlencoded) and URL path or query parts.
std::string form_escape(std::string_view text);

}  // namespace herald
