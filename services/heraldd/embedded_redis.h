// EmbeddedRedis: the redis-server heraldd starts and supervises itself when `redis.url` is
// "embedded": a child process on a unix socket in a 0700 directory under data_dir, with a password
// generated at first start, AOF on, restarted if it dies, and shut down cleanly (so the AOF is
// flushed) when heraldd stops.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"

namespace herald {

struct EmbeddedRedisOptions {
  std::string binary = "/usr/bin/redis-server";
  // The server's files go to <data_dir>/redis (mode 0700): the socket redis.sock, the password
  // file `password` and the config file redis.conf (both 0600), the AOF and redis.log.
  std::string data_dir;
  bool appendonly = true;
  std::chrono::milliseconds start_timeout{10000};
};

class EmbeddedRedis {
 public:
  explicit EmbeddedRedis(EmbeddedRedisOptions options);
  ~EmbeddedRedis();
  EmbeddedRedis(const EmbeddedRedis&) = delete;
  EmbeddedRedis& operator=(const EmbeddedRedis&) = delete;

  // Starts the server and waits until it answers PING. Fails if it cannot, or if another
  // server already answers on the socket (two heraldd on one embedded store is a mistake).
  Result<void> start();
  // "unix:///…/redis.sock".
  const std::string& url() const { return url_; }
  // The server's password (requirepass): generated at the first start, reused after. Set once
  // start() succeeded.
  const std::string& password() const { return password_; }
  void stop();
  // The server's process id, -1 when none runs (tests read its command line).
  pid_t pid();

 private:
  Result<void> prepare_dir();
  Result<void> load_or_create_password();
  Result<void> write_server_config();
  Result<void> spawn();
  // True once the server answers PING after our AUTH.
  bool answers_ping() const;
  // True if anything answers on the socket at all (even if only to refuse us).
  bool socket_answers() const;
  void supervise();

  EmbeddedRedisOptions options_;
  std::string dir_;
  std::string url_;
  std::string password_;
  std::mutex mutex_;
  std::condition_variable stopped_cv_;
  pid_t pid_ = -1;
  bool stopping_ = false;
  std::thread supervisor_;
};

}  // namespace herald
