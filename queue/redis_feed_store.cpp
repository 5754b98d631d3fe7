#include "queue/redis_feed_store.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include "queue/lua_scripts.h"

namespace herald {
namespace {

using nlohmann::json;

const RedisScript kWriteEntry("feed_write_entry", std::string(lua::kFeedWriteEntry));

const RedisScript kRemoveEntry("feed_remove_entry", std::string(lua::kFeedRemoveEntry));

const RedisScript kPutCap("feed_put_cap", std::string(lua::kFeedPutCap));

const RedisScript kReleaseStep("feed_release_step", std::string(lua::kFeedReleaseStep));

json entry_to_json(const FeedEntry& e) {
  return {{"id", e.id},
          {"item_id", e.item_id},
          {"kind", e.kind},
          {"category", e.category},
          {"title", e.title},
          {"summary", e.summary},
          {"content", e.content},
          {"link", e.link},
          {"published", to_unix_ms(e.published)},
          {"updated", to_unix_ms(e.updated)},
          {"cap_id", e.cap_id},
          {"msg_type", e.msg_type}};
}

std::optional<FeedEntry> entry_from_json(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  FeedEntry e;
  e.id = j.value("id", "");
  e.item_id = j.value("item_id", "");
  e.kind = j.value("kind", "");
  e.category = j.value("category", "");
  e.title = j.value("title", "");
  e.summary = j.value("summary", "");
  e.content = j.value("content", "");
  e.link = j.value("link", "");
  e.published = from_unix_ms(j.value("published", std::int64_t{0}));
  e.updated = from_unix_ms(j.value("updated", std::int64_t{0}));
  e.cap_id = j.value("cap_id", "");
  e.msg_type = j.value("msg_type", "");
  return e;
}

Error reply_error(const RedisValue& reply, const char* what) {
  return error_from_reply(reply, std::string("feed store: ") + what);
}

}  // namespace

RedisFeedStore::RedisFeedStore(std::string prefix, RedisPool& pool, std::chrono::seconds step_ttl)
    : prefix_(std::move(prefix)), pool_(pool), step_ttl_(step_ttl) {}

Result<RedisValue> RedisFeedStore::run(const RedisScript& script,
                                       const std::vector<std::string>& keys,
                                       const std::vector<std::string>& args) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = script.run(**conn, keys, args);
  if (!reply) return reply.error();
  if (reply->is_error()) return reply_error(*reply, script.name().c_str());
  return reply;
}

Result<RedisValue> RedisFeedStore::command(const std::vector<std::string>& args) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = (*conn)->command(args);
  if (!reply) return reply.error();
  if (reply->is_error()) return reply_error(*reply, args.front().c_str());
  return reply;
}

Result<bool> RedisFeedStore::write_entry(const std::string& delivery_id, const std::string& feed,
                                         const FeedEntry& entry, std::size_t max_entries) {
  auto reply = run(kWriteEntry,
                   {key("steps:" + delivery_id), feed_key(feed, "entries"), feed_key(feed, "index"),
                    feed_key(feed, "version"), key("alias")},
                   {"feed:" + feed, entry.id, entry_to_json(entry).dump(),
                    std::to_string(to_unix_ms(entry.updated)),
                    std::to_string(max_entries == 0 ? 1 : max_entries), entry.item_id,
                    std::to_string(step_ttl_.count())});
  if (!reply) return reply.error();
  return reply->integer == 1;
}

Result<bool> RedisFeedStore::remove_entry(const std::string& delivery_id, const std::string& feed,
                                          const std::string& entry_id) {
  auto reply = run(kRemoveEntry,
                   {key("steps:" + delivery_id), feed_key(feed, "entries"), feed_key(feed, "index"),
                    feed_key(feed, "version")},
                   {"unfeed:" + feed, entry_id, std::to_string(step_ttl_.count())});
  if (!reply) return reply.error();
  return reply->integer == 1;
}

Result<std::vector<FeedEntry>> RedisFeedStore::newest_entries(const std::string& feed,
                                                              std::size_t n) {
  std::vector<FeedEntry> out;
  if (n == 0) return out;
  auto ids = command({"ZREVRANGE", feed_key(feed, "index"), "0", std::to_string(n - 1)});
  if (!ids) return ids.error();
  if (ids->elements.empty()) return out;
  std::vector<std::string> args = {"HMGET", feed_key(feed, "entries")};
  for (const auto& id : ids->elements) args.push_back(id.str);
  auto entries = command(args);
  if (!entries) return entries.error();
  // An entry trimmed between the two reads is simply left out.
  for (const auto& value : entries->elements) {
    if (value.is_nil()) continue;
    if (auto entry = entry_from_json(value.str)) out.push_back(std::move(*entry));
  }
  return out;
}

