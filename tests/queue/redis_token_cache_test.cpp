// Tests for queue/redis_token_cache: against the real test redis-server, several caches (as
// several heraldd would have) share one token, fetch it once between them, and never let an
// instance replace a token that another has already replaced.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "queue/redis.h"
#include "queue/redis_token_cache.h"
#include "tests/support/redis_server.h"

using herald::CachedToken;
using herald::RedisTokenCache;
using herald::RedisTokenCacheOptions;
using herald::Result;
using namespace std::chrono_literals;

namespace {

RedisTokenCacheOptions options_for(const std::string& prefix) {
  RedisTokenCacheOptions options;
  options.prefix = prefix;
  options.lock_ttl = 5000ms;
  options.wait = 10000ms;
  options.poll = 5ms;
  return options;
}

CachedToken token(const herald::Clock& clock, const std::string& value,
                  std::chrono::milliseconds life = 7200s,
                  std::chrono::milliseconds refresh = 6900s) {
  return CachedToken{value, clock.now() + life, clock.now() + refresh};
}

}  // namespace

TEST_CASE("RedisTokenCache stores a fetched token and hands it to every instance",
          "[queue][token_cache][redis]") {
  const std::string prefix = herald::test::unique_key_prefix("tokens");
  herald::RedisPool pool(herald::test::test_redis_options(), 4);
  herald::SystemClock clock;
  RedisTokenCache first(options_for(prefix), pool, clock);
  RedisTokenCache second(options_for(prefix), pool, clock);

  auto empty = first.get("wechat:app");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->has_value());

  int fetches = 0;
  auto fetched = first.refresh("wechat:app", "", [&]() -> Result<CachedToken> {
    ++fetches;
    return token(clock, "T1");
  });
  REQUIRE(fetched.ok());
  CHECK(fetched->value == "T1");

  auto seen = second.get("wechat:app");
  REQUIRE(seen.ok());
  REQUIRE(seen->has_value());
  CHECK((*seen)->value == "T1");

  SECTION("a refresh with nothing stale reuses the stored token without fetching") {
    auto again = second.refresh("wechat:app", "", [&]() -> Result<CachedToken> {
      ++fetches;
      return token(clock, "T-never");
    });
    REQUIRE(again.ok());
    CHECK(again->value == "T1");
    CHECK(fetches == 1);
  }

  SECTION("a token that failed is replaced once; a caller still holding it gets the new one") {
    auto replaced = first.refresh("wechat:app", "T1", [&]() -> Result<CachedToken> {
      ++fetches;
      return token(clock, "T2");
    });
    REQUIRE(replaced.ok());
    CHECK(replaced->value == "T2");
    // The second instance saw T1 fail too, but T1 is no longer what is stored: no second fetch.
    auto late = second.refresh("wechat:app", "T1", [&]() -> Result<CachedToken> {
      ++fetches;
      return token(clock, "T3");
    });
    REQUIRE(late.ok());
    CHECK(late->value == "T2");
    CHECK(fetches == 2);
    auto counts = first.refresh_counts();
    REQUIRE(counts.ok());
    CHECK(counts->at("wechat:app") == 2);
  }

  SECTION("invalidate forgets the token only while it is still the one that failed") {
    auto stale = first.invalidate("wechat:app", "T0");
    REQUIRE(stale.ok());
    CHECK_FALSE(*stale);
    CHECK(second.get("wechat:app")->has_value());
    auto current = first.invalidate("wechat:app", "T1");
    REQUIRE(current.ok());
    CHECK(*current);
    CHECK_FALSE(second.get("wechat:app")->has_value());
  }

  SECTION("a failed fetch stores nothing, releases the lock and returns the error") {
    auto failed = first.refresh("wechat:app", "T1", []() -> Result<CachedToken> {
      return herald::Error::retryable("platform down");
    });
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().message == "platform down");
    auto next = second.refresh("wechat:app", "T1", [&]() -> Result<CachedToken> {
      ++fetches;
      return token(clock, "T4");
    });
    REQUIRE(next.ok());
    CHECK(next->value == "T4");
  }
}

