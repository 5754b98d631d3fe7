// The real redis-server the tests talk to: the one the test script started
// ($HERALD_TEST_REDIS_URL), or, when a test binary runs on its own, one started here on a free port
// for this process.
#pragma once

#include <string>
#include <string_view>

#include "queue/redis.h"
#include "tests/support/process.h"

namespace herald::test {

// "redis://127.0.0.1:PORT/0"
std::string test_redis_url();
// Options to connect to it.
RedisOptions test_redis_options();
// A key prefix no other test (or test process) uses, with a trailing ':'.
std::string unique_key_prefix(std::string_view tag);

// A redis-server of a test's own, for tests that flush its script cache, count its commands or
// kill it: the shared test server is used by other test processes at the same time. Throws if
// it does not answer within 30 s.
//
// With a password it requires AUTH (requirepass, or with a user name an ACL user holding all
// rights while the default user is off); url() then carries no credentials, options() does.
struct RedisAuth {
  std::string username;  // "" = the default user
  std::string password;  // "" = no password
};

class OwnRedisServer {
 public:
  OwnRedisServer();
  explicit OwnRedisServer(RedisAuth auth);
  OwnRedisServer(const OwnRedisServer&) = delete;
  OwnRedisServer& operator=(const OwnRedisServer&) = delete;

  void start();  // again, after kill()
  void kill();   // SIGKILL: as if the machine lost it
  std::string url() const;
  RedisOptions options() const;  // with the credentials
  const RedisAuth& auth() const { return auth_; }
  std::string log_path() const { return dir_ + "/redis.log"; }

 private:
  RedisAuth auth_;
  int port_;
  std::string dir_;
  ChildProcess process_;
};

}  // namespace herald::test
