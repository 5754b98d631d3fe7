// Delivery: one item on one channel; the unit of queueing, retry, rate limiting, counting and
// audit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/item.h"

namespace herald {

enum class Lane { alert, routine };
const char* to_string(Lane lane);
std::optional<Lane> lane_from_string(std::string_view text);

// Where a delivery is in its life. Stored in the ledger as these strings.
enum class DeliveryState { queued, scheduled, in_flight, retry_wait, published, dead, cancelled };
const char* to_string(DeliveryState state);
std::optional<DeliveryState> delivery_state_from_string(std::string_view text);

struct Delivery {
  std::string id;  // "<item id>.<channel>", stable for the delivery's whole life
  std::string item_id;
  std::string channel;
  Lane lane = Lane::routine;
  std::string category;     // copied from the item, for tallies
  std::string kind;         // "publication" or "alert"
  std::string level;        // the alert's reminder level ("caution" …), "" otherwise; for tallies
  bool exercise = false;    // the item is a drill (status "exercise"): never counted
  std::string payload;      // the item's JSON (item_to_json), what the channel renders
  int attempt = 0;          // 1 for the first attempt, counted when claimed
  std::string lease_token;  // proves which claim this is when acking

  // Sent to platforms that accept one, the same on every retry.
  std::string idempotency_key() const { return "herald-" + id; }
};

inline std::string delivery_id_for(std::string_view item_id, std::string_view channel) {
  std::string id(item_id);
  id += '.';
  id += channel;
  return id;
}

}  // namespace herald
