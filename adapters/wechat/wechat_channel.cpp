#include "adapters/wechat/wechat_channel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "adapters/url.h"
#include "core/digest.h"
#include "core/json_fields.h"

namespace herald {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;
constexpr std::size_t kMaxClientMsgIdBytes = 64;  // §2.6
constexpr std::size_t kMaxCoverBytes = 10 << 20;  // §2.3: image 10 MB
constexpr std::string_view kArticlePrefix = "article:";
constexpr std::string_view kMassPrefix = "mass:";
// A publication in progress (draft and publish ids) is kept this long: far beyond any retry plan.
constexpr milliseconds kJobTtl{30LL * 24 * 3600 * 1000};
// A permanent material does not expire; the cache entry may as well live for years.
constexpr milliseconds kCoverTtl{10LL * 365 * 24 * 3600 * 1000};
constexpr long kArticleMissing = 53600;
constexpr long kMassDuplicate = 45065;
constexpr long kInvalidMediaId = 40007;
// draft/batchget and freepublish/batchget return at most 20 a page (§5A); how many pages a
// read-back looks through.
constexpr int kBatchPage = 20;
constexpr int kDraftPages = 5;
constexpr int kPublishedPages = 3;

// A plain 1×1 PNG: the cover when none is configured (draft/add requires a thumb_media_id).
constexpr unsigned char kDefaultCover[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xd8, 0x22, 0x27, 0x07, 0x00, 0x02, 0x7a, 0x00, 0xf1, 0xbb, 0x61, 0x9b,
    0xc2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

bool is_refresh_code(long errcode) {
  return errcode == 40001 || errcode == 40014 || errcode == 42001;
}

// The image types add_material takes (§2.3), by their magic bytes.
std::string image_type(const std::string& bytes) {
  if (bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0) return "image/png";
  if (bytes.rfind("\xff\xd8\xff", 0) == 0) return "image/jpeg";
  if (bytes.rfind("GIF8", 0) == 0) return "image/gif";
  if (bytes.rfind("BM", 0) == 0) return "image/bmp";
  return "";
}

std::string extension_for(const std::string& type) {
  if (type == "image/png") return "png";
  if (type == "image/jpeg") return "jpg";
  if (type == "image/gif") return "gif";
  return "bmp";
}

Error coded(Error error, std::string code) {
  error.code = std::move(code);
  return error;
}

// WeChat ids arrive as numbers (publish_id may exceed 2^31, §2.5) or strings; kept as text.
std::string id_text(const json& body, const char* key) {
  const auto found = body.find(key);
  if (found == body.end()) return "";
  if (found->is_string()) return found->get<std::string>();
  if (found->is_number_integer()) return found->dump();
  return "";
}

std::string random_boundary() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "----herald";
  std::uint64_t bits = rng();
  for (int i = 0; i < 16; ++i, bits >>= 4) out += kHex[bits & 0xF];
  return out;
}

}  // namespace

Result<WechatAnswer> parse_wechat_answer(std::string_view body) {
  WechatAnswer answer;
  answer.body = json::parse(body, nullptr, false);
  if (!answer.body.is_object()) {
    return coded(Error::retryable("WeChat answered 200 with a body that is not a JSON object: " +
                                  body_excerpt(body)),
                 "wechat_bad_answer");
  }
  const auto code = answer.body.find("errcode");
  if (code != answer.body.end()) {
    if (code->is_number_integer()) {
      answer.errcode = code->get<long>();
    } else if (code->is_string()) {  // wechatpy coerces it; so do we
      answer.errcode = std::strtol(code->get<std::string>().c_str(), nullptr, 10);
    }
  }
  const auto message = answer.body.find("errmsg");
  if (message != answer.body.end() && message->is_string()) answer.errmsg = *message;
  return answer;
}

