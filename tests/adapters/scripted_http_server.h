// A tiny HTTP/1.1 server for adapter tests: each request is answered by a test-supplied function,
// and the server counts connections, so tests can check connection reuse and exact answers
// (status, headers, stalls) that a real platform simulator would not give on demand.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace herald::test {

struct ScriptedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& lower_name) const;
};

struct ScriptedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class ScriptedHttpServer {
 public:
  using Handler = std::function<ScriptedResponse(const ScriptedRequest&)>;

  // Listens on 127.0.0.1, on a port the kernel picks. Throws if it cannot.
  explicit ScriptedHttpServer(Handler handler);
  ~ScriptedHttpServer();  // closes everything and joins its threads
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  std::string url() const;  // "http://127.0.0.1:PORT"
  int connections_accepted() const { return connections_.load(); }
  std::vector<ScriptedRequest> requests() const;

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<ScriptedRequest> requests_;
  std::vector<std::thread> threads_;  // guarded by mutex_ (the acceptor adds to it)
  std::thread acceptor_;
};

// A socket that listens but never accepts or reads: connecting succeeds (the kernel completes
// the handshake) and then nothing ever answers, like a hung platform.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string url() const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace herald::test
