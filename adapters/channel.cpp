#include "adapters/channel.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <exception>
#include <stdexcept>

namespace herald {
namespace {

template <class Call>
auto call_guarded(const Call& call) -> decltype(call()) {
  // A bug in one adapter must cost one delivery (dead-lettered with the reason), not the process.
  try {
    return call();
  } catch (const std::exception& e) {
    Error error = Error::permanent(std::string("internal error: ") + e.what());
    error.code = "internal_error";
    return error;
  } catch (...) {
    Error error = Error::permanent("internal error: unknown exception");
    error.code = "internal_error";
    return error;
  }
}

// Keeps what a channel returns within what the dispatcher handles: invalid_input is the API's
// kind (a 4xx to a caller), so from a channel it means "this payload can never be published".
void normalise(Error& error) {
  if (error.kind == ErrorKind::invalid_input) error.kind = ErrorKind::permanent;
  if (error.retry_after && error.retry_after->count() < 0) {
    error.retry_after = std::chrono::milliseconds(0);
  }
}

}  // namespace

Result<PublishReceipt> Channel::look_first(const Delivery& delivery) {
  Result<Lookup> looked = call_guarded([&] { return do_lookup(delivery); });
  if (!looked) {
    Error error = looked.error();
    // Not knowing yet is no reason to give up on something the platform may have published:
    // a look that failed in transit waits like "still processing" (bounded by the channel's
    // processing limit) instead of spending the attempts that would bury it.
    if (error.kind == ErrorKind::ambiguous || error.kind == ErrorKind::retryable) {
      error.kind = ErrorKind::deferred;
      error.defer_reason = DeferReason::processing;
    }
    error.message = "looking for an earlier attempt on the platform failed: " + error.message;
    return error;
  }
  switch (looked->state) {
    case LookupState::found:
      spdlog::info(
          "delivery {} on {}: an earlier attempt went through (remote id '{}'); not sent "
          "again",
          delivery.id, name_, looked->receipt.remote_id);
      return looked->receipt;
    case LookupState::absent:
      if (delivery.lookup_only) {
        Error error = Error::permanent(
            "not published: its attempts are spent and the platform shows nothing of the last, "
            "ambiguous one");
        error.code = "not_published";
        return error;
      }
      break;
    case LookupState::resend_is_safe:
      break;
  }
  return call_guarded([&] { return do_publish(delivery); });
}

Result<PublishReceipt> Channel::publish(const Delivery& delivery) {
  spdlog::debug("publishing delivery {} on {} (attempt {})", delivery.id, name_, delivery.attempt);
  const auto start = std::chrono::steady_clock::now();
  Result<PublishReceipt> result = delivery.maybe_sent
                                      ? look_first(delivery)
                                      : call_guarded([&] { return do_publish(delivery); });
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  if (result) {
    spdlog::debug("published delivery {} on {} (attempt {}) in {} ms, remote id '{}'", delivery.id,
                  name_, delivery.attempt, elapsed_ms, result->remote_id);
    return result;
  }
  Error error = result.error();
  normalise(error);
  const bool final = error.kind == ErrorKind::permanent;
  const std::string code = error.code.empty() ? "" : " [" + error.code + "]";
  spdlog::log(final ? spdlog::level::err : spdlog::level::warn,
              "delivery {} on {} (attempt {}) failed after {} ms, {}{}: {}", delivery.id, name_,
              delivery.attempt, elapsed_ms, to_string(error.kind), code, error.message);
  return error;
}

Result<void> Channel::recall(const Delivery& delivery, const std::string& remote_id) {
  Result<void> result = call_guarded([&] { return do_recall(delivery, remote_id); });
  if (result) {
    spdlog::info("recalled delivery {} on {} (remote id '{}')", delivery.id, name_, remote_id);
    return result;
  }
  Error error = result.error();
  normalise(error);
  spdlog::warn("recall of delivery {} on {} failed, {}: {}", delivery.id, name_,
               to_string(error.kind), error.message);
  return error;
}

Result<Lookup> Channel::do_lookup(const Delivery& /*delivery*/) {
  return Lookup{LookupState::resend_is_safe, {}};
}

Result<void> Channel::do_recall(const Delivery& /*delivery*/, const std::string& /*remote_id*/) {
  Error error = Error::permanent(name_ + " cannot withdraw a publication");
  error.code = "recall_unsupported";
  return error;
}

Result<PlatformListing> Channel::list_published(TimePoint from, TimePoint to,
                                                const std::vector<HeldDelivery>& held) {
  Result<PlatformListing> listing = call_guarded([&] { return do_list_published(from, to, held); });
  if (!listing) {
    Error error = listing.error();
    normalise(error);
    if (error.code != "list_unsupported") {
      spdlog::warn("reading back {} for reconciliation failed, {}: {}", name_,
                   to_string(error.kind), error.message);
    }
    return error;
  }
  return listing;
}

Result<PlatformListing> Channel::do_list_published(TimePoint /*from*/, TimePoint /*to*/,
                                                   const std::vector<HeldDelivery>& /*held*/) {
  Error error = Error::permanent(name_ + " cannot list what its platform holds");
  error.code = "list_unsupported";
  return error;
}

std::string marker_in(std::string_view text) {
  constexpr std::string_view kKey = "hd=";
  constexpr std::size_t kDigits = 12;
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  for (std::size_t at = text.find(kKey); at != std::string_view::npos;
       at = text.find(kKey, at + 1)) {
    // "shd=" or a longer run of hex digits is some other parameter, not ours.
    if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0) continue;
    const std::size_t start = at + kKey.size();
    if (text.size() < start + kDigits) break;
    std::size_t n = 0;
    while (n < kDigits && hex(text[start + n])) ++n;
    if (n == kDigits && (text.size() == start + n || !hex(text[start + n]))) {
      return std::string(text.substr(at, kKey.size() + kDigits));
    }
  }
  return "";
}

void ChannelRegistry::add(const std::string& name, ChannelFactory factory) {
  if (name.empty()) throw std::logic_error("ChannelRegistry::add: empty channel name");
  if (!factory) throw std::logic_error("ChannelRegistry::add: no factory for '" + name + "'");
  if (!factories_.emplace(name, std::move(factory)).second) {
    throw std::logic_error("ChannelRegistry::add: channel '" + name + "' registered twice");
  }
}

std::vector<std::string> ChannelRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(factories_.size());
  for (const auto& entry : factories_) out.push_back(entry.first);
  return out;
}

Result<ChannelPtr> ChannelRegistry::create(const std::string& name, const nlohmann::json& section,
                                           const std::string& path, ChannelDeps& deps) const {
  const auto found = factories_.find(name);
  if (found == factories_.end()) {
    std::string registered;
    for (const auto& entry : factories_) {
      registered += (registered.empty() ? "" : ", ") + entry.first;
    }
    return Error::invalid(path, "unknown channel '" + name + "' (registered: " +
                                    (registered.empty() ? "none" : registered) + ")");
  }
  auto channel = found->second(section, path, deps);
  if (channel && !*channel) {
    throw std::logic_error("channel factory for '" + name + "' returned no channel");
  }
  return channel;
}

}  // namespace herald
