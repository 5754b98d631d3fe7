#include "queue/stats_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/digest.h"
#include "core/item.h"
#include "queue/audit_log.h"
#include "queue/delivery_queue.h"
#include "queue/lua_scripts.h"

namespace herald {
namespace {

// Longest period a query or reconciliation may span: a century of yearly hashes per channel.
constexpr int kMaxYears = 100;
// Ledger keys per SCAN step and per pipelined HMGET batch in reconcile(): bounded, so neither
// Redis nor this process ever handles the whole ledger at once.
constexpr int kScanCount = 1000;

const RedisScript kCountItemScript("stats_count_item", std::string(lua::kStatsCountItem));

const RedisScript kImportItemScript("stats_import_item", std::string(lua::kStatsImportItem));

const RedisScript kImportDeliveryScript("stats_import_delivery",
                                        std::string(lua::kStatsImportDelivery));

const RedisScript kRollUpMonthsScript("stats_roll_up_months", std::string(lua::kStatsRollUpMonths));

std::optional<long long> to_number(const std::string& text) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool is_day(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  const std::chrono::year_month_day date{std::chrono::year(std::stoi(text.substr(0, 4))),
                                         std::chrono::month(std::stoi(text.substr(5, 2))),
                                         std::chrono::day(std::stoi(text.substr(8, 2)))};
  return date.ok();
}

Error invalid_param(const std::string& name, const std::string& message) {
  return Error::invalid(name, message);
}

// A counter field split into its parts: "<period>|<category>|<kind>[|<level>]", the period a day
// "yyyy-mm-dd" (day hashes) or a month "yyyy-mm" (their month rollups). Views into the field.
struct ParsedField {
  std::string_view period, category, kind, level;
};

std::optional<ParsedField> parse_field(std::string_view field) {
  std::string_view parts[4];
  std::size_t n = 0;
  while (true) {
    const auto bar = field.find('|');
    if (n == 4) return std::nullopt;
    parts[n++] = field.substr(0, bar);
    if (bar == std::string_view::npos) break;
    field.remove_prefix(bar + 1);
  }
  if (n < 3 || (parts[0].size() != 10 && parts[0].size() != 7)) return std::nullopt;
  return ParsedField{parts[0], parts[1], parts[2], n == 4 ? parts[3] : std::string_view{}};
}

// "yyyy-mm-dd|rest" → "yyyy-mm|rest": the field a day counter adds to in its month rollup (the
// scripts do the same with string.sub).
std::string month_field(const std::string& day_field) {
  return day_field.substr(0, 7) + day_field.substr(std::min<std::size_t>(10, day_field.size()));
}

// Whether a day is the last of its month ("2024-02-29" → true).
bool is_month_end(const std::string& day) {
  using namespace std::chrono;
  const year_month_day d{year(std::stoi(day.substr(0, 4))), month(std::stoi(day.substr(5, 2))),
                         std::chrono::day(std::stoi(day.substr(8, 2)))};
  return year_month_day_last(d.year(), month_day_last(d.month())).day() == d.day();
}

// The whole months in [from_day, to_day] as "yyyy-mm" bounds (first > last when there are none).
std::pair<std::string, std::string> whole_months(const std::string& from_day,
                                                 const std::string& to_day) {
  using namespace std::chrono;
  auto month_text = [](year_month ym) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ym.year()),
                  static_cast<unsigned>(ym.month()));
    return std::string(buf);
  };
  const year_month from{year(std::stoi(from_day.substr(0, 4))),
                        month(std::stoi(from_day.substr(5, 2)))};
  const year_month to{year(std::stoi(to_day.substr(0, 4))), month(std::stoi(to_day.substr(5, 2)))};
  return {month_text(from_day.substr(8) == "01" ? from : from + months(1)),
          month_text(is_month_end(to_day) ? to : to - months(1))};
}

std::map<std::string, long long> hash_of(const RedisValue& v) {
  std::map<std::string, long long> out;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    out[v.elements[i].str] = to_number(v.elements[i + 1].str).value_or(0);
  }
  return out;
}

Result<void> check_replies(const std::vector<RedisValue>& replies, const std::string& what) {
  for (const auto& r : replies) {
    if (r.is_error()) return error_from_reply(r, what);
  }
  return ok();
}

