#include "queue/redis.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>

namespace herald {
namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

using SteadyClock = std::chrono::steady_clock;

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);  // zero would mean "no timeout"
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisValue copy_reply(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::string;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::status;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::error;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::integer;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::array;
      v.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      v.type = RedisValue::Type::nil;
  }
  return v;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Error replies after which this connection should not be reused: the server we reached is no
// longer (or not yet) the writable primary, so a fresh connection may land on the right one.
bool reply_invalidates_connection(const RedisValue& v) {
  return v.is_error() && (starts_with(v.str, "READONLY") || starts_with(v.str, "MASTERDOWN") ||
                          starts_with(v.str, "UNBLOCKED"));
}

bool parse_int(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

Error bad_url(const std::string& url, const std::string& why) {
  // The URL may hold a password: show it redacted, and never quote the user-info back in `why`.
  Error e = Error::invalid("redis.url", "invalid redis URL \"" + redact_url(url) + "\": " + why);
  e.code = "invalid_redis_url";
  return e;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int value = 0;
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
      if (ec == std::errc() && end == s.data() + i + 3) {
        out.push_back(static_cast<char>(value));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string command_name(const std::vector<std::string>& args) {
  return args.empty() ? std::string("(empty)") : args.front();
}

}  // namespace

std::string RedisEndpoint::describe() const {
  if (!unix_path.empty()) return "unix:" + unix_path + (db ? "?db=" + std::to_string(db) : "");
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

namespace {

// "db=N&user=U&password=P" after a unix socket path or a redis:// URL's database.
Result<void> parse_query(const std::string& url, std::string_view query, RedisEndpoint& ep) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (name == "db") {
      if (!parse_int(value, ep.db) || ep.db < 0) {
        return bad_url(url,
                       "db must be a non-negative integer, got \"" + std::string(value) + "\"");
      }
    } else if (name == "password") {
      ep.password = percent_decode(value);
    } else if (name == "user") {
      ep.username = percent_decode(value);
    } else {
      return bad_url(url,
                     "unknown parameter \"" + std::string(name) + "\" (known: db, user, password)");
    }
  }
  return ok();
}

}  // namespace

Result<RedisEndpoint> parse_redis_url(const std::string& url) {
  RedisEndpoint ep;
  if (url.empty()) return bad_url(url, "it is empty");
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return bad_url(url, "expected redis://host:port/db or unix:///path/to/socket");
  }
  const std::string scheme = url.substr(0, scheme_end);
  std::string_view rest(url);
  rest.remove_prefix(scheme_end + 3);

  if (scheme == "unix") {
    std::string_view path = rest;
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
      path = rest.substr(0, q);
      query = rest.substr(q + 1);
    }
    if (path.empty()) return bad_url(url, "the socket path is missing");
    if (path.front() != '/') {
      return bad_url(url, "the socket path must be absolute (unix:///path/to/socket)");
    }
    ep.unix_path = std::string(path);
    if (auto parsed = parse_query(url, query, ep); !parsed) return parsed.error();
    return ep;
  }
  if (scheme == "rediss") return bad_url(url, "TLS (rediss://) is not supported");
  if (scheme != "redis") {
    return bad_url(url, "unknown scheme \"" + scheme + "\" (expected redis:// or unix://)");
  }

  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      ep.username = percent_decode(userinfo.substr(0, colon));
      ep.password = percent_decode(userinfo.substr(colon + 1));
    } else {
      ep.password =
          percent_decode(userinfo);  // redis://secret@host: a password, as redis-cli reads it
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(url, "unterminated [IPv6] address");
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url(url, "unexpected text after the [IPv6] address");
      port_text = after.substr(1);
      if (port_text.empty()) return bad_url(url, "the port after ':' is empty");
    }
  } else {
    const auto colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad_url(url, "the port after ':' is empty");
    }
  }
  if (ep.host.empty()) return bad_url(url, "the host is missing");
  if (!port_text.empty()) {
    if (!parse_int(port_text, ep.port) || ep.port < 1 || ep.port > 65535) {
      return bad_url(
          url, "port must be a number from 1 to 65535, got \"" + std::string(port_text) + "\"");
    }
  }
  if (!path.empty()) {
    if (!parse_int(path, ep.db) || ep.db < 0) {
      return bad_url(url, "the database after '/' must be a non-negative integer, got \"" +
                              std::string(path) + "\"");
    }
  }
  if (auto parsed = parse_query(url, query, ep); !parsed) return parsed.error();
  return ep;
}