Result<std::int64_t> RedisFeedStore::version(const std::string& feed) {
  auto reply = command({"GET", feed_key(feed, "version")});
  if (!reply) return reply.error();
  if (reply->is_nil()) return std::int64_t{0};
  return static_cast<std::int64_t>(std::strtoll(reply->str.c_str(), nullptr, 10));
}

Result<std::string> RedisFeedStore::entry_id_for(const std::string& item_id) {
  auto reply = command({"HGET", key("alias"), item_id});
  if (!reply) return reply.error();
  return reply->is_nil() ? item_id : reply->str;
}

Result<bool> RedisFeedStore::put_cap(const std::string& delivery_id, const CapRecord& record) {
  const json doc = {{"id", record.id},
                    {"root_id", record.root_id},
                    {"xml", record.xml},
                    {"reference", record.reference},
                    {"sent", to_unix_ms(record.sent)},
                    {"msg_type", record.msg_type},
                    {"title", record.title}};
  auto reply =
      run(kPutCap,
          {key("steps:" + delivery_id), key("cap:" + record.id), key("chain:" + record.root_id)},
          {"cap", doc.dump(), record.reference, std::to_string(step_ttl_.count())});
  if (!reply) return reply.error();
  return reply->integer == 1;
}

Result<std::optional<CapRecord>> RedisFeedStore::cap(const std::string& id) {
  auto reply = command({"GET", key("cap:" + id)});
  if (!reply) return reply.error();
  if (reply->is_nil()) return std::optional<CapRecord>();
  const json j = json::parse(reply->str, nullptr, false);
  if (!j.is_object()) return Error::permanent("feed store: CAP document " + id + " is corrupt");
  CapRecord record;
  record.id = j.value("id", "");
  record.root_id = j.value("root_id", "");
  record.xml = j.value("xml", "");
  record.reference = j.value("reference", "");
  record.sent = from_unix_ms(j.value("sent", std::int64_t{0}));
  record.msg_type = j.value("msg_type", "");
  record.title = j.value("title", "");
  return std::optional<CapRecord>(std::move(record));
}

Result<std::vector<std::string>> RedisFeedStore::cap_chain(const std::string& root_id) {
  auto reply = command({"LRANGE", key("chain:" + root_id), "0", "-1"});
  if (!reply) return reply.error();
  std::vector<std::string> out;
  for (const auto& value : reply->elements) out.push_back(value.str);
  return out;
}

Result<std::set<std::string>> RedisFeedStore::done_steps(const std::string& delivery_id) {
  auto reply = command({"SMEMBERS", key("steps:" + delivery_id)});
  if (!reply) return reply.error();
  std::set<std::string> out;
  for (const auto& value : reply->elements) out.insert(value.str);
  return out;
}

Result<void> RedisFeedStore::mark_done(const std::string& delivery_id, const std::string& step) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  const std::string steps = key("steps:" + delivery_id);
  auto replies = (*conn)->pipeline(
      {{"SADD", steps, step}, {"EXPIRE", steps, std::to_string(step_ttl_.count())}});
  if (!replies) return replies.error();
  for (const auto& reply : *replies) {
    if (reply.is_error()) return reply_error(reply, "SADD");
  }
  return ok();
}

Result<bool> RedisFeedStore::hold_step(const std::string& delivery_id, const std::string& step,
                                       const std::string& holder, std::chrono::milliseconds hold) {
  auto reply = command({"SET", key("hold:" + delivery_id + ":" + step), holder, "NX", "PX",
                        std::to_string(std::max<long long>(1, hold.count()))});
  if (!reply) return reply.error();
  return reply->str == "OK";
}

Result<void> RedisFeedStore::release_step(const std::string& delivery_id, const std::string& step,
                                          const std::string& holder) {
  auto reply = run(kReleaseStep, {key("hold:" + delivery_id + ":" + step)}, {holder});
  if (!reply) return reply.error();
  return ok();
}

}  // namespace herald
