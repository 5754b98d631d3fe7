#include "services/heraldd/delivery_routes.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "services/heraldd/list_params.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kDeliveriesPath = "/v1/deliveries/";
constexpr std::string_view kDeadPath = "/v1/deliveries/dead";

struct DeadEntry {
  ListCursor position;  // death time ms, delivery id
  std::string channel;
};

// Newest first: later death, then the greater id (the order ZREVRANGEBYSCORE gives).
bool newer(const ListCursor& a, const ListCursor& b) {
  return a.score != b.score ? a.score > b.score : a.member > b.member;
}

}  // namespace

std::optional<ServerResponse> DeliveryRoutes::handle(const ServerRequest& request,
                                                     const AuthUser* user) {
  const std::string& path = request.path;
  if (path.rfind(kDeliveriesPath, 0) != 0) return std::nullopt;
  if (path == kDeadPath) {
    if (auto refused = require_roles(user, {"admin", "duty_officer"}, "listing dead letters")) {
      return refused;
    }
    if (request.method != "GET") return method_not_allowed("GET", path);
    return list_dead(request);
  }
  // /v1/deliveries/{id}/replay
  const std::string rest = path.substr(kDeliveriesPath.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || rest.substr(slash + 1) != "replay") {
    return std::nullopt;
  }
  if (auto refused = require_roles(user, {"admin", "duty_officer"}, "replaying dead letters")) {
    return refused;
  }
  if (request.method != "POST") return method_not_allowed("POST", path);
  return replay(rest.substr(0, slash), *user);
}

ServerResponse DeliveryRoutes::list_dead(const ServerRequest& request) {
  if (auto unknown = unknown_parameter(request, {"channel", "limit", "cursor"})) {
    return bad_parameter(*unknown, "unknown; the parameters are channel, limit, cursor");
  }
  auto page = page_params(request);
  if (!page) return bad_parameter(page.error().field, page.error().message);
  std::set<std::string> channels = channels_;
  if (auto it = request.query.find("channel"); it != request.query.end() && !it->second.empty()) {
    if (channels_.count(it->second) == 0) {
      std::string names;
      for (const auto& c : channels_) names += (names.empty() ? "" : ", ") + c;
      return bad_parameter("channel", "not an enabled channel (enabled: " + names + ")");
    }
    channels = {it->second};
  }

  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  // Each channel's next `limit + 1` entries after the cursor, merged: the page is the newest
  // `limit` of them, and one more tells whether another page exists.
  const std::string max = page->cursor ? std::to_string(page->cursor->score) : "+inf";
  std::vector<DeadEntry> merged;
  for (const auto& channel : channels) {
    for (int offset = 0;; offset += page->limit + 1) {
      auto reply = (*conn)->command({"ZREVRANGEBYSCORE", queue_.key(channel, "dead"), max, "-inf",
                                     "WITHSCORES", "LIMIT", std::to_string(offset),
                                     std::to_string(page->limit + 1)});
      if (!reply) return error_response(reply.error());
      if (reply->is_error())
        return error_response(error_from_reply(*reply, "listing dead letters"));
      const auto& e = reply->elements;
      int taken = 0;
      for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        ListCursor position{static_cast<std::int64_t>(std::stod(e[i + 1].str)), e[i].str};
        if (page->cursor && !newer(*page->cursor, position)) {
          continue;
        }
        merged.push_back({std::move(position), channel});
        ++taken;
      }
      // Entries at the cursor's own time that were already shown come first; read on past them.
      if (taken > 0 || static_cast<int>(e.size()) < 2 * (page->limit + 1)) break;
    }
  }
  std::sort(merged.begin(), merged.end(),
            [](const DeadEntry& a, const DeadEntry& b) { return newer(a.position, b.position); });
  const bool more = static_cast<int>(merged.size()) > page->limit;
  if (more) merged.resize(static_cast<std::size_t>(page->limit));

  std::vector<std::string> ids;
  for (const auto& entry : merged) ids.push_back(entry.position.member);
  auto records = queue_.get_many(**conn, ids);
  if (!records) return error_response(records.error());
  std::map<std::string, const DeliveryRecord*> by_id;
  for (const auto& r : *records) by_id[r.id] = &r;

  json list = json::array();
  for (const auto& entry : merged) {
    json j = {{"id", entry.position.member},
              {"channel", entry.channel},
              {"dead_at", format_rfc3339(from_unix_ms(entry.position.score), utc_offset_minutes_)}};
    if (auto it = by_id.find(entry.position.member); it != by_id.end()) {
      const DeliveryRecord& r = *it->second;
      j["item_id"] = r.item_id;
      j["lane"] = to_string(r.lane);
      j["kind"] = r.kind;
      j["state"] = to_string(r.state);
      j["attempts"] = r.attempts;
      j["last_error"] = {{"code", r.last_error_code}, {"message", r.last_error}};
    }
    list.push_back(std::move(j));
  }
  json out = {{"deliveries", std::move(list)}, {"next_cursor", nullptr}};
  if (more && !merged.empty()) out["next_cursor"] = encode_cursor(merged.back().position);
  return json_response(200, out);
}

ServerResponse DeliveryRoutes::replay(const std::string& delivery_id, const AuthUser& user) {
  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  if (channels_.count(channel_of_delivery(delivery_id)) == 0) {
    return ServerResponse::error(404, "not_found", "no delivery with id " + delivery_id, "id");
  }
  auto replayed = queue_.replay(**conn, delivery_id, user.name);
  if (!replayed) {
    const Error& e = replayed.error();
    if (e.code == "not_found") return ServerResponse::error(404, "not_found", e.message, "id");
    if (e.code == "not_dead") return ServerResponse::error(409, "not_dead", e.message, "id");
    return error_response(e);
  }
  return json_response(202,
                       json{{"id", delivery_id}, {"state", "queued"}, {"replayed_by", user.name}});
}

}  // namespace herald
