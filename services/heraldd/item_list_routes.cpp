#include "services/heraldd/item_list_routes.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "services/heraldd/api.h"
#include "services/heraldd/list_params.h"

namespace herald {
namespace {

using nlohmann::json;

// Items read per request at most, matching or not: a filter that matches rarely answers a short
// (even empty) page with a next_cursor instead of reading the whole history in one request.
constexpr int kMaxScanned = 2000;
constexpr int kScanBatch = 200;

constexpr const char* kStates[] = {"pending_review",   "approved",   "rejected",  "queued",
                                   "scheduled",        "publishing", "published", "failed",
                                   "partially_failed", "retracted"};

// RFC 3339, or a date "yyyy-mm-dd" meaning its midnight in the office's time zone.
std::optional<std::int64_t> parse_time_param(const std::string& text, int utc_offset_minutes) {
  TimePoint t{};
  if (parse_rfc3339(text, t)) return to_unix_ms(t);
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    const int minutes = std::abs(utc_offset_minutes) % (24 * 60);
    auto two = [](int n) {
      return std::string(1, static_cast<char>('0' + n / 10)) + static_cast<char>('0' + n % 10);
    };
    const std::string zone =
        (utc_offset_minutes < 0 ? "-" : "+") + two(minutes / 60) + ":" + two(minutes % 60);
    if (parse_rfc3339(text + "T00:00:00" + zone, t)) return to_unix_ms(t);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ServerResponse> ItemListRoutes::handle(const ServerRequest& request,
                                                     const AuthUser* user) {
  if (request.path != "/v1/items" || request.method != "GET") return std::nullopt;
  if (auto refused = require_roles(
          user, {"drafter", "reviewer", "duty_officer", "publisher", "compiler", "admin"},
          "listing items")) {
    return refused;
  }
  return list(request);
}

ServerResponse ItemListRoutes::list(const ServerRequest& request) {
  if (auto unknown = unknown_parameter(
          request, {"state", "kind", "category", "from", "to", "limit", "cursor"})) {
    return bad_parameter(*unknown,
                         "unknown; the filters are state, kind, category, from, to, limit, cursor");
  }
  auto page = page_params(request);
  if (!page) return bad_parameter(page.error().field, page.error().message);
  auto param = [&](const char* name) -> std::optional<std::string> {
    auto it = request.query.find(name);
    if (it == request.query.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
  const auto state = param("state");
  if (state && std::find(std::begin(kStates), std::end(kStates), *state) == std::end(kStates)) {
    std::string names;
    for (const char* s : kStates) names += (names.empty() ? "" : ", ") + std::string(s);
    return bad_parameter("state", "expected one of " + names);
  }
  const auto kind = param("kind");
  if (kind && !item_kind_from_string(*kind)) {
    return bad_parameter("kind", "expected publication or alert");
  }
  const auto category = param("category");
  if (category && !category_from_string(*category)) {
    return bad_parameter("category",
                         "expected regulation, work_news, personnel, finance or overseas_safety");
  }
  ItemRange range;
  for (const char* name : {"from", "to"}) {
    if (auto text = param(name)) {
      auto ms = parse_time_param(*text, utc_offset_minutes_);
      if (!ms) {
        return bad_parameter(name,
                             "expected an RFC 3339 time (2026-11-29T08:00:00+08:00) or a date "
                             "(2026-11-29, midnight in the office's time zone)");
      }
      (std::string(name) == "from" ? range.from_ms : range.to_ms) = *ms;
    }
  }
  if (range.from_ms && range.to_ms && *range.from_ms >= *range.to_ms) {
    return bad_parameter("to", "must be later than from");
  }
  if (page->cursor) range.after = ItemPosition{page->cursor->score, page->cursor->member};

  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());

  json items = json::array();
  int returned = 0, scanned = 0;
  bool exhausted = false;
  while (returned < page->limit && scanned < kMaxScanned) {
    const int want = std::min(kScanBatch, kMaxScanned - scanned);
    auto batch = items_.list_newest(**conn, range, want);
    if (!batch) return error_response(batch.error());
    // One pipelined read of the deliveries of the whole batch, for each item's overall state.
    std::vector<std::string> delivery_ids;
    for (const auto& entry : *batch) {
      for (const auto& channel : entry.stored.item.channels) {
        delivery_ids.push_back(delivery_id_for(entry.stored.item.id, channel));
      }
    }
    auto records = queue_.get_many(**conn, delivery_ids);
    if (!records) return error_response(records.error());
    std::map<std::string, std::vector<DeliveryRecord>> by_item;
    for (auto& record : *records) by_item[record.item_id].push_back(std::move(record));

    for (const auto& entry : *batch) {
      ++scanned;
      range.after = entry.position;
      const Item& item = entry.stored.item;
      const std::string overall = item_overall_state(entry.stored.state, by_item[item.id]);
      if ((state && overall != *state) || (kind && to_string(item.kind) != *kind) ||
          (category && to_string(item.category) != *category)) {
        continue;
      }
      json j = {{"id", item.id},
                {"kind", to_string(item.kind)},
                {"category", to_string(item.category)},
                {"title", item.title},
                {"state", overall},
                {"author", item.author},
                {"created_at", format_rfc3339(item.created_at, utc_offset_minutes_)},
                {"channels", item.channels}};
      if (item.publish_at) j["publish_at"] = format_rfc3339(*item.publish_at, utc_offset_minutes_);
      if (item.status != "actual") j["status"] = item.status;
      items.push_back(std::move(j));
      if (++returned == page->limit) break;
    }
    // A short batch is the end of the range (item hashes are never deleted, so list_newest
    // leaves none out); the page ends there unless it stopped before the batch's last item.
    if (static_cast<int>(batch->size()) < want) {
      exhausted = batch->empty() || range.after->id == batch->back().position.id;
      break;
    }
  }
  json out = {{"items", std::move(items)}};
  if (!exhausted && range.after) {
    out["next_cursor"] = encode_cursor({range.after->created_ms, range.after->id});
  } else {
    out["next_cursor"] = nullptr;
  }
  return json_response(200, out);
}

}  // namespace herald
