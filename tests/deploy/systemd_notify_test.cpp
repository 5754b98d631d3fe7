// heraldd speaks systemd's readiness protocol (Type=notify): the test plays the service manager,
// with its own unix datagram socket as NOTIFY_SOCKET, and reads what heraldd sends.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald::test;
using nlohmann::json;

namespace {

// A bound unix datagram socket, as systemd's notify socket is.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) throw std::runtime_error("path too long: " + path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      const int error = errno;
      close(fd_);
      throw std::system_error(error, std::generic_category(), "bind " + path);
    }
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  // Reads datagrams into `received` until one contains `wanted` (true) or `timeout` passes.
  bool read_until(const std::string& wanted, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n < 0) continue;
      received.emplace_back(buffer, static_cast<std::size_t>(n));
      if (received.back().find(wanted) != std::string::npos) return true;
    }
  }

  // Every datagram so far, joined: for failure messages and "was X ever sent" checks.
  std::string all() const {
    std::string joined;
    for (const auto& d : received) joined += "[" + d + "]\n";
    return joined;
  }

  std::vector<std::string> received;

 private:
  std::string path_;
  int fd_ = -1;
};

struct NotifiedHeraldd {
  ChildProcess process;
  std::string url;
  std::string log_path;
};

// heraldd with NOTIFY_SOCKET (and a 0.2 s watchdog, so it pings every 0.1 s) set as systemd sets
// them.
NotifiedHeraldd start_notified(json config, const std::string& dir, const NotifySocket& socket) {
  NotifiedHeraldd h;
  const int port = free_tcp_port();
  config["http"]["listen"] = "127.0.0.1:" + std::to_string(port);
  config["http"]["public"]["listen"] = "127.0.0.1:" + std::to_string(free_tcp_port());
  const std::string config_path = dir + "/heraldd.json";
  std::ofstream(config_path) << config.dump(2);
  h.url = "http://127.0.0.1:" + std::to_string(port);
  h.log_path = dir + "/heraldd.log";
  h.process = ChildProcess::spawn({HERALDD_PATH, "--config", config_path},
                                  {{"NOTIFY_SOCKET", socket.path()}, {"WATCHDOG_USEC", "200000"}},
                                  h.log_path);
  return h;
}

}  // namespace

TEST_CASE(
    "systemd: heraldd sends READY=1 once it serves, pings the watchdog, and STOPPING=1 on SIGTERM",
    "[heraldd][systemd]") {
  const std::string dir = make_temp_dir("notify");
  NotifySocket socket(dir + "/notify.sock");
  SimHandle sim = start_sim();
  NotifiedHeraldd daemon =
      start_notified(test_config(unique_key_prefix("notify"), sim.url), dir, socket);

  const bool ready = socket.read_until("READY=1", std::chrono::seconds(30));
  INFO(socket.all() << read_file(daemon.log_path));
  REQUIRE(ready);
  CHECK(socket.received.front() == "STATUS=starting");
  CHECK_THAT(socket.received.back(), Catch::Contains("STATUS=ready: API on port"));
  // READY=1 is a promise: the API already serves.
  CHECK(http("GET", daemon.url + "/readyz").status == 200);

  // Again and again, not once: every 0.1 s (half of WATCHDOG_USEC).
  CHECK(socket.read_until("WATCHDOG=1", std::chrono::seconds(10)));
  socket.received.clear();
  CHECK(socket.read_until("WATCHDOG=1", std::chrono::seconds(10)));

  daemon.process.signal(SIGTERM);
  CHECK(socket.read_until("STOPPING=1", std::chrono::seconds(30)));
  CHECK(daemon.process.wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("systemd: heraldd says what it waits for and sends READY=1 only once Redis answers",
          "[heraldd][systemd]") {
  const std::string dir = make_temp_dir("notify-wait");
  NotifySocket socket(dir + "/notify.sock");
  SimHandle sim = start_sim();
  const int redis_port = free_tcp_port();  // nothing listens here yet
  json config = test_config(unique_key_prefix("notify-wait"), sim.url);
  config["redis"]["url"] = "redis://127.0.0.1:" + std::to_string(redis_port) + "/0";
  config["redis"]["connect_timeout_ms"] = 300;
  NotifiedHeraldd daemon = start_notified(config, dir, socket);

  const bool waiting = socket.read_until("STATUS=waiting for redis", std::chrono::seconds(30));
  INFO(socket.all() << read_file(daemon.log_path));
  REQUIRE(waiting);
  CHECK(socket.all().find("READY=1") == std::string::npos);

  ChildProcess redis =
      ChildProcess::spawn({"/usr/bin/redis-server", "--port", std::to_string(redis_port), "--bind",
                           "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir},
                          {}, dir + "/redis.log");
  CHECK(socket.read_until("READY=1", std::chrono::seconds(30)));
  CHECK(http("GET", daemon.url + "/readyz").status == 200);
  daemon.process.signal(SIGTERM);
  CHECK(daemon.process.wait(std::chrono::seconds(30)) == 0);
}
