// HttpServer against real sockets: herald::HttpClient for ordinary requests, a raw TCP connection
// where the test needs control over the bytes (garbage, half requests, keep-alive, pipelining).
#include "services/common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "adapters/http_client.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using herald::HttpServer;
using herald::HttpServerOptions;
using herald::ServerRequest;
using herald::ServerResponse;
using herald::test::wait_until;
using nlohmann::json;

namespace {

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;

  std::string header(const std::string& lower_name) const {
    std::string lower_head = head;
    for (auto& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto at = lower_head.find("\r\n" + lower_name + ":");
    if (at == std::string::npos) return "";
    auto start = at + 2 + lower_name.size() + 1;
    auto end = head.find("\r\n", start);
    std::string value = head.substr(start, end - start);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    return value;
  }
};

// One TCP connection with a receive timeout, so a broken server fails the test instead of hanging.
class RawConnection {
 public:
  // `source`: the client's address (any of 127/8 is loopback), to be another client.
  explicit RawConnection(int port, const char* source = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval timeout{0, 100 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
        throw std::runtime_error(std::string("cannot bind to ") + source);
      }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  void send_text(const std::string& data) {
    if (::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(data.size())) {
      throw std::runtime_error("send failed");
    }
  }

  // One response; for an answer to HEAD pass expect_body = false. nullopt if the connection ends
  // or nothing complete arrives within 5 s.
  std::optional<RawResponse> read_response(bool expect_body = true) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    std::size_t head_end;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse response;
    response.head = pending_.substr(0, head_end + 2);
    response.status = std::stoi(response.head.substr(9, 3));
    std::size_t length = 0;
    if (expect_body && !response.header("content-length").empty()) {
      length = std::stoul(response.header("content-length"));
    }
    while (pending_.size() < head_end + 4 + length) {
      if (!fill(deadline)) return std::nullopt;
    }
    response.body = pending_.substr(head_end + 4, length);
    pending_.erase(0, head_end + 4 + length);
    return response;
  }

  // True once the server has closed the connection (end of stream or reset), within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n == 0) return true;
      if (n > 0) {
        pending_.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
    return false;
  }