Result<WechatSettings> parse_wechat_settings(const json& section, const std::string& path) {
  WechatSettings settings;
  FieldReader r(section, path);
  settings.api_base = read_http_url(r, "api_base", /*base=*/true);
  settings.appid = r.string("appid");
  if (r.ok() && (settings.appid.empty() || settings.appid.size() > 64 ||
                 !std::all_of(settings.appid.begin(), settings.appid.end(),
                              [](unsigned char c) { return std::isalnum(c) != 0; }))) {
    r.fail("appid", "must be the account's AppID (letters and digits, e.g. wx0123456789abcdef)");
  }
  settings.secret = r.secret("secret");
  const std::string mode = r.one_of("mode", {"auto", "publish", "broadcast"}, "auto");
  settings.mode = mode == "publish"     ? WechatMode::publish
                  : mode == "broadcast" ? WechatMode::broadcast
                                        : WechatMode::auto_select;
  settings.timeout =
      milliseconds(r.integer("timeout_ms", 1, kMaxTimeoutMs, settings.timeout.count()));
  settings.connect_timeout = milliseconds(
      r.integer("connect_timeout_ms", 1, kMaxTimeoutMs, settings.connect_timeout.count()));

  FieldReader token = r.child("token");
  settings.token_refresh_margin = milliseconds(
      token.integer("refresh_margin_ms", 0, 3600 * 1000, settings.token_refresh_margin.count()));
  settings.force_refresh_on_reject =
      token.boolean("force_refresh_on_reject", settings.force_refresh_on_reject);

  FieldReader publish = r.child("publish");
  settings.author = publish.string("author", "");
  if (wechat_length(settings.author) > 16) publish.fail("author", "must be at most 16 characters");
  settings.cover_file = publish.string("cover_file", "");
  if (const json* polls = publish.value("poll_ms")) {
    std::vector<milliseconds> waits;
    if (polls->is_array() && !polls->empty() && polls->size() <= 20) {
      for (const json& wait : *polls) {
        if (!wait.is_number_integer() || wait.get<long long>() < 1 ||
            wait.get<long long>() > 24LL * 3600 * 1000) {
          waits.clear();
          break;
        }
        waits.emplace_back(wait.get<long long>());
      }
    }
    if (waits.empty()) {
      publish.fail("poll_ms", "must be a list of 1 to 20 waits in ms (1 .. 86400000)");
    } else {
      settings.publish_poll = std::move(waits);
    }
  }
  settings.open_comment = publish.boolean("open_comment", settings.open_comment);

  FieldReader broadcast = r.child("broadcast");
  if (broadcast.has("tag_id")) {
    settings.tag_id = broadcast.integer("tag_id", 0, 1LL << 40);
  }
  settings.text_max_chars = static_cast<std::size_t>(
      broadcast.integer("max_chars", 40, 20000, static_cast<long long>(settings.text_max_chars)));

  FieldReader quota = r.child("quota");
  settings.quota.reset_utc_offset_minutes = static_cast<int>(quota.integer(
      "reset_utc_offset_minutes", -720, 840, settings.quota.reset_utc_offset_minutes));
  settings.quota.mass_quota_monthly =
      quota.one_of("mass_quota", {"day", "month"}, "day") == "month";
  settings.quota.publish_too_frequent_wait =
      milliseconds(quota.integer("publish_too_frequent_ms", 1000, 24LL * 3600 * 1000,
                                 settings.quota.publish_too_frequent_wait.count()));
  settings.quota.minute_wait = milliseconds(
      quota.integer("minute_wait_ms", 1000, 3600 * 1000, settings.quota.minute_wait.count()));

  if (r.ok() && !settings.cover_file.empty()) {
    std::ifstream in(settings.cover_file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) {
      publish.fail("cover_file", "cannot be read");
    } else if (bytes.empty() || bytes.size() > kMaxCoverBytes || image_type(bytes).empty()) {
      publish.fail("cover_file", "must be a bmp, png, jpeg or gif image of at most 10 MB");
    }
  }
  if (auto done = r.finish(); !done) return done.error();
  return settings;
}

std::string wechat_client_msg_id(const Delivery& delivery) {
  std::string key = delivery.idempotency_key();
  if (key.size() <= kMaxClientMsgIdBytes) return key;
  return "herald-" + sha256_hex(key).substr(0, 48);
}

