// How Catch prints the domain's enums in a failed check: by the name stored in Redis, so a
// failure reads "published == dead", not "4 == 5".
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "core/delivery.h"

namespace Catch {
template <>
struct StringMaker<herald::DeliveryState> {
  static std::string convert(herald::DeliveryState value) { return herald::to_string(value); }
};
template <>
struct StringMaker<herald::DeliveryKind> {
  static std::string convert(herald::DeliveryKind value) { return herald::to_string(value); }
};
template <>
struct StringMaker<herald::Lane> {
  static std::string convert(herald::Lane value) { return herald::to_string(value); }
};
}  // namespace Catch
