// RedisConnection, RedisScript, RedisPool and parse_redis_url against a real redis-server.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "queue/redis.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace herald {
namespace {

using namespace std::chrono_literals;

RedisOptions options_for(const std::string& url) {
  RedisOptions o;
  o.url = url;
  return o;
}

// The test server's URL with another database selected.
std::string url_with_db(int db) {
  auto ep = parse_redis_url(test::test_redis_url());
  REQUIRE(ep);
  return "redis://" + ep->host + ":" + std::to_string(ep->port) + "/" + std::to_string(db);
}

long long client_id(RedisConnection& conn) {
  auto id = conn.command({"CLIENT", "ID"});
  REQUIRE(id);
  REQUIRE(id->type == RedisValue::Type::integer);
  return id->integer;
}

// A killed socket must surface as an error, not end the test binary with SIGPIPE (heraldd
// ignores SIGPIPE in main() for the same reason).
void ignore_sigpipe() {
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace

TEST_CASE("a command's reply is copied into a plain value", "[redis]") {
  RedisConnection conn(options_for(test::test_redis_url()));
  const std::string k = test::unique_key_prefix("conn") + "k";

  SECTION("status, string, nil, integer and array replies") {
    auto set = conn.command({"SET", k, "v1"});
    REQUIRE(set);
    CHECK(set->type == RedisValue::Type::status);
    CHECK(set->str == "OK");
    auto get = conn.command({"GET", k});
    REQUIRE(get);
    CHECK(get->type == RedisValue::Type::string);
    CHECK(get->str == "v1");
    auto missing = conn.command({"GET", k + ":missing"});
    REQUIRE(missing);
    CHECK(missing->is_nil());
    auto pushed = conn.command({"RPUSH", k + ":l", "a", "b", "c"});
    REQUIRE(pushed);
    CHECK(pushed->type == RedisValue::Type::integer);
    CHECK(pushed->integer == 3);
    auto range = conn.command({"LRANGE", k + ":l", "0", "-1"});
    REQUIRE(range);
    REQUIRE(range->type == RedisValue::Type::array);
    REQUIRE(range->elements.size() == 3);
    CHECK(range->elements[2].str == "c");
    CHECK(conn.connected());
  }
  SECTION("values are binary safe") {
    const std::string binary("a\0b\r\nc", 6);
    REQUIRE(conn.command({"SET", k, binary}));
    auto get = conn.command({"GET", k});
    REQUIRE(get);
    CHECK(get->str == binary);
  }
  SECTION("an error reply is a value, not a failure") {
    REQUIRE(conn.command({"SET", k, "not a number"}));
    auto incr = conn.command({"INCR", k});
    REQUIRE(incr);
    CHECK(incr->is_error());
    CHECK(incr->str.find("not an integer") != std::string::npos);
    CHECK(error_from_reply(*incr, "incr").kind == ErrorKind::permanent);
    // The connection is still usable afterwards.
    auto ping = conn.command({"PING"});
    REQUIRE(ping);
    CHECK(ping->str == "PONG");
  }
}

TEST_CASE("error replies that mean 'try later' are retryable", "[redis]") {
  RedisValue loading{RedisValue::Type::error, 0, "LOADING Redis is loading the dataset", {}};
  RedisValue busy{RedisValue::Type::error, 0, "BUSY Redis is busy running a script", {}};
  RedisValue wrong{RedisValue::Type::error, 0, "WRONGTYPE Operation against a key", {}};
  CHECK(error_from_reply(loading, "x").kind == ErrorKind::retryable);
  CHECK(error_from_reply(busy, "x").kind == ErrorKind::retryable);
  CHECK(error_from_reply(wrong, "x").kind == ErrorKind::permanent);
  CHECK(error_from_reply(wrong, "reading").message == "reading: WRONGTYPE Operation against a key");
}

TEST_CASE("a pipeline answers every command in order in one round trip", "[redis]") {
  RedisConnection conn(options_for(test::test_redis_url()));
  const std::string k = test::unique_key_prefix("pipe") + "k";
  auto replies = conn.pipeline({{"SET", k, "1"},
                                {"INCRBY", k, "41"},
                                {"HSET", k, "f", "v"},
                                {"GET", k},
                                {"GET", k + ":none"}});
  REQUIRE(replies);
  REQUIRE(replies->size() == 5);
  CHECK((*replies)[0].str == "OK");
  CHECK((*replies)[1].integer == 42);
  CHECK((*replies)[2].is_error());  // WRONGTYPE: the rest of the pipeline still runs
  CHECK((*replies)[3].str == "42");
  CHECK((*replies)[4].is_nil());

  auto empty = conn.pipeline({});
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("a script runs by its locally computed sha1 and reloads itself after SCRIPT FLUSH",
          "[redis]") {
  // A server of its own: a flush of the shared one would make other tests' scripts reload.
  test::OwnRedisServer redis;
  RedisConnection conn(redis.options());
  const std::string k = test::unique_key_prefix("script") + "k";
  // A source no other test uses, so its presence in the script cache is ours to control.
  const std::string source = "-- " + k + "\nreturn {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}";
  RedisScript script("test", source);

  auto loaded = conn.command({"SCRIPT", "LOAD", source});
  REQUIRE(loaded);
  CHECK(loaded->str == script.sha1());

  REQUIRE(conn.command({"SCRIPT", "FLUSH"}));
  auto exists = conn.command({"SCRIPT", "EXISTS", script.sha1()});
  REQUIRE(exists);
  REQUIRE(exists->elements.at(0).integer == 0);

  SECTION("run") {
    auto r = script.run(conn, {k}, {"hello"});
    REQUIRE(r);
    REQUIRE(r->elements.size() == 3);
    CHECK(r->elements[0].str == k);
    CHECK(r->elements[1].str == "hello");
    CHECK(r->elements[2].integer == 1);  // ran exactly once, not once per attempt
  }
  SECTION("run_many") {
    auto rs = script.run_many(conn, {{{k}, {"a"}}, {{k}, {"b"}}, {{k}, {"c"}}});
    REQUIRE(rs);
    REQUIRE(rs->size() == 3);
    CHECK((*rs)[0].elements[1].str == "a");
    CHECK((*rs)[2].elements[1].str == "c");
    CHECK((*rs)[2].elements[2].integer == 3);
  }
  auto again = conn.command({"SCRIPT", "EXISTS", script.sha1()});
  REQUIRE(again);
  CHECK(again->elements.at(0).integer == 1);
}

TEST_CASE("a killed connection is re-established on a later call with its database selected",
          "[redis]") {
  ignore_sigpipe();
  RedisConnection admin(options_for(test::test_redis_url()));
  RedisConnection conn(options_for(url_with_db(3)));
  const std::string k = test::unique_key_prefix("kill") + "k";
  REQUIRE(conn.command({"SET", k, "in-db-3"}));
  const long long first_id = client_id(conn);

  auto killed = admin.command({"CLIENT", "KILL", "ID", std::to_string(first_id)});
  REQUIRE(killed);
  REQUIRE(killed->integer == 1);

  auto broken = conn.command({"GET", k});
  REQUIRE_FALSE(broken);
  CHECK(broken.error().kind == ErrorKind::retryable);
  CHECK(broken.error().message.find("GET") != std::string::npos);
  CHECK_FALSE(conn.connected());

  std::string value;
  REQUIRE(test::wait_until(
      [&] {
        auto r = conn.command({"GET", k});
        if (r && !r->is_nil()) value = r->str;
        return !value.empty();
      },
      10s));
  CHECK(value == "in-db-3");
  CHECK(client_id(conn) != first_id);
  auto in_db0 = admin.command({"EXISTS", k});
  REQUIRE(in_db0);
  CHECK(in_db0->integer == 0);
}

TEST_CASE("an unreachable redis fails fast during backoff and is reached once it is back",
          "[redis]") {
  const int port = test::free_tcp_port();
  const std::string url = "redis://127.0.0.1:" + std::to_string(port) + "/0";

  SECTION("calls during the backoff do not try to connect") {
    RedisOptions o = options_for(url);
    o.reconnect_backoff_min = 60s;  // longer than this test, so the second call must be fast-failed
    o.reconnect_backoff_max = 60s;
    RedisConnection conn(o);
    auto first = conn.command({"PING"});
    REQUIRE_FALSE(first);
    CHECK(first.error().kind == ErrorKind::retryable);
    CHECK(first.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    auto second = conn.command({"PING"});
    REQUIRE_FALSE(second);
    CHECK(second.error().kind == ErrorKind::retryable);
    CHECK(second.error().message.find("next reconnect attempt") != std::string::npos);
    CHECK(second.error().message.find(first.error().message) != std::string::npos);
  }
  SECTION("the connection comes back when the server does") {
    RedisOptions o = options_for(url);
    o.reconnect_backoff_min = 10ms;
    o.reconnect_backoff_max = 100ms;
    RedisConnection conn(o);
    REQUIRE_FALSE(conn.command({"PING"}));
    const std::string dir = test::make_temp_dir("redis-late");
    auto server = test::ChildProcess::spawn(
        {"/usr/bin/redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
         "", "--appendonly", "no", "--dir", dir},
        {}, dir + "/redis.log");
    CHECK(test::wait_until(
        [&] {
          auto r = conn.command({"PING"});
          return r && r->str == "PONG";
        },
        20s));
  }
}

TEST_CASE("a command that outlives the command timeout fails; a blocking command may wait longer",
          "[redis]") {
  ignore_sigpipe();
  RedisOptions o = options_for(test::test_redis_url());
  o.command_timeout = 1000ms;
  RedisConnection conn(o);
  const std::string k = test::unique_key_prefix("timeout") + "empty";

  auto timed_out = conn.command({"BLPOP", k, "30"});
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.error().kind == ErrorKind::retryable);
  CHECK(timed_out.error().message.find("timed out") != std::string::npos);

  // The server answers a 0.3 s BLPOP; the socket waits timeout + command timeout for it.
  auto blocked = conn.blocking_command({"BLPOP", k, "0.3"}, 300ms);
  REQUIRE(blocked);
  CHECK(blocked->is_nil());

  // The longer socket timeout was for that call only.
  auto again = conn.command({"BLPOP", k, "30"});
  REQUIRE_FALSE(again);
  CHECK(again.error().message.find("timed out") != std::string::npos);
}

TEST_CASE("a unix socket URL connects and selects its database", "[redis]") {
  const std::string dir = test::make_temp_dir("redis-unix");
  const std::string socket = dir + "/redis.sock";
  auto server = test::ChildProcess::spawn(
      {"/usr/bin/redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
       "--save", "", "--appendonly", "no", "--dir", dir},
      {}, dir + "/redis.log");
  RedisOptions o = options_for("unix://" + socket + "?db=2");
  o.reconnect_backoff_min = 10ms;
  o.reconnect_backoff_max = 100ms;
  RedisConnection conn(o);
  REQUIRE(test::wait_until([&] { return conn.command({"PING"}).ok(); }, 20s));
  auto info = conn.command({"CLIENT", "INFO"});
  REQUIRE(info);
  CHECK(info->str.find(" db=2 ") != std::string::npos);
}

TEST_CASE("parse_redis_url reads the documented forms and names what is wrong", "[redis]") {
  SECTION("valid URLs") {
    auto full = parse_redis_url("redis://10.0.0.5:6380/2");
    REQUIRE(full);
    CHECK(full->host == "10.0.0.5");
    CHECK(full->port == 6380);
    CHECK(full->db == 2);
    CHECK(full->unix_path.empty());

    auto bare = parse_redis_url("redis://localhost");
    REQUIRE(bare);
    CHECK(bare->host == "localhost");
    CHECK(bare->port == 6379);
    CHECK(bare->db == 0);

    auto auth = parse_redis_url("redis://app:p%40ss@cache:7000/1");
    REQUIRE(auth);
    CHECK(auth->username == "app");
    CHECK(auth->password == "p@ss");
    CHECK(auth->host == "cache");
    CHECK(auth->describe().find("p@ss") == std::string::npos);

    auto password_only = parse_redis_url("redis://:secret@cache");
    REQUIRE(password_only);
    CHECK(password_only->username.empty());
    CHECK(password_only->password == "secret");

    auto v6 = parse_redis_url("redis://[::1]:7001/4");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == 7001);
    CHECK(v6->db == 4);

    auto unix_socket = parse_redis_url("unix:///run/redis/redis.sock");
    REQUIRE(unix_socket);
    CHECK(unix_socket->unix_path == "/run/redis/redis.sock");
    CHECK(unix_socket->db == 0);

    auto unix_db = parse_redis_url("unix:///run/redis/redis.sock?db=3");
    REQUIRE(unix_db);
    CHECK(unix_db->unix_path == "/run/redis/redis.sock");
    CHECK(unix_db->db == 3);
  }
  SECTION("invalid URLs") {
    struct Case {
      const char* url;
      const char* says;
    };
    const Case cases[] = {
        {"", "empty"},
        {"localhost:6379", "expected redis://"},
        {"http://localhost", "unknown scheme \"http\""},
        {"rediss://localhost", "TLS"},
        {"redis://", "host is missing"},
        {"redis://:6379/0", "host is missing"},
        {"redis://host:", "port after ':' is empty"},
        {"redis://host:0", "port must be a number from 1 to 65535"},
        {"redis://host:70000", "port must be a number from 1 to 65535"},
        {"redis://host:63a9", "got \"63a9\""},
        {"redis://host:6379/x", "database after '/' must be a non-negative integer"},
        {"redis://host:6379/-1", "non-negative integer"},
        {"redis://[::1:6379", "unterminated"},
        {"unix://", "socket path is missing"},
        {"unix://relative/redis.sock", "must be absolute"},
        {"unix:///tmp/r.sock?db=two", "db must be a non-negative integer"},
        {"unix:///tmp/r.sock?size=1", "unknown parameter \"size\""},
    };
    for (const auto& c : cases) {
      INFO("url: " << c.url);
      auto parsed = parse_redis_url(c.url);
      REQUIRE_FALSE(parsed);
      CHECK(parsed.error().kind == ErrorKind::invalid_input);
      CHECK(parsed.error().field == "redis.url");
      CHECK(parsed.error().message.find(c.says) != std::string::npos);
    }
  }
  SECTION("a connection with a bad URL reports it on use") {
    RedisConnection conn(options_for("redis://host:notaport"));
    auto r = conn.command({"PING"});
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::invalid_input);
    CHECK(r.error().message.find("notaport") != std::string::npos);
  }
}

TEST_CASE("a password in the URL is read with or without a user, percent-decoded, never shown",
          "[redis][secrets]") {
  SECTION("user-info and query forms") {
    auto user = parse_redis_url("redis://herald:s%3Acr%2Ft%20pw@cache:7000/3");
    REQUIRE(user);
    CHECK(user->username == "herald");
    CHECK(user->password == "s:cr/t pw");
    CHECK(user->db == 3);
    auto no_user = parse_redis_url("redis://:only%40pw@cache/1");
    REQUIRE(no_user);
    CHECK(no_user->username.empty());
    CHECK(no_user->password == "only@pw");
    auto unencoded_at = parse_redis_url("redis://:p@ss@cache:7000/0");
    REQUIRE(unencoded_at);
    CHECK(unencoded_at->password == "p@ss");
    CHECK(unencoded_at->host == "cache");
    auto query = parse_redis_url("redis://cache:7000/2?user=app&password=q%26pw");
    REQUIRE(query);
    CHECK(query->username == "app");
    CHECK(query->password == "q&pw");
    CHECK(query->db == 2);
    auto unix_pw = parse_redis_url("unix:///run/r.sock?db=1&password=upw");
    REQUIRE(unix_pw);
    CHECK(unix_pw->password == "upw");
    for (const auto* ep : {&*user, &*no_user, &*query, &*unix_pw}) {
      CHECK(ep->describe().find("pw") == std::string::npos);
    }
  }
  SECTION("an invalid URL's error shows it redacted") {
    for (const char* url :
         {"redis://app:hunter2secret@host:notaport/0", "redis://:hunter2secret@:6379",
          "redis://:hunter2secret@host/x", "redis://host/0?password=hunter2secret&size=1",
          "unix:///r.sock?password=hunter2secret&db=x"}) {
      INFO(url);
      auto parsed = parse_redis_url(url);
      REQUIRE_FALSE(parsed);
      CHECK(parsed.error().message.find("hunter2secret") == std::string::npos);
      CHECK(parsed.error().message.find("***") != std::string::npos);
    }
  }
  SECTION("redact_url") {
    CHECK(redact_url("redis://u:pw@h:1/0") == "redis://u:***@h:1/0");
    CHECK(redact_url("redis://pw@h") == "redis://***@h");
    CHECK(redact_url("redis://:p/w?x@h:1/0") == "redis://:***@h:1/0");
    CHECK(redact_url("redis://h:1/0") == "redis://h:1/0");
    CHECK(redact_url("unix:///s.sock?db=1&password=pw") == "unix:///s.sock?db=1&password=***");
    CHECK(redact_url("https://a/b?access_token=t&x=1") == "https://a/b?access_token=***&x=1");
    CHECK(redact_url("embedded") == "embedded");
  }
}

TEST_CASE("AUTH is sent first on every connection; a wrong password is a clear error without it",
          "[redis][secrets]") {
  ignore_sigpipe();
  test::OwnRedisServer plain_auth(test::RedisAuth{"", "right-pass-4f1c"});
  test::OwnRedisServer acl_user(test::RedisAuth{"herald", "acl-pass-9b2e"});

  SECTION("the right password, in the URL or in the options, with or without a user") {
    auto pw_in_url = parse_redis_url(plain_auth.url());
    REQUIRE(pw_in_url);
    RedisConnection by_url(options_for(
        "redis://:right-pass-4f1c@127.0.0.1:" + std::to_string(pw_in_url->port) + "/0"));
    auto pong = by_url.command({"PING"});
    REQUIRE(pong);
    CHECK(pong->str == "PONG");
    RedisConnection by_options(plain_auth.options());
    CHECK(by_options.command({"PING"})->str == "PONG");
    RedisConnection as_user(acl_user.options());
    auto who = as_user.command({"ACL", "WHOAMI"});
    REQUIRE(who);
    CHECK(who->str == "herald");
  }
  SECTION("reconnects and blocking connections authenticate again") {
    RedisOptions o = plain_auth.options();
    o.reconnect_backoff_min = 1ms;
    o.reconnect_backoff_max = 5ms;
    RedisConnection conn(o);
    RedisConnection killer(plain_auth.options());
    const long long first = client_id(conn);
    REQUIRE(killer.command({"CLIENT", "KILL", "ID", std::to_string(first)}));
    REQUIRE(test::wait_until([&] { return conn.command({"PING"}).ok(); }, 5s));
    CHECK(client_id(conn) != first);
    auto popped = conn.blocking_command({"BLPOP", "t:secrets:nothing", "0.05"}, 1000ms);
    REQUIRE(popped);
    CHECK_FALSE(popped->is_error());
  }
  SECTION("a wrong password or none") {
    RedisOptions wrong = plain_auth.options();
    wrong.password = "wrong-pass-77aa";
    RedisConnection bad(wrong);
    auto refused = bad.command({"PING"});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::credentials);
    CHECK(refused.error().code == "redis_auth_failed");
    CHECK(refused.error().message.find("refused the password") != std::string::npos);
    CHECK(refused.error().message.find("wrong-pass-77aa") == std::string::npos);
    CHECK(refused.error().message.find("right-pass-4f1c") == std::string::npos);

    RedisOptions wrong_user = acl_user.options();
    wrong_user.password = "not-acl-pass";
    RedisConnection bad_user(wrong_user);
    auto user_refused = bad_user.command({"PING"});
    REQUIRE_FALSE(user_refused);
    CHECK(user_refused.error().message.find("user \"herald\"") != std::string::npos);
    CHECK(user_refused.error().message.find("not-acl-pass") == std::string::npos);

    RedisConnection none(options_for(plain_auth.url()));
    auto noauth = none.command({"PING"});
    REQUIRE(noauth);  // an error reply is a value
    CHECK(noauth->is_error());
    CHECK(error_from_reply(*noauth, "PING").message.find("requires a password") !=
          std::string::npos);
  }
}

TEST_CASE("the pool lends each connection to one holder at a time", "[redis]") {
  RedisPool pool(options_for(test::test_redis_url()), 2);
  REQUIRE(pool.size() == 2);
  auto a = pool.acquire();
  REQUIRE(a);
  std::optional<RedisPool::Lease> b_holder;
  {
    auto b = pool.acquire();
    REQUIRE(b);
    CHECK(&**b != &**a);
    auto ping = (*b)->command({"PING"});
    REQUIRE(ping);
    CHECK(ping->str == "PONG");

    auto none = pool.acquire(20ms);
    REQUIRE_FALSE(none);
    CHECK(none.error().kind == ErrorKind::retryable);
    CHECK(none.error().message.find("busy") != std::string::npos);
    b_holder.emplace(std::move(*b));
  }
  // A waiting acquire gets the connection as soon as a holder gives it back.
  auto waiter = std::async(std::launch::async, [&] { return pool.acquire(60s).ok(); });
  CHECK(waiter.wait_for(50ms) == std::future_status::timeout);
  b_holder.reset();
  REQUIRE(waiter.wait_for(30s) == std::future_status::ready);
  CHECK(waiter.get());
}

}  // namespace herald
