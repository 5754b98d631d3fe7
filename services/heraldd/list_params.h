// Query parameters shared by the list routes (items, dead letters): the page size, the opaque
// cursor (a ZSET score and member, so a page starts after a position, not at an offset, and
// entries added meanwhile never shift or repeat what a client has already paged through), and
// the 400 naming a bad parameter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "core/result.h"
#include "services/common/http_server.h"

namespace herald {

inline constexpr int kDefaultListLimit = 50;
inline constexpr int kMaxListLimit = 200;

struct ListCursor {
  std::int64_t score = 0;  // a ZSET score in ms (creation or death time)
  std::string member;      // the ZSET member (item or delivery id)
};

std::string encode_cursor(const ListCursor& cursor);
// nullopt when `text` is not a cursor this server issued.
std::optional<ListCursor> decode_cursor(const std::string& text);

// 400 {"error": {"code": "invalid_parameter", "field": name}}.
ServerResponse bad_parameter(const std::string& name, const std::string& problem);

// The first query parameter not in `known`, if any.
std::optional<std::string> unknown_parameter(const ServerRequest& request,
                                             std::initializer_list<const char*> known);

// limit (1 .. kMaxListLimit, default kDefaultListLimit) and cursor from the query; the error is
// the 400 to answer.
struct PageParams {
  int limit = kDefaultListLimit;
  std::optional<ListCursor> cursor;
};
Result<PageParams> page_params(const ServerRequest& request);

}  // namespace herald