WechatChannel::WechatChannel(WechatSettings settings, const Clock& clock, TokenCache* tokens,
                             HttpClientOptions http_options, OutboundIo* io)
    : Channel("wechat", io),
      settings_(std::move(settings)),
      clock_(clock),
      own_tokens_(tokens == nullptr ? std::make_unique<LocalTokenCache>(clock) : nullptr),
      tokens_(tokens == nullptr ? own_tokens_.get() : tokens),
      token_key_("wechat:" + settings_.appid),
      http_(this->io(), http_options),
      token_http_(std::move(http_options)) {
  if (!settings_.cover_file.empty()) {
    std::ifstream in(settings_.cover_file, std::ios::binary);
    cover_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (cover_.empty() || image_type(cover_).empty()) {
    cover_.assign(reinterpret_cast<const char*>(kDefaultCover), sizeof kDefaultCover);
  }
  cover_type_ = image_type(cover_);
  cover_name_ = "cover." + extension_for(cover_type_);
  cover_key_ = token_key_ + ":cover:" + sha256_hex(cover_).substr(0, 16);
}

HttpRequest WechatChannel::post_request(const std::string& url, const std::string& body,
                                        const std::string& content_type) const {
  HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.connect_timeout = settings_.connect_timeout;
  request.total_timeout = settings_.timeout;
  request.headers = {{"Content-Type", content_type}};
  request.body = body;
  return request;
}

Task<Result<WechatChannel::Answer>> WechatChannel::post(const std::string& url,
                                                        const std::string& body,
                                                        const std::string& content_type) {
  co_return read_answer(co_await http_.send(post_request(url, body, content_type)), false);
}

Result<WechatChannel::Answer> WechatChannel::read_answer(const Result<HttpResponse>& response,
                                                         bool token_endpoint) const {
  const auto excerpt = [token_endpoint](const std::string& text) {
    return token_endpoint ? std::string("(the body of a token answer is not shown)")
                          : body_excerpt(text);
  };
  if (!response) return response.error();
  // WeChat answers every error with HTTP 200 and an errcode (§2.1); another status comes from
  // something in between (a proxy, an outage).
  if (response->status == 429) {
    return coded(Error::deferred("WeChat answered HTTP 429",
                                 parse_retry_after(response->header("retry-after"), clock_.now())
                                     .value_or(settings_.quota.minute_wait)),
                 "http_429");
  }
  if (response->status >= 500) {
    // WeChat itself answers errors with 200: a 5xx came from in between, maybe after WeChat
    // acted on the request.
    return coded(Error::ambiguous("WeChat answered HTTP " + std::to_string(response->status) +
                                  ": " + excerpt(response->body)),
                 "http_" + std::to_string(response->status));
  }
  if (response->status == 408) {
    return coded(Error::retryable("WeChat answered HTTP 408: " + excerpt(response->body)),
                 "http_408");
  }
  if (response->status != 200) {
    return coded(Error::permanent("WeChat answered HTTP " + std::to_string(response->status) +
                                  ": " + excerpt(response->body)),
                 "http_" + std::to_string(response->status));
  }
  return parse_wechat_answer(response->body);
}

Result<CachedToken> WechatChannel::fetch_token(bool force) {
  const json body = {{"grant_type", "client_credential"},
                     {"appid", settings_.appid},
                     {"secret", settings_.secret},
                     {"force_refresh", force}};
  // Blocking: the token cache calls this under its lock, from the blocking pool (see
  // access_token), so it uses a client of its own rather than the loop's.
  auto answer =
      read_answer(token_http_.send(post_request(settings_.api_base + "/cgi-bin/stable_token",
                                                body.dump(), "application/json")),
                  /*token_endpoint=*/true);
  if (!answer) return answer.error();
  if (answer->errcode != 0) {
    auto classified = classify_wechat_error(answer->errcode, answer->errmsg, "stable_token",
                                            clock_.now(), settings_.quota, true);
    if (!classified) return classified.error();
  }
  const auto token = answer->body.find("access_token");
  const auto expires = answer->body.find("expires_in");
  // Say what was missing or malformed, never what the answer held: it may hold the token.
  std::vector<std::string> problems;
  if (token == answer->body.end()) {
    problems.push_back("no access_token");
  } else if (!token->is_string() || token->get<std::string>().empty()) {
    problems.push_back("access_token not a non-empty string");
  }
  if (expires == answer->body.end()) {
    problems.push_back("no expires_in");
  } else if (!expires->is_number_integer() || expires->get<long long>() <= 0) {
    problems.push_back("expires_in not a positive integer");
  }
  if (!problems.empty()) {
    std::string what;
    for (const auto& problem : problems) what += (what.empty() ? "" : ", ") + problem;
    return coded(Error::retryable("stable_token answered without a usable token (" + what + ")"),
                 "wechat_bad_answer");
  }
  const milliseconds life(expires->get<long long>() * 1000);
  // Early, but never in the second half of the token's life: stable_token may hand out a token
  // with only 300 s left (§2.2), and a margin as long as that would refetch on every call.
  const milliseconds early = std::max(life - settings_.token_refresh_margin, life / 2);
  const TimePoint now = clock_.now();
  spdlog::info("wechat: new access token for {} (expires in {} s{})", settings_.appid,
               expires->get<long long>(), force ? ", forced" : "");
  return CachedToken{token->get<std::string>(), now + life, now + early};
}

// A refresh waits for the token cache's lock (another heraldd may be fetching) and then for
// stable_token: both block, so they run on the blocking pool, not on the loop.
Task<Result<std::string>> WechatChannel::access_token() {
  auto cached = tokens_->get(token_key_);
  if (!cached) co_return cached.error();
  if (*cached) {
    if (clock_.now() < (*cached)->refresh_at) co_return (*cached)->value;
    const std::string current = (*cached)->value;
    auto renewed = co_await io().offload([&] {
      return tokens_->refresh(token_key_, current, [this] { return fetch_token(false); });
    });
    if (renewed) co_return renewed->value;
    // The old token is still valid for a while: publish with it, refresh on the next call.
    spdlog::warn("wechat: early token refresh failed ({}); using the current token",
                 renewed.error().message);
    co_return current;
  }
  auto fetched = co_await io().offload(
      [&] { return tokens_->refresh(token_key_, "", [this] { return fetch_token(false); }); });
  if (!fetched) co_return fetched.error();
  co_return fetched->value;
}

Task<Result<std::string>> WechatChannel::replace_rejected(const std::string& failed) {
  auto renewed = co_await io().offload([&] {
    return tokens_->refresh(token_key_, failed, [&]() -> Result<CachedToken> {
      auto fresh = fetch_token(false);
      // A normal call hands back the platform's current token; if that is the refused one, only
      // a forced refresh gives another (limited to 20 a day, hence once per refusal at most).
      if (fresh && fresh->value == failed && settings_.force_refresh_on_reject) {
        return fetch_token(true);
      }
      return fresh;
    });
  });
  if (!renewed) co_return renewed.error();
  co_return renewed->value;
}

Task<Result<WechatChannel::Answer>> WechatChannel::call(const std::string& resource,
                                                        const std::string& body,
                                                        const std::string& content_type,
                                                        const std::string& query) {
  auto token = co_await access_token();
  if (!token) co_return token.error();
  for (int round = 0;; ++round) {
    auto answer = co_await post(
        settings_.api_base + "/cgi-bin/" + resource + "?access_token=" + *token + query, body,
        content_type);
    if (!answer || round > 0 || !is_refresh_code(answer->errcode)) co_return answer;
    spdlog::info("wechat: {} refused the access token (errcode {}); refreshing once", resource,
                 answer->errcode);
    token = co_await replace_rejected(*token);
    if (!token) co_return token.error();
  }
}

Result<void> WechatChannel::check(const Answer& answer, const std::string& api) {
  if (answer.errcode == 0) return ok();
  return classify_wechat_error(answer.errcode, answer.errmsg, api, clock_.now(), settings_.quota);
}

Task<Result<PublishReceipt>> WechatChannel::do_publish(const Delivery& delivery) {
  const json item = json::parse(delivery.payload, nullptr, false);
  if (!item.is_object()) {
    co_return coded(Error::permanent("delivery " + delivery.id + ": payload is not a JSON object"),
                    "bad_payload");
  }
  bool as_broadcast = settings_.mode == WechatMode::broadcast;
  if (settings_.mode == WechatMode::auto_select) {
    const auto kind = item.find("kind");
    as_broadcast = kind != item.end() && kind->is_string() && *kind == "alert";
  }
  // Not a conditional expression: GCC 12 destroys a co_await's temporary twice in one.
  if (as_broadcast) co_return co_await broadcast(delivery, item);
  co_return co_await publish_article(delivery, item);
}

Task<Result<PublishReceipt>> WechatChannel::broadcast(const Delivery& delivery, const json& item) {
  auto text = render_wechat_text(item, settings_.text_max_chars);
  if (!text) co_return text.error();
  json filter = {{"is_to_all", !settings_.tag_id.has_value()}};
  if (settings_.tag_id) filter["tag_id"] = *settings_.tag_id;
  const json body = {{"filter", filter},
                     {"msgtype", "text"},
                     {"text", {{"content", *text}}},
                     {"clientmsgid", wechat_client_msg_id(delivery)}};
  auto answer = co_await call("message/mass/sendall", body.dump());
  if (!answer) co_return answer.error();
  // 45065: this clientmsgid was sent already, i.e. by our own earlier attempt (§2.6).
  if (answer->errcode != 0 && answer->errcode != kMassDuplicate) {
    auto checked = check(*answer, "message/mass/sendall");
    if (!checked) co_return checked.error();
  }
  const std::string msg_id = id_text(answer->body, "msg_id");
  if (msg_id.empty()) {
    if (answer->errcode == kMassDuplicate) co_return PublishReceipt{std::string(kMassPrefix)};
    co_return coded(Error::retryable("sendall answered without a msg_id: " +
                                     body_excerpt(answer->body.dump(), 120)),
                    "wechat_bad_answer");
  }
  co_return PublishReceipt{std::string(kMassPrefix) + msg_id};
}

Task<Result<std::string>> WechatChannel::cover_media_id() {
  // Through the token cache's refresh: one instance uploads, the others wait and reuse its
  // media_id; the upload is "refreshed" only when a draft says the media_id is invalid.
  // The refresh blocks (its lock, then the upload), so it runs on the blocking pool and waits
  // there for the upload, which runs on the loop.
  auto cover = co_await io().offload([this] {
    return tokens_->refresh(cover_key_, "", [this]() -> Result<CachedToken> {
      const std::string boundary = random_boundary();
      std::string body = "--" + boundary +
                         "\r\nContent-Disposition: form-data; name=\"media\"; filename=\"" +
                         cover_name_ + "\"\r\nContent-Type: " + cover_type_ + "\r\n\r\n" + cover_ +
                         "\r\n--" + boundary + "--\r\n";
      auto answer = io().run(call("material/add_material", body,
                                  "multipart/form-data; boundary=" + boundary, "&type=image"));
      if (!answer) return answer.error();
      if (auto checked = check(*answer, "material/add_material"); !checked) return checked.error();
      const std::string media_id = id_text(answer->body, "media_id");
      if (media_id.empty()) {
        return coded(Error::retryable("add_material answered without a media_id"),
                     "wechat_bad_answer");
      }
      const TimePoint now = clock_.now();
      return CachedToken{media_id, now + kCoverTtl, now + kCoverTtl};
    });
  });
  if (!cover) co_return cover.error();
  co_return cover->value;
}

Error WechatChannel::pending(const json& job) const {
  const auto polls = static_cast<std::size_t>(job.value("polls", 0));
  const milliseconds wait =
      settings_.publish_poll[std::min(polls, settings_.publish_poll.size() - 1)];
  const std::string publish_id = job.value("publish_id", std::string());
  return coded(Error::deferred("article submitted" +
                                   (publish_id.empty() ? "" : " (publish_id " + publish_id + ")") +
                                   "; WeChat publishes it by itself, checking again in " +
                                   std::to_string(wait.count()) + " ms",
                               wait, DeferReason::processing),
               "wechat_publishing");
}

Task<Result<json>> WechatChannel::batch_page(const std::string& api, int page, bool with_content) {
  const std::string request = json{
      {"offset", page * kBatchPage},
      {"count", kBatchPage},
      {"no_content",
       with_content ? 0 : 1}}.dump();
  auto answer = co_await call(api, request);
  if (!answer) co_return answer.error();
  if (auto checked = check(*answer, api); !checked) co_return checked.error();
  const auto items = answer->body.find("item");
  if (items == answer->body.end()) co_return json::array();  // an empty box or list
  if (!items->is_array()) {
    co_return coded(Error::retryable(api + " answered an item that is not a list"),
                    "wechat_bad_answer");
  }
  co_return std::move(*items);
}

Result<PublishReceipt> WechatChannel::published(const std::string& job_key, json job,
                                                const std::string& article_id) {
  // The job keeps the article id rather than going away: should this attempt's ack be lost (the
  // worker dies now), the next attempt answers from it instead of starting a second article.
  job["article_id"] = article_id;
  if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
    return saved.error();
  }
  return PublishReceipt{std::string(kArticlePrefix) + article_id};
}

