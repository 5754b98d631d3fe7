#include "services/heraldd/list_params.h"

#include <cctype>

namespace herald {
namespace {

bool is_member_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

}  // namespace

std::string encode_cursor(const ListCursor& cursor) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  auto value = static_cast<std::uint64_t>(cursor.score);
  do {
    hex.insert(hex.begin(), kHex[value & 15]);
    value >>= 4;
  } while (value != 0);
  return hex + "~" + cursor.member;
}

std::optional<ListCursor> decode_cursor(const std::string& text) {
  const auto tilde = text.find('~');
  if (tilde == std::string::npos || tilde == 0 || tilde > 15 || tilde + 1 == text.size() ||
      text.size() - tilde - 1 > 200) {
    return std::nullopt;
  }
  ListCursor cursor;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < tilde; ++i) {
    const char c = text[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<std::uint64_t>(digit);
  }
  cursor.score = static_cast<std::int64_t>(value);
  cursor.member = text.substr(tilde + 1);
  for (char c : cursor.member) {
    if (!is_member_char(c)) return std::nullopt;
  }
  return cursor;
}

ServerResponse bad_parameter(const std::string& name, const std::string& problem) {
  return ServerResponse::error(400, "invalid_parameter", "query parameter " + name + ": " + problem,
                               name);
}

std::optional<std::string> unknown_parameter(const ServerRequest& request,
                                             std::initializer_list<const char*> known) {
  for (const auto& [name, value] : request.query) {
    bool found = false;
    for (const char* k : known) found = found || name == k;
    if (!found) return name;
  }
  return std::nullopt;
}

Result<PageParams> page_params(const ServerRequest& request) {
  PageParams out;
  auto fail = [](const char* name, const std::string& problem) {
    Error e = Error::invalid(name, problem);
    e.code = "invalid_parameter";
    return e;
  };
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    const std::string& text = it->second;
    long long value = 0;
    bool digits = !text.empty() && text.size() <= 6;
    for (char c : text) {
      digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (digits) value = value * 10 + (c - '0');
    }
    if (!digits || value < 1 || value > kMaxListLimit) {
      return fail("limit", "expected an integer from 1 to " + std::to_string(kMaxListLimit));
    }
    out.limit = static_cast<int>(value);
  }
  if (auto it = request.query.find("cursor"); it != request.query.end() && !it->second.empty()) {
    out.cursor = decode_cursor(it->second);
    if (!out.cursor) return fail("cursor", "not a cursor from a previous page's next_cursor");
  }
  return out;
}

}  // namespace herald
