#include "core/clock.h"

#include <cstdio>

namespace herald {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// Reads exactly `count` decimal digits at `pos`; false if any is not a digit.
bool read_digits(const std::string& text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

}  // namespace

std::int64_t to_unix_ms(TimePoint t) {
  // floor, not truncation: a time just before the epoch must not round up to it.
  return std::chrono::floor<Millis>(t.time_since_epoch()).count();
}

TimePoint from_unix_ms(std::int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Millis(ms)));
}

std::optional<TimePoint> to_time_point(std::chrono::sys_seconds t) {
  constexpr seconds kLatest =
      std::chrono::duration_cast<seconds>(TimePoint::duration::max()) - days(1);
  constexpr seconds kEarliest =
      std::chrono::duration_cast<seconds>(TimePoint::duration::min()) + days(1);
  if (t.time_since_epoch() >= kLatest || t.time_since_epoch() <= kEarliest) return std::nullopt;
  return TimePoint(t);
}

bool parse_rfc3339(const std::string& text, TimePoint& out) {
  // 0         1         2
  // 0123456789012345678901234
  // 2026-11-29T08:00:00.123+08:00
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !read_digits(text, 11, 2, hour) || text[13] != ':' ||
      !read_digits(text, 14, 2, minute) || text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return false;
  }
  // Leap seconds (":60") are valid RFC 3339 but not representable here; they are refused.
  if (hour > 23 || minute > 59 || second > 59) return false;
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return false;

  std::size_t pos = 19;
  nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    std::int64_t ns = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start < 9) ns = ns * 10 + (text[pos] - '0');  // digits beyond ns are dropped
      ++pos;
    }
    if (pos == start) return false;
    for (std::size_t n = pos - start; n < 9; ++n) ns *= 10;
    fraction = nanoseconds(ns);
  }

  if (pos >= text.size()) return false;  // the offset is mandatory
  minutes offset{0};
  const char sign = text[pos];
  if (sign == 'Z' || sign == 'z') {
    ++pos;
  } else if (sign == '+' || sign == '-') {
    int off_hour = 0, off_minute = 0;
    if (!read_digits(text, pos + 1, 2, off_hour) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, off_minute)) {
      return false;
    }
    if (off_hour > 23 || off_minute > 59) return false;
    offset = hours(off_hour) + minutes(off_minute);
    if (sign == '-') offset = -offset;
    pos += 6;
  } else {
    return false;
  }
  if (pos != text.size()) return false;

  const auto whole = to_time_point(std::chrono::sys_days(date) + hours(hour) + minutes(minute) +
                                   seconds(second) - offset);
  if (!whole) return false;
  out = *whole + fraction;
  return true;
}

std::string format_rfc3339(TimePoint t, int utc_offset_minutes) {
  const auto local = std::chrono::time_point_cast<nanoseconds>(t) + minutes(utc_offset_minutes);
  const auto day = std::chrono::floor<days>(local);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss<nanoseconds> tod{local - day};

  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", int(date.year()),
                        unsigned(date.month()), unsigned(date.day()), int(tod.hours().count()),
                        int(tod.minutes().count()), int(tod.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));

  // Only as many fraction digits as the time carries, so whole seconds stay short and
  // sub-second times survive a round trip exactly.
  const auto ns = tod.subseconds().count();
  if (ns != 0) {
    n = std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(ns));
    std::string fraction(buf, static_cast<std::size_t>(n));
    while (fraction.back() == '0') fraction.pop_back();
    out += fraction;
  }

  if (utc_offset_minutes == 0) {
    out += 'Z';
  } else {
    const int magnitude = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
    n = std::snprintf(buf, sizeof buf, "%c%02d:%02d", utc_offset_minutes < 0 ? '-' : '+',
                      magnitude / 60, magnitude % 60);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace herald