Task<Result<bool>> WechatChannel::draft_in_box(const std::string& media_id) {
  for (int page = 0; page < kDraftPages; ++page) {
    auto items = co_await batch_page("draft/batchget", page, /*with_content=*/false);
    if (!items) co_return items.error();
    for (const json& entry : *items) {
      if (entry.is_object() && id_text(entry, "media_id") == media_id) co_return true;
    }
    if (items->size() < static_cast<std::size_t>(kBatchPage)) break;
  }
  co_return false;
}

Task<Result<std::optional<std::string>>> WechatChannel::published_article(
    const std::string& marker) {
  auto carries = [&](const json& news, const char* field) {
    const auto value = news.find(field);
    return value != news.end() && value->is_string() &&
           value->get_ref<const std::string&>().find(marker) != std::string::npos;
  };
  for (int page = 0; page < kPublishedPages; ++page) {
    auto items = co_await batch_page("freepublish/batchget", page, /*with_content=*/true);
    if (!items) co_return items.error();
    for (const json& entry : *items) {
      if (!entry.is_object() || !entry.contains("content")) continue;
      const json& content = entry["content"];
      const auto news = content.is_object() ? content.find("news_item") : content.end();
      if (!content.is_object() || news == content.end() || !news->is_array()) continue;
      for (const json& article : *news) {
        if (article.is_object() &&
            (carries(article, "content_source_url") || carries(article, "content"))) {
          co_return std::optional<std::string>(id_text(entry, "article_id"));
        }
      }
    }
    if (items->size() < static_cast<std::size_t>(kBatchPage)) break;
  }
  co_return std::optional<std::string>();
}