bool counts_as_item(const std::string& kind) {
  return kind == "publication" || kind == "alert";
}

// The usual CAP severity of a reminder level, for the alert block of an imported alert.
const char* severity_of_level(const std::string& level) {
  if (level == "avoid") return "Extreme";
  if (level == "reconsider") return "Severe";
  return "Moderate";
}

std::string year_of(const std::string& day) {
  return day.substr(0, 4);
}

}  // namespace

std::string stats_field(const std::string& day, const std::string& category,
                        const std::string& kind, const std::string& level) {
  std::string field = day + "|" + category + "|" + kind;
  if (!level.empty()) field += "|" + level;
  return field;
}

StatsStore::StatsStore(std::string prefix, int utc_offset_minutes)
    : prefix_(std::move(prefix)), utc_offset_minutes_(utc_offset_minutes) {}

std::string StatsStore::channel_key(const std::string& channel, const std::string& suffix) const {
  return prefix_ + "{" + channel + "}:" + suffix;
}

std::string StatsStore::items_key(const std::string& suffix) const {
  return prefix_ + "{items}:" + suffix;
}

Result<void> StatsStore::validate(const StatsQuery& q) {
  if (!is_day(q.from_day)) {
    return invalid_param("from", "expected a day yyyy-mm-dd, got \"" + q.from_day + "\"");
  }
  if (!is_day(q.to_day)) {
    return invalid_param("to", "expected a day yyyy-mm-dd, got \"" + q.to_day + "\"");
  }
  if (q.to_day < q.from_day) {
    return invalid_param("to", "must not be before from (" + q.from_day + ")");
  }
  if (std::stoi(year_of(q.to_day)) - std::stoi(year_of(q.from_day)) >= kMaxYears) {
    return invalid_param("to", "a period may span at most " + std::to_string(kMaxYears) + " years");
  }
  std::set<std::string> seen;
  const auto& names = stats_group_names();
  for (const auto& g : q.group_by) {
    if (std::find(names.begin(), names.end(), g) == names.end()) {
      return invalid_param(
          "group_by",
          "unknown grouping \"" + g + "\" (known: channel, category, kind, level, month, day)");
    }
    if (!seen.insert(g).second) {
      return invalid_param("group_by", "grouping \"" + g + "\" is named twice");
    }
  }
  return ok();
}

Result<void> StatsStore::register_channels(RedisConnection& conn,
                                           const std::vector<std::string>& channels) const {
  if (channels.empty()) return ok();
  std::vector<std::string> args = {"SADD", items_key("stats:channels")};
  args.insert(args.end(), channels.begin(), channels.end());
  auto r = conn.command(args);
  if (!r) return r.error();
  if (r->is_error()) return error_from_reply(*r, "registering channels");
  return ok();
}

