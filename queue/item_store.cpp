#include "queue/item_store.h"

#include <algorithm>
#include <array>
#include <random>
#include <set>
#include "queue/lua_scripts.h"

namespace herald {
namespace {

constexpr int kIdempotencyTtlSeconds = 24 * 3600;

const RedisScript kCreateScript("item_create", std::string(lua::kItemCreate));

const RedisScript kReviewScript("item_review", std::string(lua::kItemReview));

const RedisScript kFanoutDoneScript("item_fanout_done", std::string(lua::kItemFanoutDone));

const RedisScript kBodiesScript("item_bodies", std::string(lua::kItemBodies));

const RedisScript kCreateApprovedScript("item_create_approved",
                                        std::string(lua::kItemCreateApproved));

const RedisScript kRetractScript("item_retract", std::string(lua::kItemRetract));

const RedisScript kWithdrawCorrectionScript("item_withdraw_correction",
                                            std::string(lua::kItemWithdrawCorrection));

Error refusal(const std::string& code, const std::string& message) {
  Error e = Error::invalid("", message);
  e.code = code;
  return e;
}

std::string reply_string(const RedisValue& v, std::size_t i) {
  return i < v.elements.size() ? v.elements[i].str : std::string();
}

Result<void> check_reply(const Result<RedisValue>& r, const char* what) {
  if (!r) return r.error();
  if (r->is_error()) return Error::retryable(std::string(what) + ": " + r->str);
  return ok();
}

Result<CreateResult> create_result(const Result<RedisValue>& reply, const std::string& id,
                                   const std::string& body_sha256) {
  if (auto checked = check_reply(reply, "storing item"); !checked) return checked.error();
  const std::string status = reply_string(*reply, 0);
  if (status == "created") return CreateResult{id, false};
  if (status == "dup") {
    const std::string prev = reply_string(*reply, 1);
    const auto space = prev.find(' ');
    const std::string prev_id = prev.substr(0, space);
    const std::string prev_sha = space == std::string::npos ? "" : prev.substr(space + 1);
    if (prev_sha == body_sha256) return CreateResult{prev_id, true};
    Error e = Error::invalid(
        "Idempotency-Key",
        "this Idempotency-Key was used for a different request body (item " + prev_id + ")");
    e.code = "idempotency_conflict";
    return e;
  }
  return Error::permanent("item id collision: " + id);
}

// An item hash (HGETALL or HMGET json, state, author, created_at, approval_record) read back.
Result<StoredItem> stored_item(const std::string& id, const std::string& json_text,
                               std::string state, const std::string& author,
                               const std::string& created, std::string approval_record) {
  auto parsed = nlohmann::json::parse(json_text, nullptr, false);
  if (parsed.is_discarded()) return Error::permanent("stored item " + id + " is not valid JSON");
  // A stored item was validated on the way in; its channels are taken as known even if the
  // config has changed since.
  std::set<std::string> channels;
  if (parsed.contains("channels") && parsed["channels"].is_array()) {
    for (const auto& c : parsed["channels"]) {
      if (c.is_string()) channels.insert(c.get<std::string>());
    }
  }
  // Text rules that came later must not make an item stored before them unreadable.
  ItemLimits limits;
  limits.check_text = false;
  auto item = item_from_json(parsed, channels, limits);
  if (!item)
    return Error::permanent("stored item " + id + " no longer validates: " + item.error().message);
  item->id = id;
  item->author = author;
  if (!created.empty()) item->created_at = from_unix_ms(std::stoll(created));
  StoredItem stored;
  stored.item = std::move(*item);
  stored.state = std::move(state);
  stored.approval_record = std::move(approval_record);
  return stored;
}

}  // namespace

std::string new_item_id(TimePoint now) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t ms = static_cast<std::uint64_t>(to_unix_ms(now));
  std::string id(26, '0');
  for (int i = 9; i >= 0; --i) {  // 10 chars × 5 bits = 50 ≥ 48 bits of time
    id[i] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  std::uint64_t r1 = rng(), r2 = rng();
  for (int i = 10; i < 26; ++i) {  // 16 chars × 5 bits = 80 random bits
    std::uint64_t& src = i < 22 ? r1 : r2;
    id[i] = kAlphabet[src & 31];
    src >>= 5;
  }
  return id;
}

std::string idempotency_scope(std::string_view user, std::string_view route,
                              std::string_view item_id) {
  std::string scope = std::to_string(user.size());
  scope.append(":").append(user).append("|").append(route).append("|").append(item_id);
  return scope;
}

ItemStore::ItemStore(std::string prefix, DeliveryQueue& queue, const Clock& clock,
                     std::chrono::seconds audit_retention)
    : prefix_(std::move(prefix)),
      queue_(queue),
      clock_(clock),
      audit_(prefix_),
      retention_seconds_(std::to_string(std::max<long long>(1, audit_retention.count()))) {}

std::string ItemStore::key(const std::string& suffix) const {
  return prefix_ + "{items}:" + suffix;
}

Result<CreateResult> ItemStore::create(RedisConnection& conn, const Item& item,
                                       const std::string& idempotency_scope,
                                       const std::string& idempotency_key,
                                       const std::string& body_sha256) {
  const auto call =
      create_call(NewItem{&item, nullptr, idempotency_scope, idempotency_key, body_sha256});
  return create_result(kCreateScript.run(conn, call.keys, call.args), item.id, body_sha256);
}

RedisScript::Call ItemStore::create_call(const NewItem& n) const {
  const Item& item = *n.item;
  const bool use_idem = !n.idempotency_key.empty();
  const std::string idem_key = key("idem:" + n.idempotency_scope + ":" + n.idempotency_key);
  if (!n.record) {
    return {{key("item:" + item.id), key("by_time"), idem_key, audit_.item_log(item.id),
             key("corrections:" + (item.corrects.empty() ? item.id : item.corrects))},
            {item.id, item_to_json(item).dump(), item.author,
             std::to_string(to_unix_ms(item.created_at)), use_idem ? "1" : "0",
             item.id + " " + n.body_sha256, std::to_string(kIdempotencyTtlSeconds),
             to_string(item.kind), retention_seconds_, item.corrects}};
  }
  const CmsApprovalRecord& record = *n.record;
  std::string approvers;
  std::vector<std::string> args = {item.id,
                                   item_to_json(item).dump(),
                                   item.author,
                                   std::to_string(to_unix_ms(item.created_at)),
                                   use_idem ? "1" : "0",
                                   item.id + " " + n.body_sha256,
                                   std::to_string(kIdempotencyTtlSeconds),
                                   to_string(item.kind),
                                   retention_seconds_,
                                   record.json,
                                   record.system,
                                   record.reference,
                                   ""};
  for (const auto& a : record.approvals) {
    approvers += (approvers.empty() ? "" : ",") + a.user;
    args.push_back(nlohmann::json{
        {"user", a.user},
        {"decision", a.decision},
        {"comment", a.comment},
        {"at", to_unix_ms(a.at)},
        {"via", a.via}}.dump());
  }
  args[12] = approvers;
  return {{key("item:" + item.id), key("by_time"), idem_key, audit_.item_log(item.id),
           key("approvals:" + item.id), key("fanout")},
          std::move(args)};
}

Result<ReviewResult> ItemStore::review(RedisConnection& conn, const ReviewRequest& request) {
  if (request.decision != "approve" && request.decision != "reject") {
    return Error::invalid("decision", "must be \"approve\" or \"reject\"");
  }
  // Which item a correction corrects is in its JSON, written once at creation.
  std::string corrects;
  auto stored = get(conn, request.item_id);
  if (!stored) return stored.error();
  if (*stored) corrects = (*stored)->item.corrects;
  auto reply = kReviewScript.run(
      conn,
      {key("item:" + request.item_id), key("approvals:" + request.item_id), key("fanout"),
       audit_.item_log(request.item_id),
       key("item:" + (corrects.empty() ? request.item_id : corrects))},
      {request.item_id, request.user, request.decision, request.comment,
       std::to_string(clock_.now_ms()), std::to_string(request.required_publication),
       std::to_string(request.required_alert), retention_seconds_, corrects.empty() ? "0" : "1"});
  if (auto checked = check_reply(reply, "recording a review"); !checked) return checked.error();
  const std::string status = reply_string(*reply, 0);
  auto number = [&](std::size_t i) {
    return i < reply->elements.size() ? static_cast<int>(reply->elements[i].integer) : 0;
  };
  if (status == "not_found") {
    return refusal("not_found", "no item with id " + request.item_id);
  }
  if (status == "self_approval") {
    return refusal("self_approval", "the author of an item may not review it");
  }
  if (status == "already_reviewed") {
    return refusal("already_reviewed",
                   request.user +
                       " has already reviewed this item; a second review must come "
                       "from another user");
  }
  if (status == "not_pending") {
    return refusal("not_pending",
                   "the item is no longer under review (state " + reply_string(*reply, 3) + ")");
  }
  if (status == "original_retracted") {
    return refusal("original_retracted",
                   "item " + request.item_id + " corrects " + corrects + ", which was " +
                       reply_string(*reply, 3) +
                       ": approving the correction would publish the alert again");
  }
  return ReviewResult{status, number(1), number(2)};
}

Result<void> ItemStore::fan_out(RedisConnection& conn, const Item& item) {
  std::vector<NewDelivery> deliveries;
  deliveries.reserve(item.channels.size());
  // Taken before enqueueing: the audit entry "queued" must not come after the first attempt's.
  const TimePoint now = clock_.now();
  const bool scheduled = item.publish_at && *item.publish_at > now;
  std::string withheld;
  for (const auto& channel : item.channels) {
    if (item.status == "exercise" && drills_withheld_on_.count(channel) != 0) {
      withheld += (withheld.empty() ? "" : ",") + channel;
      continue;
    }
    NewDelivery nd;
    nd.delivery.id = delivery_id_for(item.id, channel);
    nd.delivery.item_id = item.id;
    nd.delivery.channel = channel;
    nd.delivery.lane = item.kind == ItemKind::alert ? Lane::alert : Lane::routine;
    nd.delivery.category = to_string(item.category);
    nd.delivery.kind = !item.corrects.empty()         ? DeliveryKind::correction
                       : item.kind == ItemKind::alert ? DeliveryKind::alert
                                                      : DeliveryKind::publication;
    nd.delivery.level = item.alert ? item.alert->level : std::string();
    nd.delivery.exercise = item.status == "exercise";
    // No payload: the dispatcher reads the item's body when it claims the delivery
    // (load_payloads), so a waiting delivery is a small record, not a copy of the item.
    nd.publish_at = item.publish_at;
    deliveries.push_back(std::move(nd));
  }
  if (!deliveries.empty()) {
    if (auto added = queue_.enqueue(conn, deliveries); !added) return added.error();
  }
  // With nothing to send the item is final at once: "queued" would wait for deliveries forever.
  const char* state = deliveries.empty() ? "withheld" : scheduled ? "scheduled" : "queued";
  auto reply = kFanoutDoneScript.run(
      conn, {key("item:" + item.id), key("fanout"), audit_.item_log(item.id)},
      {item.id, state, std::to_string(to_unix_ms(now)), retention_seconds_, withheld});
  return check_reply(reply, "recording a fan-out");
}

Result<void> ItemStore::load_payloads(RedisConnection& conn,
                                      std::vector<Delivery>& deliveries) const {
  std::vector<std::string> keys;
  std::vector<Delivery*> missing;
  for (Delivery& d : deliveries) {
    if (!d.payload.empty()) continue;
    keys.push_back(key("item:" + d.item_id));
    missing.push_back(&d);
  }
  if (keys.empty()) return {};
  auto reply = kBodiesScript.run(conn, keys, {});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "reading item bodies");
  for (std::size_t i = 0; i < missing.size() && i < reply->elements.size(); ++i) {
    missing[i]->payload = reply->elements[i].str;
  }
  return {};
}

