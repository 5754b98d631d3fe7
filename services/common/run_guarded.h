// run_guarded: the entry of every long-lived thread heraldd starts. An exception that escapes a
// thread's loop would otherwise end the process through std::terminate, with no word of which
// thread or why; here it is logged, and the thread's owner decides whether the loop starts again
// or the process stops cleanly.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace herald {

// What a guarded thread does once its loop has thrown (and the failure has been logged).
enum class AfterThrow {
  restart,  // run the loop again (its state is rebuilt on entry)
  stop,     // return: the thread ends
};

struct ThreadFailure {
  std::string what;  // the exception's what(), or "unknown exception"
  int failures = 0;  // failures of this thread so far, this one included
};

using FailurePolicy = std::function<AfterThrow(const ThreadFailure&)>;

// Runs `loop` on the calling thread until it returns. Each exception that escapes it is logged
// (error level: "<name> thread failed: <what>"), then `on_failure` decides what happens next; it
// is where a caller waits out restart_backoff() (cut short by its own stop) or asks the process
// to stop. An on_failure that throws itself is logged and counts as stop.
void run_guarded(std::string_view name, const std::function<void()>& loop,
                 const FailurePolicy& on_failure);

// A pause before restart number `failures`: 100 ms, doubling, at most 5 s, so a loop that throws
// at once every time neither spins nor floods the log.
std::chrono::milliseconds restart_backoff(int failures);

}  // namespace herald
