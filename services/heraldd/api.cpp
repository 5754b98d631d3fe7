#include "services/heraldd/api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/json_fields.h"
#include "services/heraldd/cms_approval.h"
#include "services/heraldd/retraction_state.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::string_view kItemsPath = "/v1/items";
constexpr std::size_t kMaxCommentBytes = 2048;

std::string optional_time(const std::optional<TimePoint>& t) {
  return t ? format_rfc3339(*t) : std::string();
}

json delivery_json(const DeliveryRecord& d) {
  json j = {{"channel", d.channel},
            {"state", to_string(d.state)},
            {"attempts", d.attempts},
            {"lane", d.lane},
            {"remote_id", d.remote_id}};
  if (!d.last_error.empty()) {
    j["last_error"] = {{"code", d.last_error_code}, {"message", d.last_error}};
  }
  for (const auto& [name, value] :
       {std::pair{"created_at", &d.created_at}, std::pair{"updated_at", &d.updated_at},
        std::pair{"published_at", &d.published_at},
        std::pair{"next_attempt_at", &d.next_attempt_at}}) {
    if (*value) j[name] = optional_time(*value);
  }
  return j;
}

json retraction_json(const ChannelRetraction& r) {
  json j = {{"state", to_string(r.state)}};
  if (r.at) j["at"] = format_rfc3339(*r.at);
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

// An item's overall state from its own record and its deliveries.
std::string overall_state(const std::string& stored_state, const std::vector<DeliveryRecord>& ds) {
  // A retraction is final whatever its deliveries did (their recalls are listed separately).
  if (stored_state == "retracted" || stored_state == "withdrawn") return stored_state;
  if (ds.empty()) return stored_state;
  std::size_t published = 0, dead = 0;
  for (const auto& d : ds) {
    if (d.state == DeliveryState::published) ++published;
    if (d.state == DeliveryState::dead) ++dead;
  }
  if (published == ds.size()) return "published";
  if (published + dead == ds.size()) return published == 0 ? "failed" : "partially_failed";
  if (published > 0) return "publishing";
  return stored_state;
}

// Fields only Herald sets. Taken from a submission, "corrects" would make the item a correction
// without any of the checks of POST /v1/items/{id}/corrections, and the others would let a client
// forge an item's identity, authorship or review.
constexpr const char* kServerOnlyFields[] = {"corrects",           "id",         "author",
                                             "created_at",         "state",      "approvals",
                                             "approvals_required", "deliveries", "recalls"};

std::optional<ServerResponse> refuse_server_only_fields(const json& body) {
  if (!body.is_object()) return std::nullopt;
  for (const char* field : kServerOnlyFields) {
    if (!body.contains(field)) continue;
    const std::string name = field;
    const std::string why =
        name == "corrects"
            ? "a correction is submitted with POST /v1/items/{id}/corrections, which checks it "
              "against the item it corrects"
            : "Herald sets it itself";
    return ServerResponse::error(422, "validation_failed",
                                 "\"" + name + "\" cannot be submitted: " + why, name);
  }
  return std::nullopt;
}

}  // namespace

ServerResponse unreplicated(const std::string& what, const std::string& retry, const Error& error) {
  return ServerResponse::error(503, "unavailable",
                               what + " is stored in Redis, but " + error.message +
                                   ", so it is not yet safe from a failover; " + retry);
}

std::string item_overall_state(const std::string& stored_state,
                               const std::vector<DeliveryRecord>& deliveries) {
  return overall_state(stored_state, deliveries);
}

ServerResponse gate_refusal(const GateVerdict& verdict) {
  json error = {{"code", verdict.code}, {"message", verdict.message}};
  if (!verdict.field.empty()) error["field"] = verdict.field;
  if (!verdict.findings.empty()) {
    json details = json::array();
    for (const auto& f : verdict.findings) {
      details.push_back({{"word", f.word}, {"field", f.field}, {"position", f.position}});
    }
    error["details"] = std::move(details);
  }
  return json_response(422, json{{"error", std::move(error)}});
}