Result<int> ItemStore::recover_fanouts(RedisConnection& conn,
                                       std::chrono::milliseconds older_than) {
  const auto cutoff = clock_.now_ms() - older_than.count();
  auto pending = conn.command(
      {"ZRANGEBYSCORE", key("fanout"), "-inf", std::to_string(cutoff), "LIMIT", "0", "100"});
  if (!pending) return pending.error();
  int repaired = 0;
  for (const auto& id_value : pending->elements) {
    auto stored = get(conn, id_value.str);
    if (!stored) return stored.error();
    if (!*stored) {  // the item hash is gone (should not happen): drop the dangling entry
      (void)conn.command({"ZREM", key("fanout"), id_value.str});
      continue;
    }
    if (auto done = fan_out(conn, (*stored)->item); !done) return done.error();
    ++repaired;
  }
  return repaired;
}

Result<std::optional<StoredItem>> ItemStore::get(RedisConnection& conn, const std::string& id) {
  auto replies = conn.pipeline(
      {{"HGETALL", key("item:" + id)}, {"LRANGE", key("approvals:" + id), "0", "-1"}});
  if (!replies) return replies.error();
  for (const auto& r : *replies) {
    if (r.is_error()) return Error::retryable("reading item: " + r.str);
  }
  const RedisValue* reply = &(*replies)[0];
  if (reply->elements.empty()) return std::optional<StoredItem>{};
  std::string json_text, state, author, created, approval_record;
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    const auto& field = reply->elements[i].str;
    const auto& value = reply->elements[i + 1].str;
    if (field == "json")
      json_text = value;
    else if (field == "state")
      state = value;
    else if (field == "author")
      author = value;
    else if (field == "created_at")
      created = value;
    else if (field == "approval_record")
      approval_record = value;
  }
  auto stored = stored_item(id, json_text, state, author, created, approval_record);
  if (!stored) return stored.error();
  std::vector<Approval> approvals;
  for (const auto& raw : (*replies)[1].elements) {
    auto a = nlohmann::json::parse(raw.str, nullptr, false);
    if (!a.is_object()) continue;
    Approval approval;
    approval.user = a.value("user", "");
    approval.decision = a.value("decision", "");
    // cjson encodes an empty comment as "" and large ms numbers as floats: read both kinds.
    approval.comment =
        a.contains("comment") && a["comment"].is_string() ? a["comment"].get<std::string>() : "";
    if (a.contains("at") && a["at"].is_number()) {
      approval.at = from_unix_ms(static_cast<std::int64_t>(a["at"].get<double>()));
    }
    // Herald's own approvals carry no "via"; records stored before CMS names were configured
    // carry the record's free-text "system", so they still read as a CMS's.
    if (a.contains("via") && a["via"].is_string() &&
        !a["via"].get_ref<const std::string&>().empty()) {
      const std::string via = a["via"].get<std::string>();
      approval.via = via.starts_with("cms:") ? via : "cms:" + via;
    }
    approvals.push_back(std::move(approval));
  }
  stored->approvals = std::move(approvals);
  return std::optional<StoredItem>{std::move(*stored)};
}

