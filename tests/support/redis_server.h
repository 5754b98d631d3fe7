// The real redis-server the tests talk to: the one the test script started
// ($HERALD_TEST_REDIS_URL), or, when a test binary runs on its own, one started here on a free port
// for this process.
#pragma once

#include <string>
#include <string_view>

#include "queue/redis.h"

namespace herald::test {

// "redis://127.0.0.1:PORT/0"
std::string test_redis_url();
// Options to connect to it.
RedisOptions test_redis_options();
// A key prefix no other test (or test process) uses, with a trailing ':'.
std::string unique_key_prefix(std::string_view tag);

}  // namespace herald::test