Error error_from_reply(const RedisValue& reply, std::string_view what) {
  static constexpr std::string_view kTransient[] = {"LOADING",     "BUSY",      "TRYAGAIN",
                                                    "MASTERDOWN",  "READONLY",  "OOM",
                                                    "CLUSTERDOWN", "UNBLOCKED", "NOREPLICAS"};
  std::string message = std::string(what) + ": " + reply.str;
  if (starts_with(reply.str, "NOAUTH")) {
    message += " (this Redis requires a password: set it in redis.url or redis.password_file)";
  }
  for (auto prefix : kTransient) {
    if (starts_with(reply.str, prefix)) return Error::retryable(std::move(message));
  }
  return Error::permanent(std::move(message));
}

// ---------------------------------------------------------------------------------------------
// RedisConnection

struct RedisConnection::Impl {
  RedisOptions options;
  Result<RedisEndpoint> endpoint;
  ContextPtr ctx;
  // Reconnection backoff: grows with consecutive failed connects, so a dead Redis costs one
  // connect attempt per backoff period, and callers in between fail fast.
  int failed_connects = 0;
  SteadyClock::time_point next_connect{};
  std::string last_error;

  explicit Impl(RedisOptions o) : options(std::move(o)), endpoint(parse_redis_url(options.url)) {
    if (endpoint && !options.password.empty()) {
      endpoint->username = options.username;
      endpoint->password = options.password;
    }
  }

  std::string where() const { return endpoint ? endpoint->describe() : redact_url(options.url); }

  // Drops the context after an I/O failure. The reply stream is out of step (or the socket is
  // gone), so the context can never be reused.
  Error io_failure(const std::string& what, int saved_errno) {
    std::string detail = ctx ? std::string(ctx->errstr) : std::string("no connection");
    if (ctx && ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
      detail = "timed out";
    } else if (ctx && ctx->err == REDIS_ERR_EOF) {
      detail = "connection closed by server";
    }
    ctx.reset();
    last_error = what + " on redis " + where() + ": " + detail;
    return Error::retryable(last_error);
  }

