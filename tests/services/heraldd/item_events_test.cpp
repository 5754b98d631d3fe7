// GET /v1/items/{id}/events against a real heraldd, redis-server and herald-sim, read over a raw
// socket as a browser's EventSource would: the item on connect, then each change as it happens.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

// A client of one event stream. Every read waits at most a second, and read_until() at most
// `timeout` in all.
class EventStreamClient {
 public:
  EventStreamClient(int port, const std::string& path, const std::string& token) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                "Authorization: Bearer " + token +
                                "\r\nAccept: text/event-stream\r\n\r\n";
    REQUIRE(send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
  }
  ~EventStreamClient() { close(fd_); }
  EventStreamClient(const EventStreamClient&) = delete;
  EventStreamClient& operator=(const EventStreamClient&) = delete;

  // Reads until `done(text so far)` or the timeout or the end of the stream; false unless done.
  template <typename Done>
  bool read_until(Done done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(text)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      char buffer[8192];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n == 0) return done(text);
      if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }

  // The data of each complete `event: item` so far, parsed.
  std::vector<json> items() const {
    std::vector<json> out;
    const auto body_at = text.find("\r\n\r\n");
    if (body_at == std::string::npos) return out;
    std::size_t pos = body_at + 4;
    for (auto end = text.find("\n\n", pos); end != std::string::npos;
         pos = end + 2, end = text.find("\n\n", pos)) {
      const std::string event = text.substr(pos, end - pos);
      const std::string prefix = "event: item\ndata: ";
      if (event.rfind(prefix, 0) == 0) out.push_back(json::parse(event.substr(prefix.size())));
    }
    return out;
  }

  std::string text;

 private:
  int fd_ = -1;
};

int port_of(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

}  // namespace

TEST_CASE("an item's event stream sends the item on connect and each change after",
          "[api][events]") {
  SimHandle sim = start_sim();
  const std::string dir = make_temp_dir("item-events");
  HeralddHandle daemon = start_heraldd(test_config(unique_key_prefix("item-events"), sim.url), dir);

  auto submitted = http("POST", daemon.url + "/v1/items", kDutyToken, sample_alert().dump(),
                        {{"Content-Type", "application/json"}});
  INFO(submitted.body);
  REQUIRE(submitted.status == 201);
  const std::string id = json_of(submitted).at("id");

  // A reviewer, not the author: any role may watch.
  EventStreamClient client(port_of(daemon.url), "/v1/items/" + id + "/events", kReviewerToken);
  REQUIRE(client.read_until([&](const std::string&) { return !client.items().empty(); },
                            std::chrono::seconds(20)));
  CHECK(client.text.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(client.text.find("Content-Type: text/event-stream") != std::string::npos);
  const json first = client.items().front();
  CHECK(first.at("state") == "pending_review");
  // Exactly what GET /v1/items/{id} answers.
  CHECK(first == json_of(http("GET", daemon.url + "/v1/items/" + id, kAdminToken)));

  // The first approval arrives as a change of its own.
  REQUIRE(review(daemon.url, id, kReviewerToken).status == 201);
  REQUIRE(client.read_until(
      [&](const std::string&) { return client.items().back().at("approvals").size() == 1; },
      std::chrono::seconds(20)));
  CHECK(client.items().back().at("state") == "pending_review");

  REQUIRE(review(daemon.url, id, kReviewer2Token).status == 201);
  const bool published = client.read_until(
      [&](const std::string&) { return client.items().back().at("state") == "published"; },
      std::chrono::seconds(45));
  INFO(client.text << "\nheraldd log: " << read_file(daemon.log_path));
  REQUIRE(published);
  // Sent only on a change: no two events alike in a row.
  const auto items = client.items();
  for (std::size_t i = 1; i < items.size(); ++i) CHECK(items[i] != items[i - 1]);
  CHECK(items.back() == json_of(http("GET", daemon.url + "/v1/items/" + id, kAdminToken)));
}

TEST_CASE("an item's event stream is refused as GET /v1/items/{id} would be", "[api][events]") {
  SimHandle sim = start_sim();
  const std::string dir = make_temp_dir("item-events-refused");
  HeralddHandle daemon =
      start_heraldd(test_config(unique_key_prefix("item-events-refused"), sim.url), dir);
  CHECK(http("GET", daemon.url + "/v1/items/nope/events").status == 401);
  CHECK(http("GET", daemon.url + "/v1/items/nope/events", kReviewerToken).status == 404);
  CHECK(http("POST", daemon.url + "/v1/items/nope/events", kReviewerToken).status == 405);
}
