#include "services/heraldd/embedded_redis.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "queue/redis.h"
#include "services/common/run_guarded.h"

extern char** environ;

namespace herald {
namespace {

constexpr const char* kAppendFsync = "always";
constexpr std::size_t kPasswordBytes = 32;  // 256 random bits, written as 64 hex digits

std::string errno_text() {
  return std::strerror(errno);
}

// redis.log is bounded by rotating it each time the server is (re)started: above this size it
// becomes redis.log.1 (replacing the previous one). At its default loglevel (notice) Redis writes
// a few lines per start, stop and AOF rewrite, so one run adds little, and a file under data_dir
// keeps the log next to the data it explains, whether heraldd runs under systemd or by hand
// (syslog would lose it where no syslog daemon runs). Redis opens the file for every line, so a
// rotation by hand (mv redis.log redis.log.1) is safe at any time too.
constexpr std::uintmax_t kRedisLogMaxBytes = 16 * 1024 * 1024;

void rotate_log(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size <= kRedisLogMaxBytes) return;
  std::filesystem::rename(path, path + ".1", ec);
  if (ec) {
    spdlog::warn("embedded redis: could not rotate {}: {}", path, ec.message());
  } else {
    spdlog::info("embedded redis: rotated {} ({} bytes) to {}.1", path, size, path);
  }
}

// A value in redis.conf: double-quoted, so a data_dir with spaces or quotes stays one argument.
std::string conf_quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Creates `path` with mode 0600 (replacing what is there) and writes `content` to it, fsynced.
Result<void> write_private_file(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Error::permanent("cannot create " + tmp + ": " + errno_text());
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      return Error::permanent("cannot write " + tmp + ": " + why);
    }
    written += static_cast<std::size_t>(n);
  }
  // The umask may have taken bits away, never added any; still, say what we mean.
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    return Error::permanent("cannot finish " + tmp + ": " + why);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error::permanent("cannot rename " + tmp + " to " + path + ": " + errno_text());
  }
  return ok();
}

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
  url_ = "unix://" + dir_ + "/redis.sock";
}

EmbeddedRedis::~EmbeddedRedis() {
  stop();
}

bool EmbeddedRedis::answers_ping() const {
  RedisOptions opts;
  opts.url = url_;
  opts.password = password_;
  opts.connect_timeout = std::chrono::milliseconds(300);
  opts.command_timeout = std::chrono::milliseconds(300);
  RedisConnection conn(opts);
  auto pong = conn.command({"PING"});
  return pong && !pong->is_error();
}

bool EmbeddedRedis::socket_answers() const {
  RedisOptions opts;
  opts.url = url_;
  opts.connect_timeout = std::chrono::milliseconds(300);
  opts.command_timeout = std::chrono::milliseconds(300);
  RedisConnection conn(opts);
  return conn.command({"PING"}).ok();  // PONG, or NOAUTH from a server with a password
}

// The socket's directory is the lock: only heraldd's user may enter it, so only heraldd's user
// can reach the socket, whatever the socket's own mode (and unixsocketperm 700 as well).
Result<void> EmbeddedRedis::prepare_dir() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error::permanent("cannot create " + dir_ + ": " + ec.message());
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0) {
    return Error::permanent("cannot stat " + dir_ + ": " + errno_text());
  }
  if (!S_ISDIR(st.st_mode)) return Error::permanent(dir_ + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    return Error::permanent(dir_ + " belongs to another user; the embedded Redis needs a " +
                            "directory of its own user (mode 0700)");
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir_.c_str(), 0700) != 0) {
    return Error::permanent("cannot set mode 0700 on " + dir_ + ": " + errno_text());
  }
  return ok();
}

