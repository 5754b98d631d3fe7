// TokenCache: platform access tokens (WeChat's access_token) shared by every heraldd instance and
// refreshed by one instance at a time (implemented in Redis by queue/; adapters see only this).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/result.h"

namespace herald {

struct CachedToken {
  std::string value;
  TimePoint expires_at{};  // the platform's deadline: the cache forgets the token then
  TimePoint refresh_at{};  // from here on a caller should fetch a new one early (<= expires_at)
};

class TokenCache {
 public:
  // Fetches a new token from the platform; runs at most once at a time per key across instances.
  using Fetch = std::function<Result<CachedToken>()>;

  virtual ~TokenCache() = default;

  // The token stored under `key`; nullopt when there is none (or it has expired).
  virtual Result<std::optional<CachedToken>> get(const std::string& key) = 0;

  // Replaces the token under `key` unless another caller already did. Under a lock shared by all
  // instances: if the stored token is not `stale` and not yet due for refresh, it is returned
  // without fetching (someone refreshed meanwhile); otherwise `fetch` runs, its token is stored and
  // the refresh counted. A caller that finds the lock taken waits (bounded) for the holder's token.
  // `stale` is the token the caller saw fail or saw due ("" when it had none).
  virtual Result<CachedToken> refresh(const std::string& key, const std::string& stale,
                                      const Fetch& fetch) = 0;

  // Forgets the token under `key` only if it is still `failed` (a newer one is kept). Returns
  // whether something was forgotten.
  virtual Result<bool> invalidate(const std::string& key, const std::string& failed) = 0;

  // Small values that belong with a platform account and outlive a process (WeChat: the cover
  // image's permanent media_id, a publication's draft and publish ids). ttl 0 = no expiry.
  virtual Result<std::optional<std::string>> get_value(const std::string& key) = 0;
  virtual Result<void> set_value(const std::string& key, const std::string& value,
                                 std::chrono::milliseconds ttl) = 0;
  virtual Result<void> erase_value(const std::string& key) = 0;
};

// A TokenCache for one process (no Redis): what a channel uses when it is built without a shared
// cache (heraldd --check-config, unit tests). Same semantics, a mutex instead of a Redis lock.
class LocalTokenCache final : public TokenCache {
 public:
  explicit LocalTokenCache(const Clock& clock) : clock_(clock) {}

  Result<std::optional<CachedToken>> get(const std::string& key) override {
    std::lock_guard lock(mutex_);
    return fresh(key);
  }

  Result<CachedToken> refresh(const std::string& key, const std::string& stale,
                              const Fetch& fetch) override {
    // One fetch at a time; others wait here. Recursive: a fetch may need another key's token
    // (WeChat's cover upload needs the access token).
    std::lock_guard refreshing(refresh_mutex_);
    {
      std::lock_guard lock(mutex_);
      const auto current = fresh(key);
      if (current && current->value != stale && clock_.now() < current->refresh_at) {
        return *current;
      }
    }
    auto fetched = fetch();
    if (!fetched) return fetched.error();
    std::lock_guard lock(mutex_);
    tokens_[key] = *fetched;
    return fetched;
  }

  Result<bool> invalidate(const std::string& key, const std::string& failed) override {
    std::lock_guard lock(mutex_);
    const auto found = tokens_.find(key);
    if (found == tokens_.end() || found->second.value != failed) return false;
    tokens_.erase(found);
    return true;
  }

  Result<std::optional<std::string>> get_value(const std::string& key) override {
    std::lock_guard lock(mutex_);
    const auto found = values_.find(key);
    if (found == values_.end()) return std::optional<std::string>();
    return std::optional<std::string>(found->second);
  }

  Result<void> set_value(
      const std::string& key, const std::string& value,
      std::chrono::milliseconds /*ttl: a process does not live that long*/) override {
    std::lock_guard lock(mutex_);
    values_[key] = value;
    return ok();
  }

  Result<void> erase_value(const std::string& key) override {
    std::lock_guard lock(mutex_);
    values_.erase(key);
    return ok();
  }

 private:
  std::optional<CachedToken> fresh(const std::string& key) const {
    const auto found = tokens_.find(key);
    if (found == tokens_.end() || clock_.now() >= found->second.expires_at) return std::nullopt;
    return found->second;
  }

  const Clock& clock_;
  std::recursive_mutex refresh_mutex_;
  std::mutex mutex_;
  std::map<std::string, CachedToken> tokens_;
  std::map<std::string, std::string> values_;
};

}  // namespace herald
