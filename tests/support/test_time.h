// Fixed instants for tests, written as RFC 3339 so a test reads like the moment it means.
#pragma once

#include <catch2/catch.hpp>

#include "core/clock.h"

namespace herald::test {

inline TimePoint time_at(const char* rfc3339) {
  TimePoint t{};
  REQUIRE(parse_rfc3339(rfc3339, t));
  return t;
}

}  // namespace herald::test