ServerResponse Api::handle(const ServerRequest& request, const AuthUser* session_user) {
  const std::string& path = request.path;
  if (path == "/healthz") return ServerResponse::json(200, R"({"status":"ok"})");
  if (path == "/readyz") return readiness();

  auto user = session_user != nullptr ? std::optional<AuthUser>(*session_user)
                                      : deps_.auth.authenticate(request.header("authorization"));
  for (auto& group : groups_) {
    if (auto response = group->handle(request, user ? &*user : nullptr)) return *response;
  }
  if (path.rfind("/v1/", 0) != 0) {
    return ServerResponse::error(404, "not_found", "no such route: " + path);
  }
  if (!user) {
    auto r = ServerResponse::error(401, "unauthorized", "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }

  if (path == kItemsPath || path == kItemsBatchPath) {
    if (request.method != "POST") {
      return ServerResponse::error(405, "method_not_allowed", "use POST on " + path);
    }
    if (path == kItemsPath) {
      if (!has_any_role(*user, {"drafter", "duty_officer", "publisher"})) {
        return ServerResponse::error(
            403, "forbidden", "submitting items needs the drafter, duty_officer or publisher role");
      }
      return submit_item(request, *user);
    }
    // Batches are for a CMS's and a drafting desk's scheduled work; a duty officer's alert goes
    // alone, answered at once (DESIGN.md's route table).
    if (!has_any_role(*user, {"drafter", "publisher"})) {
      return ServerResponse::error(403, "forbidden",
                                   "submitting a batch needs the drafter or publisher role");
    }
    return submit_batch(request, *user);
  }
  if (path.rfind(std::string(kItemsPath) + "/", 0) == 0) {
    // /v1/items/{id}, /v1/items/{id}/approvals, /v1/items/{id}/audit
    const std::string rest = path.substr(kItemsPath.size() + 1);
    const auto slash = rest.find('/');
    const std::string id = rest.substr(0, slash);
    const std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (id.empty() || sub.find('/') != std::string::npos) {
      return ServerResponse::error(404, "not_found", "no such route: " + path);
    }
    if (sub == "approvals") {
      if (request.method != "POST") {
        return ServerResponse::error(405, "method_not_allowed", "use POST on " + path);
      }
      if (!has_any_role(*user, {"reviewer", "duty_officer"})) {
        return ServerResponse::error(403, "forbidden",
                                     "reviewing items needs the reviewer or duty_officer role");
      }
      return review_item(request, id, *user);
    }
    if (sub != "" && sub != "audit") {
      return ServerResponse::error(404, "not_found", "no such route: " + path);
    }
    if (request.method != "GET" && request.method != "HEAD") {
      return ServerResponse::error(405, "method_not_allowed", "use GET on " + path);
    }
    return sub == "audit" ? item_audit(id) : get_item(id);
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

std::variant<Api::Submission, ServerResponse> Api::prepare_submission(json body,
                                                                      const AuthUser& user) {
  if (auto refused = refuse_server_only_fields(body)) return *refused;
  // A CMS's own approval record (publisher only, when config allows): never part of the item.
  std::optional<nlohmann::json> record_json;
  const CmsSource* cms = nullptr;
  std::string content_sha256;
  if (body.is_object() && body.contains("approval_record")) {
    if (!has_any_role(user, {"publisher"})) {
      return ServerResponse::error(403, "forbidden",
                                   "only a publisher (an automated CMS) may submit an item with "
                                   "an approval record; submit it without one for review",
                                   "approval_record");
    }
    if (!deps_.review.accept_cms_approvals) {
      return ServerResponse::error(403, "cms_approvals_disabled",
                                   "this Herald does not accept CMS approval records "
                                   "(review.accept_cms_approvals is off); submit the item "
                                   "without one for review",
                                   "approval_record");
    }
    cms = find_cms(deps_.review, user.name);
    if (!cms) {
      return ServerResponse::error(403, "forbidden",
                                   "user " + user.name +
                                       " submits for no CMS (review.cms names each CMS's "
                                       "publisher_user and signing key); submit the item "
                                       "without an approval record for review",
                                   "approval_record");
    }
    record_json = body["approval_record"];
    body.erase("approval_record");
    content_sha256 = cms_content_sha256(body);
  }
  auto item = item_from_json(body, deps_.channels, deps_.limits);
  if (!item) return error_response(item.error());
  // 内外有别: nothing classified or flagged is even stored for review.
  if (const GateVerdict verdict = deps_.gate.get()->check(*item); !verdict.allowed) {
    return gate_refusal(verdict);
  }

  // One reading of the clock: the id starts with the creation millisecond, so lists sorted by
  // creation time are in id order.
  item->created_at = deps_.clock.now();
  item->id = new_item_id(item->created_at);
  item->author = user.name;

  Submission submission{std::move(*item), std::nullopt};
  if (record_json) {
    if (submission.item.kind == ItemKind::alert && !deps_.review.cms_alerts_accepted) {
      return ServerResponse::error(403, "cms_alerts_refused",
                                   "alerts need two reviewers in Herald: submit the alert "
                                   "without an approval record and have it approved with "
                                   "POST /v1/items/{id}/approvals (review.cms_alerts is "
                                   "\"refused\")",
                                   "approval_record");
    }
    const int required =
        submission.item.kind == ItemKind::alert ? deps_.review.alert : deps_.review.publication;
    auto parsed = parse_cms_approval_record(
        *record_json, CmsCheck{*cms, user.name, required, submission.item.created_at,
                               content_sha256, deps_.review.reviewers});
    if (!parsed) return error_response(parsed.error());
    submission.record = std::move(*parsed);
  }
  return submission;
}

std::string Api::state_after_create(RedisConnection& conn, const Submission& submission) {
  if (!submission.record) return "pending_review";
  // Approved and its fan-out pending in the same step: if this fails, recovery queues it.
  const Item& item = submission.item;
  if (!deps_.items.fan_out(conn, item)) return "approved";
  return item.publish_at && *item.publish_at > deps_.clock.now() ? "scheduled" : "queued";
}

int Api::required_approvals(const Item& item) const {
  return item.kind == ItemKind::alert ? deps_.review.alert : deps_.review.publication;
}

ServerResponse Api::submit_item(const ServerRequest& request, const AuthUser& user) {
  if (!is_json_request(request)) return not_json();
  auto body = parse_json_body(request.body);
  if (!body) return error_response(body.error());
  auto prepared = prepare_submission(std::move(*body), user);
  if (auto* refused = std::get_if<ServerResponse>(&prepared)) return std::move(*refused);
  const Submission& submission = std::get<Submission>(prepared);
  const Item& item = submission.item;

  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  const std::string scope = idempotency_scope(user.name, "POST /v1/items");
  auto created =
      submission.record
          ? deps_.items.create_approved(**conn, item, *submission.record, scope,
                                        request.header("idempotency-key"), sha256_hex(request.body))
          : deps_.items.create(**conn, item, scope, request.header("idempotency-key"),
                               sha256_hex(request.body));
  if (!created) return error_response(created.error());

  std::string state;
  if (created->replayed) {
    auto stored = deps_.items.get(**conn, created->id);
    if (!stored) return error_response(stored.error());
    state = *stored ? (*stored)->state : (submission.record ? "approved" : "pending_review");
  } else {
    state = state_after_create(**conn, submission);
    if (state == "pending_review" && deps_.review_outbox != nullptr) {
      deps_.review_outbox->push(**conn, item, 0, required_approvals(item));
    }
  }
  // A replay waits too: it is how a client retrying after this 503 learns the item is now safe.
  if (auto replicated = (*conn)->wait_for_replicas(); !replicated) {
    auto r = unreplicated("item " + created->id,
                          "retry with the same Idempotency-Key to get its 201 without submitting "
                          "it twice",
                          replicated.error());
    r.headers.emplace_back("Location", std::string(kItemsPath) + "/" + created->id);
    return r;
  }
  auto response = json_response(201, json{{"id", created->id}, {"state", state}});
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
  json approvals = json::array();
  for (const auto& a : (*stored)->approvals) {
    approvals.push_back({{"user", a.user},
                         {"decision", a.decision},
                         {"comment", a.comment},
                         {"at", format_rfc3339(a.at)},
                         {"via", a.via}});
  }
  out["approvals"] = std::move(approvals);
  out["approvals_required"] = required_approvals(item);
  if (!(*stored)->approval_record.empty()) {
    out["approval_record"] = json::parse((*stored)->approval_record, nullptr, false);
  }
  json deliveries = json::array();
  for (const auto& record : *records) deliveries.push_back(delivery_json(record));
  out["deliveries"] = std::move(deliveries);
  // A retraction's recall deliveries ("<id>-recall.<channel>"), with the same fields.
  std::vector<std::string> recall_ids;
  for (const auto& channel : item.channels) {
    recall_ids.push_back(delivery_id_for(item.id + "-recall", channel));
  }
  auto recalls = deps_.queue.get_many(**conn, recall_ids);
  if (!recalls) return error_response(recalls.error());
  json recall_list = json::array();
  for (const auto& record : *recalls) recall_list.push_back(delivery_json(record));
  out["recalls"] = std::move(recall_list);
  if ((*stored)->state == "retracted") {
    // Each channel says what the retraction did there, so a reader needs not pair the lists.
    for (std::size_t i = 0; i < records->size(); ++i) {
      const DeliveryRecord& original = (*records)[i];
      const DeliveryRecord* recall = nullptr;
      for (const auto& r : *recalls) {
        if (r.channel == original.channel) recall = &r;
      }
      out["deliveries"][i]["retraction"] = retraction_json(channel_retraction(&original, recall));
    }
  }
  return json_response(200, out);
}

ServerResponse Api::review_item(const ServerRequest& request, const std::string& id,
                                const AuthUser& user) {
  if (!is_json_request(request)) return not_json();
  auto body = parse_json_body(request.body);
  if (!body) return error_response(body.error());
  ReviewRequest review;
  review.item_id = id;
  review.user = user.name;
  review.required_publication = deps_.review.publication;
  review.required_alert = deps_.review.alert;
  {
    FieldReader r(*body, "");
    review.decision = r.one_of("decision", {"approve", "reject"});
    review.comment = r.optional_string("comment").value_or("");
    if (r.ok() && review.comment.size() > kMaxCommentBytes) {
      r.fail("comment", "longer than " + std::to_string(kMaxCommentBytes) + " bytes");
    }
    if (auto done = r.finish(); !done) return error_response(done.error());
  }

  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  auto reviewed = deps_.items.review(**conn, review);
  if (!reviewed) return error_response(reviewed.error());

  std::string state = reviewed->state;
  if (state == "pending_review" && review.decision == "approve" && deps_.review_outbox != nullptr) {
    // Another reviewer is still needed: they are told, as on submission.
    auto stored = deps_.items.get(**conn, id);
    if (stored && *stored) {
      deps_.review_outbox->push(**conn, (*stored)->item, reviewed->approvals, reviewed->required);
    }
  }
  if (state == "approved") {
    // The approval and the pending fan-out were recorded together: a failure from here on is
    // repaired by the recovery loop, so the answer is still a success.
    auto stored = deps_.items.get(**conn, id);
    if (stored && *stored) {
      const Item& item = (*stored)->item;
      if (deps_.items.fan_out(**conn, item)) {
        state = item.publish_at && *item.publish_at > deps_.clock.now() ? "scheduled" : "queued";
      }
    }
  }
  if (auto replicated = (*conn)->wait_for_replicas(); !replicated) {
    return unreplicated("the " + review.decision + " of item " + id + " by " + review.user,
                        "GET /v1/items/" + id + " shows it (a repeated review is refused)",
                        replicated.error());
  }
  return json_response(201, json{{"id", id},
                                 {"state", state},
                                 {"decision", review.decision},
                                 {"approvals", reviewed->approvals},
                                 {"approvals_required", reviewed->required}});
}

ServerResponse Api::item_audit(const std::string& id) {
  auto conn = deps_.redis.acquire();
  if (!conn) return error_response(conn.error());
  auto stored = deps_.items.get(**conn, id);
  if (!stored) return error_response(stored.error());
  if (!*stored) return ServerResponse::error(404, "not_found", "no item with id " + id);
  auto events = deps_.audit.history(**conn, id, (*stored)->item.channels);
  if (!events) return error_response(events.error());
  // The recall deliveries' streams too: history() of "<id>-recall" reads exactly those.
  auto recall_events = deps_.audit.history(**conn, id + "-recall", (*stored)->item.channels);
  if (!recall_events) return error_response(recall_events.error());
  if (!recall_events->empty()) {
    events->insert(events->end(), recall_events->begin(), recall_events->end());
    std::stable_sort(events->begin(), events->end(),
                     [](const AuditEvent& a, const AuditEvent& b) { return a.at < b.at; });
  }
  json list = json::array();
  for (const auto& e : *events) {
    json j = {{"at", format_rfc3339(e.at)},
              {"at_ms", to_unix_ms(e.at)},
              {"event", e.event},
              {"who", e.who}};
    if (!e.delivery_id.empty()) {
      j["delivery"] = e.delivery_id;
      j["channel"] = channel_of_delivery(e.delivery_id);
    }
    for (const auto& [field, value] : e.fields) j[field] = value;
    list.push_back(std::move(j));
  }
  return json_response(200, json{{"item_id", id}, {"events", std::move(list)}});
}

}  // namespace herald