Result<CreateResult> ItemStore::create_approved(RedisConnection& conn, const Item& item,
                                                const CmsApprovalRecord& record,
                                                const std::string& idempotency_scope,
                                                const std::string& idempotency_key,
                                                const std::string& body_sha256) {
  const auto call =
      create_call(NewItem{&item, &record, idempotency_scope, idempotency_key, body_sha256});
  return create_result(kCreateApprovedScript.run(conn, call.keys, call.args), item.id, body_sha256);
}

Result<std::vector<Result<CreateResult>>> ItemStore::create_many(
    RedisConnection& conn, const std::vector<NewItem>& items) {
  std::vector<RedisScript::Call> calls;
  std::vector<std::vector<std::string>> commands;
  calls.reserve(items.size());
  commands.reserve(items.size());
  for (const auto& n : items) {
    calls.push_back(create_call(n));
    const RedisScript& script = n.record ? kCreateApprovedScript : kCreateScript;
    std::vector<std::string> command = {"EVALSHA", script.sha1(),
                                        std::to_string(calls.back().keys.size())};
    command.insert(command.end(), calls.back().keys.begin(), calls.back().keys.end());
    command.insert(command.end(), calls.back().args.begin(), calls.back().args.end());
    commands.push_back(std::move(command));
  }
  // Not RedisScript::run_many: it sends its first call alone, and a batch mixes two scripts.
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  // NOSCRIPT: that call did not run (Redis restarted or flushed its scripts), so running exactly
  // those calls again, in order, through run() (which loads the script) applies nothing twice.
  for (const RedisScript* script : {&kCreateScript, &kCreateApprovedScript}) {
    std::vector<std::size_t> missing;
    std::vector<RedisScript::Call> again;
    for (std::size_t i = 0; i < replies->size(); ++i) {
      const RedisValue& r = (*replies)[i];
      const bool is_this_script =
          (items[i].record != nullptr) == (script == &kCreateApprovedScript);
      if (is_this_script && r.is_error() && r.str.starts_with("NOSCRIPT")) {
        missing.push_back(i);
        again.push_back(calls[i]);
      }
    }
    if (missing.empty()) continue;
    auto retried = script->run_many(conn, again);
    if (!retried) return retried.error();
    for (std::size_t k = 0; k < missing.size(); ++k) {
      (*replies)[missing[k]] = std::move((*retried)[k]);
    }
  }
  std::vector<Result<CreateResult>> results;
  results.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    results.push_back(
        create_result(std::move((*replies)[i]), items[i].item->id, items[i].body_sha256));
  }
  return results;
}

