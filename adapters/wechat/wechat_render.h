// What a WeChat official account shows of an item: an article for draft/add (publish mode) and a
// text for message/mass/sendall (broadcast mode), each within WeChat's limits and UTF-8 safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald {

// channel-apis.md §2.4: title ≤32 字, author ≤16 字, digest ≤128 字, content < 20 000 characters
// (and < 1 MB). "字" is taken as a Unicode code point, the strict reading.
struct WechatArticleLimits {
  std::size_t title_chars = 32;
  std::size_t author_chars = 16;
  std::size_t digest_chars = 128;
  std::size_t content_chars = 20000;
};

struct WechatArticle {
  std::string title;
  std::string author;
  std::string digest;
  std::string content;             // HTML: one <p> per paragraph, text escaped
  std::string content_source_url;  // the item's link ("阅读原文"), "" when it has no http(s) link
};

// Unicode code points in `utf8`.
std::size_t wechat_length(std::string_view utf8);
// `utf8` cut to at most `max_chars` code points, ending in "…" when something was cut; never
// splits a UTF-8 sequence.
std::string wechat_truncate(std::string_view utf8, std::size_t max_chars);

// An item (the delivery payload's JSON) as an article. Alerts get a first paragraph with the
// reminder level, the areas and the hotline. The body is cut (with "…") so the content fits; the
// title, author and digest are cut to theirs. An item without a title, or invalid UTF-8, is a
// permanent error (code "bad_payload").
Result<WechatArticle> render_wechat_article(const nlohmann::json& item, std::string_view author,
                                            const WechatArticleLimits& limits = {});

// An item as a mass-send text of at most `max_chars` code points:
//   alert:       "【海外安全提醒】<title>\n<summary|body>\n领保热线：<hotline>\n详情：<link>"
//   publication: "【<title>】\n<summary|body>\n详情：<link>"
// Only the summary/body (then, if still needed, the title) is cut with "…"; the link line stays
// whole. Errors as render_wechat_article, plus "text_too_long" when the fixed parts alone do not
// fit.
Result<std::string> render_wechat_text(const nlohmann::json& item, std::size_t max_chars);

}  // namespace herald