  const std::string& unread() const { return pending_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) {
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        pending_.append(buffer, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0) return false;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    }
    return false;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string base_url(const HttpServer& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

herald::HttpResponse send(const std::string& method, const std::string& url,
                          const std::string& body = "",
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  herald::HttpClient client;
  herald::HttpRequest request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.headers = std::move(headers);
  auto response = client.send(request);
  if (!response) throw std::runtime_error(method + " " + url + ": " + response.error().message);
  return *response;
}

// Answers with what it was given, as JSON.
ServerResponse echo(const ServerRequest& request) {
  json query = json::object();
  for (const auto& [key, value] : request.query) query[key] = value;
  ServerResponse response = ServerResponse::json(200, json{{"method", request.method},
                                                           {"path", request.path},
                                                           {"target", request.target},
                                                           {"query", query},
                                                           {"x_test", request.header("x-test")},
                                                           {"body", request.body}}
                                                          .dump());
  response.headers.emplace_back("X-Echo", "yes");
  return response;
}

HttpServerOptions local_options() {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.handler_threads = 2;
  return options;
}

}  // namespace

TEST_CASE("HttpServer hands each request to the handler with its path and query decoded",
          "[http_server]") {
  HttpServer server(local_options(), echo);
  REQUIRE(server.start().ok());
  REQUIRE(server.port() > 0);

  SECTION("path and query are percent-decoded, '+' is a space only in the query") {
    auto response = send("GET", base_url(server) + "/a%20b/c+d?x=1+2&y=%C3%A9&z&x=second&e%3D=%26");
    REQUIRE(response.status == 200);
    CHECK(response.header("content-type") == "application/json");
    CHECK(response.header("x-echo") == "yes");
    auto body = json::parse(response.body);
    CHECK(body["method"] == "GET");
    CHECK(body["path"] == "/a b/c+d");
    CHECK(body["target"] == "/a%20b/c+d?x=1+2&y=%C3%A9&z&x=second&e%3D=%26");
    CHECK(body["query"]["x"] == "1 2");
    CHECK(body["query"]["y"] == "\xC3\xA9");
    CHECK(body["query"]["z"] == "");
    CHECK(body["query"]["e="] == "&");
  }

  SECTION("method, headers and body reach the handler") {
    auto response =
        send("POST", base_url(server) + "/items", R"({"a":1})", {{"X-Test", "Mixed Case"}});
    REQUIRE(response.status == 200);
    auto body = json::parse(response.body);
    CHECK(body["method"] == "POST");
    CHECK(body["x_test"] == "Mixed Case");
    CHECK(body["body"] == R"({"a":1})");
  }

  SECTION("HEAD is answered like GET, with Content-Length and without a body") {
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send_text("GET /same HTTP/1.1\r\nHost: t\r\n\r\n");
    auto get = connection.read_response();
    REQUIRE(get);
    connection.send_text("HEAD /same HTTP/1.1\r\nHost: t\r\n\r\n");
    auto head = connection.read_response(false);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->header("content-type") == "application/json");
    CHECK(head->header("content-length") == std::to_string(get->body.size()));
    CHECK(head->body.empty());
    // A body sent after the HEAD answer would be read as the start of the next answer.
    connection.send_text("GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
    auto next = connection.read_response();
    REQUIRE(next);
    CHECK(json::parse(next->body)["path"] == "/next");
  }
}

TEST_CASE("a path with its own body cap takes bodies up to that cap, and only that path does",
          "[http_server]") {
  std::atomic<int> calls{0};
  HttpServerOptions options = local_options();
  options.max_body_bytes = 1024;
  options.max_body_bytes_by_path = {{"/bulk", 4096}};
  HttpServer server(options, [&calls](const ServerRequest& request) {
    ++calls;
    return echo(request);
  });
  REQUIRE(server.start().ok());

  CHECK(send("POST", base_url(server) + "/bulk?x=1", std::string(4096, 'x')).status == 200);
  CHECK(calls == 1);
  auto over = send("POST", base_url(server) + "/bulk", std::string(4097, 'x'));
  CHECK(over.status == 413);
  CHECK(json::parse(over.body)["error"]["message"].get<std::string>().find("4096") !=
        std::string::npos);
  // Other paths keep max_body_bytes, although the parser starts from the largest cap.
  auto elsewhere = send("POST", base_url(server) + "/upload", std::string(1025, 'x'));
  CHECK(elsewhere.status == 413);
  CHECK(json::parse(elsewhere.body)["error"]["message"].get<std::string>().find("1024") !=
        std::string::npos);
  CHECK(calls == 1);

  SECTION("a chunked body over its path's cap is refused as it arrives") {
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send_text(
        "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
        std::string(0x800, 'x') + "\r\n0\r\n\r\n");
    auto response = connection.read_response();
    REQUIRE(response);
    CHECK(response->status == 413);
    CHECK(calls == 1);
  }
}

TEST_CASE("HttpServer answers 413 with a JSON error to a body over max_body_bytes",
          "[http_server]") {
  std::atomic<int> calls{0};
  HttpServerOptions options = local_options();
  options.max_body_bytes = 1024;
  HttpServer server(options, [&calls](const ServerRequest& request) {
    ++calls;
    return echo(request);
  });
  REQUIRE(server.start().ok());

  SECTION("a body one byte over the limit is refused before the handler runs") {
    auto response = send("POST", base_url(server) + "/upload", std::string(1025, 'x'));
    CHECK(response.status == 413);
    CHECK(response.header("content-type") == "application/json");
    CHECK(json::parse(response.body)["error"]["code"] == "body_too_large");
    CHECK(calls == 0);
  }

  SECTION("a body at the limit is accepted") {
    auto response = send("POST", base_url(server) + "/upload", std::string(1024, 'x'));
    CHECK(response.status == 200);
    CHECK(calls == 1);
  }

  SECTION("a Content-Length over the limit is answered without waiting for the body") {
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send_text(
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\nonly a little");
    auto response = connection.read_response();
    REQUIRE(response);
    CHECK(response->status == 413);
    CHECK(json::parse(response->body)["error"]["code"] == "body_too_large");
    CHECK(connection.closed_by_peer(5s));
    CHECK(calls == 0);
  }
}

TEST_CASE("HttpServer answers 400 to malformed HTTP and closes the connection", "[http_server]") {
  std::atomic<int> calls{0};
  HttpServer server(local_options(), [&calls](const ServerRequest& request) {
    ++calls;
    return echo(request);
  });
  REQUIRE(server.start().ok());

  std::string garbage = GENERATE(std::string("THIS IS NOT HTTP\r\n\r\n"),
                                 std::string("GET / HTTP/1.1\r\nNo colon here\r\n\r\n"),
                                 std::string("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"));
  RawConnection connection(server.port());
  REQUIRE(connection.connected());
  connection.send_text(garbage);
  auto response = connection.read_response();
  REQUIRE(response);
  CHECK(response->status == 400);
  CHECK(json::parse(response->body)["error"]["code"] == "bad_request");
  CHECK(connection.closed_by_peer(5s));
  CHECK(calls == 0);
}

TEST_CASE("HttpServer keeps a connection alive across requests", "[http_server]") {
  HttpServer server(local_options(), echo);
  REQUIRE(server.start().ok());
  RawConnection connection(server.port());
  REQUIRE(connection.connected());

  SECTION("two requests one after the other") {
    connection.send_text("GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
    auto first = connection.read_response();
    REQUIRE(first);
    connection.send_text("POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
    auto second = connection.read_response();
    REQUIRE(second);
    CHECK(json::parse(first->body)["path"] == "/one");
    CHECK(json::parse(second->body)["path"] == "/two");
    CHECK(json::parse(second->body)["body"] == "{}");
  }

  SECTION("two requests sent together are answered in order") {
    connection.send_text(
        "GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\n\r\n");
    auto first = connection.read_response();
    auto second = connection.read_response();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(json::parse(first->body)["path"] == "/one");
    CHECK(json::parse(second->body)["path"] == "/two");
  }

  SECTION("Connection: close ends the connection after the answer") {
    connection.send_text("GET /one HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    auto response = connection.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(connection.closed_by_peer(5s));
  }
}

TEST_CASE("ServerResponse::error builds the JSON error body with escaped text", "[http_server]") {
  auto response = ServerResponse::error(422, "bad_field", "say \"hi\"\\\n\x01 \xE4\xBD\xA0", "a.b");
  CHECK(response.status == 422);
  CHECK(response.content_type == "application/json");
  auto body = json::parse(response.body);
  CHECK(body["error"]["code"] == "bad_field");
  CHECK(body["error"]["message"] == "say \"hi\"\\\n\x01 \xE4\xBD\xA0");
  CHECK(body["error"]["field"] == "a.b");
  CHECK_FALSE(json::parse(ServerResponse::error(400, "c", "m").body)["error"].contains("field"));
}

TEST_CASE("HttpServer answers 500 with a JSON error when the handler throws", "[http_server]") {
  HttpServer server(local_options(), [](const ServerRequest& request) -> ServerResponse {
    if (request.path == "/boom") throw std::runtime_error("handler exploded");
    return ServerResponse::json(200, R"({"ok":true})");
  });
  REQUIRE(server.start().ok());

  auto failed = send("GET", base_url(server) + "/boom");
  CHECK(failed.status == 500);
  CHECK(failed.header("content-type") == "application/json");
  CHECK(json::parse(failed.body)["error"]["code"] == "internal");
  auto after = send("GET", base_url(server) + "/fine");
  CHECK(after.status == 200);
}

TEST_CASE("HttpServer::stop lets a running handler finish and send its answer", "[http_server]") {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  HttpServer server(local_options(), [&](const ServerRequest&) {
    entered = true;
    wait_until([&] { return release.load(); }, 30s);
    return ServerResponse::json(200, R"({"finished":true})");
  });
  REQUIRE(server.start().ok());
  const int port = server.port();

  std::optional<herald::Result<herald::HttpResponse>> answer;
  std::thread client([&] {
    herald::HttpClient http;
    answer.emplace(http.send(
        {"GET", "http://127.0.0.1:" + std::to_string(port) + "/slow", {}, "", 3000ms, 30000ms}));
  });
  REQUIRE(wait_until([&] { return entered.load(); }, 10s));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server.stop(20s);
    stopped = true;
  });
  // Once the listener is closed, stop() has begun while the handler still runs.
  bool refusing = wait_until([&] { return !RawConnection(port).connected(); }, 10s);
  CHECK_FALSE(stopped.load());
  release = true;
  stopper.join();
  client.join();

  REQUIRE(refusing);
  REQUIRE(answer.has_value());
  REQUIRE(answer->ok());
  CHECK(answer->value().status == 200);
  CHECK(json::parse(answer->value().body)["finished"] == true);
}

TEST_CASE("HttpServer closes connections that are too slow or idle", "[http_server]") {
  std::atomic<int> calls{0};
  HttpServerOptions options = local_options();
  options.header_timeout = 200ms;
  options.read_timeout = 200ms;
  options.idle_timeout = 200ms;
  HttpServer server(options, [&calls](const ServerRequest& request) {
    ++calls;
    return echo(request);
  });
  REQUIRE(server.start().ok());
  RawConnection connection(server.port());
  REQUIRE(connection.connected());

  SECTION("half a request is cut off after header_timeout") {
    connection.send_text("GET /half HTTP/1.1\r\nHost: t\r\n");
    CHECK(connection.closed_by_peer(10s));
    CHECK(connection.unread().empty());
    CHECK(calls == 0);
  }

  SECTION("a keep-alive connection with no next request is closed after idle_timeout") {
    connection.send_text("GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(connection.read_response());
    CHECK(connection.closed_by_peer(10s));
    CHECK(calls == 1);
  }
}

TEST_CASE("HttpServer times headers and body separately", "[http_server]") {
  HttpServerOptions options = local_options();
  const std::string head = "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n";

  SECTION("a body slower than header_timeout but within read_timeout is served") {
    options.header_timeout = 100ms;
    options.read_timeout = 60s;
    HttpServer server(options, echo);
    REQUIRE(server.start().ok());
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send_text(head + "01234");
    // Ten header timeouts later the connection is still open: the body has its own deadline.
    CHECK_FALSE(connection.closed_by_peer(1s));
    connection.send_text("56789");
    auto response = connection.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(json::parse(response->body)["body"] == "0123456789");
  }

  SECTION("headers slower than header_timeout are cut off even with a long read_timeout") {
    options.header_timeout = 200ms;
    options.read_timeout = 60s;
    HttpServer server(options, echo);
    REQUIRE(server.start().ok());
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send_text("POST /slow HTTP/1.1\r\nHost: t\r\n");
    CHECK(connection.closed_by_peer(10s));  // well before read_timeout
  }

  SECTION("a body slower than read_timeout is cut off even with a long header_timeout") {
    options.header_timeout = 60s;
    options.read_timeout = 200ms;
    HttpServer server(options, echo);
    REQUIRE(server.start().ok());
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send_text(head + "01234");
    CHECK(connection.closed_by_peer(10s));
  }
}

TEST_CASE("HttpServer answers 503 and closes connections beyond max_connections", "[http_server]") {
  HttpServerOptions options = local_options();
  options.max_connections = 1;
  HttpServer server(options, echo);
  REQUIRE(server.start().ok());

  auto first = std::make_unique<RawConnection>(server.port());
  REQUIRE(first->connected());
  first->send_text("GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(first->read_response());  // the first connection is now surely counted

  RawConnection second(server.port());
  REQUIRE(second.connected());  // accepted by the kernel, answered 503 by the server, closed
  second.send_text("GET /two HTTP/1.1\r\nHost: t\r\n\r\n");
  auto busy = second.read_response();
  REQUIRE(busy);
  CHECK(busy->status == 503);
  CHECK(busy->header("retry-after") == "1");
  CHECK(busy->header("connection") == "close");
  CHECK(json::parse(busy->body)["error"]["code"] == "busy");
  CHECK(second.closed_by_peer(10s));

  SECTION("a refused client that sends nothing still gets the answer") {
    RawConnection silent(server.port());
    REQUIRE(silent.connected());
    auto answer = silent.read_response();
    REQUIRE(answer);
    CHECK(answer->status == 503);
    CHECK(silent.closed_by_peer(10s));
  }

  first.reset();
  // Once the first connection's end is noticed, a new one is served.
  bool served = wait_until(
      [&] {
        RawConnection next(server.port());
        if (!next.connected()) return false;
        next.send_text("GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
        auto response = next.read_response();
        return response && response->status == 200;
      },
      10s);
  CHECK(served);
}

TEST_CASE("HttpServer caps the connections of one client address, not the others'",
          "[http_server]") {
  HttpServerOptions options = local_options();
  options.max_connections_per_client = 2;
  HttpServer server(options, echo);
  REQUIRE(server.start().ok());

  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<RawConnection>(server.port()));
    REQUIRE(held.back()->connected());
    held.back()->send_text("GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(held.back()->read_response());  // counted by now
  }
  RawConnection third(server.port());
  REQUIRE(third.connected());
  auto refused = third.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(json::parse(refused->body)["error"]["code"] == "busy_client");
  CHECK(third.closed_by_peer(10s));

  RawConnection other(server.port(), "127.0.0.2");
  REQUIRE(other.connected());
  other.send_text("GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
  auto served = other.read_response();
  REQUIRE(served);
  CHECK(served->status == 200);

  held.pop_back();
  // The address's share comes back once a connection of it ends.
  CHECK(wait_until(
      [&] {
        RawConnection next(server.port());
        if (!next.connected()) return false;
        next.send_text("GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
        auto response = next.read_response();
        return response && response->status == 200;
      },
      10s));
}

TEST_CASE("HttpServer::start reports an address it cannot listen on", "[http_server]") {
  HttpServer first(local_options(), echo);
  REQUIRE(first.start().ok());

  SECTION("a port already in use") {
    HttpServerOptions options = local_options();
    options.listen = "127.0.0.1:" + std::to_string(first.port());
    HttpServer second(options, echo);
    auto started = second.start();
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().message.find("cannot listen") != std::string::npos);
  }

  SECTION("an address that is not host:port") {
    HttpServerOptions options = local_options();
    options.listen = GENERATE(std::string("no-port"), std::string("127.0.0.1:99999"),
                              std::string("127.0.0.1:http"));
    HttpServer bad(options, echo);
    auto started = bad.start();
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().field == "listen");
  }
}