Result<std::vector<std::string>> StatsStore::channels(RedisConnection& conn) const {
  auto r = conn.command({"SMEMBERS", items_key("stats:channels")});
  if (!r) return r.error();
  if (r->is_error()) return error_from_reply(*r, "reading channels");
  std::vector<std::string> out;
  for (const auto& e : r->elements) out.push_back(e.str);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<StatsRow>> StatsStore::query(RedisConnection& conn, const StatsQuery& q) const {
  if (auto valid = validate(q); !valid) return valid.error();
  auto chans = channels(conn);
  if (!chans) return chans.error();
  const int from_year = std::stoi(year_of(q.from_day));
  const int to_year = std::stoi(year_of(q.to_day));
  auto grouped = [&](const char* name) {
    return std::find(q.group_by.begin(), q.group_by.end(), name) != q.group_by.end();
  };
  const bool by_channel = grouped("channel");
  // A period of whole months, not grouped by day, reads the month rollups: at most 12 × categories
  // × kinds × levels fields per hash, so a year costs the same however many deliveries it had.
  const auto [first_month, last_month] = whole_months(q.from_day, q.to_day);
  const bool monthly = !grouped("day") && first_month == q.from_day.substr(0, 7) &&
                       last_month == q.to_day.substr(0, 7);
  const std::string suffix = monthly ? ":months" : "";
  const std::string low = monthly ? first_month : q.from_day;
  const std::string high = monthly ? last_month : q.to_day;

  // One pipelined round trip: per year the items hash, and per channel its two hashes.
  std::vector<std::vector<std::string>> commands;
  struct Source {
    std::string channel;  // "" for the items hash
    bool failed = false;
  };
  std::vector<Source> sources;
  for (int y = from_year; y <= to_year; ++y) {
    const std::string year = std::to_string(y);
    if (!by_channel) {
      commands.push_back({"HGETALL", items_key("stats:" + year + suffix)});
      sources.push_back({"", false});
    }
    for (const auto& ch : *chans) {
      commands.push_back({"HGETALL", channel_key(ch, "tally:" + year + suffix)});
      sources.push_back({ch, false});
      commands.push_back({"HGETALL", channel_key(ch, "failed:" + year + suffix)});
      sources.push_back({ch, true});
    }
  }
  std::map<std::vector<std::string>, StatsRow> rows;
  if (!commands.empty()) {
    auto replies = conn.pipeline(commands);
    if (!replies) return replies.error();
    if (auto checked = check_replies(*replies, "reading counters"); !checked) {
      return checked.error();
    }
    std::vector<std::string> key(q.group_by.size());
    for (std::size_t i = 0; i < replies->size(); ++i) {
      const Source& src = sources[i];
      const auto& fields = (*replies)[i].elements;
      for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
        const auto n = to_number(fields[f + 1].str).value_or(0);
        if (n == 0) continue;
        const auto p = parse_field(fields[f].str);
        if (!p || p->period < low || p->period > high) continue;
        for (std::size_t g = 0; g < q.group_by.size(); ++g) {
          const std::string& name = q.group_by[g];
          std::string_view value;
          if (name == "channel") value = src.channel;
          if (name == "category") value = p->category;
          if (name == "kind") value = p->kind;
          if (name == "level") value = p->level;
          if (name == "month") value = p->period.substr(0, 7);
          if (name == "day") value = p->period;
          key[g].assign(value);
        }
        auto [it, inserted] = rows.try_emplace(key);
        StatsRow& row = it->second;
        if (inserted) {
          for (std::size_t g = 0; g < q.group_by.size(); ++g) row.group[q.group_by[g]] = key[g];
        }
        if (src.channel.empty()) {
          row.items += n;
        } else if (src.failed) {
          row.failed += n;
        } else if (p->kind == "publication" || p->kind == "alert") {
          row.deliveries += n;
          // An item has one delivery per channel: per channel, its items are its deliveries.
          if (by_channel) row.items += n;
        } else if (p->kind == "correction") {
          row.corrected += n;
        } else if (p->kind == "retraction") {
          row.retracted += n;
        }
      }
    }
  }
  std::vector<StatsRow> out;
  out.reserve(rows.size());
  for (auto& [key, row] : rows) out.push_back(std::move(row));
  if (q.group_by.empty() && out.empty()) out.emplace_back();
  return out;
}

Result<int> StatsStore::build_month_rollups(RedisConnection& conn) const {
  const std::string done_key = items_key("stats:month_rollups");
  auto done = conn.command({"EXISTS", done_key});
  if (!done) return done.error();
  if (done->is_error()) return error_from_reply(*done, "checking the month rollups");
  if (done->integer == 1) return 0;

  int built = 0;
  const std::string year = "[0-9][0-9][0-9][0-9]";
  for (const std::string& pattern :
       {"{*}:tally:" + year, "{*}:failed:" + year, "{items}:stats:" + year}) {
    std::string cursor = "0";
    do {
      auto scan = conn.command({"SCAN", cursor, "MATCH", glob_escape(prefix_) + pattern, "COUNT",
                                std::to_string(kScanCount)});
      if (!scan) return scan.error();
      if (scan->is_error()) return error_from_reply(*scan, "scanning the counters");
      if (scan->elements.size() != 2) return Error::permanent("unexpected SCAN reply");
      cursor = scan->elements[0].str;
      std::vector<RedisScript::Call> calls;
      for (const auto& k : scan->elements[1].elements)
        calls.push_back({{k.str, k.str + ":months"}, {}});
      if (calls.empty()) continue;
      auto replies = kRollUpMonthsScript.run_many(conn, calls);
      if (!replies) return replies.error();
      if (auto checked = check_replies(*replies, "building month rollups"); !checked) {
        return checked.error();
      }
      built += static_cast<int>(calls.size());
    } while (cursor != "0");
  }
  auto marked = conn.command({"SET", done_key, std::to_string(built)});
  if (!marked) return marked.error();
  if (marked->is_error()) return error_from_reply(*marked, "marking the month rollups built");
  return built;
}

