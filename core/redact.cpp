#include "core/redact.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace herald {
namespace {

bool names_secret(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kSecretNames = {
      "password", "pass", "secret", "token", "access_token", "key"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kSecretNames.begin(), kSecretNames.end(), lower) != kSecretNames.end();
}

}  // namespace

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::size_t authority_begin = scheme_end + 3;
  std::string out(url.substr(0, authority_begin));
  // The last '@' anywhere ends the user-info: a password may hold an unencoded '@', '/' or '?',
  // and hiding too much (an '@' in a query value) is the safe mistake.
  std::size_t host_begin = authority_begin;
  if (const auto at = url.rfind('@'); at != std::string_view::npos && at >= authority_begin) {
    const std::string_view userinfo = url.substr(authority_begin, at - authority_begin);
    const auto colon = userinfo.find(':');
    out += colon == std::string_view::npos ? std::string("***")
                                           : std::string(userinfo.substr(0, colon)) + ":***";
    out += '@';
    host_begin = at + 1;
  }
  const std::size_t authority_end = std::min(url.find_first_of("/?#", host_begin), url.size());
  out += url.substr(host_begin, authority_end - host_begin);
  std::string_view rest = url.substr(authority_end);
  const auto query = rest.find('?');
  out += rest.substr(0, query);
  if (query == std::string_view::npos) return out;
  rest.remove_prefix(query + 1);
  out += '?';
  const auto fragment = rest.find('#');
  std::string_view params = rest.substr(0, fragment);
  bool first = true;
  while (true) {
    const auto amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && names_secret(pair.substr(0, eq))) {
      out += std::string(pair.substr(0, eq)) + "=***";
    } else {
      out += pair;
    }
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  if (fragment != std::string_view::npos) out += rest.substr(fragment);
  return out;
}

}  // namespace herald
