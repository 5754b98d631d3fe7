// Channel: one publishing platform behind one interface. publish() does the shared work (logging,
// timing, classification sanity); do_publish() is the platform's transport.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/outbound_io.h"
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

// What a channel finds on its platform for a delivery that may already be there (an earlier
// attempt ended ambiguous, or its worker died during the call): reference §5A.
enum class LookupState {
  found,           // it is there: `receipt` names it, nothing is sent again
  absent,          // it is not there: sending again makes no duplicate
  resend_is_safe,  // no read-back needed: the platform recognises a repeat (an idempotency key,
                   // a clientmsgid, a Message-ID) or the channel keeps its own progress record
};

struct Lookup {
  LookupState state = LookupState::absent;
  PublishReceipt receipt;  // found
};

// One publication as its platform lists it when reading back for reconciliation (reference §5A).
struct PlatformRecord {
  // As Herald stores it: Weibo idstr, "article:<article_id>" / "mass:<msg_id>", the portal's
  // submission id, "feeds:<entry id>".
  std::string remote_id;
  std::string marker;  // the delivery's marker (Delivery::marker()) found in it, or ""
  // When the platform says it was published; nullopt when it does not say (WeChat broadcasts).
  std::optional<TimePoint> at;
  bool withdrawn = false;  // still listed, but deleted or withdrawn on the platform
};

// A delivery Herald holds as published on the channel, for a platform that cannot list
// everything and is asked about each one instead (WeChat broadcasts, the media feeds).
struct HeldDelivery {
  std::string delivery_id;
  std::string remote_id;
};

struct PlatformListing {
  std::vector<PlatformRecord> records;
  // Publications older than this may be missing from `records` without having been removed (a
  // feed keeps only its newest entries): nothing before it is reported absent.
  std::optional<TimePoint> complete_from;
  // Delivery ids among the held ones the platform cannot speak to either way.
  std::vector<std::string> unverifiable;
  std::vector<std::string> notes;  // what the listing could not see, for the operator
};

// The "hd=" + 12 hex digits marker inside `text` (a status, a URL, HTML), or "" when none.
std::string marker_in(std::string_view text);

class Channel {
 public:
  // `io` is where the channel's calls run (heraldd shares one among all channels); null → the
  // channel makes its own (tests, tools, --check-config).
  explicit Channel(std::string name, OutboundIo* io = nullptr);
  virtual ~Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  const std::string& name() const { return name_; }
  OutboundIo& io() { return *io_; }

  // Publishes one delivery, as a task on io(); `delivery` must outlive it. Never throws; every
  // failure comes back classified: an exception from do_publish becomes a permanent error (code
  // "internal_error"), and invalid_input, which is the API's kind, becomes permanent. Logs the
  // outcome with the delivery id, channel and attempt.
  // A delivery marked maybe_sent is looked up first (do_lookup): found → published with the
  // platform's id and nothing sent; a lookup_only delivery that is absent → permanent
  // ("not_published"), since its attempts are spent.
  Task<Result<PublishReceipt>> publish_async(const Delivery& delivery);

  // Withdraws what publish() put on the platform (`remote_id` from the ledger), for a retraction.
  // Classified like publish(); a platform that cannot withdraw answers a permanent error with
  // code "recall_unsupported".
  Task<Result<void>> recall_async(const Delivery& delivery, const std::string& remote_id);

  // Reads back what the platform holds that was published in [from, to], for reconciliation; it
  // changes nothing there. `held` is what Herald holds as published on this channel around that
  // period. Never throws (an exception becomes a permanent "internal_error"); a channel that
  // cannot list answers a permanent error with code "list_unsupported".
  Task<Result<PlatformListing>> list_published_async(TimePoint from, TimePoint to,
                                                     const std::vector<HeldDelivery>& held);

  // The same, waiting for the task: for callers outside io()'s loop (tests, tools, the
  // reconciler's thread).
  Result<PublishReceipt> publish(const Delivery& delivery);
  Result<void> recall(const Delivery& delivery, const std::string& remote_id);
  Result<PlatformListing> list_published(TimePoint from, TimePoint to,
                                         const std::vector<HeldDelivery>& held);

 protected:
  virtual Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) = 0;
  // Looks for the delivery on the platform. A platform without an idempotency key must override
  // this: the default says a resend is safe. A failed look is an error like any call's (an
  // ambiguous one counts as retryable: looking changes nothing).
  virtual Task<Result<Lookup>> do_lookup(const Delivery& delivery);
  virtual Task<Result<void>> do_recall(const Delivery& delivery, const std::string& remote_id);
  virtual Task<Result<PlatformListing>> do_list_published(TimePoint from, TimePoint to,
                                                          const std::vector<HeldDelivery>& held);

 private:
  Task<Result<PublishReceipt>> look_first(const Delivery& delivery);

  std::string name_;
  std::unique_ptr<OutboundIo> own_io_;  // only when none was given
  OutboundIo* io_;
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
  // Where every channel's calls run (heraldd: one for the process); null → each channel makes
  // its own.
  OutboundIo* io = nullptr;
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
