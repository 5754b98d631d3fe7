// WechatChannel: publishes to a WeChat official account (公众号): articles through draft/add +
// freepublish/submit (publish mode) and texts through message/mass/sendall (broadcast mode), with
// the access token shared by every heraldd through a TokenCache (channel-apis.md §2).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "adapters/wechat/wechat_errors.h"
#include "adapters/wechat/wechat_render.h"
#include "core/clock.h"
#include "core/delivery.h"
#include "core/result.h"
#include "core/token_cache.h"

namespace herald {

// publish: an article in the account's history (no mass-send quota used, but asynchronous and a
// platform review may fail it); broadcast: a text pushed to followers' chats at once (but the
// mass-send quota is one a day for a subscription account, four a month for a service account).
// auto: alerts are broadcast (they must reach people now) and publications published (routine
// news must not spend the tiny mass-send quota an alert may need).
enum class WechatMode { auto_select, publish, broadcast };

// The `channels.wechat` section.
struct WechatSettings {
  std::string api_base;  // "https://api.weixin.qq.com" (no trailing slash kept)
  std::string appid;
  std::string secret;  // secret | secret_file: the AppSecret
  WechatMode mode = WechatMode::auto_select;
  std::chrono::milliseconds timeout{10000};         // timeout_ms
  std::chrono::milliseconds connect_timeout{3000};  // connect_timeout_ms
  // token.refresh_margin_ms: fetch a new token this long before the old one expires (silenceper
  // uses expires_in - 300 s for stable tokens); at most half the token's life is cut off.
  std::chrono::milliseconds token_refresh_margin{300000};
  // token.force_refresh_on_reject: when a refused token comes back unchanged from a normal
  // stable_token call, ask once with force_refresh=true (limited to 20 a day by WeChat).
  bool force_refresh_on_reject = true;
  // publish.author (≤16 字), publish.cover_file (the cover image; "" = a built-in plain PNG),
  // publish.poll_ms (waits before each freepublish/get: get is limited to 100 a day, so poll
  // sparingly; the last wait repeats), publish.open_comment.
  std::string author;
  std::string cover_file;
  std::vector<std::chrono::milliseconds> publish_poll{std::chrono::milliseconds(30000),
                                                      std::chrono::milliseconds(120000),
                                                      std::chrono::milliseconds(600000)};
  bool open_comment = false;
  // broadcast.tag_id (send to one follower tag; absent = everyone), broadcast.max_chars: the text
  // limit of a mass-send text is not documented (unverified), 600 code points by default.
  std::optional<long long> tag_id;
  std::size_t text_max_chars = 600;
  WechatQuotaPolicy quota;  // quota.{reset_utc_offset_minutes, mass_quota ("day"|"month"),
                            // publish_too_frequent_ms, minute_wait_ms}
};

// Reads and validates a section; unknown keys are rejected and errors name the key's full path.
// Reads cover_file, so a missing image is found at start-up.
Result<WechatSettings> parse_wechat_settings(const nlohmann::json& section,
                                             const std::string& path);

// The clientmsgid sent with a mass send: the delivery's idempotency key, or (were it longer than
// WeChat's 64 bytes) "herald-" and a SHA-256 prefix of it.
std::string wechat_client_msg_id(const Delivery& delivery);

// What a WeChat API answered with HTTP 200 (WeChat answers its errors with 200 too): errcode (0
// when absent; a string is read as a number, as wechatpy does), errmsg, and the whole body.
struct WechatAnswer {
  long errcode = 0;
  std::string errmsg;
  nlohmann::json body;
};
// A body that is not a JSON object is a retryable error "wechat_bad_answer".
Result<WechatAnswer> parse_wechat_answer(std::string_view body);

// Many calls may be in flight at once on the channel's loop.
class WechatChannel final : public Channel {
 public:
  // `tokens` null → a LocalTokenCache of its own (no sharing; tests and --check-config).
  WechatChannel(WechatSettings settings, const Clock& clock, TokenCache* tokens,
                HttpClientOptions http_options = {}, OutboundIo* io = nullptr);

  // The TokenCache keys: "wechat:<appid>" for the access token, "wechat:<appid>:cover:<hash>"
  // for the cover's media_id, "wechat:<appid>:job:<delivery id>" for a publication in progress.
  const std::string& token_key() const { return token_key_; }

