#include "services/heraldd/api.h"

#include <nlohmann/json.hpp>

#include "core/digest.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kItemsPath = "/v1/items";

std::string optional_time(const std::optional<TimePoint>& t) {
  return t ? format_rfc3339(*t) : std::string();
}

json delivery_json(const DeliveryRecord& d) {
  json j = {{"channel", d.channel}, {"state", d.state},   {"attempts", d.attempts},
            {"lane", d.lane},       {"remote_id", d.remote_id}};
  if (!d.last_error.empty()) {
    j["last_error"] = {{"code", d.last_error_code}, {"message", d.last_error}};
  }
  for (const auto& [name, value] :
       {std::pair{"created_at", &d.created_at}, std::pair{"updated_at", &d.updated_at},
        std::pair{"published_at", &d.published_at}, std::pair{"next_attempt_at", &d.next_attempt_at}}) {
    if (*value) j[name] = optional_time(*value);
  }
  return j;
}

// An item's overall state from its own record and its deliveries.
std::string overall_state(const std::string& stored_state, const std::vector<DeliveryRecord>& ds) {
  if (ds.empty()) return stored_state;
  std::size_t published = 0, dead = 0;
  for (const auto& d : ds) {
    if (d.state == "published") ++published;
    if (d.state == "dead") ++dead;
  }
  if (published == ds.size()) return "published";
  if (published + dead == ds.size()) return published == 0 ? "failed" : "partially_failed";
  if (published > 0) return "publishing";
  return stored_state;
}

}  // namespace

ServerResponse error_response(const Error& error) {
  switch (error.kind) {
    case ErrorKind::invalid_input: {
      int status = 422;
      if (error.code == "malformed_json" || error.code == "invalid_utf8") status = 400;
      if (error.code == "idempotency_conflict") status = 409;
      if (error.code == "not_found") status = 404;
      return ServerResponse::error(status, error.code.empty() ? "validation_failed" : error.code,
                                   error.message, error.field);
    }
    case ErrorKind::retryable:
    case ErrorKind::rate_limited:
      return ServerResponse::error(503, "unavailable",
                                   "storage is unavailable, nothing was accepted: " + error.message);
    default:
      return ServerResponse::error(500, "internal", error.message);
  }
}

ServerResponse Api::handle(const ServerRequest& request) {
  const std::string& path = request.path;
  if (path == "/healthz") return ServerResponse::json(200, R"({"status":"ok"})");
  if (path == "/readyz") return readiness();

  if (path.rfind("/v1/", 0) != 0) {
    return ServerResponse::error(404, "not_found", "no such route: " + path);
  }
  auto user = deps_.auth.authenticate(request.header("authorization"));
  if (!user) {
    auto r = ServerResponse::error(401, "unauthorized", "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }

  if (path == kItemsPath) {
    if (request.method != "POST") {
      return ServerResponse::error(405, "method_not_allowed", "use POST on " + path);
    }
    if (!has_any_role(*user, {"drafter", "duty_officer", "publisher"})) {
      return ServerResponse::error(403, "forbidden",
                                   "submitting items needs the drafter, duty_officer or publisher role");
    }
    return submit_item(request, *user);
  }
  if (path.rfind(std::string(kItemsPath) + "/", 0) == 0) {
    const std::string id = path.substr(kItemsPath.size() + 1);
    if (id.empty() || id.find('/') != std::string::npos) {
      return ServerResponse::error(404, "not_found", "no such route: " + path);
    }
    if (request.method != "GET" && request.method != "HEAD") {
      return ServerResponse::error(405, "method_not_allowed", "use GET on " + path);
    }
    return get_item(id);
  }
  return ServerResponse::error(404, "not_found", "no such route: " + path);
}

ServerResponse Api::readiness() {
  auto conn = deps_.redis.acquire();
  if (!conn) return ServerResponse::error(503, "not_ready", conn.error().message);
  auto pong = (*conn)->command({"PING"});
  if (!pong || pong->is_error()) {
    return ServerResponse::error(503, "not_ready",
                                 "redis: " + (pong ? pong->str : pong.error().message));
  }
  return ServerResponse::json(200, R"({"status":"ready"})");
}

ServerResponse Api::submit_item(const ServerRequest& request, const AuthUser& user) {
  const std::string content_type = request.header("content-type");
  if (content_type.rfind("application/json", 0) != 0) {
    return ServerResponse::error(415, "unsupported_media_type",
                                 "the body must be JSON (Content-Type: application/json)");
  }
  auto body = parse_json_body(request.body);
  if (!body) return error_response(body.error());
  auto item = item_from_json(*body, deps_.channels, deps_.limits);
  if (!item) return error_response(item.error());

  item->id = new_item_id(deps_.clock.now());
  item->author = user.name;
  item->created_at = deps_.clock.now();

  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  auto created = deps_.items.create(**conn, *item, user.name, request.header("idempotency-key"),
                                    sha256_hex(request.body));
  if (!created) return error_response(created.error());

  std::string state;
  if (created->replayed) {
    auto stored = deps_.items.get(**conn, created->id);
    if (!stored) return error_response(stored.error());
    state = *stored ? (*stored)->state : "accepted";
  } else {
    // The item is stored and its fan-out recorded as pending: from here on it is accepted, and a
    // failure to queue now is repaired by the recovery loop.
    auto fanned = deps_.items.fan_out(**conn, *item);
    state = fanned ? (item->publish_at && *item->publish_at > deps_.clock.now() ? "scheduled" : "queued")
                   : "accepted";
  }
  auto response = ServerResponse::json(201, json{{"id", created->id}, {"state", state}}.dump());
  response.headers.emplace_back("Location", std::string(kItemsPath) + "/" + created->id);
  if (created->replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

ServerResponse Api::get_item(const std::string& id) {
  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  auto stored = deps_.items.get(**conn, id);
  if (!stored) return error_response(stored.error());
  if (!*stored) return ServerResponse::error(404, "not_found", "no item with id " + id);
  const Item& item = (*stored)->item;

  std::vector<std::string> ids;
  for (const auto& channel : item.channels) ids.push_back(delivery_id_for(item.id, channel));
  auto records = deps_.queue.get_many(**conn, ids);
  if (!records) return error_response(records.error());

  json out = item_to_json(item);
  out["id"] = item.id;
  out["author"] = item.author;
  out["created_at"] = format_rfc3339(item.created_at);
  out["state"] = overall_state((*stored)->state, *records);
  json deliveries = json::array();
  for (const auto& record : *records) deliveries.push_back(delivery_json(record));
  out["deliveries"] = std::move(deliveries);
  return ServerResponse::json(200, out.dump());
}

}  // namespace herald