Result<int> StatsStore::settle_first_publications(RedisConnection& conn, const std::string& channel,
                                                  std::chrono::milliseconds older_than,
                                                  int limit) const {
  const std::string pending_key = channel_key(channel, "firstpub");
  std::string max = "+inf";
  if (older_than.count() > 0) {
    max = std::to_string(to_unix_ms(std::chrono::system_clock::now()) - older_than.count());
  }
  auto pending = conn.command({"ZRANGEBYSCORE", pending_key, "-inf", max, "WITHSCORES", "LIMIT",
                               "0", std::to_string(std::max(1, limit))});
  if (!pending) return pending.error();
  if (pending->is_error()) return error_from_reply(*pending, "reading pending item counts");
  if (pending->elements.empty()) return 0;

  // What an item count needs, from the member itself ("<delivery id>|<item id>|<category>|<kind>|
  // <level>", as complete.lua writes it) or, for a plain delivery id, from the ledger.
  struct Pending {
    std::string item_id, category, kind, level, published;
  };
  std::vector<Pending> found;
  std::vector<std::vector<std::string>> ledger_reads;
  for (std::size_t i = 0; i + 1 < pending->elements.size(); i += 2) {
    const std::string& member = pending->elements[i].str;
    std::vector<std::string> parts;
    for (std::size_t from = 0;;) {
      const std::size_t bar = member.find('|', from);
      parts.push_back(member.substr(from, bar - from));
      if (bar == std::string::npos) break;
      from = bar + 1;
    }
    if (parts.size() == 5) {
      found.push_back({parts[1], parts[2], parts[3], parts[4], pending->elements[i + 1].str});
    } else {
      ledger_reads.push_back({"HMGET", channel_key(channel, "d:" + member), "item_id", "category",
                              "kind", "level", "published_at", "state", "exercise"});
    }
  }
  if (!ledger_reads.empty()) {
    auto ledgers = conn.pipeline(ledger_reads);
    if (!ledgers) return ledgers.error();
    if (auto checked = check_replies(*ledgers, "reading ledgers"); !checked) return checked.error();
    for (const auto& l : *ledgers) {
      auto at = [&](std::size_t i) { return i < l.elements.size() ? l.elements[i].str : ""; };
      // Not a counted publication (should not be here): just dropped from the pending set.
      if (at(5) != "published" || at(6) == "1") continue;
      found.push_back({at(0), at(1), at(2), at(3), at(4)});
    }
  }

  RedisScript::Call count;
  count.args = {items_key("stats:")};
  for (const Pending& p : found) {
    const auto published = to_number(p.published);
    if (p.item_id.empty() || !published || !counts_as_item(p.kind)) continue;
    const std::string day = tally_day(from_unix_ms(*published), utc_offset_minutes_);
    count.keys.push_back(items_key("item:" + p.item_id));
    count.keys.push_back(items_key("first_pub:" + p.item_id));
    count.args.insert(
        count.args.end(),
        {std::to_string(*published), stats_field(day, p.category, p.kind, p.level), year_of(day)});
  }
  if (!count.keys.empty()) {
    auto counted = kCountItemScript.run(conn, count.keys, count.args);
    if (!counted) return counted.error();
    if (counted->is_error()) return error_from_reply(*counted, "counting items");
  }
  // Only now: had this process died before, the entries would still be pending for recovery.
  std::vector<std::string> zrem = {"ZREM", pending_key};
  for (std::size_t i = 0; i + 1 < pending->elements.size(); i += 2) {
    zrem.push_back(pending->elements[i].str);
  }
  auto removed = conn.command(zrem);
  if (!removed) return removed.error();
  if (removed->is_error()) return error_from_reply(*removed, "clearing pending item counts");
  return static_cast<int>(pending->elements.size() / 2);
}