 protected:
  // Remote ids: "article:<article_id>" (publish) or "mass:<msg_id>" (broadcast).
  // A publication is a job kept under "wechat:<appid>:job:<delivery id>": draft/add, then the
  // "submitting" mark, then freepublish/submit, then freepublish/get until WeChat has published
  // it (deferred meanwhile: WeChat publishes a submitted draft by itself). A job found with the
  // submitting mark, or a submit refused with 40007 for our own draft, is resolved by reading
  // back (§5A): the article among the published ones (by the delivery's marker) → published; the
  // draft still in the draft box → submitted now; neither → still publishing, deferred. So no
  // do_lookup: the job is the read-back's memory, and a broadcast's clientmsgid makes a repeat
  // answer 45065 with the first msg_id (§2.6); the default (a resend is safe) holds.
  Task<Result<PublishReceipt>> do_publish(const Delivery& delivery) override;
  // freepublish/delete or message/mass/delete, from the remote id alone; an article that is
  // already gone (53600) counts as withdrawn.
  Task<Result<void>> do_recall(const Delivery& delivery, const std::string& remote_id) override;
  // Articles from freepublish/batchget (20 a page, newest first) until past `from`; broadcasts,
  // of which WeChat keeps no list, by message/mass/get for each "mass:<msg_id>" held.
  Task<Result<PlatformListing>> do_list_published(TimePoint from, TimePoint to,
                                                  const std::vector<HeldDelivery>& held) override;

 private:
  using Answer = WechatAnswer;

  Task<Result<std::string>> access_token();
  Task<Result<std::string>> replace_rejected(const std::string& failed);
  Result<CachedToken> fetch_token(bool force);
  // POSTs to `resource` with the shared token; on 40001/40014/42001 replaces the token once and
  // sends again. Transport and HTTP failures come back as errors; any errcode as an Answer.
  Task<Result<Answer>> call(const std::string& resource, const std::string& body,
                            const std::string& content_type = "application/json",
                            const std::string& query = "");
  // `token_endpoint`: the answer may hold an access token, so no excerpt of its body may go into
  // an error message (they end in logs, dead letters and API answers).
  Task<Result<Answer>> post(const std::string& url, const std::string& body,
                            const std::string& content_type);
  HttpRequest post_request(const std::string& url, const std::string& body,
                           const std::string& content_type) const;
  Result<Answer> read_answer(const Result<HttpResponse>& response, bool token_endpoint) const;
  Result<void> check(const Answer& answer, const std::string& api);

  Task<Result<PublishReceipt>> broadcast(const Delivery& delivery, const nlohmann::json& item);
  Task<Result<PublishReceipt>> publish_article(const Delivery& delivery,
                                               const nlohmann::json& item);
  Task<Result<PublishReceipt>> poll(const Delivery& delivery, const std::string& job_key,
                                    nlohmann::json job);
  Task<Result<PublishReceipt>> submit(const Delivery& delivery, const std::string& job_key,
                                      nlohmann::json job);
  Task<Result<PublishReceipt>> resolve_submit(const Delivery& delivery, const std::string& job_key,
                                              nlohmann::json job);
  // Records the article in the job (kept until the job expires) and returns its receipt.
  Result<PublishReceipt> published(const std::string& job_key, nlohmann::json job,
                                   const std::string& article_id);
  // One page (0-based) of draft/batchget or freepublish/batchget: the `item` list, newest first,
  // kBatchPage a page.
  Task<Result<nlohmann::json>> batch_page(const std::string& api, int page, bool with_content);
  // True if the draft box still holds `media_id` (draft/batchget, a few pages).
  Task<Result<bool>> draft_in_box(const std::string& media_id);
  // The article_id of the published article carrying `marker` (freepublish/batchget, newest
  // first, a few pages), or nullopt.
  Task<Result<std::optional<std::string>>> published_article(const std::string& marker);
  Task<Result<std::string>> cover_media_id();
  Error pending(const nlohmann::json& job) const;

  WechatSettings settings_;
  const Clock& clock_;
  std::unique_ptr<TokenCache> own_tokens_;
  TokenCache* tokens_;
  std::string token_key_;
  std::string cover_;  // the image bytes
  std::string cover_name_;
  std::string cover_type_;
  std::string cover_key_;
  AsyncHttpClient http_;
  HttpClientPool token_http_;
};

// The factory registered as "wechat"; uses deps.token_cache.
Result<ChannelPtr> make_wechat_channel(const nlohmann::json& section, const std::string& path,
                                       ChannelDeps& deps);

}  // namespace herald