Task<Result<PublishReceipt>> WechatChannel::resolve_submit(const Delivery& delivery,
                                                           const std::string& job_key, json job) {
  const std::string draft = job.value("draft", std::string());
  auto found = co_await published_article(delivery.marker());
  if (!found) co_return found.error();
  if (*found && !(*found)->empty()) co_return published(job_key, std::move(job), **found);
  auto in_box = co_await draft_in_box(draft);
  if (!in_box) co_return in_box.error();
  if (*in_box) {
    // Never submitted: the draft is still in the box, so submitting now is the first time.
    job.erase("submitting");
    if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
      co_return saved.error();
    }
    co_return co_await submit(delivery, job_key, std::move(job));
  }
  // The draft left the box, so WeChat took it; it is not among the published articles yet.
  job["polls"] = job.value("polls", 0) + 1;
  if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
    co_return saved.error();
  }
  co_return pending(job);
}

Task<Result<PublishReceipt>> WechatChannel::submit(const Delivery& delivery,
                                                   const std::string& job_key, json job) {
  // The mark goes to Redis before the call: whoever holds this job next, after a timeout or a
  // crash, knows the draft may be consumed and looks instead of submitting it blind.
  job["submitting"] = true;
  if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
    co_return saved.error();
  }
  const std::string request = json{{"media_id", job["draft"]}}.dump();
  auto answer = co_await call("freepublish/submit", request);
  if (!answer) co_return answer.error();
  if (answer->errcode == kInvalidMediaId) {
    // Our own draft, refused as unknown: consumed by an earlier submit we never heard back from.
    co_return co_await resolve_submit(delivery, job_key, std::move(job));
  }
  if (auto checked = check(*answer, "freepublish/submit"); !checked) {
    // Refused before anything was taken: the draft is still ours to submit.
    job.erase("submitting");
    (void)tokens_->set_value(job_key, job.dump(), kJobTtl);
    co_return checked.error();
  }
  const std::string publish_id = id_text(answer->body, "publish_id");
  if (publish_id.empty()) {
    co_return coded(Error::ambiguous("freepublish/submit answered without a publish_id"),
                    "wechat_bad_answer");
  }
  job["publish_id"] = publish_id;
  job["polls"] = 0;
  job.erase("submitting");
  if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
    co_return saved.error();
  }
  co_return pending(job);
}

