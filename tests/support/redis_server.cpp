#include "tests/support/redis_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "tests/support/process.h"

namespace herald::test {
namespace {

struct LocalRedis {
  ChildProcess process;
  std::string url;
};

bool port_accepts(int port) {
  std::string cmd = "redis-cli -p " + std::to_string(port) + " ping >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

RedisOptions test_redis_options() {
  RedisOptions o;
  o.url = test_redis_url();
  return o;
}

std::string test_redis_url() {
  if (const char* env = std::getenv("HERALD_TEST_REDIS_URL"); env && *env) return env;
  static std::once_flag once;
  static std::unique_ptr<LocalRedis> local;
  std::call_once(once, [] {
    local = std::make_unique<LocalRedis>();
    int port = free_tcp_port();
    std::string dir = make_temp_dir("redis");
    local->process =
        ChildProcess::spawn({"/usr/bin/redis-server", "--port", std::to_string(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir},
                            {}, dir + "/redis.log");
    if (!wait_until([&] { return port_accepts(port); }, std::chrono::seconds(10))) {
      throw std::runtime_error("redis-server did not start on port " + std::to_string(port));
    }
    local->url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  });
  return local->url;
}

std::string unique_key_prefix(std::string_view tag) {
  static std::atomic<int> counter{0};
  return "t:" + std::string(tag) + ":" + std::to_string(getpid()) + ":" +
         std::to_string(counter++) + ":";
}

OwnRedisServer::OwnRedisServer() : OwnRedisServer(RedisAuth{}) {}

OwnRedisServer::OwnRedisServer(RedisAuth auth)
    : auth_(std::move(auth)), port_(free_tcp_port()), dir_(make_temp_dir("own-redis")) {
  start();
}

void OwnRedisServer::start() {
  std::vector<std::string> argv = {"/usr/bin/redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_};
  // Through a 0600 config file, as heraldd's embedded server does: a test that looks for the
  // password in what the processes print should not find it in this one's arguments either.
  if (!auth_.password.empty()) {
    std::string conf;
    if (auth_.username.empty()) {
      conf = "requirepass \"" + auth_.password + "\"\n";
    } else {
      conf =
          "user default off\nuser " + auth_.username + " on >" + auth_.password + " ~* &* +@all\n";
    }
    const std::string conf_path = dir_ + "/auth.conf";
    {
      std::ofstream out(conf_path);
      out << conf;
    }
    ::chmod(conf_path.c_str(), 0600);
    argv.insert(argv.begin() + 1, conf_path);
  }
  process_ = ChildProcess::spawn(argv, {}, dir_ + "/redis.log");
  const bool up = wait_until(
      [&] {
        RedisConnection probe(options());
        auto pong = probe.command({"PING"});
        return pong && pong->str == "PONG";
      },
      std::chrono::seconds(30));
  if (!up) throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_));
}

void OwnRedisServer::kill() {
  process_.kill_now();
}

std::string OwnRedisServer::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

RedisOptions OwnRedisServer::options() const {
  RedisOptions o;
  o.url = url();
  o.username = auth_.username;
  o.password = auth_.password;
  return o;
}

}  // namespace herald::test