Result<void> EmbeddedRedis::load_or_create_password() {
  const std::string path = dir_ + "/password";
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return Error::permanent(path + " is not a regular file");
    if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0600) != 0) {
      return Error::permanent("cannot set mode 0600 on " + path + ": " + errno_text());
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    std::string password = content.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (!in || password.empty() || password.find_first_of(" \t\r\n\"") != std::string::npos) {
      // Never quote the content: it is (or was meant to be) the password.
      return Error::permanent(path + " does not hold a usable password; delete it and restart " +
                              "heraldd to generate a new one");
    }
    password_ = std::move(password);
    return ok();
  }
  if (errno != ENOENT) return Error::permanent("cannot stat " + path + ": " + errno_text());
  unsigned char random[kPasswordBytes];
  std::size_t got = 0;
  while (got < sizeof random) {
    const ssize_t n = ::getrandom(random + got, sizeof random - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::permanent("cannot read random bytes for the embedded Redis password");
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string password;
  for (unsigned char byte : random) {
    password += kHex[byte >> 4];
    password += kHex[byte & 0x0f];
  }
  if (auto written = write_private_file(path, password + "\n"); !written) return written;
  spdlog::info("embedded redis: generated a password in {} (mode 0600)", path);
  password_ = std::move(password);
  return ok();
}

// The password goes to redis-server through this 0600 file, never on its command line: every local
// user can read a process's arguments (ps, /proc/PID/cmdline).
Result<void> EmbeddedRedis::write_server_config() {
  // appendfsync always, not everysec: a 201 must mean the item survives a power cut (DESIGN.md §3
  // "Durable before answered"), and everysec loses the last second of accepted writes. With
  // always, Redis writes and fsyncs the AOF for each batch of commands "before sending the
  // replies" (Redis docs, Persistence, "How durable is the append only file?",
  // https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/), so any reply
  // heraldd has received to a write implies the write is on disk; no extra command is needed.
  // The same setting is in deploy/redis-production.conf; bench/README.md has its cost.
  std::string conf;
  conf += "dir " + conf_quote(dir_) + "\n";
  conf += std::string("appendonly ") + (options_.appendonly ? "yes" : "no") + "\n";
  conf += std::string("appendfsync ") + kAppendFsync + "\n";
  conf += "save \"\"\n";
  conf += "maxmemory-policy noeviction\n";
  // An item's hash holds its JSON (usually well under 1 KB); above the default 64-byte limit
  // Redis turns the whole hash into a hash table, about a third larger. Six fields read by name
  // cost nothing as a listpack. The same setting is in deploy/redis-production.conf.
  conf += "hash-max-listpack-value 1024\n";
  conf += "daemonize no\n";
  conf += "logfile " + conf_quote(dir_ + "/redis.log") + "\n";
  // No TCP port: only the unix socket, in the 0700 directory.
  conf += "port 0\n";
  conf += "unixsocket " + conf_quote(dir_ + "/redis.sock") + "\n";
  conf += "unixsocketperm 700\n";
  conf += "requirepass " + conf_quote(password_) + "\n";
  return write_private_file(dir_ + "/redis.conf", conf);
}

Result<void> EmbeddedRedis::spawn() {
  rotate_log(dir_ + "/redis.log");
  std::vector<std::string> args = {options_.binary, dir_ + "/redis.conf"};
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
  if (auto prepared = prepare_dir(); !prepared) return prepared;
  if (access(options_.binary.c_str(), X_OK) != 0) {
    return Error::permanent("redis-server not found at " + options_.binary +
                            " (install the redis-server package or set redis.embedded.binary)");
  }
  if (socket_answers()) {
    return Error::permanent("a redis-server already answers at " + url_ +
                            " (is another heraldd using this data_dir?)");
  }
  if (auto loaded = load_or_create_password(); !loaded) return loaded;
  if (auto written = write_server_config(); !written) return written;
  std::error_code ec;
  std::filesystem::remove(dir_ + "/redis.sock", ec);
  {
    std::lock_guard lock(mutex_);
    if (auto started = spawn(); !started) return started;
  }
  spdlog::info("embedded redis-server started (pid {}) at {}", pid_, url_);
  supervisor_ = std::thread([this] {
    // supervise() starts again from pid_: the server it watches is not touched by the failure.
    // It runs again even once stopping, since it is what reaps the server that stop() ends.
    run_guarded(
        "embedded redis supervisor", [this] { supervise(); },
        [this](const ThreadFailure& failure) {
          std::unique_lock lock(mutex_);
          stopped_cv_.wait_for(lock, restart_backoff(failure.failures),
                               [this] { return stopping_; });
          return AfterThrow::restart;
        });
  });
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

pid_t EmbeddedRedis::pid() {
  std::lock_guard lock(mutex_);
  return pid_;
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
