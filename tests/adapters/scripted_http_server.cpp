#include "tests/adapters/scripted_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <system_error>

namespace herald::test {
namespace {

constexpr int kPollMs = 20;
constexpr auto kIdleLimit = std::chrono::seconds(10);

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// Binds a listening socket on 127.0.0.1 with a kernel-chosen port.
int listen_loopback(int backlog, int& port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, backlog) != 0) {
    const int err = errno;
    close(fd);
    throw std::system_error(err, std::generic_category(), "bind/listen");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string ScriptedRequest::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

ScriptedHttpServer::ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = listen_loopback(16, port_);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stopping_ = true;
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

std::string ScriptedHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::vector<ScriptedRequest> ScriptedHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void ScriptedHttpServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

// Serves keep-alive requests on one connection until the client closes it, the server stops, or
// the connection idles too long.
void ScriptedHttpServer::serve(int fd) {
  std::string buffer;
  auto last_activity = std::chrono::steady_clock::now();
  while (!stopping_ && std::chrono::steady_clock::now() - last_activity < kIdleLimit) {
    const auto header_end = buffer.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      ScriptedRequest request;
      std::size_t content_length = 0;
      std::size_t line_start = 0;
      bool first = true;
      while (line_start < header_end) {
        const auto line_end = buffer.find("\r\n", line_start);
        const std::string line = buffer.substr(line_start, line_end - line_start);
        line_start = line_end + 2;
        if (first) {
          first = false;
          const auto space1 = line.find(' ');
          const auto space2 = line.find(' ', space1 + 1);
          request.method = line.substr(0, space1);
          request.target = line.substr(space1 + 1, space2 - space1 - 1);
          continue;
        }
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        request.headers.emplace_back(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
        if (request.headers.back().first == "content-length") {
          content_length = std::stoul(request.headers.back().second);
        }
      }
      const std::size_t total = header_end + 4 + content_length;
      if (buffer.size() >= total) {
        request.body = buffer.substr(header_end + 4, content_length);
        buffer.erase(0, total);
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
        }
        const ScriptedResponse response = handler_(request);
        std::string raw =
            "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
        for (const auto& [name, value] : response.headers) raw += name + ": " + value + "\r\n";
        raw += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
        raw += response.body;
        if (!send_all(fd, raw)) break;
        last_activity = std::chrono::steady_clock::now();
        continue;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    last_activity = std::chrono::steady_clock::now();
  }
  close(fd);
}

SilentListener::SilentListener() {
  fd_ = listen_loopback(16, port_);
}

SilentListener::~SilentListener() {
  close(fd_);
}

std::string SilentListener::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/silent";
}

}  // namespace herald::test
