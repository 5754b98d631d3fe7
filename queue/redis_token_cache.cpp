#include "queue/redis_token_cache.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <random>
#include <thread>
#include "queue/lua_scripts.h"

namespace herald {
namespace {

using std::chrono::milliseconds;

const RedisScript kStore("token_cache_store", std::string(lua::kTokenCacheStore));

const RedisScript kRelease("token_cache_release", std::string(lua::kTokenCacheRelease));

const RedisScript kInvalidate("token_cache_invalidate", std::string(lua::kTokenCacheInvalidate));

std::string new_owner_token() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 2; ++i) {
    std::uint64_t bits = rng();
    for (int j = 0; j < 16; ++j, bits >>= 4) out += kHex[bits & 0xF];
  }
  return out;
}

Error redis_error(const RedisValue& reply, const std::string& what) {
  Error error = error_from_reply(reply, what);
  // A token cache that cannot answer now may answer in a moment; the delivery is retried.
  error.kind = ErrorKind::retryable;
  return error;
}

bool same_state(const std::optional<CachedToken>& a, const std::optional<CachedToken>& b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return a->value == b->value && a->refresh_at == b->refresh_at;
}

}  // namespace

RedisTokenCache::RedisTokenCache(RedisTokenCacheOptions options, RedisPool& pool,
                                 const Clock& clock)
    : options_(std::move(options)), pool_(pool), clock_(clock) {}

std::string RedisTokenCache::token_key(const std::string& key) const {
  return options_.prefix + "{tokens}:" + key;
}
std::string RedisTokenCache::lock_key(const std::string& key) const {
  return options_.prefix + "{tokens}:lock:" + key;
}
std::string RedisTokenCache::value_key(const std::string& key) const {
  return options_.prefix + "{tokens}:value:" + key;
}
std::string RedisTokenCache::counter_key() const {
  return options_.prefix + "{tokens}:refreshes";
}

Result<std::optional<CachedToken>> RedisTokenCache::read(RedisConnection& conn,
                                                         const std::string& key) {
  auto reply = conn.command({"HMGET", token_key(key), "v", "exp", "ref"});
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache read");
  if (reply->elements.size() != 3 || reply->elements[0].is_nil() || reply->elements[1].is_nil()) {
    return std::optional<CachedToken>();
  }
  CachedToken token;
  token.value = reply->elements[0].str;
  token.expires_at = from_unix_ms(std::strtoll(reply->elements[1].str.c_str(), nullptr, 10));
  token.refresh_at = reply->elements[2].is_nil()
                         ? token.expires_at
                         : from_unix_ms(std::strtoll(reply->elements[2].str.c_str(), nullptr, 10));
  if (clock_.now() >= token.expires_at) return std::optional<CachedToken>();
  return std::optional<CachedToken>(std::move(token));
}

Result<std::optional<CachedToken>> RedisTokenCache::get(const std::string& key) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  return read(**conn, key);
}

Result<bool> RedisTokenCache::try_lock(const std::string& key, const std::string& owner) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = (*conn)->command(
      {"SET", lock_key(key), owner, "NX", "PX", std::to_string(options_.lock_ttl.count())});
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache lock");
  return !reply->is_nil();
}

void RedisTokenCache::release(const std::string& key, const std::string& owner) {
  auto conn = pool_.acquire();
  if (!conn) {
    spdlog::warn("token cache: lock on {} not released ({}); it expires by itself", key,
                 conn.error().message);
    return;
  }
  auto reply = kRelease.run(**conn, {lock_key(key)}, {owner});
  if (!reply || reply->is_error()) {
    spdlog::warn("token cache: lock on {} not released; it expires by itself", key);
  }
}

Result<CachedToken> RedisTokenCache::refresh(const std::string& key, const std::string& stale,
                                             const Fetch& fetch) {
  const auto deadline = std::chrono::steady_clock::now() + options_.wait;
  std::optional<CachedToken> seen;  // the stored token as this call first found it
  bool first = true;
  // Someone else refreshed if the stored token is not the stale one, or was stored again since
  // we first looked (stable_token may hand out the same token with a later refresh time).
  auto replaced = [&](const std::optional<CachedToken>& now_stored) {
    return now_stored && clock_.now() < now_stored->refresh_at &&
           (now_stored->value != stale || !same_state(now_stored, seen));
  };
  const std::string owner = new_owner_token();
  while (true) {
    {
      auto stored = get(key);
      if (!stored) return stored.error();
      if (first) {
        seen = *stored;
        first = false;
      }
      if (replaced(*stored)) return **stored;
    }
    auto locked = try_lock(key, owner);
    if (!locked) return locked.error();
    if (*locked) {
      // Checked again under the lock: the previous holder may have stored just before we took it.
      auto stored = get(key);
      if (!stored) {
        release(key, owner);
        return stored.error();
      }
      if (replaced(*stored)) {
        release(key, owner);
        return **stored;
      }
      // No Redis connection is held during the fetch: it is an HTTP call of up to seconds.
      auto fetched = fetch();
      if (!fetched) {
        release(key, owner);
        return fetched.error();
      }
      const std::int64_t ttl = to_unix_ms(fetched->expires_at) - clock_.now_ms();
      if (ttl > 0) {
        auto conn = pool_.acquire();
        Result<RedisValue> reply =
            conn ? kStore.run(
                       **conn, {token_key(key), counter_key()},
                       {fetched->value, std::to_string(to_unix_ms(fetched->expires_at)),
                        std::to_string(to_unix_ms(fetched->refresh_at)), std::to_string(ttl), key})
                 : Result<RedisValue>(conn.error());
        // The token works even if it could not be shared; the next caller fetches again.
        if (!reply || reply->is_error()) {
          spdlog::warn("token cache: new token for {} not stored: {}", key,
                       reply ? reply->str : reply.error().message);
        }
      }
      release(key, owner);
      return fetched;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      Error error = Error::retryable("token cache: another instance is refreshing " + key +
                                     " and did not finish within " +
                                     std::to_string(options_.wait.count()) + " ms");
      error.code = "token_refresh_wait";
      return error;
    }
    std::this_thread::sleep_for(options_.poll);
  }
}

Result<bool> RedisTokenCache::invalidate(const std::string& key, const std::string& failed) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = kInvalidate.run(**conn, {token_key(key)}, {failed});
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache invalidate");
  return reply->integer > 0;
}

Result<std::optional<std::string>> RedisTokenCache::get_value(const std::string& key) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = (*conn)->command({"GET", value_key(key)});
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache get_value");
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(reply->str);
}

Result<void> RedisTokenCache::set_value(const std::string& key, const std::string& value,
                                        std::chrono::milliseconds ttl) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  std::vector<std::string> args = {"SET", value_key(key), value};
  if (ttl.count() > 0) {
    args.push_back("PX");
    args.push_back(std::to_string(ttl.count()));
  }
  auto reply = (*conn)->command(args);
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache set_value");
  return ok();
}

Result<void> RedisTokenCache::erase_value(const std::string& key) {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = (*conn)->command({"DEL", value_key(key)});
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache erase_value");
  return ok();
}

Result<std::map<std::string, std::int64_t>> RedisTokenCache::refresh_counts() {
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = (*conn)->command({"HGETALL", counter_key()});
  if (!reply) return reply.error();
  if (reply->is_error()) return redis_error(*reply, "token cache refresh_counts");
  std::map<std::string, std::int64_t> counts;
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    counts[reply->elements[i].str] = std::strtoll(reply->elements[i + 1].str.c_str(), nullptr, 10);
  }
  return counts;
}

}  // namespace herald
