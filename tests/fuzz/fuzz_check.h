// What every fuzz target shares: the input as text, and a check that stops the run (libFuzzer
// then saves the input) when a property that must hold for every input does not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/clock.h"

namespace herald::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A fixed "now", so a crash reproduces whatever the day (the import's year rule, deferrals).
inline TimePoint fixed_now() {
  return TimePoint(std::chrono::seconds(1796601600));
}  // 2026-12-07

#define HERALD_FUZZ_CHECK(condition, what)                                             \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #condition, (what)); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)

}  // namespace herald::fuzz
