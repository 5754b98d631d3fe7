#include "services/heraldd/stats_routes.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/csv.h"
#include "core/digest.h"
#include "core/item.h"
#include "core/json_fields.h"
#include "services/heraldd/list_params.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kStatsPath = "/v1/stats";
constexpr std::string_view kReconcilePath = "/v1/stats/reconcile";
constexpr std::string_view kImportsPath = "/v1/imports";
constexpr std::size_t kMaxTitleBytes = 512;
constexpr std::size_t kMaxLinkBytes = 2048;
constexpr std::size_t kMaxChannelName = 32;

const std::vector<std::string> kImportColumns = {"published_at", "category", "kind", "level",
                                                 "channels",     "title",    "link", "remote_ids"};

std::string param(const ServerRequest& request, const std::string& name) {
  auto it = request.query.find(name);
  return it == request.query.end() ? std::string() : it->second;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

// Channels and remote ids are listed with ';' or ',' (the separator `heraldctl submit --channel`
// uses): a compiler writing the CSV by hand uses either.
std::vector<std::string> split_list(const std::string& text) {
  std::string unified = text;
  std::replace(unified.begin(), unified.end(), ',', ';');
  return split(unified, ';');
}

// The channel a typo meant ("weibp" → "weibo"), from the edit distance.
std::string suggestion(const std::string& name, const std::set<std::string>& known) {
  std::string best;
  std::size_t best_distance = 3;  // more than two edits away is not a typo
  for (const auto& k : known) {
    const std::size_t d = edit_distance(name, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

json row_json(const StatsRow& row, const std::vector<std::string>& group_by) {
  json j = json::object();
  for (const auto& g : group_by) j[g] = row.group.count(g) ? row.group.at(g) : "";
  j["items"] = row.items;
  j["deliveries"] = row.deliveries;
  j["failed"] = row.failed;
  j["retracted"] = row.retracted;
  j["corrected"] = row.corrected;
  return j;
}

// A channel name as the queue accepts it (it becomes part of Redis key names and delivery ids).
bool is_channel_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxChannelName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::chrono::year office_year(TimePoint t, int utc_offset_minutes) {
  const auto local = t + std::chrono::minutes(utc_offset_minutes);
  return std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(local)).year();
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// "yyyy-mm-dd" → 12:00 that day in the office's time zone (a date alone says nothing of the hour:
// noon keeps it on that day whatever the offset).
std::optional<TimePoint> noon_of(const std::string& day, int utc_offset_minutes) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (day[i] < '0' || day[i] > '9') return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(std::stoi(day.substr(0, 4))),
                                         std::chrono::month(std::stoi(day.substr(5, 2))),
                                         std::chrono::day(std::stoi(day.substr(8, 2)))};
  if (!date.ok()) return std::nullopt;
  return to_time_point(std::chrono::sys_days(date) + std::chrono::hours(12) -
                       std::chrono::minutes(utc_offset_minutes));
}

}  // namespace

ParsedImport parse_import_csv(const std::string& text, int utc_offset_minutes, TimePoint now,
                              const std::set<std::string>& known_channels,
                              std::size_t max_problems) {
  const std::chrono::year this_year = office_year(now, utc_offset_minutes);
  ParsedImport out;
  auto problem = [&](int row, int line, std::string column, std::string message) {
    if (out.problems.size() < max_problems) {
      out.problems.push_back({row, line, std::move(column), std::move(message)});
    }
  };
  auto table = parse_csv(text);
  if (!table) {
    problem(0, 0, "", table.error().message);
    return out;
  }
  if (table->empty()) {
    problem(0, 1, "",
            "the file is empty: a header row is required (" +
                std::string("published_at,category,kind,level,channels,title,link,"
                            "remote_ids)"));
    return out;
  }
  // The header: every column once, in any order, nothing else.
  const CsvRecord& header = table->front();
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name = trim(header.fields[i]);
    if (std::find(kImportColumns.begin(), kImportColumns.end(), name) == kImportColumns.end()) {
      problem(0, header.line, name,
              "unknown column \"" + name +
                  "\" in the header (the columns are published_at, category, kind, level, "
                  "channels, title, link, remote_ids)");
      continue;
    }
    if (!index.emplace(name, i).second) problem(0, header.line, name, "column named twice");
  }
  for (const auto& name : kImportColumns) {
    if (!index.count(name)) problem(0, header.line, name, "missing from the header row");
  }
  if (!out.problems.empty()) return out;
  if (table->size() == 1) {
    problem(0, header.line, "", "the file has a header but no records");
    return out;
  }

  for (std::size_t r = 1; r < table->size(); ++r) {
    const CsvRecord& rec = (*table)[r];
    const int row = static_cast<int>(r);
    if (rec.fields.size() != header.fields.size()) {
      problem(row, rec.line, "",
              "has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                  std::to_string(header.fields.size()));
      continue;
    }
    auto cell = [&](const std::string& name) { return trim(rec.fields[index.at(name)]); };
    const std::size_t before = out.problems.size();
    auto bad = [&](const std::string& column, const std::string& message) {
      problem(row, rec.line, column, message);
    };
    ImportRecord record;
    record.row = row;

    const std::string when = cell("published_at");
    TimePoint at{};
    if (parse_rfc3339(when, at)) {
      record.published_at = at;
    } else if (auto noon = noon_of(when, utc_offset_minutes)) {
      record.published_at = *noon;
    } else {
      bad("published_at",
          "expected RFC 3339 (2013-07-01T09:30:00+08:00) or a day yyyy-mm-dd, got \"" + when +
              "\"");
    }
    // This year's figures come from what Herald itself published; an import could inflate them.
    if (out.problems.size() == before &&
        office_year(record.published_at, utc_offset_minutes) >= this_year) {
      bad("published_at", "is in " + std::to_string(static_cast<int>(this_year)) +
                              " or later: imports are for past years only (this year is counted "
                              "from what Herald publishes)");
    }

    record.category = cell("category");
    if (!category_from_string(record.category)) {
      bad("category",
          "expected regulation, work_news, personnel, finance or overseas_safety, got \"" +
              record.category + "\"");
    }
    record.kind = cell("kind");
    if (!item_kind_from_string(record.kind)) {
      bad("kind", "expected publication or alert, got \"" + record.kind + "\"");
    }
    record.level = cell("level");
    if (record.kind == "alert" && record.level != "caution" && record.level != "reconsider" &&
        record.level != "avoid") {
      bad("level", "an alert needs its reminder level: caution, reconsider or avoid, got \"" +
                       record.level + "\"");
    }
    if (record.kind == "publication" && !record.level.empty()) {
      bad("level", "a publication has no reminder level: leave it empty");
    }

    const std::string channels = cell("channels");
    if (channels.empty()) {
      bad("channels", "name at least one channel (separated by ';' or ',')");
    }
    for (const auto& raw : channels.empty() ? std::vector<std::string>{} : split_list(channels)) {
      const std::string ch = trim(raw);
      if (!is_channel_name(ch)) {
        bad("channels", "\"" + ch + "\" is not a channel name (a-z, 0-9, _ and -)");
      } else if (known_channels.count(ch) == 0) {
        bad("channels", "unknown channel \"" + ch + "\"" + suggestion(ch, known_channels) +
                            ": neither enabled nor listed in "
                            "import.historic_channels (known: " +
                            joined(known_channels) + "; separate channels with ';' or ',')");
      } else if (std::find(record.channels.begin(), record.channels.end(), ch) !=
                 record.channels.end()) {
        bad("channels", "channel \"" + ch + "\" is named twice");
      } else {
        record.channels.push_back(ch);
      }
    }

    record.title = cell("title");
    if (record.title.empty()) bad("title", "must not be blank");
    if (auto problem = unsafe_text(record.title)) bad("title", *problem);
    if (record.title.size() > kMaxTitleBytes) {
      bad("title", "is longer than " + std::to_string(kMaxTitleBytes) + " bytes");
    }
    record.link = cell("link");
    if (!record.link.empty() &&
        (!is_item_link(record.link) || record.link.size() > kMaxLinkBytes)) {
      bad("link", "expected an http:// or https:// URL, got \"" + record.link + "\"");
    }

    const std::string remote = cell("remote_ids");
    for (const auto& raw : remote.empty() ? std::vector<std::string>{} : split_list(remote)) {
      const std::string pair = trim(raw);
      const auto eq = pair.find('=');
      const std::string ch = eq == std::string::npos ? "" : trim(pair.substr(0, eq));
      const std::string id = eq == std::string::npos ? "" : trim(pair.substr(eq + 1));
      if (ch.empty() || id.empty()) {
        bad("remote_ids", "expected channel=id, got \"" + pair + "\"");
      } else if (auto problem = unsafe_text(id)) {
        bad("remote_ids", "the id for \"" + ch + "\" " + *problem);
      } else if (std::find(record.channels.begin(), record.channels.end(), ch) ==
                 record.channels.end()) {
        bad("remote_ids", "channel \"" + ch + "\" is not among the row's channels");
      } else if (!record.remote_ids.emplace(ch, id).second) {
        bad("remote_ids", "channel \"" + ch + "\" has two remote ids");
      }
    }
    if (out.problems.size() == before) out.records.push_back(std::move(record));
  }
  // The same record twice would be imported once: say so rather than count less than the file.
  if (out.problems.empty()) {
    std::map<std::string, const ImportRecord*> seen;
    for (const auto& rec : out.records) {
      auto [it, inserted] = seen.emplace(StatsStore::import_item_id(rec), &rec);
      if (!inserted) {
        problem(rec.row, (*table)[static_cast<std::size_t>(rec.row)].line, "",
                "repeats row " + std::to_string(it->second->row) + " exactly");
      }
    }
  }
  if (!out.problems.empty()) out.records.clear();
  return out;
}

std::optional<ServerResponse> StatsRoutes::handle(const ServerRequest& request,
                                                  const AuthUser* user) {
  const std::string& path = request.path;
  if (path == kStatsPath || path == kReconcilePath) {
    if (auto refused = require_roles(user, {"compiler", "admin"}, "reading statistics")) {
      return refused;
    }
    if (request.method != "GET") return method_not_allowed("GET", path);
    return path == kStatsPath ? stats(request) : reconcile(request, *user);
  }
  if (path == kImportsPath) {
    if (auto refused = require_roles(user, {"compiler", "admin"}, "importing records")) {
      return refused;
    }
    if (request.method != "POST") return method_not_allowed("POST", path);
    return import(request, *user);
  }
  return std::nullopt;
}

ServerResponse StatsRoutes::stats(const ServerRequest& request) {
  if (auto unknown = unknown_parameter(request, {"from", "to", "group_by", "format"})) {
    return bad_parameter(*unknown, "unknown; the parameters are from, to, group_by, format");
  }
  StatsQuery q;
  q.from_day = param(request, "from");
  q.to_day = param(request, "to");
  if (q.from_day.empty()) return bad_parameter("from", "is required (yyyy-mm-dd)");
  if (q.to_day.empty()) return bad_parameter("to", "is required (yyyy-mm-dd)");
  const std::string group_by = param(request, "group_by");
  if (!group_by.empty()) {
    for (const auto& g : split(group_by, ',')) q.group_by.push_back(trim(g));
  }
  std::string format = param(request, "format");
  if (format.empty()) format = "json";
  if (format != "json" && format != "csv") return bad_parameter("format", "expected json or csv");
  if (auto valid = StatsStore::validate(q); !valid) {
    return bad_parameter(valid.error().field, valid.error().message);
  }
  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  auto rows = stats_.query(**conn, q);
  if (!rows) return error_response(rows.error());

  if (format == "csv") {
    std::vector<std::string> header = q.group_by;
    for (const char* m : {"items", "deliveries", "failed", "retracted", "corrected"}) {
      header.push_back(m);
    }
    std::string body = csv_line(header);
    for (const auto& row : *rows) {
      std::vector<std::string> fields;
      for (const auto& g : q.group_by) fields.push_back(row.group.count(g) ? row.group.at(g) : "");
      for (long long n : {row.items, row.deliveries, row.failed, row.retracted, row.corrected}) {
        fields.push_back(std::to_string(n));
      }
      body += csv_line(fields);
    }
    ServerResponse r;
    r.status = 200;
    r.content_type = "text/csv; charset=utf-8";
    r.body = std::move(body);
    return r;
  }
  json out = {{"from", q.from_day},
              {"to", q.to_day},
              {"group_by", q.group_by},
              {"utc_offset_minutes", stats_.utc_offset_minutes()},
              {"rows", json::array()}};
  for (const auto& row : *rows) out["rows"].push_back(row_json(row, q.group_by));
  return json_response(200, out);
}

ServerResponse StatsRoutes::reconcile(const ServerRequest& request, const AuthUser& user) {
  const std::string against = param(request, "against");
  if (against == "platforms") return reconcile_platforms(request, user);
  if (!against.empty() && against != "ledger") {
    return bad_parameter("against", "expected ledger (the default) or platforms");
  }
  if (auto unknown = unknown_parameter(request, {"from", "to", "against"})) {
    return bad_parameter(*unknown, "unknown; the parameters are from, to, against");
  }
  const std::string from = param(request, "from"), to = param(request, "to");
  if (from.empty()) return bad_parameter("from", "is required (yyyy-mm-dd)");
  if (to.empty()) return bad_parameter("to", "is required (yyyy-mm-dd)");
  if (auto valid = StatsStore::validate({from, to, {}}); !valid) {
    return bad_parameter(valid.error().field, valid.error().message);
  }
  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  auto report = stats_.reconcile(**conn, from, to);
  if (!report) return error_response(report.error());
  json differences = json::array();
  for (const auto& d : report->differences) {
    differences.push_back({{"counter", d.counter},
                           {"channel", d.channel},
                           {"field", d.field},
                           {"counted", d.counted},
                           {"ledger", d.ledger}});
  }
  return json_response(200, json{{"ok", report->ok},
                                 {"from", from},
                                 {"to", to},
                                 {"differences", std::move(differences)},
                                 {"ledger_entries", report->ledger_entries},
                                 {"settled", report->settled}});
}

ServerResponse StatsRoutes::reconcile_platforms(const ServerRequest& request,
                                                const AuthUser& user) {
  if (auto unknown = unknown_parameter(request, {"from", "to", "against", "repair", "channel"})) {
    return bad_parameter(*unknown,
                         "unknown; the parameters are from, to, against, repair, channel");
  }
  const std::string from = param(request, "from"), to = param(request, "to");
  if (from.empty()) return bad_parameter("from", "is required (yyyy-mm-dd)");
  if (to.empty()) return bad_parameter("to", "is required (yyyy-mm-dd)");
  if (auto valid = StatsStore::validate({from, to, {}}); !valid) {
    return bad_parameter(valid.error().field, valid.error().message);
  }
  const std::string repair_text = param(request, "repair");
  if (repair_text != "" && repair_text != "true" && repair_text != "false" && repair_text != "1" &&
      repair_text != "0") {
    return bad_parameter("repair", "expected true or false");
  }
  const bool repair = repair_text == "true" || repair_text == "1";
  std::vector<std::string> only;
  if (const std::string channels = param(request, "channel"); !channels.empty()) {
    for (const auto& c : split(channels, ',')) only.push_back(trim(c));
  }
  if (platforms_ == nullptr) {
    return ServerResponse::error(503, "unavailable",
                                 "reconciliation against the platforms is not "
                                 "available in this heraldd");
  }
  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  auto report = platforms_->run(**conn, from, to, repair, user.name, only);
  if (!report) {
    if (report.error().kind == ErrorKind::invalid_input) {
      return bad_parameter(report.error().field, report.error().message);
    }
    return error_response(report.error());
  }
  const int offset = stats_.utc_offset_minutes();
  auto time_json = [&](const std::optional<TimePoint>& t) {
    return t ? json(format_rfc3339(std::chrono::floor<std::chrono::seconds>(*t), offset))
             : json(nullptr);
  };
  auto list_json = [&](const std::vector<PlatformDifference>& list) {
    json out = json::array();
    for (const auto& d : list) {
      json j = {{"delivery_id", d.delivery_id.empty() ? json(nullptr) : json(d.delivery_id)},
                {"item_id", d.item_id.empty() ? json(nullptr) : json(d.item_id)},
                {"remote_id", d.remote_id.empty() ? json(nullptr) : json(d.remote_id)},
                {"herald_remote_id",
                 d.herald_remote_id.empty() ? json(nullptr) : json(d.herald_remote_id)},
                {"marker", d.marker.empty() ? json(nullptr) : json(d.marker)},
                {"platform_at", time_json(d.platform_at)},
                {"herald_at", time_json(d.herald_at)},
                {"note", d.note}};
      if (report->repair) j["repaired"] = d.repaired;
      out.push_back(std::move(j));
    }
    return out;
  };
  json channels = json::array();
  for (const auto& c : report->channels) {
    json j = {{"channel", c.channel}, {"ok", c.clean()}, {"supported", c.supported}};
    if (c.error) {
      j["error"] = {{"code", c.error->code.empty() ? to_string(c.error->kind) : c.error->code},
                    {"kind", to_string(c.error->kind)},
                    {"message", c.error->message}};
      channels.push_back(std::move(j));
      continue;
    }
    j["platform_records"] = c.platform_records;
    j["herald_deliveries"] = c.herald_deliveries;
    j["unknown_to_herald"] = list_json(c.unknown_to_herald);
    j["missing_on_platform"] = list_json(c.missing_on_platform);
    j["dead_but_live"] = list_json(c.dead_but_live);
    j["live_but_retracted"] = list_json(c.live_but_retracted);
    j["unverifiable"] = c.unverifiable;
    j["complete_from"] = time_json(c.complete_from);
    j["notes"] = c.notes;
    channels.push_back(std::move(j));
  }
  json last = nullptr;
  if (report->last_clean) {
    last = {{"on", report->last_clean->on},
            {"at", time_json(report->last_clean->at)},
            {"from", report->last_clean->from},
            {"to", report->last_clean->to}};
  }
  return json_response(200, json{{"ok", report->ok},
                                 {"against", "platforms"},
                                 {"from", from},
                                 {"to", to},
                                 {"repair", report->repair},
                                 {"repaired", report->repaired},
                                 {"channels", std::move(channels)},
                                 {"last_clean", std::move(last)}});
}

ServerResponse StatsRoutes::import(const ServerRequest& request, const AuthUser& user) {
  if (auto unknown = unknown_parameter(request, {"dry_run"})) {
    return bad_parameter(*unknown, "unknown; the only parameter is dry_run");
  }
  const std::string dry = param(request, "dry_run");
  if (dry != "" && dry != "true" && dry != "false" && dry != "1" && dry != "0") {
    return bad_parameter("dry_run", "expected true or false");
  }
  const bool dry_run = dry == "true" || dry == "1";
  if (request.header("content-type").rfind("text/csv", 0) != 0) {
    return ServerResponse::error(415, "unsupported_media_type",
                                 "the body must be CSV (Content-Type: text/csv)");
  }
  ParsedImport parsed =
      parse_import_csv(request.body, stats_.utc_offset_minutes(), clock_.now(), import_channels_);
  if (!parsed.problems.empty()) {
    json details = json::array();
    for (const auto& p : parsed.problems) {
      details.push_back(
          {{"row", p.row}, {"line", p.line}, {"column", p.column}, {"message", p.message}});
    }
    const ImportProblem& first = parsed.problems.front();
    std::string where = "row " + std::to_string(first.row);
    if (!first.column.empty()) where += ", column " + first.column;
    json error = {{"code", "validation_failed"},
                  {"message", "nothing was imported: " + std::to_string(parsed.problems.size()) +
                                  " problem(s); the first, " + where + " (line " +
                                  std::to_string(first.line) + "): " + first.message},
                  {"field", where},
                  {"details", std::move(details)}};
    return json_response(422, json{{"error", std::move(error)}});
  }
  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  auto summary = stats_.import_records(**conn, parsed.records, user.name, dry_run);
  if (!summary) return error_response(summary.error());
  // The file's splits (already imported rows included, unlike the counts above them), which a
  // compiler compares with the paper report before loading.
  std::map<std::string, long long> by_category, by_kind, by_level, by_channel;
  for (const auto& rec : parsed.records) {
    for (const auto& ch : rec.channels) ++by_channel[ch];
    ++by_category[rec.category];
    ++by_kind[rec.kind];
    if (rec.kind == "alert") ++by_level[rec.level.empty() ? "none" : rec.level];
  }
  return json_response(200, json{{"dry_run", dry_run},
                                 {"items_by_category", by_category},
                                 {"items_by_kind", by_kind},
                                 {"alerts_by_level", by_level},
                                 {"channels_in_file", by_channel},
                                 {"import_id", sha256_hex(request.body).substr(0, 16)},
                                 {"rows", summary->rows},
                                 {"new_items", summary->new_items},
                                 {"already_imported", summary->already_imported},
                                 {"deliveries", summary->deliveries},
                                 {"items_by_year", summary->items_by_year},
                                 {"deliveries_by_channel", summary->deliveries_by_channel},
                                 {"item_ids", summary->item_ids}});
}

}  // namespace herald
