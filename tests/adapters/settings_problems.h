// The channels' settings tests: a valid section with one key changed or removed, and the check
// that parsing it is refused as invalid input that names the key's full path and says why.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace herald::test {

// Variants of a valid channel section.
struct SectionVariants {
  nlohmann::json base;

  nlohmann::json with(const char* key, nlohmann::json value) const {
    nlohmann::json j = base;
    j[key] = std::move(value);
    return j;
  }
  nlohmann::json without(const char* key) const {
    nlohmann::json j = base;
    j.erase(key);
    return j;
  }
};

struct SettingsProblem {
  nlohmann::json section;
  const char* field;  // the full path the error must name
  const char* says;   // a part of its message
};

// Parses each case with `parse` (a section → a Result) and checks the refusal. A message must
// never contain `never_says` (a secret of the base section), if given.
template <class Parse>
void check_settings_problems(const std::vector<SettingsProblem>& cases, Parse parse,
                             const std::string& never_says = "") {
  for (const auto& c : cases) {
    CAPTURE(c.section.dump());
    auto parsed = parse(c.section);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().kind == ErrorKind::invalid_input);
    CHECK(parsed.error().field == c.field);
    CHECK_THAT(parsed.error().message, Catch::Contains(c.says));
    if (!never_says.empty()) CHECK_THAT(parsed.error().message, !Catch::Contains(never_says));
  }
}

}  // namespace herald::test
