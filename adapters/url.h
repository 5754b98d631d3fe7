// Small text helpers every adapter needs for URLs and header values.
#pragma once

#include <string>
#include <string_view>

#include "core/json_fields.h"

namespace herald {

// ASCII lower case (URL schemes, hosts, header names, platform codes).
std::string ascii_lower(std::string_view text);

// An http:// or https:// URL with a non-empty host and no spaces or control characters anywhere.
// Never echo a URL in an error message: it may carry a token.
bool is_http_url(std::string_view url);

// Percent-encodes everything but RFC 3986's unreserved characters: form bodies
// (application/x-www-form-urlencoded) and URL path or query parts.
std::string form_escape(std::string_view text);

// `link` with `marker` (a "key=value" query parameter, e.g. Delivery::marker) added to its query
// string, before any fragment; `link` itself when the marker is empty.
std::string with_marker(std::string_view link, std::string_view marker);

// Reads `key` of a settings section as an http(s) URL (is_http_url), failing the reader with the
// usual message otherwise. A base URL (`base`) loses its trailing slashes, so paths append to it.
std::string read_http_url(FieldReader& r, std::string_view key, bool base = false);

}  // namespace herald
