#include "core/item.h"

#include <algorithm>
#include <cctype>

#include "core/json_fields.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr ItemKind kItemKinds[] = {ItemKind::publication, ItemKind::alert};
constexpr Category kCategories[] = {Category::regulation, Category::work_news, Category::personnel,
                                    Category::finance, Category::overseas_safety};

// Offset of the first byte that makes `text` ill-formed UTF-8 (Unicode 15, table 3-7), or npos.
std::size_t utf8_error_offset(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates U+D800..U+DFFF
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;  // a stray continuation byte, C0/C1 (overlong) or F5..FF
    }
    if (i + 1 >= n || s[i + 1] < low || s[i + 1] > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (i + k >= n || s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

// True if `text` holds nothing but white space, counting the Unicode spaces that CJK text and
// copy-paste from word processors bring along (U+00A0, U+2000..U+200B, U+3000, U+FEFF).
bool is_blank(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::string_view rest = text.substr(i);
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
      i += 1;
    } else if (rest.starts_with("\xC2\xA0")) {
      i += 2;
    } else if (rest.size() >= 3 && rest.starts_with("\xE2\x80") &&
               static_cast<unsigned char>(rest[2]) <= 0x8B) {
      i += 3;
    } else if (rest.starts_with("\xE3\x80\x80") || rest.starts_with("\xEF\xBB\xBF")) {
      i += 3;
    } else {
      return false;
    }
  }
  return true;
}

// Why code point `cp` may not appear in submitted text (see unsafe_text), or nullptr.
// `crlf` says whether a CR is followed by LF.
const char* unsafe_code_point(char32_t cp, bool crlf) {
  if (cp == '\t' || cp == '\n') return nullptr;
  if (cp == '\r') return crlf ? nullptr : "a carriage return not followed by a line feed";
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return "a control character";
  if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) return "a Unicode non-character";
  return nullptr;
}

std::string code_point_name(char32_t cp) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string hex;
  for (char32_t v = cp; v != 0 || hex.size() < 4; v >>= 4) hex.insert(hex.begin(), kDigits[v & 15]);
  return "U+" + hex;
}

// Every string and key of `value`, at any depth, through unsafe_text(); the first refusal is
// recorded at its JSON path.
void check_texts(FieldReader& r, const json& value, const std::string& path) {
  if (!r.ok()) return;
  if (value.is_string()) {
    if (auto problem = unsafe_text(value.get_ref<const std::string&>())) r.fail_at(path, *problem);
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.items()) {
      const std::string element_path = join_path(path, key);
      if (auto problem = unsafe_text(key)) {
        r.fail_at(element_path, "the key itself " + *problem);
        return;
      }
      check_texts(r, element, element_path);
      if (!r.ok()) return;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size() && r.ok(); ++i) {
      check_texts(r, value[i], index_path(path, i));
    }
  }
}

bool is_http_url(std::string_view url) {
  std::string lower(url.substr(0, 8));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t host_start = 0;
  if (lower.starts_with("https://")) {
    host_start = 8;
  } else if (lower.starts_with("http://")) {
    host_start = 7;
  } else {
    return false;
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7F) return false;
  }
  const std::string_view host =
      url.substr(host_start, url.find_first_of("/?#", host_start) - host_start);
  return !host.empty() && host.front() != ':' && host.front() != '@';
}

bool is_country_code(std::string_view code) {
  return code.size() == 2 &&
         std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

void check_size(FieldReader& r, std::string_view key, const std::string& text,
                std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    r.fail(key, "is " + std::to_string(text.size()) + " bytes long; the limit is " +
                    std::to_string(max_bytes));
  }
}

// A string field that may be absent (""), with a byte limit.
std::string limited_string(FieldReader& r, std::string_view key, std::size_t max_bytes) {
  std::string text = r.string(key, "");
  check_size(r, key, text, max_bytes);
  return text;
}

std::optional<TimePoint> optional_time(FieldReader& r, std::string_view key) {
  const auto text = r.optional_string(key);
  if (!text) return std::nullopt;
  TimePoint t;
  if (!parse_rfc3339(*text, t)) {
    r.fail(key, "expected an RFC 3339 time with an offset, e.g. 2026-11-29T08:00:00+08:00, got " +
                    json(*text).dump());
    return std::nullopt;
  }
  return t;
}

