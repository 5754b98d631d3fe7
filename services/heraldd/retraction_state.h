// What a retraction did on one channel, read from the ledgers of the item's delivery there and of
// its recall delivery ("<item id>-recall.<channel>"). The ledgers stay the only record: this is a
// reading of them, parsed once into an enum so the API and its clients never compare strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "queue/delivery_queue.h"

namespace herald {

enum class RetractionState {
  retracted,    // the recall withdrew the post from the platform
  pending,      // the recall is waiting, in flight or retrying
  failed,       // the recall was dead-lettered: the post is still up
  unsupported,  // the platform cannot withdraw a post (it must be removed there by hand)
  cancelled,    // nothing ever went out on this channel: there is nothing to withdraw
};
const char* to_string(RetractionState state);
std::optional<RetractionState> retraction_state_from_string(std::string_view text);

struct ChannelRetraction {
  RetractionState state = RetractionState::pending;
  std::optional<TimePoint> at;  // when it reached `state` (withdrawn, failed, cancelled)
  std::string error;            // the platform's last error, in its words
};

// One channel of a retracted item. `original` is the item's delivery there and `recall` its recall
// delivery; either may be absent (no ledger).
ChannelRetraction channel_retraction(const DeliveryRecord* original, const DeliveryRecord* recall);

}  // namespace herald
