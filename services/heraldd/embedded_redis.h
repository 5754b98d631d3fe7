// EmbeddedRedis: the redis-server heraldd starts and supervises itself when `redis.url` is
// "embedded": a child process on a unix socket (or loopback port) under data_dir, AOF on, restarted
// if it dies, and shut down cleanly (so the AOF is flushed) when heraldd stops.
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
  std::string data_dir;  // the server's files go to <data_dir>/redis
  int port = 0;          // 0: a unix socket <data_dir>/redis/redis.sock, no TCP port
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
  // "unix:///…/redis.sock" or "redis://127.0.0.1:PORT/0".
  const std::string& url() const { return url_; }
  void stop();

 private:
  Result<void> spawn();
  bool answers_ping() const;
  void supervise();

  EmbeddedRedisOptions options_;
  std::string dir_;
  std::string url_;
  std::mutex mutex_;
  std::condition_variable stopped_cv_;
  pid_t pid_ = -1;
  bool stopping_ = false;
  std::thread supervisor_;
};

}  // namespace herald