  Result<void> connect_now() {
    const auto& ep = *endpoint;
    const timeval connect_tv = to_timeval(options.connect_timeout);
    ContextPtr c(ep.unix_path.empty()
                     ? redisConnectWithTimeout(ep.host.c_str(), ep.port, connect_tv)
                     : redisConnectUnixWithTimeout(ep.unix_path.c_str(), connect_tv));
    if (!c) return Error::retryable("connecting to redis " + where() + ": out of memory");
    if (c->err) {
      return Error::retryable("connecting to redis " + where() + ": " + std::string(c->errstr));
    }
    if (redisSetTimeout(c.get(), to_timeval(options.command_timeout)) != REDIS_OK) {
      return Error::retryable("setting the command timeout on redis " + where() + ": " +
                              std::string(c->errstr));
    }
    if (ep.unix_path.empty()) redisEnableKeepAlive(c.get());

    auto simple = [&](const std::vector<std::string>& args) -> Result<void> {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      ReplyPtr r(static_cast<redisReply*>(
          redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
      if (!r) {
        return Error::retryable(args[0] + " on redis " + where() + ": " + std::string(c->errstr));
      }
      if (r->type == REDIS_REPLY_ERROR) {
        RedisValue v = copy_reply(r.get());
        return error_from_reply(v, args[0] + " on redis " + where());
      }
      return ok();
    };
    // AUTH before anything else, on every new connection (reconnects and blocking-read
    // connections are new connections too). Redis's refusal (WRONGPASS, or "ERR AUTH ... called
    // without any password configured") never quotes the password, and neither do we.
    if (!ep.password.empty()) {
      std::vector<std::string> auth = {"AUTH"};
      if (!ep.username.empty()) auth.push_back(ep.username);
      auth.push_back(ep.password);
      if (auto authed = simple(auth); !authed) {
        if (authed.error().kind == ErrorKind::retryable) return authed;
        Error refused = Error::credentials(
            "redis " + where() + " refused the password" +
            (ep.username.empty() ? std::string() : " of user \"" + ep.username + "\"") +
            " (check redis.url, redis.username and redis.password_file): " +
            authed.error().message);
        refused.code = "redis_auth_failed";
        return refused;
      }
    }
    if (ep.db != 0) {
      if (auto selected = simple({"SELECT", std::to_string(ep.db)}); !selected) return selected;
    }
    ctx = std::move(c);
    return ok();
  }

  Result<void> ensure_connected() {
    if (!endpoint) return endpoint.error();
    if (ctx) return ok();
    const auto now = SteadyClock::now();
    if (now < next_connect) {
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_connect - now).count();
      return Error::retryable("redis " + where() + " unavailable, next reconnect attempt in " +
                              std::to_string(wait) + " ms (last error: " + last_error + ")");
    }
    auto connected = connect_now();
    if (!connected) {
      // min, 2×min, 4×min ... capped; a bounded shift keeps the multiplication from overflowing.
      const int shift = std::min(failed_connects, 20);
      const std::chrono::milliseconds backoff = std::min<std::chrono::milliseconds>(
          options.reconnect_backoff_max, options.reconnect_backoff_min * (1LL << shift));
      ++failed_connects;
      next_connect = SteadyClock::now() + backoff;
      last_error = connected.error().message;
      return connected;
    }
    failed_connects = 0;
    next_connect = {};
    return ok();
  }

  Result<void> set_socket_timeout(std::chrono::milliseconds t, const std::string& what) {
    if (redisSetTimeout(ctx.get(), to_timeval(t)) != REDIS_OK) return io_failure(what, errno);
    return ok();
  }

  Result<RedisValue> run_one(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    errno = 0;
    ReplyPtr r(static_cast<redisReply*>(
        redisCommandArgv(ctx.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) return io_failure(command_name(args), errno);
    RedisValue v = copy_reply(r.get());
    if (reply_invalidates_connection(v)) ctx.reset();
    return v;
  }
};

RedisConnection::RedisConnection(RedisOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

RedisConnection::~RedisConnection() = default;

const RedisOptions& RedisConnection::options() const {
  return impl_->options;
}

Result<void> RedisConnection::wait_for_replicas() {
  const int wanted = impl_->options.wait_replicas;
  if (wanted <= 0) return ok();
  const auto timeout = impl_->options.wait_timeout;
  auto unconfirmed = [&](std::string why) {
    Error e = Error::retryable("only " + why + " of " + std::to_string(wanted) +
                               " replica(s) confirmed the write within " +
                               std::to_string(timeout.count()) + " ms");
    e.code = "replicas_unconfirmed";
    return e;
  };
  // WAIT blocks server-side for up to `timeout`, so it needs the longer socket timeout.
  auto reply =
      blocking_command({"WAIT", std::to_string(wanted), std::to_string(timeout.count())}, timeout);
  if (!reply) return unconfirmed("an unknown number (" + reply.error().message + ")");
  if (reply->is_error()) return unconfirmed("an unknown number (WAIT: " + reply->str + ")");
  if (reply->type != RedisValue::Type::integer) return unconfirmed("an unknown number");
  if (reply->integer < wanted) return unconfirmed(std::to_string(reply->integer));
  return ok();
}

bool RedisConnection::connected() const {
  return impl_->ctx != nullptr;
}

Result<void> RedisConnection::ensure_connected() {
  return impl_->ensure_connected();
}

Result<RedisValue> RedisConnection::command(const std::vector<std::string>& args) {
  if (args.empty()) return Error::invalid("", "empty redis command");
  if (auto c = ensure_connected(); !c) return c.error();
  return impl_->run_one(args);
}

Result<RedisValue> RedisConnection::blocking_command(const std::vector<std::string>& args,
                                                     std::chrono::milliseconds timeout) {
  if (args.empty()) return Error::invalid("", "empty redis command");
  if (auto c = ensure_connected(); !c) return c.error();
  // The server answers (nil) when `timeout` passes; the socket waits one command timeout longer
  // so a slow answer is not mistaken for a dead connection.
  const auto what = command_name(args);
  if (auto set = impl_->set_socket_timeout(timeout + impl_->options.command_timeout, what); !set) {
    return set.error();
  }
  auto reply = impl_->run_one(args);
  if (impl_->ctx) {
    if (auto reset = impl_->set_socket_timeout(impl_->options.command_timeout, what); !reset) {
      return reset.error();
    }
  }
  return reply;
}

Result<std::vector<RedisValue>> RedisConnection::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<RedisValue> replies;
  if (commands.empty()) return replies;
  if (auto c = ensure_connected(); !c) return c.error();
  redisContext* ctx = impl_->ctx.get();
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : commands) {
    if (args.empty()) {
      impl_->ctx.reset();  // some commands may already sit in the output buffer
      return Error::invalid("", "empty redis command in a pipeline");
    }
    argv.clear();
    lens.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return impl_->io_failure("pipeline", errno);
    }
  }
  replies.reserve(commands.size());
  bool invalidated = false;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
      return impl_->io_failure("pipeline (" + command_name(commands[i]) + ")", errno);
    }
    ReplyPtr r(static_cast<redisReply*>(raw));
    replies.push_back(copy_reply(r.get()));
    invalidated = invalidated || reply_invalidates_connection(replies.back());
  }
  if (invalidated) impl_->ctx.reset();
  return replies;
}

// ---------------------------------------------------------------------------------------------
// RedisScript