TEST_CASE(
    "RedisTokenCache: a token due for refresh is fetched again even if the platform "
    "returns the same value",
    "[queue][token_cache][redis]") {
  const std::string prefix = herald::test::unique_key_prefix("tokens-due");
  herald::RedisPool pool(herald::test::test_redis_options(), 2);
  herald::ManualClock clock(herald::from_unix_ms(1'800'000'000'000));
  RedisTokenCache cache(options_for(prefix), pool, clock);
  int fetches = 0;
  auto fetch_same = [&]() -> Result<CachedToken> {
    ++fetches;
    return token(clock, "SAME", 7200s, 3600s);
  };
  REQUIRE(cache.refresh("k", "", fetch_same).ok());
  clock.advance(3601s);  // due, not expired
  auto due = cache.get("k");
  REQUIRE(due.ok());
  REQUIRE(due->has_value());
  CHECK(clock.now() >= (*due)->refresh_at);
  auto renewed = cache.refresh("k", "SAME", fetch_same);
  REQUIRE(renewed.ok());
  CHECK(fetches == 2);
  CHECK(clock.now() < renewed->refresh_at);

  SECTION("an expired token reads as none") {
    clock.advance(7201s);
    auto gone = cache.get("k");
    REQUIRE(gone.ok());
    CHECK_FALSE(gone->has_value());
  }
}

TEST_CASE("RedisTokenCache: concurrent refreshers on separate connections fetch once",
          "[queue][token_cache][redis]") {
  const std::string prefix = herald::test::unique_key_prefix("tokens-race");
  herald::SystemClock clock;
  constexpr int kInstances = 8;
  // One pool and one cache per "instance", as separate heraldd processes would have.
  std::vector<std::unique_ptr<herald::RedisPool>> pools;
  std::vector<std::unique_ptr<RedisTokenCache>> caches;
  for (int i = 0; i < kInstances; ++i) {
    pools.push_back(std::make_unique<herald::RedisPool>(herald::test::test_redis_options(), 2));
    caches.push_back(std::make_unique<RedisTokenCache>(options_for(prefix), *pools.back(), clock));
  }
  std::atomic<int> fetches{0};
  std::atomic<int> inside{0};
  std::atomic<int> overlap{0};
  std::atomic<bool> go{false};
  std::vector<std::string> got(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      auto result = caches[i]->refresh("wechat:race", "OLD", [&]() -> Result<CachedToken> {
        if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
        const int n = fetches.fetch_add(1) + 1;
        // Long enough that the others surely arrive while this fetch is running.
        std::this_thread::sleep_for(100ms);
        inside.fetch_sub(1);
        return token(clock, "NEW" + std::to_string(n));
      });
      got[i] = result ? result->value : "error: " + result.error().message;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  CHECK(fetches.load() == 1);
  CHECK(overlap.load() == 0);
  for (const auto& value : got) CHECK(value == "NEW1");
  auto counts = caches[0]->refresh_counts();
  REQUIRE(counts.ok());
  CHECK(counts->at("wechat:race") == 1);
}

TEST_CASE("RedisTokenCache: a waiter gives up after its bounded wait while the lock is held",
          "[queue][token_cache][redis]") {
  const std::string prefix = herald::test::unique_key_prefix("tokens-wait");
  herald::RedisPool pool(herald::test::test_redis_options(), 2);
  herald::SystemClock clock;
  // A lock left by a holder that died: it stays until its TTL runs out.
  herald::RedisConnection conn(herald::test::test_redis_options());
  REQUIRE(conn.command({"SET", prefix + "{tokens}:lock:k", "dead-holder", "PX", "60000"}).ok());
  RedisTokenCacheOptions options = options_for(prefix);
  options.wait = 200ms;
  RedisTokenCache cache(options, pool, clock);
  bool fetched = false;
  auto result = cache.refresh("k", "", [&]() -> Result<CachedToken> {
    fetched = true;
    return token(clock, "X");
  });
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == herald::ErrorKind::retryable);
  CHECK(result.error().code == "token_refresh_wait");
  CHECK_FALSE(fetched);

  SECTION("values live beside the tokens") {
    REQUIRE(cache.set_value("wechat:app:job:d1", "{\"draft\":\"m\"}", 60s).ok());
    auto value = cache.get_value("wechat:app:job:d1");
    REQUIRE(value.ok());
    REQUIRE(value->has_value());
    CHECK(**value == "{\"draft\":\"m\"}");
    REQUIRE(cache.erase_value("wechat:app:job:d1").ok());
    CHECK_FALSE(cache.get_value("wechat:app:job:d1")->has_value());
  }
}