Result<std::vector<std::string>> ItemStore::states(RedisConnection& conn,
                                                   const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  if (ids.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size());
  for (const auto& id : ids) commands.push_back({"HGET", key("item:" + id), "state"});
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  out.reserve(ids.size());
  for (const auto& r : *replies) {
    if (r.is_error()) return Error::retryable("reading item states: " + r.str);
    out.push_back(r.str);
  }
  return out;
}

Result<std::vector<ListedItem>> ItemStore::list_newest(RedisConnection& conn,
                                                       const ItemRange& range, int count) {
  std::vector<ListedItem> out;
  if (count <= 0) return out;
  std::string max = "+inf";
  std::string min = range.from_ms ? std::to_string(*range.from_ms) : "-inf";
  bool skip_ties = false;  // entries at the cursor's own score up to and including its id
  if (range.to_ms) max = "(" + std::to_string(*range.to_ms);
  if (range.after && (!range.to_ms || range.after->created_ms < *range.to_ms)) {
    max = std::to_string(range.after->created_ms);
    skip_ties = true;
  }
  // Members with equal scores come in reverse id order: those not after the cursor come first,
  // so at most a page or two of them is skipped (items created in the same millisecond).
  std::vector<ItemPosition> positions;
  const int page = std::max(count, 50);
  for (int offset = 0;; offset += page) {
    auto reply = conn.command({"ZREVRANGEBYSCORE", key("by_time"), max, min, "WITHSCORES", "LIMIT",
                               std::to_string(offset), std::to_string(page)});
    if (auto checked = check_reply(reply, "listing items"); !checked) return checked.error();
    const auto& e = reply->elements;
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
      ItemPosition p{static_cast<std::int64_t>(std::stod(e[i + 1].str)), e[i].str};
      if (skip_ties && p.created_ms == range.after->created_ms && p.id >= range.after->id) {
        continue;
      }
      positions.push_back(std::move(p));
      if (static_cast<int>(positions.size()) == count) break;
    }
    if (static_cast<int>(positions.size()) == count || static_cast<int>(e.size()) < 2 * page) {
      break;
    }
  }
  if (positions.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(positions.size());
  for (const auto& p : positions) {
    commands.push_back(
        {"HMGET", key("item:" + p.id), "json", "state", "author", "created_at", "approval_record"});
  }
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  for (std::size_t i = 0; i < positions.size() && i < replies->size(); ++i) {
    const RedisValue& r = (*replies)[i];
    if (r.is_error()) return Error::retryable("reading item: " + r.str);
    if (r.elements.size() < 5 || r.elements[0].str.empty()) continue;  // expired or removed
    auto stored = stored_item(positions[i].id, r.elements[0].str, r.elements[1].str,
                              r.elements[2].str, r.elements[3].str, r.elements[4].str);
    if (!stored) return stored.error();
    out.push_back(ListedItem{std::move(positions[i]), std::move(*stored)});
  }
  return out;
}

