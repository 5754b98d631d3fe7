// Streamed responses of HttpServer (ResponseStream) over real sockets: what the source gives
// arrives as it comes, the cap on open streams answers 503, and a client hanging up or the server
// stopping ends a stream.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>

#include "services/common/http_server.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using herald::HttpServer;
using herald::HttpServerOptions;
using herald::ResponseStream;
using herald::ServerRequest;
using herald::ServerResponse;
using herald::test::wait_until;

namespace {

// Counts up once per call: "tick 1\n", "tick 2\n", ... and counts the open sources.
class Ticker : public ResponseStream {
 public:
  explicit Ticker(std::atomic<int>& open) : open_(open) {
    ++open_;
    interval = 20ms;
  }
  ~Ticker() override { --open_; }
  std::optional<std::string> next() override { return "tick " + std::to_string(++n_) + "\n"; }

 private:
  std::atomic<int>& open_;
  int n_ = 0;
};

// A raw connection; every read waits at most a second.
class Connection {
 public:
  explicit Connection(int port, const std::string& path) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
  }
  ~Connection() { hang_up(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reads until `text` contains `needle` or 10 s pass; false if it never came.
  bool read_until(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (text.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (read_some() == 0) return text.find(needle) != std::string::npos;
    }
    return true;
  }
  // True when the server closed the connection within 10 s.
  bool closed_by_server() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (read_some() == 0) return true;
    }
    return false;
  }
  void hang_up() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  std::string text;

 private:
  // Bytes read; 0 at the end of the stream (or an error), -1 when nothing came within a second.
  ssize_t read_some() {
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    return n < 0 ? 0 : n;
  }
  int fd_ = -1;
};

}  // namespace

TEST_CASE("a streamed response sends what its source gives until the client hangs up",
          "[http][stream]") {
  std::atomic<int> open{0};
  HttpServerOptions options;
  options.max_streams = 1;
  HttpServer server(options, [&](const ServerRequest&) {
    ServerResponse r;
    r.content_type = "text/event-stream";
    r.stream = std::make_shared<Ticker>(open);
    return r;
  });
  REQUIRE(server.start());

  auto first = std::make_unique<Connection>(server.port(), "/a");
  REQUIRE(first->read_until("tick 3\n"));
  CHECK(first->text.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(first->text.find("Content-Type: text/event-stream\r\n") != std::string::npos);
  CHECK(first->text.find("Content-Length") == std::string::npos);

  // The cap: a second stream is refused while the first is open.
  Connection second(server.port(), "/b");
  REQUIRE(second.read_until("\r\n\r\n"));
  CHECK(second.text.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(second.text.find("busy_streams") != std::string::npos);

  // Hanging up ends the stream and frees its place.
  first->hang_up();
  REQUIRE(wait_until([&] { return open == 0; }, 10s, 10ms));
  Connection third(server.port(), "/c");
  REQUIRE(third.read_until("tick 1\n"));

  // Stopping the server ends the streams it has.
  server.stop(1s);
  CHECK(third.closed_by_server());
}
