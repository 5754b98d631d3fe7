#include "core/delivery.h"

#include <optional>

#include "core/digest.h"

namespace herald {

std::string Delivery::marker() const {
  return "hd=" + sha256_hex(id).substr(0, 12);
}

const char* to_string(Lane lane) {
  switch (lane) {
    case Lane::alert:
      return "alert";
    case Lane::routine:
      return "routine";
  }
  return "unknown";
}

const char* to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::queued:
      return "queued";
    case DeliveryState::scheduled:
      return "scheduled";
    case DeliveryState::in_flight:
      return "in_flight";
    case DeliveryState::retry_wait:
      return "retry_wait";
    case DeliveryState::published:
      return "published";
    case DeliveryState::dead:
      return "dead";
    case DeliveryState::cancelled:
      return "cancelled";
  }
  return "unknown";
}

const char* to_string(DeliveryKind kind) {
  switch (kind) {
    case DeliveryKind::publication:
      return "publication";
    case DeliveryKind::alert:
      return "alert";
    case DeliveryKind::correction:
      return "correction";
    case DeliveryKind::retraction:
      return "retraction";
  }
  return "unknown";
}

std::optional<DeliveryKind> delivery_kind_from_string(std::string_view text) {
  for (DeliveryKind kind : {DeliveryKind::publication, DeliveryKind::alert,
                            DeliveryKind::correction, DeliveryKind::retraction}) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::optional<Lane> lane_from_string(std::string_view text) {
  for (Lane lane : {Lane::alert, Lane::routine}) {
    if (text == to_string(lane)) return lane;
  }
  return std::nullopt;
}

std::optional<DeliveryState> delivery_state_from_string(std::string_view text) {
  for (DeliveryState state :
       {DeliveryState::queued, DeliveryState::scheduled, DeliveryState::in_flight,
        DeliveryState::retry_wait, DeliveryState::published, DeliveryState::dead,
        DeliveryState::cancelled}) {
    if (text == to_string(state)) return state;
  }
  return std::nullopt;
}

}  // namespace herald
