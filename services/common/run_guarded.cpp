#include "services/common/run_guarded.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace herald {
namespace {

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

void run_guarded(std::string_view name, const std::function<void()>& loop,
                 const FailurePolicy& on_failure) {
  ThreadFailure failure;
  while (true) {
    try {
      loop();
      return;
    } catch (...) {
      failure.what = describe(std::current_exception());
    }
    ++failure.failures;
    AfterThrow next = AfterThrow::stop;
    try {
      spdlog::error("{} thread failed (failure {}): {}", name, failure.failures, failure.what);
      next = on_failure(failure);
    } catch (...) {
      // Logging or the policy itself failed: nothing sensible is left to try on this thread.
      spdlog::error("{} thread: handling its failure failed too: {}", name,
                    describe(std::current_exception()));
      return;
    }
    if (next == AfterThrow::stop) {
      spdlog::error("{} thread stopped after its failure", name);
      return;
    }
    spdlog::info("{} thread restarting after its failure", name);
  }
}

std::chrono::milliseconds restart_backoff(int failures) {
  constexpr std::chrono::milliseconds kFirst{100};
  constexpr std::chrono::milliseconds kMost{5000};
  std::chrono::milliseconds pause = kFirst;
  for (int i = 1; i < failures && pause < kMost; ++i) pause *= 2;
  return std::min(pause, kMost);
}

}  // namespace herald
