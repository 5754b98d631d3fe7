#include "queue/item_store.h"

#include <array>
#include <random>
#include <set>

namespace herald {
namespace {

constexpr int kIdempotencyTtlSeconds = 24 * 3600;

// KEYS: item, by_time, idem, audit. ARGV: id, json, author, created_ms, use_idem, idem_value,
// ttl, kind, audit retention s.
const RedisScript kCreateScript("item_create", R"lua(
if ARGV[5] == '1' then
  local prev = redis.call('GET', KEYS[3])
  if prev then return {'dup', prev} end
  redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'state', 'pending_review', 'author', ARGV[3],
           'created_at', ARGV[4], 'kind', ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('XADD', KEYS[4], '*', 'event', 'submitted', 'who', ARGV[3], 'at', ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[9])
return {'created', ''}
)lua");

// KEYS: item, approvals, fanout, audit. ARGV: id, user, decision, comment, now ms,
// required for a publication, required for an alert, audit retention s.
// Returns {status, approvals so far, required}: status is the new state, or the refusal.
const RedisScript kReviewScript("item_review", R"lua(
local f = redis.call('HMGET', KEYS[1], 'state', 'author', 'kind')
if not f[1] then return {'not_found', 0, 0} end
local required = tonumber(ARGV[6])
if f[3] == 'alert' then required = tonumber(ARGV[7]) end
local entries = redis.call('LRANGE', KEYS[2], 0, -1)
local approvals = 0
for _, raw in ipairs(entries) do
  local e = cjson.decode(raw)
  if e.user == ARGV[2] then return {'already_reviewed', 0, required} end
  if e.decision == 'approve' then approvals = approvals + 1 end
end
if f[1] ~= 'pending_review' then return {'not_pending', approvals, required, f[1]} end
if f[2] == ARGV[2] then return {'self_approval', approvals, required} end
local now = ARGV[5]
redis.call('RPUSH', KEYS[2], cjson.encode({user = ARGV[2], decision = ARGV[3],
  comment = ARGV[4], at = tonumber(now)}))
local event = 'approval'
if ARGV[3] == 'reject' then event = 'rejection' end
redis.call('XADD', KEYS[4], '*', 'event', event, 'who', ARGV[2], 'at', now, 'decision', ARGV[3],
  'comment', ARGV[4])
local state = 'pending_review'
if ARGV[3] == 'reject' then
  state = 'rejected'
else
  approvals = approvals + 1
  if approvals >= required then
    state = 'approved'
    -- The fan-out is pending from this very step: if this heraldd dies now, recovery does it.
    redis.call('ZADD', KEYS[3], now, ARGV[1])
  end
end
if state ~= 'pending_review' then
  redis.call('HSET', KEYS[1], 'state', state)
  redis.call('XADD', KEYS[4], '*', 'event', state, 'who', ARGV[2], 'at', now)
end
redis.call('EXPIRE', KEYS[4], ARGV[8])
return {state, approvals, required}
)lua");

// KEYS: item, fanout, audit. ARGV: id, new state (queued|scheduled), now ms, audit retention s.
// Only the first run after approval changes the state and writes the audit entry, so a fan-out
// repeated by recovery is audited once.
const RedisScript kFanoutDoneScript("item_fanout_done", R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'approved' or state == 'accepted' then
  redis.call('HSET', KEYS[1], 'state', ARGV[2])
  redis.call('XADD', KEYS[3], '*', 'event', ARGV[2], 'who', 'heraldd', 'at', ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
)lua");

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
  const bool use_idem = !idempotency_key.empty();
  const std::string idem_key = key("idem:" + idempotency_scope + ":" + idempotency_key);
  auto reply = kCreateScript.run(
      conn, {key("item:" + item.id), key("by_time"), idem_key, audit_.item_stream(item.id)},
      {item.id, item_to_json(item).dump(), item.author, std::to_string(to_unix_ms(item.created_at)),
       use_idem ? "1" : "0", item.id + " " + body_sha256, std::to_string(kIdempotencyTtlSeconds),
       to_string(item.kind), retention_seconds_});
  if (auto checked = check_reply(reply, "storing item"); !checked) return checked.error();
  const std::string status = reply_string(*reply, 0);
  if (status == "created") return CreateResult{item.id, false};
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
  return Error::permanent("item id collision: " + item.id);
}

Result<ReviewResult> ItemStore::review(RedisConnection& conn, const ReviewRequest& request) {
  if (request.decision != "approve" && request.decision != "reject") {
    return Error::invalid("decision", "must be \"approve\" or \"reject\"");
  }
  auto reply = kReviewScript.run(
      conn,
      {key("item:" + request.item_id), key("approvals:" + request.item_id), key("fanout"),
       audit_.item_stream(request.item_id)},
      {request.item_id, request.user, request.decision, request.comment,
       std::to_string(clock_.now_ms()), std::to_string(request.required_publication),
       std::to_string(request.required_alert), retention_seconds_});
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
  return ReviewResult{status, number(1), number(2)};
}

Result<void> ItemStore::fan_out(RedisConnection& conn, const Item& item) {
  std::vector<NewDelivery> deliveries;
  deliveries.reserve(item.channels.size());
  const std::string payload = item_to_json(item).dump();
  // Taken before enqueueing: the audit entry "queued" must not come after the first attempt's.
  const TimePoint now = clock_.now();
  const bool scheduled = item.publish_at && *item.publish_at > now;
  for (const auto& channel : item.channels) {
    NewDelivery nd;
    nd.delivery.id = delivery_id_for(item.id, channel);
    nd.delivery.item_id = item.id;
    nd.delivery.channel = channel;
    nd.delivery.lane = item.kind == ItemKind::alert ? Lane::alert : Lane::routine;
    nd.delivery.category = to_string(item.category);
    nd.delivery.kind = to_string(item.kind);
    nd.delivery.payload = payload;
    nd.publish_at = item.publish_at;
    deliveries.push_back(std::move(nd));
  }
  if (auto added = queue_.enqueue(conn, deliveries); !added) return added.error();
  auto reply = kFanoutDoneScript.run(
      conn, {key("item:" + item.id), key("fanout"), audit_.item_stream(item.id)},
      {item.id, scheduled ? "scheduled" : "queued", std::to_string(to_unix_ms(now)),
       retention_seconds_});
  return check_reply(reply, "recording a fan-out");
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
  std::string json_text, state, author, created;
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
  }
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
  auto item = item_from_json(parsed, channels);
  if (!item)
    return Error::permanent("stored item " + id + " no longer validates: " + item.error().message);
  item->id = id;
  item->author = author;
  if (!created.empty()) item->created_at = from_unix_ms(std::stoll(created));
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
    approvals.push_back(std::move(approval));
  }
  return std::optional<StoredItem>{StoredItem{std::move(*item), state, std::move(approvals)}};
}

}  // namespace herald
