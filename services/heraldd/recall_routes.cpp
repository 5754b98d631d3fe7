#include "services/heraldd/recall_routes.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/json_fields.h"
#include "services/heraldd/api.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kItemsPrefix = "/v1/items/";
constexpr std::size_t kMaxReasonBytes = 2048;

// Herald's own fields of an item: never taken from a correction's body, never carried over.
constexpr const char* kOwnFields[] = {"id",         "author",    "created_at",
                                      "state",      "approvals", "approvals_required",
                                      "deliveries", "recalls"};

ServerResponse refusal(int status, const std::string& code, const std::string& message,
                       const std::string& field = "") {
  return ServerResponse::error(status, code, message, field);
}

// error_response() with the recall refusals' statuses.
ServerResponse recall_error(const Error& error) {
  if (error.kind == ErrorKind::invalid_input && error.code == "not_retractable") {
    return refusal(409, error.code, error.message);
  }
  return error_response(error);
}

json plan_json(const RetractResult& result) {
  json channels = json::array();
  for (const auto& entry : result.plan) {
    json j = {{"channel", entry.channel},
              {"delivery", {{"id", entry.delivery_id}, {"state", entry.delivery_state}}},
              {"action", entry.action}};
    if (!entry.recall_id.empty()) {
      j["recall"] = {{"id", entry.recall_id}, {"state", entry.recall_state}};
    }
    channels.push_back(std::move(j));
  }
  return channels;
}

}  // namespace

std::optional<ServerResponse> RecallRoutes::handle(const ServerRequest& request,
                                                   const AuthUser* user) {
  const std::string& path = request.path;
  if (path.rfind(kItemsPrefix, 0) != 0) return std::nullopt;
  const std::string rest = path.substr(kItemsPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0) return std::nullopt;
  const std::string id = rest.substr(0, slash);
  const std::string sub = rest.substr(slash + 1);
  if (sub != "retract" && sub != "corrections") return std::nullopt;

  if (sub == "retract") {
    if (auto denied = require_roles(user, {"duty_officer"}, "retracting items")) return denied;
    if (request.method != "POST") return method_not_allowed("POST", path);
    return retract(request, id, *user);
  }
  if (auto denied = require_roles(user, {"duty_officer", "drafter"}, "submitting corrections")) {
    return denied;
  }
  if (request.method != "POST") return method_not_allowed("POST", path);
  return correct(request, id, *user);
}

ServerResponse RecallRoutes::retract(const ServerRequest& request, const std::string& id,
                                     const AuthUser& user) {
  if (!is_json_request(request)) return not_json();
  auto body = parse_json_body(request.body);
  if (!body) return error_response(body.error());
  std::string reason;
  {
    FieldReader r(*body, "");
    reason = r.string("reason");
    if (r.ok() && reason.find_first_not_of(" \t\r\n") == std::string::npos) {
      r.fail("reason", "must not be blank: the audit trail records why an item was retracted");
    }
    if (r.ok() && reason.size() > kMaxReasonBytes) {
      r.fail("reason", "longer than " + std::to_string(kMaxReasonBytes) + " bytes");
    }
    if (auto done = r.finish(); !done) return error_response(done.error());
  }

  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  auto result = deps_.items.retract(**conn, id, user.name, reason);
  if (!result) return recall_error(result.error());
  const json out = {{"id", id},
                    {"state", result->state},
                    {"already", result->already},
                    {"retracted_by", result->retracted_by},
                    {"reason", result->reason},
                    {"channels", plan_json(*result)},
                    {"withdrawn_corrections", result->withdrawn_corrections}};
  return json_response(202, out);
}

ServerResponse RecallRoutes::correct(const ServerRequest& request, const std::string& id,
                                     const AuthUser& user) {
  if (!is_json_request(request)) return not_json();
  auto body = parse_json_body(request.body);
  if (!body) return error_response(body.error());
  if (!body->is_object()) {
    return refusal(422, "validation_failed", "the body must be a JSON object of item fields");
  }
  if (body->contains("corrects") && (*body)["corrects"] != json(id)) {
    return refusal(422, "validation_failed", "a correction of " + id + " corrects " + id,
                   "corrects");
  }

  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  auto stored = deps_.items.get(**conn, id);
  if (!stored) return error_response(stored.error());
  if (!*stored) return refusal(404, "not_found", "no item with id " + id);
  const Item& original = (*stored)->item;
  const std::string& state = (*stored)->state;
  if (original.kind != ItemKind::alert) {
    return refusal(422, "not_correctable",
                   "only an alert can be corrected (its feeds carry a CAP Update); retract the "
                   "publication and submit a new one instead");
  }
  if (state != "approved" && state != "queued" && state != "scheduled") {
    const std::string why = state == "retracted" ? "it was retracted"
                            : state == "pending_review"
                                ? "it is still under review (reject it and submit a new one)"
                                : "it is " + state + " and was never sent";
    return refusal(409, "not_correctable", "item " + id + " cannot be corrected: " + why);
  }

  // The original's fields, overlaid with what the body changes.
  json merged = item_to_json(original);
  for (const char* field : kOwnFields) merged.erase(field);
  merged.erase("publish_at");  // a correction goes out when approved unless it says otherwise
  for (const auto& [key, value] : body->items()) merged[key] = value;
  for (const char* field : kOwnFields) merged.erase(field);
  merged["corrects"] = id;

  auto item = item_from_json(merged, deps_.channels, deps_.limits);
  if (!item) return error_response(item.error());
  if (item->kind != ItemKind::alert) {
    return refusal(422, "validation_failed", "a correction of an alert is an alert", "kind");
  }
  for (std::size_t i = 0; i < item->channels.size(); ++i) {
    const auto& channel = item->channels[i];
    if (std::find(original.channels.begin(), original.channels.end(), channel) ==
        original.channels.end()) {
      return refusal(422, "validation_failed",
                     "\"" + channel +
                         "\" is not a channel of the original item; a correction "
                         "goes out where the original went",
                     "channels[" + std::to_string(i) + "]");
    }
  }
  // 内外有别 applies to corrections as to anything else.
  if (const GateVerdict verdict = deps_.gate.get()->check(*item); !verdict.allowed) {
    return gate_refusal(verdict);
  }

  // One reading of the clock: the id starts with the creation millisecond, so lists sorted by
  // creation time are in id order.
  item->created_at = deps_.clock.now();
  item->id = new_item_id(item->created_at);
  item->author = user.name;
  auto created = deps_.items.create(
      **conn, *item, idempotency_scope(user.name, "POST /v1/items/{id}/corrections", id),
      request.header("idempotency-key"), sha256_hex(request.body));
  if (!created) return error_response(created.error());

  std::string new_state = "pending_review";
  if (created->replayed) {
    auto again = deps_.items.get(**conn, created->id);
    if (!again) return error_response(again.error());
    if (*again) new_state = (*again)->state;
  }
  auto response =
      json_response(201, json{{"id", created->id}, {"state", new_state}, {"corrects", id}});
  response.headers.emplace_back("Location", std::string(kItemsPrefix) + created->id);
  if (created->replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

}  // namespace herald
