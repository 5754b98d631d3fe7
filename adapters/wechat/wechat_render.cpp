#include "adapters/wechat/wechat_render.h"

#include <algorithm>
#include <vector>

#include "adapters/url.h"
#include "core/item.h"
#include "core/markup.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kEllipsis = "…";
constexpr std::string_view kAlertPrefix = "【海外安全提醒】";

Error bad(std::string code, std::string message) {
  Error error = Error::permanent(std::move(message));
  error.code = std::move(code);
  return error;
}

std::string string_field(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// Control characters other than line breaks and tabs dropped; \r\n as \n.
std::string clean(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') continue;
      out += '\n';
    } else if (c < 0x20 && c != '\n' && c != '\t') {
      continue;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Runs of white space (line breaks included) as one space, trimmed: for one-line fields.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : clean(text)) {
    if (c == ' ' || c == '\n' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::vector<std::string> paragraphs(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : clean(text)) {
    if (c == '\n') {
      current = one_line(current);
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  current = one_line(current);
  if (!current.empty()) out.push_back(current);
  return out;
}

std::string utf8_head(std::string_view utf8, std::size_t max_chars) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    if ((static_cast<unsigned char>(utf8[i]) & 0xC0) != 0x80) {
      if (seen == max_chars) return std::string(utf8.substr(0, i));
      ++seen;
    }
  }
  return std::string(utf8);
}

struct AlertLines {
  std::string level;    // "提醒级别：谨慎前往"
  std::string areas;    // "涉及地区：泰国南部"
  std::string hotline;  // "+86-10-12308"
};

AlertLines alert_lines(const json& item) {
  AlertLines lines;
  const auto alert = item.find("alert");
  if (alert == item.end() || !alert->is_object()) return lines;
  const std::string label = alert_level_label(string_field(*alert, "level"));
  if (!label.empty()) lines.level = "提醒级别：" + label;
  const auto areas = alert->find("areas");
  if (areas != alert->end() && areas->is_array()) {
    std::string joined;
    for (const json& area : *areas) {
      if (!area.is_object()) continue;
      std::string name = one_line(string_field(area, "desc"));
      if (name.empty()) name = string_field(area, "country");
      if (name.empty()) continue;
      joined += (joined.empty() ? "" : "、") + name;
    }
    if (!joined.empty()) lines.areas = "涉及地区：" + joined;
  }
  lines.hotline = one_line(string_field(*alert, "hotline"));
  return lines;
}

Result<void> check_item(const json& item) {
  if (!item.is_object()) return bad("bad_payload", "the item is not a JSON object");
  for (const char* key : {"title", "summary", "body", "link"}) {
    if (!is_valid_utf8(string_field(item, key))) {
      return bad("bad_payload", std::string("the item's ") + key + " is not valid UTF-8");
    }
  }
  if (one_line(string_field(item, "title")).empty()) {
    return bad("bad_payload", "the item has no title");
  }
  return ok();
}

std::string item_link(const json& item) {
  const std::string link = string_field(item, "link");
  return is_http_url(link) ? link : std::string();
}

}  // namespace

std::size_t wechat_length(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string wechat_truncate(std::string_view utf8, std::size_t max_chars) {
  if (wechat_length(utf8) <= max_chars) return std::string(utf8);
  if (max_chars == 0) return std::string();
  std::string head = utf8_head(utf8, max_chars - 1);
  while (!head.empty() && (head.back() == ' ' || head.back() == '\n')) head.pop_back();
  return head + std::string(kEllipsis);
}

Result<WechatArticle> render_wechat_article(const json& item, std::string_view author,
                                            const WechatArticleLimits& limits) {
  if (auto checked = check_item(item); !checked) return checked.error();
  WechatArticle article;
  // A drill goes out only on a channel whose drills are "marked", and then no text of it may read
  // as real: the prefix is kept whole and the rest is cut to fit after it.
  const bool drill = string_field(item, "status") == "exercise";
  const std::string mark = drill ? std::string(kDrillPrefix) : std::string();
  auto marked = [&](const std::string& text, std::size_t max_chars) {
    const std::size_t used = wechat_length(mark);
    return mark + wechat_truncate(text, max_chars > used ? max_chars - used : 0);
  };
  article.title = marked(one_line(string_field(item, "title")), limits.title_chars);
  article.author = wechat_truncate(one_line(author), limits.author_chars);
  std::string digest = one_line(string_field(item, "summary"));
  if (digest.empty()) digest = one_line(string_field(item, "body"));
  article.digest = marked(digest, limits.digest_chars);
  article.content_source_url = item_link(item);

  std::vector<std::string> head;  // paragraphs that are never cut (the alert facts)
  if (drill) head.push_back(mark);
  if (string_field(item, "kind") == "alert") {
    const AlertLines lines = alert_lines(item);
    for (const std::string* line : {&lines.level, &lines.areas}) {
      if (!line->empty()) head.push_back(*line);
    }
    if (!lines.hotline.empty()) head.push_back("领事保护与服务应急热线：" + lines.hotline);
  }
  std::vector<std::string> body = paragraphs(string_field(item, "body"));
  if (body.empty()) body = paragraphs(string_field(item, "summary"));

  // Markup counts against the limit too: count what we emit.
  std::string content;
  for (const std::string& line : head)
    content += "<p><strong>" + xml_escape(line) + "</strong></p>";
  const std::string tail = article.content_source_url.empty()
                               ? std::string()
                               : "<p>详情：" + xml_escape(article.content_source_url) + "</p>";
  std::size_t room = limits.content_chars;
  const std::size_t fixed = wechat_length(content) + wechat_length(tail);
  room = room > fixed ? room - fixed : 0;
  for (const std::string& paragraph : body) {
    const std::string whole = "<p>" + xml_escape(paragraph) + "</p>";
    if (wechat_length(whole) <= room) {
      content += whole;
      room -= wechat_length(whole);
      continue;
    }
    // Cut the raw text (not the escaped one, so no entity is split) until the paragraph fits.
    std::size_t keep = std::min(wechat_length(paragraph), room);
    while (keep > 0) {
      const std::string cut = "<p>" + xml_escape(wechat_truncate(paragraph, keep)) + "</p>";
      if (wechat_length(cut) <= room) {
        content += cut;
        break;
      }
      keep = wechat_length(cut) - room < keep ? keep - (wechat_length(cut) - room) : 0;
    }
    break;
  }
  content += tail;
  article.content = std::move(content);
  return article;
}

Result<std::string> render_wechat_text(const json& item, std::size_t max_chars) {
  if (auto checked = check_item(item); !checked) return checked.error();
  const bool alert = string_field(item, "kind") == "alert";
  std::string title = one_line(string_field(item, "title"));
  std::string text = one_line(string_field(item, "summary"));
  if (text.empty()) text = one_line(string_field(item, "body"));
  std::string tail;
  if (alert) {
    const AlertLines lines = alert_lines(item);
    if (!lines.hotline.empty()) tail += "\n领保热线：" + lines.hotline;
  }
  const std::string link = item_link(item);
  if (!link.empty()) tail += "\n详情：" + link;

  // A drill's text is marked as one (see render_wechat_article); the frame below counts it.
  const std::string mark =
      string_field(item, "status") == "exercise" ? std::string(kDrillPrefix) : std::string();
  auto head_of = [&](const std::string& t) {
    return mark + (alert ? std::string(kAlertPrefix) + t : "【" + t + "】");
  };
  const std::size_t tail_length = wechat_length(tail);
  const std::size_t frame = wechat_length(head_of("")) + 1;  // the prefix and "\n" before the text
  if (frame + tail_length + 2 > max_chars) {  // at least a character of title and "…"
    return bad("text_too_long", "the fixed parts of the text (" +
                                    std::to_string(frame + tail_length) +
                                    " characters) leave no "
                                    "room for the title within " +
                                    std::to_string(max_chars));
  }
  std::size_t room = max_chars - frame - tail_length;
  title = wechat_truncate(title, room);
  room -= wechat_length(title);
  std::string out = head_of(title);
  if (!text.empty() && room > 1) out += "\n" + wechat_truncate(text, room);
  return out + tail;
}

}  // namespace herald
