// Channel: one publishing platform behind one interface. publish() does the shared work (logging,
// timing, classification sanity); do_publish() is the platform's transport.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/delivery.h"
#include "core/feed_store.h"
#include "core/rate_limiter.h"
#include "core/result.h"
#include "core/token_cache.h"

namespace herald {

struct PublishReceipt {
  std::string remote_id;  // the platform's id for what it published (idstr, publish_id, ...)
};

class Channel {
 public:
  explicit Channel(std::string name) : name_(std::move(name)) {}
  virtual ~Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  const std::string& name() const { return name_; }

  // Publishes one delivery. Never throws; every failure comes back classified: an exception from
  // do_publish becomes a permanent error (code "internal_error"), and invalid_input, which is the
  // API's kind, becomes permanent. Logs the outcome with the delivery id, channel and attempt.
  Result<PublishReceipt> publish(const Delivery& delivery);

  // Withdraws what publish() put on the platform (`remote_id` from the ledger), for a retraction.
  // Classified like publish(); a platform that cannot withdraw answers a permanent error with
  // code "recall_unsupported".
  Result<void> recall(const Delivery& delivery, const std::string& remote_id);

 protected:
  virtual Result<PublishReceipt> do_publish(const Delivery& delivery) = 0;
  virtual Result<void> do_recall(const Delivery& delivery, const std::string& remote_id);

 private:
  std::string name_;
};

using ChannelPtr = std::unique_ptr<Channel>;

// What a channel factory may use besides its own config section.
struct ChannelDeps {
  const Clock& clock;
  // Shared by every heraldd on the same Redis (posting limits per account); may be null in tests
  // of a channel that does not need it.
  RateLimiter* rate_limiter = nullptr;
  // Platform tokens shared by every heraldd on the same Redis (WeChat's access_token); null →
  // a channel that needs one keeps its own (heraldd --check-config, tests).
  TokenCache* token_cache = nullptr;
  // The media channel's feeds and per-delivery push record (Redis); null → no media channel.
  FeedStore* feed_store = nullptr;
};

// Builds a channel from its config section (`channels.<name>`), validating every key; an error
// names the key's full path. Used at start-up: a failure there is exit code 2.
using ChannelFactory = std::function<Result<ChannelPtr>(
    const nlohmann::json& section, const std::string& path, ChannelDeps& deps)>;

class ChannelRegistry {
 public:
  // Throws std::logic_error on a duplicate name (a programming error).
  void add(const std::string& name, ChannelFactory factory);
  bool has(const std::string& name) const { return factories_.count(name) != 0; }
  std::vector<std::string> names() const;
  // Unknown name → invalid_input error listing the registered names.
  Result<ChannelPtr> create(const std::string& name, const nlohmann::json& section,
                            const std::string& path, ChannelDeps& deps) const;

 private:
  std::map<std::string, ChannelFactory> factories_;
};

// The one place where built-in platforms are registered.
void register_builtin_channels(ChannelRegistry& registry);

}  // namespace herald
