// Clock: the one source of "now", so tests and the scheduler can agree on time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace herald {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  std::int64_t now_ms() const {
    return std::chrono::duration_cast<Millis>(now().time_since_epoch()).count();
  }
  // The queue's scripts read Redis's own clock, so that every heraldd agrees on leases and
  // schedules whatever its host's clock says. A clock that must rule them too (a test's manual
  // clock) pins their time here.
  virtual std::optional<std::int64_t> pinned_ms() const { return std::nullopt; }
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to; for tests of scheduling and retries.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start) {}
  TimePoint now() const override { return now_; }
  std::optional<std::int64_t> pinned_ms() const override { return now_ms(); }
  void advance(Millis by) { now_ += by; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

std::int64_t to_unix_ms(TimePoint t);
TimePoint from_unix_ms(std::int64_t ms);

// `t` as a TimePoint, or nullopt when a TimePoint cannot hold it: 64 bits of nanoseconds reach
// from 1677-09-21 to 2262-04-11, and a day's margin at each end keeps a display offset added later
// from overflowing too. Every reader of an outside date converts through it, since converting
// such a date directly overflows, which is undefined behaviour.
std::optional<TimePoint> to_time_point(std::chrono::sys_seconds t);

// RFC 3339 with an explicit offset, e.g. "2026-11-29T08:00:00+08:00". Returns false on any
// malformed input (no exceptions: this parses user input), and for a time to_time_point refuses.
bool parse_rfc3339(const std::string& text, TimePoint& out);
// Formats in the given fixed UTC offset (minutes), e.g. 480 for Beijing time.
std::string format_rfc3339(TimePoint t, int utc_offset_minutes = 480);

}  // namespace herald
