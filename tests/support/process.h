// Test helpers for real processes: spawn a child (herald-sim, heraldd, redis-server), pick a free
// port, and wait for a condition with a deadline instead of sleeping.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace herald::test {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts argv[0] (a path) with the given arguments; extra_env is added to the environment.
  // stdout and stderr go to `log_path` when given, else are inherited. Throws on fork/exec failure.
  static ChildProcess spawn(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& extra_env = {},
                            const std::string& log_path = "");
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // SIGKILL and reap if still running

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code (128+signal if killed), or nullopt.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void kill_now();  // SIGKILL and reap

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(10));

// A fresh directory under the system temp dir, removed by the caller if wanted.
std::string make_temp_dir(const std::string& tag);

}  // namespace herald::test