namespace {

std::string sha1_hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool is_noscript(const RedisValue& v) {
  return v.is_error() && starts_with(v.str, "NOSCRIPT");
}

std::vector<std::string> evalsha_args(const std::string& sha, const RedisScript::Call& call) {
  std::vector<std::string> args;
  args.reserve(3 + call.keys.size() + call.args.size());
  args.push_back("EVALSHA");
  args.push_back(sha);
  args.push_back(std::to_string(call.keys.size()));
  args.insert(args.end(), call.keys.begin(), call.keys.end());
  args.insert(args.end(), call.args.begin(), call.args.end());
  return args;
}

}  // namespace

RedisScript::RedisScript(std::string name, std::string source)
    : name_(std::move(name)), source_(std::move(source)), sha1_(sha1_hex(source_)) {}

Result<RedisValue> RedisScript::run(RedisConnection& conn, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args) const {
  auto results = run_many(conn, {Call{keys, args}});
  if (!results) return results.error();
  return std::move(results->front());
}

Result<std::vector<RedisValue>> RedisScript::run_many(RedisConnection& conn,
                                                      const std::vector<Call>& calls) const {
  // Calls apply in their order (enqueue's chunks of one lane rely on it). A Redis without the
  // script answers NOSCRIPT, and another client may load it halfway through a pipeline, so that
  // later calls would run before the earlier ones are retried. So with several calls, the first
  // runs alone: it loads the script if needed, and the rest follow in one pipeline.
  const std::span<const Call> all(calls);
  if (all.size() <= 1) return pipelined(conn, all);
  auto replies = pipelined(conn, all.first(1));
  if (!replies) return replies.error();
  auto rest = pipelined(conn, all.subspan(1));
  if (!rest) return rest.error();
  replies->insert(replies->end(), std::make_move_iterator(rest->begin()),
                  std::make_move_iterator(rest->end()));
  return replies;
}

Result<std::vector<RedisValue>> RedisScript::pipelined(RedisConnection& conn,
                                                       std::span<const Call> calls) const {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(calls.size());
  for (const auto& call : calls) commands.push_back(evalsha_args(sha1_, call));
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();

  // NOSCRIPT means the call did not run at all (Redis restarted or SCRIPT FLUSH), so loading the
  // script and running exactly those calls again cannot apply anything twice.
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    if (is_noscript((*replies)[i])) missing.push_back(i);
  }
  if (missing.empty()) return replies;

  std::vector<std::vector<std::string>> again;
  again.reserve(missing.size() + 1);
  again.push_back({"SCRIPT", "LOAD", source_});
  for (auto i : missing) again.push_back(std::move(commands[i]));
  auto retried = conn.pipeline(again);
  if (!retried) return retried.error();
  const RedisValue& loaded = retried->front();
  if (loaded.is_error()) return error_from_reply(loaded, "loading script " + name_);
  if (loaded.str != sha1_) {
    return Error::permanent("script " + name_ + ": redis computed sha1 " + loaded.str +
                            ", expected " + sha1_);
  }
  for (std::size_t j = 0; j < missing.size(); ++j) {
    (*replies)[missing[j]] = std::move((*retried)[j + 1]);
  }
  return replies;
}

// ---------------------------------------------------------------------------------------------
// RedisPool

struct RedisPool::Impl {
  std::vector<std::unique_ptr<RedisConnection>> all;
  std::vector<RedisConnection*> idle;
  std::mutex mutex;
  std::condition_variable freed;
};

RedisPool::RedisPool(RedisOptions options, std::size_t size) : impl_(std::make_unique<Impl>()) {
  if (size == 0) size = 1;
  impl_->all.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    // Connections are opened on first use, so building a pool never blocks on Redis.
    impl_->all.push_back(std::make_unique<RedisConnection>(options));
    impl_->idle.push_back(impl_->all.back().get());
  }
}

RedisPool::~RedisPool() = default;

std::size_t RedisPool::size() const {
  return impl_->all.size();
}

Result<RedisPool::Lease> RedisPool::acquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->freed.wait_for(lock, wait, [&] { return !impl_->idle.empty(); })) {
    return Error::retryable("all " + std::to_string(impl_->all.size()) +
                            " redis connections stayed busy for " + std::to_string(wait.count()) +
                            " ms");
  }
  RedisConnection* conn = impl_->idle.back();
  impl_->idle.pop_back();
  return Lease(this, conn);
}

void RedisPool::release(RedisConnection* conn) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->idle.push_back(conn);
  }
  impl_->freed.notify_one();
}

RedisPool::Lease::~Lease() {
  if (conn_ && pool_) pool_->release(conn_);
}

std::string glob_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace herald