Result<RetractResult> ItemStore::retract(RedisConnection& conn, const std::string& item_id,
                                         const std::string& who, const std::string& reason) {
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error::invalid("reason", "a retraction needs a reason (it goes into the audit trail)");
  }
  auto stored = get(conn, item_id);
  if (!stored) return stored.error();
  if (!*stored) return refusal("not_found", "no item with id " + item_id);
  auto reply = kRetractScript.run(
      conn, {key("item:" + item_id), key("fanout"), audit_.item_log(item_id), key("retracting")},
      {item_id, who, reason, std::to_string(clock_.now_ms()), retention_seconds_});
  if (auto checked = check_reply(reply, "retracting an item"); !checked) return checked.error();
  const std::string status = reply_string(*reply, 0);
  if (status == "not_found") return refusal("not_found", "no item with id " + item_id);
  if (status == "not_retractable") {
    return refusal("not_retractable",
                   "item " + item_id + " is " + reply_string(*reply, 1) +
                       ": it was never approved, so there is nothing to retract");
  }
  RetractResult result;
  result.state = status;
  result.already = reply_string(*reply, 1) == "1";
  result.retracted_by = reply_string(*reply, 2);
  result.reason = reply_string(*reply, 3);
  if (result.state != "retracted") return result;
  // Before the recalls: from here on no correction of it can be approved (review() checks the
  // original), and those under review leave it, so none brings the alert back.
  auto withdrawn = withdraw_corrections(conn, item_id, result.retracted_by, result.reason);
  if (!withdrawn) return withdrawn.error();
  result.withdrawn_corrections = std::move(*withdrawn);
  auto plan = settle_retraction(conn, (*stored)->item, result.retracted_by, result.reason);
  if (!plan) return plan.error();
  result.plan = std::move(*plan);
  return result;
}