std::vector<std::string> read_channels(FieldReader& r,
                                       const std::set<std::string>& known_channels) {
  std::string known;
  for (const auto& name : known_channels) known += (known.empty() ? "" : ", ") + name;
  const json* value = r.value("channels");
  if (!value) {
    r.fail("channels", "is required (a non-empty array of channel names: " + known + ")");
    return {};
  }
  if (!value->is_array() || value->empty()) {
    r.fail("channels", "expected a non-empty array of channel names (" + known + "), got " +
                           (value->is_array() ? std::string("[]") : json_type_name(*value)));
    return {};
  }
  std::vector<std::string> channels;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json& element = (*value)[i];
    const std::string path = index_path("channels", i);
    if (!element.is_string()) {
      r.fail_at(path, "expected a channel name, got " + json_type_name(element));
      return {};
    }
    const auto& name = element.get_ref<const std::string&>();
    if (known_channels.count(name) == 0) {
      r.fail_at(path, "unknown channel " + element.dump() + " (known: " + known + ")");
      return {};
    }
    if (std::find(channels.begin(), channels.end(), name) != channels.end()) {
      r.fail_at(path, "channel " + element.dump() + " is named twice");
      return {};
    }
    channels.push_back(name);
  }
  return channels;
}

AlertInfo read_alert(FieldReader a) {
  AlertInfo info;
  info.level = a.one_of("level", {"caution", "reconsider", "avoid"});
  info.severity = a.one_of("severity", {"Extreme", "Severe", "Moderate", "Minor", "Unknown"});
  info.urgency = a.one_of("urgency", {"Immediate", "Expected", "Future", "Past", "Unknown"});
  info.certainty = a.one_of("certainty", {"Observed", "Likely", "Possible", "Unlikely", "Unknown"});
  if (!a.has("areas")) a.fail("areas", "is required (a non-empty array of {country, desc})");
  const auto areas = a.children("areas");
  if (a.ok() && areas.empty()) a.fail("areas", "must name at least one area");
  for (FieldReader area : areas) {
    AlertArea out;
    out.country = area.string("country");
    if (area.ok() && !is_country_code(out.country)) {
      area.fail("country",
                "expected an ISO 3166-1 alpha-2 code (two upper-case letters, e.g. TH), got " +
                    json(out.country).dump());
    }
    out.desc = area.string("desc");
    if (area.ok() && is_blank(out.desc)) area.fail("desc", "must not be blank");
    info.areas.push_back(std::move(out));
  }
  info.expires = optional_time(a, "expires");
  info.hotline = a.string("hotline", "");
  return info;
}

}  // namespace

const char* to_string(ItemKind kind) {
  switch (kind) {
    case ItemKind::publication:
      return "publication";
    case ItemKind::alert:
      return "alert";
  }
  return "unknown";
}

const char* to_string(Category category) {
  switch (category) {
    case Category::regulation:
      return "regulation";
    case Category::work_news:
      return "work_news";
    case Category::personnel:
      return "personnel";
    case Category::finance:
      return "finance";
    case Category::overseas_safety:
      return "overseas_safety";
  }
  return "unknown";
}

std::optional<ItemKind> item_kind_from_string(std::string_view text) {
  for (ItemKind kind : kItemKinds) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::optional<Category> category_from_string(std::string_view text) {
  for (Category category : kCategories) {
    if (text == to_string(category)) return category;
  }
  return std::nullopt;
}

const char* alert_level_label(std::string_view level) {
  if (level == "caution") return "注意安全";
  if (level == "reconsider") return "谨慎前往";
  if (level == "avoid") return "暂勿前往";
  return "";
}

bool is_item_id(std::string_view text) {
  static constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  return text.size() == 26 && std::all_of(text.begin(), text.end(), [](char c) {
           return kAlphabet.find(c) != std::string_view::npos;
         });
}

bool is_valid_utf8(std::string_view text) {
  return utf8_error_offset(text) == std::string_view::npos;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (auto bad = utf8_error_offset(text); bad != std::string_view::npos;
       bad = utf8_error_offset(text)) {
    out.append(text.substr(0, bad));
    out.append("\xEF\xBF\xBD");  // U+FFFD for the one byte; what follows is looked at again
    text.remove_prefix(bad + 1);
  }
  out.append(text);
  return out;
}

std::optional<std::string> unsafe_text(std::string_view text) {
  if (const auto bad = utf8_error_offset(text); bad != std::string_view::npos) {
    return "is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")";
  }
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t character = 0;
  for (std::size_t i = 0; i < text.size(); ++character) {
    const unsigned char c = s[i];
    const std::size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = length == 1 ? c : c & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
    const bool crlf = i + 1 < text.size() && s[i + 1] == '\n';
    if (const char* what = unsafe_code_point(cp, crlf)) {
      return "contains " + code_point_name(cp) + " (" + what + ") at character " +
             std::to_string(character + 1) + " (byte offset " + std::to_string(i) +
             "); control characters other than tab and line ends, and Unicode non-characters, "
             "are refused";
    }
    i += length;
  }
  return std::nullopt;
}