Task<Result<PublishReceipt>> WechatChannel::publish_article(const Delivery& delivery,
                                                            const json& item) {
  // A publication spans several attempts (submit, then freepublish/get later), so where it stands
  // is kept with the token: a retry, on any instance, continues instead of starting over.
  const std::string job_key = token_key_ + ":job:" + delivery.id;
  auto stored = tokens_->get_value(job_key);
  if (!stored) co_return stored.error();
  json job = json::object();
  if (*stored) {
    job = json::parse(**stored, nullptr, false);
    if (!job.is_object()) job = json::object();
  }
  auto save = [&]() { return tokens_->set_value(job_key, job.dump(), kJobTtl); };
  // Published already, by an attempt whose ack never arrived (its worker died after it learnt).
  if (job.contains("article_id")) {
    co_return PublishReceipt{std::string(kArticlePrefix) + job.value("article_id", std::string())};
  }
  if (job.contains("publish_id") || job.contains("submitting")) {
    // WeChat has (or may have) the article: what is left is finding out, and failing to find
    // out is no reason to give up on it. A check that fails in transit waits like "still
    // publishing" (bounded by the channel's processing limit) rather than spending attempts.
    // Not a conditional expression: GCC 12 destroys a co_await's temporary twice in one.
    Result<PublishReceipt> checked = Error::permanent("not checked");
    if (job.contains("publish_id")) {
      checked = co_await poll(delivery, job_key, std::move(job));
    } else {
      checked = co_await resolve_submit(delivery, job_key, std::move(job));
    }
    if (!checked && (checked.error().kind == ErrorKind::retryable ||
                     checked.error().kind == ErrorKind::ambiguous)) {
      Error error = checked.error();
      error.kind = ErrorKind::deferred;
      error.defer_reason = DeferReason::processing;
      co_return error;
    }
    co_return checked;
  }

  if (!job.contains("draft")) {
    auto article = render_wechat_article(item, settings_.author);
    if (!article) co_return article.error();
    // The delivery's marker rides in the article, so a read-back of the published list finds
    // exactly this delivery's article (§5A).
    const std::string marker = delivery.marker();
    if (!article->content_source_url.empty()) {
      article->content_source_url = with_marker(article->content_source_url, marker);
    }
    article->content += "<!--" + marker + "-->";
    auto thumb = co_await cover_media_id();
    if (!thumb) co_return thumb.error();
    json entry = {
        {"article_type", "news"},      {"title", article->title},
        {"author", article->author},   {"digest", article->digest},
        {"content", article->content}, {"content_source_url", article->content_source_url},
        {"thumb_media_id", *thumb},    {"need_open_comment", settings_.open_comment ? 1 : 0},
        {"only_fans_can_comment", 0}};
    const std::string request = json{{"articles", json::array({entry})}}.dump();
    auto answer = co_await call("draft/add", request);
    if (!answer) co_return answer.error();
    if (answer->errcode == 40007) {
      // The cached cover may have been deleted from the library: upload it again next time.
      (void)tokens_->invalidate(cover_key_, *thumb);
    }
    if (auto checked = check(*answer, "draft/add"); !checked) co_return checked.error();
    const std::string draft = id_text(answer->body, "media_id");
    if (draft.empty()) {
      co_return coded(Error::retryable("draft/add answered without a media_id"),
                      "wechat_bad_answer");
    }
    job["draft"] = draft;
    if (auto saved = save(); !saved) co_return saved.error();
  }

  co_return co_await submit(delivery, job_key, std::move(job));
}

