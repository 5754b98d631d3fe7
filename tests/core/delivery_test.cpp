// Tests for the string forms of Lane, DeliveryState and ErrorKind (stored in Redis and shown in
// the API, so they must not drift).
#include <catch2/catch.hpp>
#include <optional>

#include "core/delivery.h"

namespace herald {
// Defined in core/delivery.cpp; not (yet) declared in core/delivery.h.
std::optional<Lane> lane_from_string(std::string_view text);
std::optional<DeliveryState> delivery_state_from_string(std::string_view text);
}  // namespace herald

using namespace herald;

TEST_CASE("Delivery enums have stable names that read back", "[core][delivery]") {
  CHECK(std::string(to_string(Lane::alert)) == "alert");
  CHECK(std::string(to_string(Lane::routine)) == "routine");
  CHECK(std::string(to_string(DeliveryState::in_flight)) == "in_flight");
  CHECK(std::string(to_string(DeliveryState::retry_wait)) == "retry_wait");
  for (auto lane : {Lane::alert, Lane::routine}) CHECK(lane_from_string(to_string(lane)) == lane);
  for (auto state : {DeliveryState::queued, DeliveryState::scheduled, DeliveryState::in_flight,
                     DeliveryState::retry_wait, DeliveryState::published, DeliveryState::dead,
                     DeliveryState::cancelled}) {
    CHECK(delivery_state_from_string(to_string(state)) == state);
  }
  CHECK_FALSE(lane_from_string("Alert"));
  CHECK_FALSE(delivery_state_from_string("done"));
}

TEST_CASE("Error kinds have stable names and the factories set kind and code", "[core][result]") {
  for (auto kind : {ErrorKind::retryable, ErrorKind::deferred, ErrorKind::credentials,
                    ErrorKind::permanent, ErrorKind::invalid_input}) {
    CHECK(error_kind_from_string(to_string(kind)) == kind);
  }
  CHECK(std::string(to_string(ErrorKind::invalid_input)) == "invalid_input");
  CHECK_FALSE(error_kind_from_string("fatal"));

  const Error invalid = Error::invalid("title", "must not be blank");
  CHECK(invalid.kind == ErrorKind::invalid_input);
  CHECK(invalid.code == "validation_failed");
  CHECK(invalid.field == "title");
  const Error limited = Error::deferred("slow down", std::chrono::milliseconds(1500));
  CHECK(limited.kind == ErrorKind::deferred);
  CHECK(limited.retry_after == std::chrono::milliseconds(1500));
  CHECK(Error::credentials("expired").kind == ErrorKind::credentials);

  Result<int> good = 5;
  Result<int> bad = Error::permanent("no");
  CHECK(good.ok());
  CHECK(*good == 5);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error().message == "no");
}
