#include "adapters/channel.h"

#include <spdlog/spdlog.h>

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

Result<PublishReceipt> Channel::publish(const Delivery& delivery) {
  spdlog::debug("publishing delivery {} on {} (attempt {})", delivery.id, name_, delivery.attempt);
  const auto start = std::chrono::steady_clock::now();
  Result<PublishReceipt> result = call_guarded([&] { return do_publish(delivery); });
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

Result<void> Channel::do_recall(const Delivery& /*delivery*/, const std::string& /*remote_id*/) {
  Error error = Error::permanent(name_ + " cannot withdraw a publication");
  error.code = "recall_unsupported";
  return error;
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
