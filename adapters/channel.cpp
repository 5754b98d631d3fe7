#include "adapters/channel.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <exception>
#include <stdexcept>

namespace herald {
namespace {

// A bug in one adapter must cost one delivery (dead-lettered with the reason), not the process.
template <class T, class Call>
Task<Result<T>> call_guarded(Call call) {
  std::string what;
  try {
    co_return co_await call();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  Error error = Error::permanent("internal error: " + what);
  error.code = "internal_error";
  co_return error;
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

Channel::Channel(std::string name, OutboundIo* io) : name_(std::move(name)), io_(io) {
  if (io_ == nullptr) {
    own_io_ = std::make_unique<OutboundIo>();
    io_ = own_io_.get();
  }
}

Task<Result<PublishReceipt>> Channel::look_first(const Delivery& delivery) {
  Result<Lookup> looked = co_await call_guarded<Lookup>([&] { return do_lookup(delivery); });
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
    co_return error;
  }
  switch (looked->state) {
    case LookupState::found:
      spdlog::info(
          "delivery {} on {}: an earlier attempt went through (remote id '{}'); not sent "
          "again",
          delivery.id, name_, looked->receipt.remote_id);
      co_return looked->receipt;
    case LookupState::absent:
      if (delivery.lookup_only) {
        Error error = Error::permanent(
            "not published: its attempts are spent and the platform shows nothing of the last, "
            "ambiguous one");
        error.code = "not_published";
        co_return error;
      }
      break;
    case LookupState::resend_is_safe:
      break;
  }
  co_return co_await call_guarded<PublishReceipt>([&] { return do_publish(delivery); });
}

Task<Result<PublishReceipt>> Channel::publish_async(const Delivery& delivery) {
  spdlog::debug("publishing delivery {} on {} (attempt {})", delivery.id, name_, delivery.attempt);
  const auto start = std::chrono::steady_clock::now();
  // Not a conditional expression: GCC 12 destroys a co_await's temporary twice in one.
  Result<PublishReceipt> result = Error::permanent("not published");
  if (delivery.maybe_sent) {
    result = co_await look_first(delivery);
  } else {
    result = co_await call_guarded<PublishReceipt>([&] { return do_publish(delivery); });
  }
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  if (result) {
    spdlog::debug("published delivery {} on {} (attempt {}) in {} ms, remote id '{}'", delivery.id,
                  name_, delivery.attempt, elapsed_ms, result->remote_id);
    co_return result;
  }
  Error error = result.error();
  normalise(error);
  const bool final = error.kind == ErrorKind::permanent;
  const std::string code = error.code.empty() ? "" : " [" + error.code + "]";
  spdlog::log(final ? spdlog::level::err : spdlog::level::warn,
              "delivery {} on {} (attempt {}) failed after {} ms, {}{}: {}", delivery.id, name_,
              delivery.attempt, elapsed_ms, to_string(error.kind), code, error.message);
  co_return error;
}

Task<Result<void>> Channel::recall_async(const Delivery& delivery, const std::string& remote_id) {
  Result<void> result = co_await call_guarded<void>([&] { return do_recall(delivery, remote_id); });
  if (result) {
    spdlog::info("recalled delivery {} on {} (remote id '{}')", delivery.id, name_, remote_id);
    co_return result;
  }
  Error error = result.error();
  normalise(error);
  spdlog::warn("recall of delivery {} on {} failed, {}: {}", delivery.id, name_,
               to_string(error.kind), error.message);
  co_return error;
}

Result<PublishReceipt> Channel::publish(const Delivery& delivery) {
  return io_->run(publish_async(delivery));
}

Result<void> Channel::recall(const Delivery& delivery, const std::string& remote_id) {
  return io_->run(recall_async(delivery, remote_id));
}

Result<PlatformListing> Channel::list_published(TimePoint from, TimePoint to,
                                                const std::vector<HeldDelivery>& held) {
  return io_->run(list_published_async(from, to, held));
}

Task<Result<Lookup>> Channel::do_lookup(const Delivery& /*delivery*/) {
  co_return Lookup{LookupState::resend_is_safe, {}};
}

Task<Result<void>> Channel::do_recall(const Delivery& /*delivery*/,
                                      const std::string& /*remote_id*/) {
  Error error = Error::permanent(name_ + " cannot withdraw a publication");
  error.code = "recall_unsupported";
  co_return error;
}

Task<Result<PlatformListing>> Channel::list_published_async(TimePoint from, TimePoint to,
                                                            const std::vector<HeldDelivery>& held) {
  Result<PlatformListing> listing =
      co_await call_guarded<PlatformListing>([&] { return do_list_published(from, to, held); });
  if (!listing) {
    Error error = listing.error();
    normalise(error);
    if (error.code != "list_unsupported") {
      spdlog::warn("reading back {} for reconciliation failed, {}: {}", name_,
                   to_string(error.kind), error.message);
    }
    co_return error;
  }
  co_return listing;
}

Task<Result<PlatformListing>> Channel::do_list_published(
    TimePoint /*from*/, TimePoint /*to*/, const std::vector<HeldDelivery>& /*held*/) {
  Error error = Error::permanent(name_ + " cannot list what its platform holds");
  error.code = "list_unsupported";
  co_return error;
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
