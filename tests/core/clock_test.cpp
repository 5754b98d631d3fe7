// Tests for core/clock.h: Unix milliseconds and RFC 3339 parsing and formatting.
#include <catch2/catch.hpp>
#include <optional>

#include "core/clock.h"

using herald::format_rfc3339;
using herald::from_unix_ms;
using herald::parse_rfc3339;
using herald::TimePoint;
using herald::to_unix_ms;

namespace {

// 2026-11-29T00:00:00Z
constexpr std::int64_t kNov29Utc = 1795910400000;

std::optional<std::int64_t> parse_ms(const std::string& text) {
  TimePoint t;
  if (!parse_rfc3339(text, t)) return std::nullopt;
  return to_unix_ms(t);
}

}  // namespace

TEST_CASE("Unix milliseconds convert both ways, flooring times before the epoch", "[core][clock]") {
  CHECK(to_unix_ms(from_unix_ms(kNov29Utc)) == kNov29Utc);
  CHECK(to_unix_ms(from_unix_ms(-1)) == -1);
  CHECK(to_unix_ms(TimePoint{} - std::chrono::microseconds(1)) == -1);
  CHECK(to_unix_ms(TimePoint{} + std::chrono::microseconds(999)) == 0);
}

TEST_CASE("RFC 3339 times with an offset or Z are parsed to the right instant", "[core][clock]") {
  CHECK(parse_ms("2026-11-29T08:00:00+08:00") == kNov29Utc);
  CHECK(parse_ms("2026-11-29T00:00:00Z") == kNov29Utc);
  CHECK(parse_ms("2026-11-29t00:00:00z") == kNov29Utc);
  CHECK(parse_ms("2026-11-28T18:30:00-05:30") == kNov29Utc);
  CHECK(parse_ms("2026-11-29T00:00:00+00:00") == kNov29Utc);
  CHECK(parse_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_ms("1969-12-31T23:59:59Z") == -1000);
  CHECK(parse_ms("2024-02-29T00:00:00Z").has_value());  // a leap year

  SECTION("fractional seconds of any length") {
    CHECK(parse_ms("2026-11-29T00:00:00.5Z") == kNov29Utc + 500);
    CHECK(parse_ms("2026-11-29T00:00:00.123+00:00") == kNov29Utc + 123);
    TimePoint t;
    REQUIRE(parse_rfc3339("2026-11-29T00:00:00.123456789Z", t));
    CHECK((t - from_unix_ms(kNov29Utc)) == std::chrono::nanoseconds(123456789));
    REQUIRE(parse_rfc3339("2026-11-29T00:00:00.1234567891234Z", t));  // beyond ns: dropped
    CHECK((t - from_unix_ms(kNov29Utc)) == std::chrono::nanoseconds(123456789));
  }
}

TEST_CASE("Malformed or out-of-range RFC 3339 times are refused", "[core][clock]") {
  const char* bad[] = {
      "",
      "2026-11-29",
      "2026-11-29T08:00:00",         // no offset
      "2026-11-29T08:00:00+0800",    // offset without colon
      "2026-11-29T08:00:00+08",      // offset without minutes
      "2026-11-29 08:00:00Z",        // space instead of T
      "2026-11-29T08:00Z",           // no seconds
      "2026-1-29T08:00:00Z",         // one-digit month
      "2026-13-01T00:00:00Z",        // month 13
      "2026-00-01T00:00:00Z",        // month 0
      "2026-04-31T00:00:00Z",        // April has 30 days
      "2025-02-29T00:00:00Z",        // not a leap year
      "2026-11-00T00:00:00Z",        // day 0
      "2026-11-29T24:00:00Z",        // hour 24
      "2026-11-29T23:60:00Z",        // minute 60
      "2026-11-29T23:59:60Z",        // leap second: not representable, refused
      "2026-11-29T08:00:00+24:00",   // offset hour 24
      "2026-11-29T08:00:00+08:60",   // offset minute 60
      "2026-11-29T08:00:00.Z",       // empty fraction
      "2026-11-29T08:00:00Zjunk",    // trailing garbage
      "2026-11-29T08:00:00+08:00 ",  // trailing space
      "２026-11-29T08:00:00Z",       // a full-width digit
      "2026-11-29T08:00:00Y",
      "9767-03-01T00:00:00+08:00",  // past 2262: more nanoseconds than 64 bits hold
      "2262-04-11T00:00:00Z",
      "1677-09-22T00:00:00Z",
      "0000-01-01T00:00:00Z",
  };
  for (const char* text : bad) {
    INFO(text);
    TimePoint t;
    CHECK_FALSE(parse_rfc3339(text, t));
  }
}

TEST_CASE("RFC 3339 times at the ends of what a TimePoint holds are parsed", "[core][clock]") {
  TimePoint t;
  REQUIRE(parse_rfc3339("2262-04-10T00:00:00Z", t));
  CHECK(format_rfc3339(t, 840) == "2262-04-10T14:00:00+14:00");
  REQUIRE(parse_rfc3339("1677-09-23T00:00:00Z", t));
  CHECK(format_rfc3339(t, -720) == "1677-09-22T12:00:00-12:00");
}

TEST_CASE("RFC 3339 formatting uses the given fixed offset and round-trips", "[core][clock]") {
  const TimePoint t = from_unix_ms(kNov29Utc);
  CHECK(format_rfc3339(t) == "2026-11-29T08:00:00+08:00");
  CHECK(format_rfc3339(t, 0) == "2026-11-29T00:00:00Z");
  CHECK(format_rfc3339(t, -330) == "2026-11-28T18:30:00-05:30");
  CHECK(format_rfc3339(from_unix_ms(kNov29Utc + 120)) == "2026-11-29T08:00:00.12+08:00");
  CHECK(format_rfc3339(from_unix_ms(-1), 0) == "1969-12-31T23:59:59.999Z");

  for (const TimePoint sample :
       {t, t + std::chrono::nanoseconds(1), t + std::chrono::milliseconds(7),
        from_unix_ms(-86'400'001), TimePoint{}}) {
    for (int offset : {480, 0, -720, 840, 345}) {
      const std::string text = format_rfc3339(sample, offset);
      INFO(text);
      TimePoint back;
      REQUIRE(parse_rfc3339(text, back));
      CHECK(back == sample);
    }
  }
}
