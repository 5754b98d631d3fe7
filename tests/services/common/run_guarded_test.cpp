// run_guarded: what a thread's entry does with an exception that escapes its loop.
#include "services/common/run_guarded.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/log_capture.h"

namespace herald {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a loop that throws is logged with its thread's name and run again when asked",
          "[run_guarded]") {
  test::LogCapture log;
  int runs = 0;
  std::vector<ThreadFailure> seen;
  run_guarded(
      "sweeper",
      [&] {
        ++runs;
        if (runs == 1) throw std::runtime_error("redis reply of the wrong type");
        if (runs == 2) throw 42;  // not a std::exception
      },
      [&](const ThreadFailure& failure) {
        seen.push_back(failure);
        return AfterThrow::restart;
      });
  CHECK(runs == 3);  // the third run returned normally: the thread ends
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].what == "redis reply of the wrong type");
  CHECK(seen[0].failures == 1);
  CHECK(seen[1].what == "unknown exception");
  CHECK(seen[1].failures == 2);
  CHECK(log.lines_with({"[error]",
                        "sweeper thread failed (failure 1): redis reply of the wrong "
                        "type"})
            .size() == 1);
  CHECK(
      log.lines_with({"[error]", "sweeper thread failed (failure 2): unknown exception"}).size() ==
      1);
  CHECK(log.lines_with({"sweeper thread restarting"}).size() == 2);
}

TEST_CASE("a loop whose owner says stop ends its thread after one failure", "[run_guarded]") {
  test::LogCapture log;
  int runs = 0;
  bool asked_to_stop = false;
  run_guarded(
      "start-up",
      [&] {
        ++runs;
        throw std::logic_error("dispatcher started twice");
      },
      [&](const ThreadFailure&) {
        asked_to_stop = true;  // heraldd: Daemon::fail, then SIGTERM to itself
        return AfterThrow::stop;
      });
  CHECK(runs == 1);
  CHECK(asked_to_stop);
  CHECK(log.lines_with({"[error]", "start-up thread failed (failure 1): dispatcher started twice"})
            .size() == 1);
  CHECK(log.lines_with({"[error]", "start-up thread stopped after its failure"}).size() == 1);
}

TEST_CASE("a failure policy that throws ends the thread instead of the process", "[run_guarded]") {
  test::LogCapture log;
  int runs = 0;
  run_guarded(
      "finisher",
      [&] {
        ++runs;
        throw std::runtime_error("first");
      },
      [](const ThreadFailure&) -> AfterThrow { throw std::runtime_error("second"); });
  CHECK(runs == 1);
  CHECK(log.lines_with({"[error]", "finisher thread: handling its failure failed too: second"})
            .size() == 1);
}

TEST_CASE("restarts wait longer after each failure, up to 5 s", "[run_guarded]") {
  CHECK(restart_backoff(1) == 100ms);
  CHECK(restart_backoff(2) == 200ms);
  CHECK(restart_backoff(4) == 800ms);
  CHECK(restart_backoff(7) == 5000ms);
  CHECK(restart_backoff(1000) == 5000ms);
}

}  // namespace
}  // namespace herald
