// RedisFeedStore: FeedStore in Redis, so every heraldd serves the same feeds and a retry on any
// instance knows which pushes of a delivery are already done.
#pragma once

#include <chrono>
#include <string>

#include "core/feed_store.h"
#include "queue/redis.h"

namespace herald {

// Keys (all under one hash tag, so each script's keys share a cluster slot):
//   <p>{media}:feed:<name>:entries  hash entry id → entry JSON
//   <p>{media}:feed:<name>:index    zset entry id by `updated` (ms): newest last
//   <p>{media}:feed:<name>:version  counter, +1 per change
//   <p>{media}:alias                hash item id → entry id (corrections find their entry)
//   <p>{media}:cap:<id>             a CAP document and its chain position (JSON)
//   <p>{media}:chain:<root id>      list of the chain's references, oldest first
//   <p>{media}:steps:<delivery id>  set of the delivery's steps done; expires after step_ttl
//   <p>{media}:hold:<delivery id>:<step>  the attempt pushing that step now (PX: its hold)
class RedisFeedStore final : public FeedStore {
 public:
  RedisFeedStore(std::string prefix, RedisPool& pool,
                 std::chrono::seconds step_ttl = std::chrono::hours(24 * 30));

  Result<bool> write_entry(const std::string& delivery_id, const std::string& feed,
                           const FeedEntry& entry, std::size_t max_entries) override;
  Result<bool> remove_entry(const std::string& delivery_id, const std::string& feed,
                            const std::string& entry_id) override;
  Result<std::vector<FeedEntry>> newest_entries(const std::string& feed, std::size_t n) override;
  Result<std::int64_t> version(const std::string& feed) override;
  Result<std::string> entry_id_for(const std::string& item_id) override;
  Result<bool> put_cap(const std::string& delivery_id, const CapRecord& record) override;
  Result<std::optional<CapRecord>> cap(const std::string& id) override;
  Result<std::vector<std::string>> cap_chain(const std::string& root_id) override;
  Result<std::set<std::string>> done_steps(const std::string& delivery_id) override;
  Result<void> mark_done(const std::string& delivery_id, const std::string& step) override;
  Result<bool> hold_step(const std::string& delivery_id, const std::string& step,
                         const std::string& holder, std::chrono::milliseconds hold) override;
  Result<void> release_step(const std::string& delivery_id, const std::string& step,
                            const std::string& holder) override;

 private:
  std::string key(const std::string& suffix) const { return prefix_ + "{media}:" + suffix; }
  std::string feed_key(const std::string& feed, const char* what) const {
    return key("feed:" + feed + ":" + what);
  }
  Result<RedisValue> run(const RedisScript& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args);
  Result<RedisValue> command(const std::vector<std::string>& args);

  std::string prefix_;
  RedisPool& pool_;
  std::chrono::seconds step_ttl_;
};

}  // namespace herald
