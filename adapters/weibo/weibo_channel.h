// WeiboChannel: posts each delivery to Sina Weibo through POST /2/statuses/share.json (the only
// posting API still open to ordinary apps) and withdraws it through /2/statuses/destroy.json.
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "core/clock.h"
#include "core/delivery.h"
#include "core/rate_limiter.h"
#include "core/result.h"

namespace herald {

// The `channels.weibo` section.
struct WeiboSettings {
  std::string api_base;      // "https://api.weibo.com" (no trailing slash kept)
  std::string access_token;  // access_token | access_token_file
  // The link domain registered with the Weibo app (安全域名): share.json refuses a status without
  // a link under it (error 10017 "text not find domain!").
  std::string safe_domain;
  int rate_limit_posts = 30;  // rate_limit.posts: Weibo allows 30 posts an hour per user
  std::chrono::milliseconds rate_limit_window{std::chrono::hours(1)};  // rate_limit.window_ms
  std::chrono::milliseconds timeout{10000};                            // timeout_ms
  std::chrono::milliseconds connect_timeout{3000};                     // connect_timeout_ms
  // rip: statuses/share requires the real IP of the user posting (§1.2); for a daemon, the
  // office's public address. Required: without it every post fails with 10016.
  std::string rip;
  // lookup_pages: how many pages of 100 posts of the account's timeline are read to find a post
  // that an ambiguous attempt may have made (its marker in the link).
  int lookup_pages = 3;
  // "https://www.example.gov.cn/items/{id}": the link used when the item has none under
  // safe_domain; must itself be under safe_domain.
  std::string portal_link_template;
  // max_chars: the status limit. Weibo documents "140 汉字" but not how ASCII or URLs count
  // (unverified), so we count every Unicode code point as one, which can only err on the safe side.
  std::size_t max_chars = 140;
};

// Reads and validates a section (keys above; unknown keys rejected, errors name the key's path).
Result<WeiboSettings> parse_weibo_settings(const nlohmann::json& section, const std::string& path);

// Length as we count it against max_chars: Unicode code points (see WeiboSettings::max_chars).
std::size_t weibo_length(std::string_view utf8);

// The first `max_code_points` code points of `utf8` (never a partial UTF-8 sequence).
std::string utf8_prefix(std::string_view utf8, std::size_t max_code_points);

// True if `url` is an http(s) URL whose host is `domain` or a subdomain of it.
bool is_url_under_domain(std::string_view url, std::string_view domain);

// Renders an item (the delivery payload's JSON) as a status:
//   alert:       "【海外安全提醒】<title> <summary|body> <link>"
//   publication: "【<title>】<summary|body> <link>"
// The text before the link is cut with "…" on a code-point boundary so that the whole status is at
// most max_chars; the link is always the last thing and always whole. The link is the item's when
// it is under safe_domain, else portal_link_template with {id} = the item id; `marker` (the
// delivery's, see Delivery::marker) is added to its query string, so the post can be found on the
// timeline after an ambiguous attempt. '#' in the text
// becomes '＃' (share.json refuses #话题# topics). No usable link, a link longer than the limit
// allows, or invalid UTF-8 → permanent error.
Result<std::string> render_weibo_status(const nlohmann::json& item, std::string_view item_id,
                                        const WeiboSettings& settings,
                                        std::string_view marker = {});

// Classifies a Weibo error answer (reference: channel-apis.md §1.5). `error_code` is 0 when the
// body had none. Returns ok() for 20032 (accepted, server slow). 20019 (identical to the account's
// last post) is permanent here: it proves nothing by itself, so the channel reads the timeline
// for the delivery's marker before it gives that answer (found → published). Otherwise:
//   RETRY (10001-10003, 10009-10011, 21331)          → retryable
//   DEFER (10022-10024)                              → deferred until the next full hour
//         (20016, "posting too often")               → deferred for 10 minutes
//   token (21301, 21314-21317, 21319, 21327, 21332)  → permanent, code weibo_<n>: Weibo has no
//         refresh, someone must re-authorise the account (reference class OPS)
//   OPS / PERM (all other listed codes)              → permanent
//   unknown code or none: 5xx → ambiguous (something in between failed, maybe after Weibo
//         posted), 408 → retryable, 429 → deferred to the next hour, else permanent.
// Errors carry code "weibo_<error_code>" (or "http_<status>" without one) and a message with the
// code, Weibo's text and the class.
Result<void> classify_weibo_error(long http_status, long error_code, std::string_view error_text,
                                  TimePoint now);

// Milliseconds from `now` to the next full hour (Weibo's hourly limits reset then); never 0.
std::chrono::milliseconds until_next_hour(TimePoint now);

// Weibo's created_at, "Tue May 31 17:46:55 +0800 2011"; nullopt if it is not that shape.
std::optional<TimePoint> parse_weibo_time(std::string_view text);

// What any Weibo answer says about an error: error_code (0 when the body has none, or is not a JSON
// object) and Weibo's error text.
struct WeiboAnswer {
  long code = 0;
  std::string text;
};
WeiboAnswer parse_weibo_answer(std::string_view body);

// A post's id as share.json and user_timeline give it: "idstr", else the integer "id"; "" when the
// post has neither (or is not an object).
std::string weibo_post_id(const nlohmann::json& post);

// Many calls may be in flight at once on the channel's loop.
class WeiboChannel final : public Channel {
 public:
  // `rate_limiter` may be null: no shared budget is taken then (tests only).
  WeiboChannel(WeiboSettings settings, const Clock& clock, RateLimiter* rate_limiter,
               HttpClientOptions http_options = {}, OutboundIo* io = nullptr);

  // The rate limiter key: "weibo:" + the first 16 hex digits of the token's SHA-256, so every
  // heraldd posting as the same account shares one budget without the token appearing in Redis.
  const std::string& rate_limit_key() const { return rate_limit_key_; }

 protected:
  Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) override;
  // Reads the account's timeline (statuses/user_timeline, lookup_pages pages of 100) for a post
  // whose text carries the delivery's marker.
  Task<Result<Lookup>> do_lookup(const Delivery& delivery) override;
  // An already deleted status (20101) counts as withdrawn.
  Task<Result<void>> do_recall(const Delivery& delivery, const std::string& remote_id) override;
  // Pages of user_timeline (100 a page, newest first) until past `from`.
  Task<Result<PlatformListing>> do_list_published(TimePoint from, TimePoint to,
                                                  const std::vector<HeldDelivery>& held) override;

 private:
  Task<Result<HttpResponse>> post_form(const std::string& resource, const std::string& form);
  // One page (1-based) of the account's own posts, newest first: the `statuses` array of
  // statuses/user_timeline, kTimelinePage posts a page.
  Task<Result<nlohmann::json>> timeline_page(int page);

  WeiboSettings settings_;
  const Clock& clock_;
  RateLimiter* rate_limiter_;
  std::string rate_limit_key_;
  AsyncHttpClient http_;
};

// The factory registered as "weibo"; uses deps.rate_limiter.
Result<ChannelPtr> make_weibo_channel(const nlohmann::json& section, const std::string& path,
                                      ChannelDeps& deps);

}  // namespace herald