Result<std::vector<std::string>> ItemStore::withdraw_corrections(RedisConnection& conn,
                                                                 const std::string& item_id,
                                                                 const std::string& who,
                                                                 const std::string& reason) {
  auto members = conn.command({"SMEMBERS", key("corrections:" + item_id)});
  if (!members) return members.error();
  if (members->is_error()) return Error::retryable("listing corrections: " + members->str);
  std::vector<std::string> withdrawn;
  const std::string why = "the item it corrects (" + item_id + ") was retracted: " + reason;
  for (const auto& member : members->elements) {
    auto reply = kWithdrawCorrectionScript.run(
        conn, {key("item:" + member.str), audit_.item_log(member.str)},
        {member.str, who, why, std::to_string(clock_.now_ms()), retention_seconds_});
    if (auto checked = check_reply(reply, "withdrawing a correction"); !checked) {
      return checked.error();
    }
    if (reply->integer == 1) withdrawn.push_back(member.str);
  }
  std::sort(withdrawn.begin(), withdrawn.end());
  return withdrawn;
}

Result<std::vector<RecallPlanEntry>> ItemStore::settle_retraction(RedisConnection& conn,
                                                                  const Item& item,
                                                                  const std::string& who,
                                                                  const std::string& reason) {
  std::vector<RecallPlanEntry> plan;
  std::vector<NewDelivery> recalls;
  const std::string recall_base = item.id + "-recall";
  for (const auto& channel : item.channels) {
    RecallPlanEntry entry;
    entry.channel = channel;
    entry.delivery_id = delivery_id_for(item.id, channel);
    entry.recall_id = delivery_id_for(recall_base, channel);
    auto cancelled = queue_.cancel(conn, entry.delivery_id, who, reason, item.id);
    if (!cancelled) return cancelled.error();
    // In flight: the worker may already be publishing; if so the recall withdraws it, and if the
    // worker cancels it instead, the recall finds it cancelled and has nothing to do.
    const bool recall = cancelled->result == "published" || cancelled->result == "cancel_requested";
    entry.action = recall ? "recall" : "cancelled";
    if (recall) {
      NewDelivery nd;
      nd.delivery.id = entry.recall_id;
      nd.delivery.item_id = item.id;
      nd.delivery.channel = channel;
      nd.delivery.lane = Lane::alert;  // a withdrawal is as urgent as an alert, whatever it recalls
      nd.delivery.category = to_string(item.category);
      nd.delivery.kind = DeliveryKind::retraction;
      nd.delivery.level = item.alert ? item.alert->level : std::string();
      nd.delivery.exercise = item.status == "exercise";
      const nlohmann::json payload = {{"op", "recall"},
                                      {"target", entry.delivery_id},
                                      {"reason", reason},
                                      {"retracted_by", who},
                                      {"item", item_to_json(item)}};
      nd.delivery.payload = payload.dump();
      recalls.push_back(std::move(nd));
    }
    plan.push_back(std::move(entry));
  }
  if (!recalls.empty()) {
    if (auto added = queue_.enqueue(conn, recalls); !added) return added.error();
  }
  std::vector<std::string> ids;
  for (const auto& entry : plan) {
    ids.push_back(entry.delivery_id);
    ids.push_back(entry.recall_id);
  }
  auto records = queue_.get_many(conn, ids);
  if (!records) return records.error();
  for (auto& entry : plan) {
    for (const auto& record : *records) {
      if (record.id == entry.delivery_id) entry.delivery_state = to_string(record.state);
      if (record.id == entry.recall_id) {
        // A recall queued by an earlier call (the delivery was in flight then) is still the plan.
        entry.action = "recall";
        entry.recall_state = to_string(record.state);
      }
    }
    if (entry.action != "recall") entry.recall_id.clear();
  }
  auto done = conn.command({"ZREM", key("retracting"), item.id});
  if (!done) return done.error();
  return plan;
}