Result<ReconcileReport> StatsStore::reconcile(RedisConnection& conn, const std::string& from_day,
                                              const std::string& to_day) const {
  if (auto valid = validate(StatsQuery{from_day, to_day, {}}); !valid) return valid.error();
  ReconcileReport report;
  auto chans = channels(conn);
  if (!chans) return chans.error();
  for (const auto& ch : *chans) {
    while (true) {
      auto settled = settle_first_publications(conn, ch, std::chrono::milliseconds(0), 500);
      if (!settled) return settled.error();
      report.settled += *settled;
      if (*settled < 500) break;
    }
  }

  // What the counters should hold, from the ledger: channel → field → n.
  std::map<std::string, std::map<std::string, long long>> tally, failed;
  struct FirstPub {
    long long at = 0;
    std::string category, kind, level;
  };
  std::unordered_map<std::string, FirstPub> first;
  std::set<std::string> ledger_channels;
  auto in_period = [&](std::string_view day) { return day >= from_day && day <= to_day; };
  const auto [first_month, last_month] = whole_months(from_day, to_day);
  // clang before 16 cannot capture a structured binding.
  auto in_whole_months = [&first = first_month, &last = last_month](std::string_view month) {
    return month >= first && month <= last;
  };

  const std::string pattern = glob_escape(prefix_) + "{*}:d:*";
  std::string cursor = "0";
  do {
    auto scan =
        conn.command({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanCount)});
    if (!scan) return scan.error();
    if (scan->is_error()) return error_from_reply(*scan, "scanning the ledger");
    if (scan->elements.size() != 2) return Error::permanent("unexpected SCAN reply");
    cursor = scan->elements[0].str;
    std::vector<std::vector<std::string>> reads;
    for (const auto& k : scan->elements[1].elements) {
      reads.push_back({"HMGET", k.str, "item_id", "channel", "state", "category", "kind", "level",
                       "exercise", "published_at", "failed_at", "not_counted"});
    }
    if (reads.empty()) continue;
    auto ledgers = conn.pipeline(reads);
    if (!ledgers) return ledgers.error();
    if (auto checked = check_replies(*ledgers, "reading ledgers"); !checked) {
      return checked.error();
    }
    for (const auto& l : *ledgers) {
      auto at = [&](std::size_t i) { return i < l.elements.size() ? l.elements[i].str : ""; };
      const std::string item_id = at(0), channel = at(1), state = at(2), category = at(3),
                        kind = at(4), level = at(5);
      if (channel.empty() || at(6) == "1") continue;  // not a ledger, or a drill
      ++report.ledger_entries;
      ledger_channels.insert(channel);
      if (const auto died = to_number(at(8))) {
        const std::string day = tally_day(from_unix_ms(*died), utc_offset_minutes_);
        if (in_period(day)) ++failed[channel][stats_field(day, category, kind, level)];
      }
      const auto published = to_number(at(7));
      if (state != "published" || !published || at(9) == "1") continue;
      const std::string day = tally_day(from_unix_ms(*published), utc_offset_minutes_);
      if (in_period(day)) ++tally[channel][stats_field(day, category, kind, level)];
      if (counts_as_item(kind)) {
        auto [it, inserted] =
            first.try_emplace(item_id, FirstPub{*published, category, kind, level});
        if (!inserted && *published < it->second.at) it->second.at = *published;
      }
    }
  } while (cursor != "0");
  std::map<std::string, long long> items;
  for (const auto& [id, f] : first) {
    const std::string day = tally_day(from_unix_ms(f.at), utc_offset_minutes_);
    if (in_period(day)) ++items[stats_field(day, f.category, f.kind, f.level)];
  }
  std::set<std::string> all_channels(chans->begin(), chans->end());
  all_channels.insert(ledger_channels.begin(), ledger_channels.end());
  // Each month rollup inside the period should hold the sum of its days' counters.
  auto add_month_rollups = [&](std::map<std::string, long long>& fields) {
    std::map<std::string, long long> months;
    for (const auto& [f, n] : fields) {
      if (in_whole_months(std::string_view(f).substr(0, 7))) months[month_field(f)] += n;
    }
    fields.insert(months.begin(), months.end());
  };
  add_month_rollups(items);
  for (const auto& ch : all_channels) {
    add_month_rollups(tally[ch]);
    add_month_rollups(failed[ch]);
  }

  // What the counters hold: the day hashes and their month rollups.
  std::vector<std::vector<std::string>> commands;
  struct Source {
    std::string counter, channel;
  };
  std::vector<Source> sources;
  for (int y = std::stoi(year_of(from_day)); y <= std::stoi(year_of(to_day)); ++y) {
    for (const std::string& year : {std::to_string(y), std::to_string(y) + ":months"}) {
      commands.push_back({"HGETALL", items_key("stats:" + year)});
      sources.push_back({"items", ""});
      for (const auto& ch : all_channels) {
        commands.push_back({"HGETALL", channel_key(ch, "tally:" + year)});
        sources.push_back({"deliveries", ch});
        commands.push_back({"HGETALL", channel_key(ch, "failed:" + year)});
        sources.push_back({"failed", ch});
      }
    }
  }
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  if (auto checked = check_replies(*replies, "reading counters"); !checked) return checked.error();
  std::map<std::pair<std::string, std::string>, std::map<std::string, long long>> counted;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    auto& into = counted[{sources[i].counter, sources[i].channel}];
    for (const auto& [field, n] : hash_of((*replies)[i])) {
      const auto p = parse_field(field);
      if (n == 0 || !p) continue;
      if (p->period.size() == 10 ? in_period(p->period) : in_whole_months(p->period)) {
        into[field] += n;
      }
    }
  }
  auto compare = [&](const std::string& counter, const std::string& channel,
                     const std::map<std::string, long long>& expected) {
    const auto& have = counted[{counter, channel}];
    std::set<std::string> fields;
    for (const auto& [f, n] : expected) fields.insert(f);
    for (const auto& [f, n] : have) fields.insert(f);
    for (const auto& f : fields) {
      const auto e = expected.count(f) ? expected.at(f) : 0;
      const auto h = have.count(f) ? have.at(f) : 0;
      if (e != h) report.differences.push_back({counter, channel, f, h, e});
    }
  };
  compare("items", "", items);
  for (const auto& ch : all_channels) {
    compare("deliveries", ch, tally[ch]);
    compare("failed", ch, failed[ch]);
  }
  report.ok = report.differences.empty();
  return report;
}

