// MediaChannel: publishes to the media desks — entries in the RSS/Atom feeds heraldd serves, CAP
// 1.2 documents for alerts, a WebSub ping, an e-mail and webhooks — doing each push once even
// across retries (the steps done are recorded per delivery in the FeedStore).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "adapters/media/email_sender.h"
#include "adapters/media/feed_render.h"
#include "adapters/webhook/webhook_channel.h"
#include "core/feed_store.h"

namespace herald {

// The feed every alert goes to (served as /feeds/alerts.cap.atom), besides the configured ones.
inline constexpr const char* kCapFeedName = "alerts.cap";

struct MediaFeedSettings {
  std::string name;  // [a-z0-9_-]+: /feeds/{name}.rss and .atom
  std::string title;
  std::string description;
  std::set<std::string> kinds;       // "publication", "alert"; empty = every kind
  std::set<std::string> categories;  // Category names (core/item.h); empty = every category
  std::size_t max_entries = 50;

  bool accepts(const std::string& kind, const std::string& category) const;
};

struct MediaSmtpSettings {
  SmtpOptions options;
  std::string from;
  std::vector<std::string> to;
};

// The `channels.media` section.
struct MediaSettings {
  std::string public_base_url;  // where heraldd's /feeds are reachable from outside
  std::string author;           // feed author and CAP senderName
  std::string cap_sender;       // CAP <sender>; default "herald@<host of public_base_url>"
  std::size_t cap_max_entries = 50;
  std::vector<MediaFeedSettings> feeds;
  std::string websub_hub;  // "" for no ping
  std::chrono::milliseconds websub_timeout{10000};
  std::optional<MediaSmtpSettings> smtp;
  std::vector<WebhookSettings> webhooks;

  // The FeedInfo of a configured feed, and of alerts.cap.
  FeedInfo feed_info(const MediaFeedSettings& feed) const;
  FeedInfo cap_feed_info() const;
};

// Reads and validates a section, key by key: public_base_url (required, http(s), no trailing
// slash kept), author, cap {sender, max_entries}, feeds [{name, title, description, kinds,
// categories, max_entries}], websub {hub, timeout_ms}, smtp {url, from, to[], starttls, username,
// password | password_file, timeout_ms}, webhooks [<a channels.webhook section>]. Unknown keys
// and bad values are invalid_input errors naming the full path ("channels.media.feeds[1].name").
Result<MediaSettings> parse_media_settings(const nlohmann::json& section, const std::string& path);

// Classifies a WebSub hub's answer to a publish ping: 2xx ok; 429 deferred; 408 and 5xx
// retryable; any other status permanent (reference §4.4: PERM on 4xx). Code "websub_<status>".
Result<void> classify_websub_response(long status, std::string_view body);

class MediaChannel final : public Channel {
 public:
  // `store` must outlive the channel; null gives a channel that refuses every delivery
  // (permanent, "no_feed_store"), for heraldd --check-config.
  MediaChannel(MediaSettings settings, FeedStore* store, const Clock& clock,
               HttpClientOptions http_options = {}, OutboundIo* io = nullptr);
  ~MediaChannel() override;

  const MediaSettings& settings() const { return settings_; }

 protected:
  // Remote id "feeds:<entry id>" (the entry id is the first publication's item id).
  Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) override;
  // CAP Cancel referencing the chain (alerts), the entry removed from every feed, ping, e-mail
  // notice and webhooks.
  Task<Result<void>> do_recall(const Delivery& delivery, const std::string& remote_id) override;
  // The feeds are Herald's own: their entries as the FeedStore holds them (a CAP Cancel entry
  // is a withdrawn one).
  Task<Result<PlatformListing>> do_list_published(TimePoint from, TimePoint to,
                                                  const std::vector<HeldDelivery>& held) override;

 private:
  Result<PublishReceipt> publish_blocking(const Delivery& delivery);
  Result<void> recall_blocking(const Delivery& delivery, const std::string& remote_id);
  Result<PlatformListing> list_blocking(TimePoint from, TimePoint to,
                                        const std::vector<HeldDelivery>& held);
  Result<void> push(const Delivery& delivery, const std::set<std::string>& done,
                    const std::vector<std::string>& feed_urls, const EmailMessage* email);
  Result<void> ping_hub(const std::vector<std::string>& feed_urls);
  Result<void> send_email(const Delivery& delivery, const std::set<std::string>& done,
                          const EmailMessage& email);
  Result<TimePoint> attempt_time(const Delivery& delivery, const std::set<std::string>& done);
  std::string message_id(const Delivery& delivery) const;
  Result<void> require_store() const;
  std::string step_holder(const Delivery& delivery);

  MediaSettings settings_;
  FeedStore* store_;
  const Clock& clock_;
  HttpClientPool http_;  // blocking: the media channel's work runs on the blocking side
  std::vector<std::unique_ptr<WebhookChannel>> webhooks_;
  std::unique_ptr<EmailSender> email_;
  const std::string holder_prefix_;  // random per channel object: step holders of lease-less calls
  std::atomic<std::uint64_t> calls_{0};
};

// The factory registered as "media"; needs deps.feed_store.
Result<ChannelPtr> make_media_channel(const nlohmann::json& section, const std::string& path,
                                      ChannelDeps& deps);

}  // namespace herald