bool is_item_link(std::string_view url) {
  return is_http_url(url);
}

Result<json> parse_json_body(std::string_view body) {
  if (const auto bad = utf8_error_offset(body); bad != std::string_view::npos) {
    Error e{ErrorKind::invalid_input,
            "the body is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")"};
    e.code = "invalid_utf8";
    return e;
  }
  return parse_json_text(body);
}

Result<Item> item_from_json(const json& j, const std::set<std::string>& known_channels,
                            const ItemLimits& limits) {
  FieldReader r(j, "");
  Item item;
  // Herald's own fields, so that a stored item reads back whole; on submission the API
  // overwrites them.
  item.id = r.string("id", "");
  item.author = r.string("author", "");
  item.created_at = optional_time(r, "created_at").value_or(TimePoint{});

  item.kind = item_kind_from_string(r.one_of("kind", {"publication", "alert"}))
                  .value_or(ItemKind::publication);
  item.category = category_from_string(r.one_of("category", {"regulation", "work_news", "personnel",
                                                             "finance", "overseas_safety"}))
                      .value_or(Category::work_news);
  item.title = r.string("title");
  if (r.ok() && is_blank(item.title)) r.fail("title", "must not be blank");
  check_size(r, "title", item.title, limits.max_title_bytes);
  item.summary = limited_string(r, "summary", limits.max_summary_bytes);
  item.body = limited_string(r, "body", limits.max_body_bytes);
  item.link = limited_string(r, "link", limits.max_link_bytes);
  if (r.ok() && !item.link.empty() && !is_http_url(item.link)) {
    r.fail("link", "expected an http:// or https:// URL, got " + json(item.link).dump());
  }
  item.channels = read_channels(r, known_channels);
  item.publish_at = optional_time(r, "publish_at");

  if (item.kind == ItemKind::alert) {
    if (!r.has("alert")) {
      r.fail("alert", "is required for an alert ({level, severity, urgency, certainty, areas})");
    }
    item.alert = read_alert(r.child("alert"));
    if (r.ok() && item.alert->expires && item.publish_at &&
        *item.alert->expires <= *item.publish_at) {
      r.fail_at("alert.expires", "must be later than publish_at");
    }
  } else if (r.has("alert")) {
    r.fail("alert", "a publication must not carry an alert block (use kind \"alert\")");
  }

  // Any value is accepted here; the content gate decides what may leave the building.
  item.classification = r.string("classification", "public");
  item.status = r.one_of("status", {"actual", "exercise"}, "actual");
  item.corrects = r.string("corrects", "");
  if (r.ok() && !item.corrects.empty() && !is_item_id(item.corrects)) {
    r.fail("corrects", "expected the id of the item this one corrects (26 characters), got " +
                           json(item.corrects).dump());
  }
  item.extra = r.rest();
  // Last, so that a field's own rule (a bad channel name, say) is what its error says.
  if (limits.check_text) check_texts(r, j, "");
  if (auto done = r.finish(); !done) return done.error();
  return item;
}

json item_to_json(const Item& item) {
  json j = json::object();
  if (!item.id.empty()) j["id"] = item.id;
  j["kind"] = to_string(item.kind);
  j["category"] = to_string(item.category);
  j["title"] = item.title;
  if (!item.summary.empty()) j["summary"] = item.summary;
  if (!item.body.empty()) j["body"] = item.body;
  if (!item.link.empty()) j["link"] = item.link;
  j["channels"] = item.channels;
  if (item.publish_at) j["publish_at"] = format_rfc3339(*item.publish_at);
  if (item.alert) {
    const AlertInfo& a = *item.alert;
    json alert = {{"level", a.level},
                  {"severity", a.severity},
                  {"urgency", a.urgency},
                  {"certainty", a.certainty},
                  {"areas", json::array()}};
    for (const auto& area : a.areas) {
      alert["areas"].push_back({{"country", area.country}, {"desc", area.desc}});
    }
    if (a.expires) alert["expires"] = format_rfc3339(*a.expires);
    if (!a.hotline.empty()) alert["hotline"] = a.hotline;
    j["alert"] = std::move(alert);
  }
  j["classification"] = item.classification;
  j["status"] = item.status;
  if (!item.corrects.empty()) j["corrects"] = item.corrects;
  if (!item.author.empty()) j["author"] = item.author;
  if (item.created_at != TimePoint{}) j["created_at"] = format_rfc3339(item.created_at);
  for (const auto& [key, value] : item.extra.items()) {
    if (!j.contains(key)) j[key] = value;  // the contract's fields win over extras
  }
  return j;
}

}  // namespace herald
