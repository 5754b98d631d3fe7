// The domain's Item: what a person approved for publication, either a routine publication or an
// overseas safety alert (with a CAP 1.2 subset). JSON mapping with validation that names the field.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/utf8.h"

namespace herald {

enum class ItemKind { publication, alert };
enum class Category { regulation, work_news, personnel, finance, overseas_safety };

const char* to_string(ItemKind kind);
const char* to_string(Category category);
// What every text of a drill (status "exercise") starts with on a channel whose drills are
// "marked", so that no reader takes it for a real alert.
inline constexpr std::string_view kDrillPrefix = "【演练】";

std::optional<ItemKind> item_kind_from_string(std::string_view text);
std::optional<Category> category_from_string(std::string_view text);

struct AlertArea {
  std::string country;  // ISO 3166-1 alpha-2, upper case
  std::string desc;     // free text, e.g. "泰国南部"
};

// The alert block of DESIGN.md §4. level is the MFA reminder level, low to high:
//   "caution" 注意安全, "reconsider" 谨慎前往, "avoid" 暂勿前往;
// severity/urgency/certainty are CAP 1.2 codes, spelled as CAP spells them ("Severe", "Immediate",
// "Likely"). The levels are not derived from severity: the duty officer chooses both (the usual
// pairing is avoid/Extreme, reconsider/Severe, caution/Moderate).
struct AlertInfo {
  std::string level;
  std::string severity;
  std::string urgency;
  std::string certainty;
  std::vector<AlertArea> areas;
  std::optional<TimePoint> expires;
  std::string hotline;  // e.g. "12308"; may be empty
};

// The Chinese name of a reminder level ("caution" → "注意安全"); "" for an unknown level.
const char* alert_level_label(std::string_view level);

struct Item {
  std::string id;  // assigned by Herald on acceptance
  ItemKind kind = ItemKind::publication;
  Category category = Category::work_news;
  std::string title;
  std::string body;
  std::string summary;
  std::string link;
  std::vector<std::string> channels;
  std::optional<TimePoint> publish_at;
  std::optional<AlertInfo> alert;
  std::string classification = "public";
  std::string status = "actual";  // "actual" or "exercise" (drills never count in the report)
  std::string author;             // user name of the submitter
  // The id of the item this one corrects ("" for an original): a correction is a new item, reviewed
  // like any other, whose deliveries are of kind "correction" (CAP: an Update of the original).
  std::string corrects;
  TimePoint created_at{};
  nlohmann::json extra = nlohmann::json::object();  // fields beyond the contract, kept as given
};

struct ItemLimits {
  std::size_t max_title_bytes = 512;
  std::size_t max_summary_bytes = 2048;
  std::size_t max_body_bytes = 256 * 1024;
  std::size_t max_link_bytes = 2048;
  // Every string (and key), extra fields included, must pass unsafe_text(). Off only where a
  // stored item is read back, so one stored before the rule existed can still be shown and
  // retracted.
  bool check_text = true;
};

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF, no
// truncated sequence).
bool is_valid_utf8(std::string_view text);

// Why `text` may not be taken into an item, or nullopt when it may. Refused, because they break
// readers and terminals downstream (XML 1.0 forbids them in feeds; escape sequences let a drafter
// show reviewers another title than the real one): ill-formed UTF-8, C0 controls other than tab
// and line feed (CR only as part of a CR LF line end), DEL, C1 controls (U+0080..U+009F), and
// Unicode non-characters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF). Unpaired surrogates never get
// here: they are ill-formed UTF-8, and JSON text escaping one is malformed JSON. The message
// names the character and its position, e.g. "contains U+001B (a control character) at
// character 5 (byte offset 4)".
std::optional<std::string> unsafe_text(std::string_view text);

// True for a link an item may carry: an absolute http:// or https:// URL with a host, and no
// white space or controls.
bool is_item_link(std::string_view url);

// Parses a request body: checks UTF-8 first (so the error says so), then JSON syntax.
// Errors are ErrorKind::invalid_input with code "invalid_utf8" or "malformed_json".
Result<nlohmann::json> parse_json_body(std::string_view body);

// True for an id new_item_id() can produce: 26 characters of Crockford base32, lower case.
bool is_item_id(std::string_view text);

// Validates a submitted item. `known_channels` are the channels enabled in config; an unknown
// channel, category, kind or time, an empty or oversize field, or a missing alert block for an
// alert gives an invalid_input Error (code "validation_failed") whose `field` names the JSON path
// (e.g. "channels[2]", "alert.areas[0].country"); the first problem found is the one reported.
// Fields beyond the contract are kept in `extra`, except inside `alert`, where an unknown key is an
// error (it would otherwise be dropped). `id`, `author` and `created_at` are read too, so a stored
// item reads back whole: the API must overwrite them on submission. With limits.check_text, a
// string anywhere in `j` that unsafe_text() refuses is an error at its path
// ("alert.areas[0].desc", "extra_notes[2].text").
Result<Item> item_from_json(const nlohmann::json& j, const std::set<std::string>& known_channels,
                            const ItemLimits& limits = {});
// The inverse of item_from_json: times in UTC+8, empty optional fields left out.
nlohmann::json item_to_json(const Item& item);

}  // namespace herald
