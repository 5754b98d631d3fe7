// RedisTokenCache: TokenCache in Redis, so every heraldd on the same Redis uses one platform token
// and only one of them fetches a new one at a time (SET NX PX lock, compare-and-delete release).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "core/clock.h"
#include "core/token_cache.h"
#include "queue/redis.h"

namespace herald {

struct RedisTokenCacheOptions {
  std::string prefix = "herald:";  // keys are "<prefix>{tokens}:<key>" (one hash slot)
  // How long the refresh lock lives if its holder dies mid-fetch; longer than any fetch takes
  // (the channels' HTTP timeouts are at most a few seconds by default).
  std::chrono::milliseconds lock_ttl{15000};
  // How long a caller waits for another instance's refresh before giving up (retryable error).
  std::chrono::milliseconds wait{12000};
  // How often a waiting caller looks again: a refresh is rare, so a short poll costs little.
  std::chrono::milliseconds poll{20};
};

class RedisTokenCache final : public TokenCache {
 public:
  RedisTokenCache(RedisTokenCacheOptions options, RedisPool& pool, const Clock& clock);

  Result<std::optional<CachedToken>> get(const std::string& key) override;
  Result<CachedToken> refresh(const std::string& key, const std::string& stale,
                              const Fetch& fetch) override;
  Result<bool> invalidate(const std::string& key, const std::string& failed) override;
  Result<std::optional<std::string>> get_value(const std::string& key) override;
  Result<void> set_value(const std::string& key, const std::string& value,
                         std::chrono::milliseconds ttl) override;
  Result<void> erase_value(const std::string& key) override;

  // Fetches made through refresh(), per key, since the counters were created (for /metrics:
  // herald_token_refreshes_total{key="wechat:<appid>"}).
  Result<std::map<std::string, std::int64_t>> refresh_counts();

 private:
  std::string token_key(const std::string& key) const;
  std::string lock_key(const std::string& key) const;
  std::string value_key(const std::string& key) const;
  std::string counter_key() const;
  Result<std::optional<CachedToken>> read(RedisConnection& conn, const std::string& key);
  // true if taken; `owner` is what release() must present.
  Result<bool> try_lock(const std::string& key, const std::string& owner);
  void release(const std::string& key, const std::string& owner);

  RedisTokenCacheOptions options_;
  RedisPool& pool_;
  const Clock& clock_;
};

}  // namespace herald