Task<Result<PublishReceipt>> WechatChannel::poll(const Delivery& delivery,
                                                 const std::string& job_key, json job) {
  // freepublish/get has a small daily quota (§2.5: 100). Once it is spent, the published list
  // (freepublish/batchget) tells the same for an article WeChat has published, so the job reads
  // that instead of waiting a day.
  // A coroutine lambda: safe with [&] because it is awaited at once, while poll's frame lives.
  auto read_back = [&]() -> Task<Result<PublishReceipt>> {
    auto found = co_await published_article(delivery.marker());
    if (!found) co_return found.error();
    if (*found && !(*found)->empty()) co_return published(job_key, std::move(job), **found);
    job["polls"] = job.value("polls", 0) + 1;
    if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
      co_return saved.error();
    }
    co_return pending(job);
  };
  if (job.value("read_back", false)) co_return co_await read_back();
  const std::string publish_id = job.value("publish_id", std::string());
  const std::string request = json{{"publish_id", publish_id}}.dump();
  auto answer = co_await call("freepublish/get", request);
  if (!answer) co_return answer.error();
  if (answer->errcode == 53502) (void)tokens_->erase_value(job_key);  // unknown publish_id
  if (auto checked = check(*answer, "freepublish/get"); !checked) {
    if (checked.error().kind != ErrorKind::deferred) co_return checked.error();
    job["read_back"] = true;
    co_return co_await read_back();
  }
  const auto status = answer->body.find("publish_status");
  if (status == answer->body.end() || !status->is_number_integer()) {
    co_return coded(Error::retryable("freepublish/get answered without a publish_status"),
                    "wechat_bad_answer");
  }
  const long code = status->get<long>();
  if (code == 1) {  // still publishing
    job["polls"] = job.value("polls", 0) + 1;
    if (auto saved = tokens_->set_value(job_key, job.dump(), kJobTtl); !saved) {
      co_return saved.error();
    }
    co_return pending(job);
  }
  if (code == 0) {
    const std::string article_id = id_text(answer->body, "article_id");
    if (article_id.empty()) {
      (void)tokens_->erase_value(job_key);
      co_return coded(Error::permanent("publish_id " + publish_id +
                                       " was published but WeChat gave no article_id; check the "
                                       "account and record it by hand"),
                      "wechat_no_article_id");
    }
    co_return published(job_key, std::move(job), article_id);
  }
  // Failed for good: a replay starts again with a new draft.
  (void)tokens_->erase_value(job_key);
  // §2.5: 2 原创失败, 3 常规失败, 4 平台审核不通过 (PERM); 5 user deleted all, 6 system banned
  // (OPS).
  static constexpr const char* kMeaning[] = {"",
                                             "",
                                             "originality check failed",
                                             "publishing failed",
                                             "refused by the platform's review",
                                             "deleted by the account's user",
                                             "banned by the system; an operator must act"};
  const std::string meaning = code >= 2 && code <= 6 ? kMeaning[code] : "unknown status";
  const auto fail_idx = answer->body.find("fail_idx");
  co_return coded(Error::permanent("publish_id " + publish_id + ": publish_status " +
                                   std::to_string(code) + " (" + meaning + ")" +
                                   (fail_idx != answer->body.end() && !fail_idx->empty()
                                        ? ", fail_idx " + fail_idx->dump()
                                        : "")),
                  "wechat_publish_status_" + std::to_string(code));
}

Task<Result<void>> WechatChannel::do_recall(const Delivery& /*delivery*/,
                                            const std::string& remote_id) {
  auto unknown = [&] {
    return coded(Error::permanent("WeChat remote id '" + remote_id +
                                  "' names nothing to withdraw; delete it in the console"),
                 "remote_id_unknown");
  };
  if (remote_id.rfind(kArticlePrefix, 0) == 0 && remote_id.size() > kArticlePrefix.size()) {
    const std::string article_id = remote_id.substr(kArticlePrefix.size());
    // index 0: every article of the publication (ours has one).
    const std::string request = json{{"article_id", article_id}, {"index", 0}}.dump();
    auto answer = co_await call("freepublish/delete", request);
    if (!answer) co_return answer.error();
    if (answer->errcode == kArticleMissing) co_return ok();
    co_return check(*answer, "freepublish/delete");
  }
  if (remote_id.rfind(kMassPrefix, 0) == 0 && remote_id.size() > kMassPrefix.size()) {
    const std::string msg_id = remote_id.substr(kMassPrefix.size());
    if (!std::all_of(msg_id.begin(), msg_id.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; }) ||
        msg_id.size() > 18) {
      co_return unknown();
    }
    const std::string request = json{{"msg_id", std::stoll(msg_id)}, {"article_idx", 0}}.dump();
    auto answer = co_await call("message/mass/delete", request);
    if (!answer) co_return answer.error();
    co_return check(*answer, "message/mass/delete");
  }
  co_return unknown();
}

