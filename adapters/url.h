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

}  // namespace herald
