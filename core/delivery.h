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

// What a delivery carries out: an item's first publication (of a publication or an alert), a
// correction of an earlier alert (CAP Update), or a retraction (the recall of what an earlier
// delivery published). Stored in the ledger as these strings.
enum class DeliveryKind { publication, alert, correction, retraction };
const char* to_string(DeliveryKind kind);
std::optional<DeliveryKind> delivery_kind_from_string(std::string_view text);

struct Delivery {
  std::string id;  // "<item id>.<channel>", stable for the delivery's whole life
  std::string item_id;
  std::string channel;
  Lane lane = Lane::routine;
  std::string category;  // copied from the item, for tallies
  DeliveryKind kind = DeliveryKind::publication;
  std::string level;        // the alert's reminder level ("caution" …), "" otherwise; for tallies
  bool exercise = false;    // the item is a drill (status "exercise"): never counted
  std::string payload;      // the item's JSON (item_to_json), what the channel renders
  int attempt = 0;          // 1 for the first attempt, counted when claimed
  std::string lease_token;  // proves which claim this is when acking
  // An earlier attempt may have reached the platform (it ended ambiguous, or its worker died
  // while it was in flight): the channel looks on the platform before it sends anything again.
  bool maybe_sent = false;
  // The attempt budget is spent but the last attempt was ambiguous: this attempt only looks on
  // the platform and sends nothing (found → published, absent → dead letter).
  bool lookup_only = false;
  // A retraction marked it while an earlier holder had it in flight: cancel, do not publish. (A
  // mark set after this claim is the retraction's recall delivery's business.)
  bool cancel_requested = false;

  // Sent to platforms that accept one, the same on every retry.
  std::string idempotency_key() const { return "herald-" + id; }
  // A short code unique to the delivery that travels inside what is published (Weibo: the link's
  // query string), so a read-back finds exactly this delivery's post. A query parameter:
  // "hd=" + 12 hex digits of the id's SHA-256.
  std::string marker() const;
};

inline std::string delivery_id_for(std::string_view item_id, std::string_view channel) {
  std::string id(item_id);
  id += '.';
  id += channel;
  return id;
}

}  // namespace herald
