#include "services/heraldd/embedded_redis.h"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <filesystem>
#include <vector>

#include "queue/redis.h"

extern char** environ;

namespace herald {
namespace {

constexpr const char* kAppendFsync = "always";

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

EmbeddedRedis::EmbeddedRedis(EmbeddedRedisOptions options) : options_(std::move(options)) {
  dir_ = (std::filesystem::absolute(options_.data_dir) / "redis").string();
  url_ = options_.port == 0 ? "unix://" + dir_ + "/redis.sock"
                            : "redis://127.0.0.1:" + std::to_string(options_.port) + "/0";
}

EmbeddedRedis::~EmbeddedRedis() {
  stop();
}

bool EmbeddedRedis::answers_ping() const {
  RedisOptions opts;
  opts.url = url_;
  opts.connect_timeout = std::chrono::milliseconds(300);
  opts.command_timeout = std::chrono::milliseconds(300);
  RedisConnection conn(opts);
  auto pong = conn.command({"PING"});
  return pong && !pong->is_error();
}

Result<void> EmbeddedRedis::spawn() {
  // appendfsync always, not everysec: a 201 must mean the item survives a power cut (DESIGN.md §3
  // "Durable before answered"), and everysec loses the last second of accepted writes. With
  // always, Redis writes and fsyncs the AOF for each batch of commands "before sending the
  // replies" (Redis docs, Persistence, "How durable is the append only file?",
  // https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/), so any reply
  // heraldd has received to a write implies the write is on disk; no extra command is needed.
  // The same setting is in deploy/redis-production.conf; bench/README.md has its cost.
  std::vector<std::string> args = {options_.binary,
                                   "--dir",
                                   dir_,
                                   "--appendonly",
                                   options_.appendonly ? "yes" : "no",
                                   "--appendfsync",
                                   kAppendFsync,
                                   "--save",
                                   "",
                                   "--maxmemory-policy",
                                   "noeviction",
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  if (options_.port == 0) {
    args.insert(args.end(),
                {"--port", "0", "--unixsocket", dir_ + "/redis.sock", "--unixsocketperm", "700"});
  } else {
    args.insert(args.end(), {"--port", std::to_string(options_.port), "--bind", "127.0.0.1"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return Error::permanent("embedded redis: fork failed");
  if (pid == 0) {
    // The server must not outlive heraldd, even when heraldd is killed with SIGKILL: SIGTERM makes
    // it flush the AOF and exit.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    // heraldd blocks SIGTERM/SIGINT (it takes them with sigwait) and ignores SIGPIPE; a blocked
    // mask and ignored signals survive exec, so give the server back the defaults.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0);  // not in heraldd's process group: a Ctrl-C goes to heraldd, which stops it
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  if (!wait_for([this] { return answers_ping(); }, options_.start_timeout)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return Error::permanent("embedded redis did not answer within " +
                            std::to_string(options_.start_timeout.count()) + " ms; see " + dir_ +
                            "/redis.log");
  }
  return ok();
}

Result<void> EmbeddedRedis::start() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error::permanent("cannot create " + dir_ + ": " + ec.message());
  if (access(options_.binary.c_str(), X_OK) != 0) {
    return Error::permanent("redis-server not found at " + options_.binary +
                            " (install the redis-server package or set redis.embedded.binary)");
  }
  if (answers_ping()) {
    return Error::permanent("a redis-server already answers at " + url_ +
                            " (is another heraldd using this data_dir?)");
  }
  if (options_.port == 0) std::filesystem::remove(dir_ + "/redis.sock", ec);
  {
    std::lock_guard lock(mutex_);
    if (auto started = spawn(); !started) return started;
  }
  spdlog::info("embedded redis-server started (pid {}) at {}", pid_, url_);
  supervisor_ = std::thread([this] { supervise(); });
  return ok();
}

void EmbeddedRedis::supervise() {
  auto backoff = std::chrono::milliseconds(200);
  while (true) {
    int status = 0;
    pid_t pid;
    {
      std::lock_guard lock(mutex_);
      pid = pid_;
    }
    if (pid <= 0) return;
    pid_t r = waitpid(pid, &status, 0);
    std::unique_lock lock(mutex_);
    if (stopping_) {
      pid_ = -1;
      stopped_cv_.notify_all();
      return;
    }
    if (r == pid) {
      spdlog::error("embedded redis-server exited unexpectedly (status {}); restarting", status);
      pid_ = -1;
      stopped_cv_.wait_for(lock, backoff, [this] { return stopping_; });
      if (stopping_) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      if (auto again = spawn(); !again)
        spdlog::error("{}", again.error().message);
      else
        backoff = std::chrono::milliseconds(200);
    }
  }
}

void EmbeddedRedis::stop() {
  pid_t pid;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    pid = pid_;
  }
  stopped_cv_.notify_all();
  if (pid > 0) {
    kill(pid, SIGTERM);  // redis-server shuts down cleanly and flushes its AOF on SIGTERM
    std::unique_lock lock(mutex_);
    if (!stopped_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return pid_ <= 0; })) {
      spdlog::warn("embedded redis-server did not stop within 10 s; killing it");
      kill(pid, SIGKILL);
    }
  }
  if (supervisor_.joinable()) supervisor_.join();  // the supervisor reaps the process
  if (pid > 0) spdlog::info("embedded redis-server stopped");
}

}  // namespace herald