Result<int> ItemStore::recover_retractions(RedisConnection& conn,
                                           std::chrono::milliseconds older_than) {
  const auto cutoff = clock_.now_ms() - older_than.count();
  auto pending = conn.command(
      {"ZRANGEBYSCORE", key("retracting"), "-inf", std::to_string(cutoff), "LIMIT", "0", "100"});
  if (!pending) return pending.error();
  if (pending->is_error()) return Error::retryable("listing retractions: " + pending->str);
  int repaired = 0;
  for (const auto& id_value : pending->elements) {
    auto stored = get(conn, id_value.str);
    if (!stored) return stored.error();
    auto fields =
        conn.command({"HMGET", key("item:" + id_value.str), "retracted_by", "retract_reason"});
    if (!fields) return fields.error();
    if (!*stored || fields->elements.size() < 2) {
      (void)conn.command({"ZREM", key("retracting"), id_value.str});
      continue;
    }
    auto withdrawn =
        withdraw_corrections(conn, id_value.str, fields->elements[0].str, fields->elements[1].str);
    if (!withdrawn) return withdrawn.error();
    auto plan =
        settle_retraction(conn, (*stored)->item, fields->elements[0].str, fields->elements[1].str);
    if (!plan) return plan.error();
    ++repaired;
  }
  return repaired;
}

}  // namespace herald
