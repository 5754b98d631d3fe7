// heraldd's side of systemd's readiness protocol (sd_notify(3), Type=notify units). Every function
// is a no-op when heraldd was not started by systemd (no NOTIFY_SOCKET), so nothing changes for a
// heraldd run by hand, by scripts/run.sh or by the tests.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace herald::systemd {

// READY=1 with a STATUS= line: start-up has finished (Redis answered, the dispatchers run).
void notify_ready(std::string_view status);
// A STATUS= line alone, shown by `systemctl status heraldd`.
void notify_status(std::string_view status);
// STOPPING=1: heraldd is draining and stopping.
void notify_stopping();
// WATCHDOG=1: heraldd is alive.
void notify_watchdog();
// How often to send WATCHDOG=1 (half the unit's WatchdogSec=), or nullopt when the service manager
// asked for no watchdog.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace herald::systemd
