#include "queue/item_store.h"

#include <array>
#include <random>
#include <set>

namespace herald {
namespace {

constexpr int kIdempotencyTtlSeconds = 24 * 3600;

// KEYS: item, by_time, fanout, idem. ARGV: id, json, author, created_ms, use_idem, idem_value, ttl.
const RedisScript kCreateScript("item_create", R"lua(
if ARGV[5] == '1' then
  local prev = redis.call('GET', KEYS[4])
  if prev then return {'dup', prev} end
  redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'state', 'accepted', 'author', ARGV[3],
           'created_at', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return {'created', ''}
)lua");

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

ItemStore::ItemStore(std::string prefix, DeliveryQueue& queue, const Clock& clock)
    : prefix_(std::move(prefix)), queue_(queue), clock_(clock) {}

std::string ItemStore::key(const std::string& suffix) const { return prefix_ + "{items}:" + suffix; }

Result<CreateResult> ItemStore::create(RedisConnection& conn, const Item& item,
                                       const std::string& idempotency_scope,
                                       const std::string& idempotency_key,
                                       const std::string& body_sha256) {
  const bool use_idem = !idempotency_key.empty();
  const std::string idem_key = key("idem:" + idempotency_scope + ":" + idempotency_key);
  auto reply = kCreateScript.run(
      conn, {key("item:" + item.id), key("by_time"), key("fanout"), idem_key},
      {item.id, item_to_json(item).dump(), item.author, std::to_string(to_unix_ms(item.created_at)),
       use_idem ? "1" : "0", item.id + " " + body_sha256, std::to_string(kIdempotencyTtlSeconds)});
  if (auto checked = check_reply(reply, "storing item"); !checked) return checked.error();
  const std::string status = reply_string(*reply, 0);
  if (status == "created") return CreateResult{item.id, false};
  if (status == "dup") {
    const std::string prev = reply_string(*reply, 1);
    const auto space = prev.find(' ');
    const std::string prev_id = prev.substr(0, space);
    const std::string prev_sha = space == std::string::npos ? "" : prev.substr(space + 1);
    if (prev_sha == body_sha256) return CreateResult{prev_id, true};
    Error e = Error::invalid("Idempotency-Key",
                             "this Idempotency-Key was used for a different request body (item " +
                                 prev_id + ")");
    e.code = "idempotency_conflict";
    return e;
  }
  return Error::permanent("item id collision: " + item.id);
}

Result<void> ItemStore::fan_out(RedisConnection& conn, const Item& item) {
  std::vector<NewDelivery> deliveries;
  deliveries.reserve(item.channels.size());
  const std::string payload = item_to_json(item).dump();
  const bool scheduled = item.publish_at && *item.publish_at > clock_.now();
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
  auto replies = conn.pipeline({{"HSET", key("item:" + item.id), "state", scheduled ? "scheduled" : "queued"},
                                {"ZREM", key("fanout"), item.id}});
  if (!replies) return replies.error();
  return ok();
}

Result<int> ItemStore::recover_fanouts(RedisConnection& conn, std::chrono::milliseconds older_than) {
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
  auto reply = conn.command({"HGETALL", key("item:" + id)});
  if (!reply) return reply.error();
  if (reply->is_error()) return Error::retryable("reading item: " + reply->str);
  if (reply->elements.empty()) return std::optional<StoredItem>{};
  std::string json_text, state, author, created;
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    const auto& field = reply->elements[i].str;
    const auto& value = reply->elements[i + 1].str;
    if (field == "json") json_text = value;
    else if (field == "state") state = value;
    else if (field == "author") author = value;
    else if (field == "created_at") created = value;
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
  if (!item) return Error::permanent("stored item " + id + " no longer validates: " + item.error().message);
  item->id = id;
  item->author = author;
  if (!created.empty()) item->created_at = from_unix_ms(std::stoll(created));
  return std::optional<StoredItem>{StoredItem{std::move(*item), state}};
}

}  // namespace herald
