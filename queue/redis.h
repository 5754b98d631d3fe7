// RedisConnection: a synchronous hiredis connection with timeouts on connect and on every command,
// lazy reconnection with backoff, and replies copied into plain values. hiredis errors are
// translated here, once, into Result errors (ErrorKind::retryable for I/O and server-busy
// failures).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/redact.h"
#include "core/result.h"

struct redisContext;

namespace herald {

struct RedisOptions {
  // "redis://[[user]:password@]host[:port][/db]" or "unix:///path/to/socket" (optionally
  // "?db=N&user=U&password=P"); user and password percent-decoded.
  std::string url = "redis://127.0.0.1:6379/0";
  // Credentials given apart from the URL (redis.password_file, the embedded server's generated
  // password); when set they replace the URL's. Sent with AUTH as the first command of every new
  // connection, and never part of a message.
  std::string username;
  std::string password;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{5000};
  // redis.wait_replicas / redis.wait_timeout_ms: a write answered to a client (a submission, an
  // approval, an ack) must have reached this many replicas (WAIT) first; 0: no WAIT.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
};

// Parses a redis URL; an invalid one is an invalid_input error naming what is wrong, with the URL
// shown redacted (its password never appears).
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string unix_path;  // non-empty for unix sockets
  int db = 0;
  std::string username;  // AUTH with a user only when both are set (Redis 6 ACL)
  std::string password;

  std::string describe() const;  // "host:port/db" or "unix:/path", for messages (no password)
};
Result<RedisEndpoint> parse_redis_url(const std::string& url);

struct RedisValue {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<RedisValue> elements;

  bool is_nil() const { return type == Type::nil; }
  bool is_error() const { return type == Type::error; }
};

// Turns an error reply into an Error: replies that say "try again later" (LOADING, BUSY, TRYAGAIN,
// MASTERDOWN, READONLY, OOM, ...) are retryable, anything else is permanent. `what` starts the
// message.
Error error_from_reply(const RedisValue& reply, std::string_view what);

// Not thread-safe: one connection per thread (or per pool lease).
class RedisConnection {
 public:
  explicit RedisConnection(RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command, one round trip. A Redis error reply is returned as a value of Type::error (the
  // caller decides), an I/O failure or timeout as a retryable Error (the connection is dropped and
  // re-established on the next call, after a backoff that grows while failures continue).
  Result<RedisValue> command(const std::vector<std::string>& args);
  // A blocking command (BLPOP ...): uses `timeout` as the socket timeout for this call only.
  Result<RedisValue> blocking_command(const std::vector<std::string>& args,
                                      std::chrono::milliseconds timeout);
  // Several commands in one round trip; replies in order.
  Result<std::vector<RedisValue>> pipeline(const std::vector<std::vector<std::string>>& commands);

  // WAIT <wait_replicas> <wait_timeout> after the writes of this connection that are about to be
  // answered (DESIGN.md §3 "Durable before answered"). The local fsync needs no command: with
  // `appendfsync always` Redis has fsynced a write's AOF before it sends the write's reply. ok()
  // at once when options.wait_replicas is 0; a retryable error with code "replicas_unconfirmed"
  // (saying how many acknowledged) when fewer replicas acknowledged within wait_timeout, or when
  // WAIT itself failed. The writes stand either way: WAIT cannot undo them.
  Result<void> wait_for_replicas();
  const RedisOptions& options() const;

  bool connected() const;

 private:
  Result<void> ensure_connected();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Lua script run with EVALSHA (its sha1 computed locally); on NOSCRIPT (after a Redis restart or
// SCRIPT FLUSH) it is loaded with SCRIPT LOAD and the calls that were refused are sent again.
class RedisScript {
 public:
  RedisScript(std::string name, std::string source);
  const std::string& name() const { return name_; }
  const std::string& sha1() const { return sha1_; }
  Result<RedisValue> run(RedisConnection& conn, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args) const;

  struct Call {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  // Several calls, applied in their order: the first alone, the rest in one pipelined round trip
  // (plus one more to reload the script after NOSCRIPT).
  Result<std::vector<RedisValue>> run_many(RedisConnection& conn,
                                           const std::vector<Call>& calls) const;

 private:
  // One pipeline of the calls, then one more for those answered NOSCRIPT (reloaded first).
  Result<std::vector<RedisValue>> pipelined(RedisConnection& conn,
                                            std::span<const Call> calls) const;

  std::string name_;
  std::string source_;
  std::string sha1_;  // computed locally, so no round trip is needed to know it
};

// A small fixed-size pool for request handlers; acquire() waits at most `wait` for a free one.
class RedisPool {
 public:
  RedisPool(RedisOptions options, std::size_t size);
  ~RedisPool();

  class Lease {
   public:
    Lease(RedisPool* pool, RedisConnection* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(other.conn_) {
      other.conn_ = nullptr;
    }
    Lease(const Lease&) = delete;
    ~Lease();
    RedisConnection& operator*() const { return *conn_; }
    RedisConnection* operator->() const { return conn_; }

   private:
    RedisPool* pool_;
    RedisConnection* conn_;
  };

  Result<Lease> acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend class Lease;
  void release(RedisConnection* conn);
};

// A glob pattern that matches `text` literally (SCAN MATCH, KEYS).
std::string glob_escape(const std::string& text);

}  // namespace herald
