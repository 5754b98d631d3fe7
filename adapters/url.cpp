#include "adapters/url.h"

#include <algorithm>
#include <cctype>

namespace herald {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_http_url(std::string_view url) {
  const std::string prefix = ascii_lower(url.substr(0, 8));
  const std::size_t host_start =
      prefix.starts_with("https://") ? 8 : (prefix.starts_with("http://") ? 7 : 0);
  if (host_start == 0 || host_start >= url.size()) return false;
  const char first = url[host_start];
  if (first == '/' || first == '?' || first == '#' || first == ':') return false;
  return std::none_of(url.begin(), url.end(),
                      [](unsigned char c) { return c <= 0x20 || c == 0x7F; });
}

std::string form_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

std::string read_http_url(FieldReader& r, std::string_view key, bool base) {
  std::string url = r.string(key);
  if (r.ok() && !is_http_url(url)) {
    r.fail(key, "must be an http:// or https:// URL with a host and no spaces");
  }
  while (base && !url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string with_marker(std::string_view link, std::string_view marker) {
  if (marker.empty()) return std::string(link);
  const std::size_t fragment = link.find('#');
  std::string out(link.substr(0, fragment));
  out += out.find('?') == std::string::npos ? '?' : '&';
  out += marker;
  if (fragment != std::string_view::npos) out += link.substr(fragment);
  return out;
}

}  // namespace herald
