#include "services/heraldd/retraction_state.h"

#include <array>
#include <utility>

namespace herald {
namespace {

constexpr std::array<std::pair<RetractionState, const char*>, 5> kNames{{
    {RetractionState::retracted, "retracted"},
    {RetractionState::pending, "pending"},
    {RetractionState::failed, "failed"},
    {RetractionState::unsupported, "unsupported"},
    {RetractionState::cancelled, "cancelled"},
}};

// The code Channel::recall() answers when a platform has no way to withdraw a post.
constexpr std::string_view kRecallUnsupported = "recall_unsupported";

}  // namespace

const char* to_string(RetractionState state) {
  for (const auto& [value, name] : kNames) {
    if (value == state) return name;
  }
  return "pending";
}

std::optional<RetractionState> retraction_state_from_string(std::string_view text) {
  for (const auto& [value, name] : kNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

ChannelRetraction channel_retraction(const DeliveryRecord* original, const DeliveryRecord* recall) {
  ChannelRetraction out;
  if (recall == nullptr) {
    // No recall: the retraction cancelled the delivery before it went out, or (published or in
    // flight) the recall is about to be queued, by this retraction or by the recovery loop.
    if (original == nullptr || original->state == DeliveryState::cancelled) {
      out.state = RetractionState::cancelled;
      if (original != nullptr) out.at = original->updated_at;
    }
    return out;
  }
  switch (recall->state) {
    case DeliveryState::published:
      out.state = RetractionState::retracted;
      out.at = recall->published_at ? recall->published_at : recall->updated_at;
      return out;
    case DeliveryState::dead:
      out.state = recall->last_error_code == kRecallUnsupported ? RetractionState::unsupported
                                                                : RetractionState::failed;
      out.at = recall->updated_at;
      out.error = recall->last_error;
      return out;
    case DeliveryState::cancelled:
      // Nothing cancels a recall today; were it to happen the post would still be up.
      out.state = RetractionState::failed;
      out.at = recall->updated_at;
      out.error = recall->last_error.empty() ? "the recall was cancelled" : recall->last_error;
      return out;
    case DeliveryState::queued:
    case DeliveryState::scheduled:
    case DeliveryState::in_flight:
    case DeliveryState::retry_wait:
      out.state = RetractionState::pending;
      out.error = recall->last_error;  // why the last attempt did not finish, if one failed
      return out;
  }
  return out;
}

}  // namespace herald
