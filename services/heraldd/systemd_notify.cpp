#include "services/heraldd/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

namespace herald::systemd {
namespace {

// sd_notify's answer is deliberately not acted on: a service manager that cannot be told is not a
// reason for heraldd to stop publishing. The environment is kept (unset_environment 0) so every
// later message reaches the same socket.
void send(const std::string& message) {
  (void)sd_notify(0, message.c_str());
}

// STATUS= ends at the first newline: keep a message that has one on one line.
std::string one_line(std::string_view status) {
  std::string line(status);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

}  // namespace

void notify_ready(std::string_view status) {
  send("READY=1\nSTATUS=" + one_line(status));
}

void notify_status(std::string_view status) {
  send("STATUS=" + one_line(status));
}

void notify_stopping() {
  send("STOPPING=1\nSTATUS=draining and stopping");
}

void notify_watchdog() {
  send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is this process).
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  // Half the timeout, as sd_watchdog_enabled(3) advises: one late ping is not yet a kill.
  return std::chrono::microseconds(usec / 2);
}

}  // namespace herald::systemd