Task<Result<PlatformListing>> WechatChannel::do_list_published(
    TimePoint from, TimePoint to, const std::vector<HeldDelivery>& held) {
  // 5000 pages is 100 000 articles, WeChat's own cap on an account's news library (§2.3).
  constexpr int kMaxPages = 5000;
  // What mass/get answers for a msg_id it does not know (herald-sim; the reference names no
  // code for it, unverified on the real platform).
  constexpr long kUnknownMsgId = 47001;
  PlatformListing listing;
  bool complete = false;
  for (int page = 0; page < kMaxPages && !complete; ++page) {
    auto items = co_await batch_page("freepublish/batchget", page, /*with_content=*/true);
    if (!items) co_return items.error();
    for (const json& entry : *items) {
      if (!entry.is_object()) continue;
      const std::string article_id = id_text(entry, "article_id");
      const json content = entry.value("content", json::object());
      long long seconds = 0;
      for (const json* holder : {&entry, &content}) {
        const auto t = holder->find("update_time");
        if (t != holder->end() && t->is_number_integer()) seconds = t->get<long long>();
      }
      const TimePoint at = from_unix_ms(seconds * 1000);
      if (at < from) {
        complete = true;  // newest first: the rest is older still
        continue;
      }
      if (at > to || article_id.empty()) continue;
      PlatformRecord record{std::string(kArticlePrefix) + article_id, "", at, true};
      const auto news = content.is_object() ? content.find("news_item") : content.end();
      if (news != content.end() && news->is_array()) {
        for (const json& article : *news) {
          if (!article.is_object()) continue;
          for (const char* field : {"content_source_url", "content"}) {
            if (record.marker.empty() && article.contains(field) && article[field].is_string()) {
              record.marker = marker_in(article[field].get_ref<const std::string&>());
            }
          }
          // A publication is withdrawn when every article in it was deleted.
          if (!article.value("is_deleted", false)) record.withdrawn = false;
        }
      }
      if (news == content.end() || !news->is_array() || news->empty()) record.withdrawn = false;
      listing.records.push_back(std::move(record));
    }
    if (items->size() < static_cast<std::size_t>(kBatchPage)) complete = true;
  }
  if (!complete) {
    listing.notes.push_back("freepublish/batchget still had articles after " +
                            std::to_string(kMaxPages) + " pages; older ones were not read");
    listing.complete_from = listing.records.empty() ? to : *listing.records.back().at;
  }

  int asked = 0;
  for (const HeldDelivery& d : held) {
    if (d.remote_id.rfind(kMassPrefix, 0) != 0) continue;
    const std::string msg_id = d.remote_id.substr(kMassPrefix.size());
    if (msg_id.empty() || msg_id.size() > 18 ||
        !std::all_of(msg_id.begin(), msg_id.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; })) {
      listing.unverifiable.push_back(d.delivery_id);
      continue;
    }
    const std::string request = json{{"msg_id", std::stoll(msg_id)}}.dump();
    auto answer = co_await call("message/mass/get", request);
    if (!answer) co_return answer.error();
    ++asked;
    if (answer->errcode == kUnknownMsgId) continue;  // not there: absent
    if (auto checked = check(*answer, "message/mass/get"); !checked) co_return checked.error();
    const std::string status = answer->body.value("msg_status", "");
    // SEND_FAIL and the like reached nobody: absent, as if never sent.
    if (status == "SEND_SUCCESS" || status == "SENDING") {
      listing.records.push_back({d.remote_id, "", std::nullopt, false});
    } else if (status == "DELETE") {
      listing.records.push_back({d.remote_id, "", std::nullopt, true});
    }
  }
  listing.notes.push_back(
      "broadcasts: WeChat lists no mass sends, so only the " + std::to_string(asked) +
      " Herald holds were checked (message/mass/get); one sent outside Herald, or a dead letter "
      "that went out anyway, cannot be seen");
  co_return listing;
}

Result<ChannelPtr> make_wechat_channel(const json& section, const std::string& path,
                                       ChannelDeps& deps) {
  auto settings = parse_wechat_settings(section, path);
  if (!settings) return settings.error();
  return ChannelPtr(std::make_unique<WechatChannel>(
      std::move(*settings), deps.clock, deps.token_cache, HttpClientOptions{}, deps.io));
}

}  // namespace herald