std::string StatsStore::import_item_id(const ImportRecord& record) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  // The same record always gets the same id: the time part as new_item_id() makes it (so ids
  // still sort by time), the rest from a hash of everything the record says.
  std::string canonical = std::to_string(to_unix_ms(record.published_at)) + "\n" + record.category +
                          "\n" + record.kind + "\n" + record.level + "\n";
  for (const auto& ch : record.channels) canonical += ch + ";";
  canonical += "\n" + record.title + "\n" + record.link + "\n";
  for (const auto& [ch, id] : record.remote_ids) canonical += ch + "=" + id + ";";
  const std::string hash = sha256_hex(canonical);
  std::uint64_t ms =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_unix_ms(record.published_at)));
  std::string id(26, '0');
  for (int i = 9; i >= 0; --i) {
    id[i] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  for (int i = 10; i < 26; ++i) {
    const int nibble =
        std::stoi(hash.substr(static_cast<std::size_t>(2 * (i - 10)), 2), nullptr, 16);
    id[i] = kAlphabet[nibble & 31];
  }
  return id;
}

Result<ImportSummary> StatsStore::import_records(RedisConnection& conn,
                                                 const std::vector<ImportRecord>& records,
                                                 const std::string& who, bool dry_run) const {
  ImportSummary summary;
  summary.rows = static_cast<int>(records.size());
  std::map<std::string, int> row_of_id;
  std::vector<std::vector<std::string>> exists;
  for (const auto& r : records) {
    const std::string id = import_item_id(r);
    if (auto [it, inserted] = row_of_id.emplace(id, r.row); !inserted) {
      return Error::invalid("row " + std::to_string(r.row),
                            "row " + std::to_string(r.row) + " repeats row " +
                                std::to_string(it->second) + " exactly");
    }
    summary.item_ids.push_back(id);
    exists.push_back({"EXISTS", items_key("item:" + id)});
  }
  if (records.empty()) return summary;
  auto existing = conn.pipeline(exists);
  if (!existing) return existing.error();
  if (auto checked = check_replies(*existing, "looking up imported items"); !checked) {
    return checked.error();
  }
  std::set<std::string> new_channels;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if ((*existing)[i].integer == 1) {
      ++summary.already_imported;
      continue;
    }
    const ImportRecord& r = records[i];
    ++summary.new_items;
    ++summary.items_by_year[year_of(tally_day(r.published_at, utc_offset_minutes_))];
    for (const auto& ch : r.channels) {
      ++summary.deliveries_by_channel[ch];
      ++summary.deliveries;
      new_channels.insert(ch);
    }
  }
  if (dry_run) return summary;

  // Every row is written, even one whose item exists: an import cut short by a crash is
  // completed by importing the file again (each script below is a no-op when already done).
  std::set<std::string> all_channels;
  for (const auto& r : records) all_channels.insert(r.channels.begin(), r.channels.end());
  if (auto reg = register_channels(conn, {all_channels.begin(), all_channels.end()}); !reg) {
    return reg.error();
  }
  const std::string now = std::to_string(to_unix_ms(std::chrono::system_clock::now()));
  const std::string retention = std::to_string(kDefaultAuditRetention.count());
  const AuditLog audit(prefix_);
  std::vector<RedisScript::Call> item_calls, delivery_calls, count_calls;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const ImportRecord& r = records[i];
    const std::string& id = summary.item_ids[i];
    const std::string ms = std::to_string(to_unix_ms(r.published_at));
    const std::string day = tally_day(r.published_at, utc_offset_minutes_);
    const std::string field = stats_field(day, r.category, r.kind, r.level);
    Item item;
    item.id = id;
    item.kind = r.kind == "alert" ? ItemKind::alert : ItemKind::publication;
    item.category = category_from_string(r.category).value_or(Category::work_news);
    item.title = r.title;
    item.link = r.link;
    item.channels = r.channels;
    item.author = who;
    item.created_at = r.published_at;
    if (item.kind == ItemKind::alert) {
      AlertInfo alert;
      alert.level = r.level;
      alert.severity = severity_of_level(r.level);
      alert.urgency = "Unknown";
      alert.certainty = "Unknown";
      // The record names no country: "ZZ" is ISO 3166's code for an unknown one.
      alert.areas.push_back({"ZZ", "导入的历史记录，未载明地区"});
      item.alert = std::move(alert);
    }
    item.extra["imported"] = true;
    item_calls.push_back({{items_key("item:" + id), items_key("by_time"), audit.item_log(id)},
                          {id, item_to_json(item).dump(), who, ms, r.kind, retention, now}});
    for (const auto& ch : r.channels) {
      const std::string did = delivery_id_for(id, ch);
      const auto remote = r.remote_ids.find(ch);
      delivery_calls.push_back(
          {{channel_key(ch, "d:" + did), channel_key(ch, "tally:" + year_of(day)),
            channel_key(ch, std::string(kAuditKeyPart) + did),
            channel_key(ch, "tally:" + year_of(day) + ":months")},
           {did, id, ch, r.kind == "alert" ? "alert" : "routine", r.category, r.kind, r.level, ms,
            remote == r.remote_ids.end() ? "" : remote->second, field, who, retention, now}});
    }
    count_calls.push_back({{items_key("item:" + id), items_key("first_pub:" + id)},
                           {items_key("stats:"), ms, field, year_of(day)}});
  }
  // Items first, so the item counts below always find the item's hash to mark.
  for (const auto* batch : {&item_calls, &delivery_calls, &count_calls}) {
    const RedisScript& script = batch == &item_calls       ? kImportItemScript
                                : batch == &delivery_calls ? kImportDeliveryScript
                                                           : kCountItemScript;
    for (std::size_t start = 0; start < batch->size(); start += kScanCount) {
      std::vector<RedisScript::Call> chunk(
          batch->begin() + static_cast<std::ptrdiff_t>(start),
          batch->begin() +
              static_cast<std::ptrdiff_t>(std::min(batch->size(), start + kScanCount)));
      auto replies = script.run_many(conn, chunk);
      if (!replies) return replies.error();
      if (auto checked = check_replies(*replies, "importing records"); !checked) {
        return checked.error();
      }
    }
  }
  return summary;
}

}  // namespace herald
