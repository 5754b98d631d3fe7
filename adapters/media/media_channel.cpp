#include "adapters/media/media_channel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>

#include "adapters/url.h"
#include "core/json_fields.h"
#include "core/redact.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;
constexpr std::int64_t kMaxEntries = 1000;
constexpr std::string_view kAtStep = "at:";
constexpr std::string_view kRemotePrefix = "feeds:";
// How much longer than its own timeout a push step stays held (FeedStore::hold_step).
constexpr std::chrono::milliseconds kHoldMargin{5000};

bool is_feed_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '-' || c == '_';
         });
}

std::string host_of(const std::string& url) {
  const auto start = url.find("://");
  if (start == std::string::npos) return url;
  const auto host_start = start + 3;
  const auto end = url.find_first_of(":/?#", host_start);
  return url.substr(host_start, end == std::string::npos ? std::string::npos : end - host_start);
}

Error with_code(Error error, std::string code) {
  error.code = std::move(code);
  return error;
}

// The most urgent kind wins: anything to retry makes the delivery come back (and then only what
// is left is done); only when every failure is permanent is the delivery dead.
struct Failures {
  std::vector<Error> errors;

  void add(Error error) { errors.push_back(std::move(error)); }
  Result<void> result() const {
    if (errors.empty()) return ok();
    const Error* chosen = &errors.front();
    for (const Error& e : errors) {
      if (e.kind != ErrorKind::permanent && chosen->kind == ErrorKind::permanent) chosen = &e;
    }
    Error out = *chosen;
    if (errors.size() > 1) {
      out.message.clear();
      for (const Error& e : errors) {
        out.message += (out.message.empty() ? "" : "; ") + e.message;
      }
    }
    return out;
  }
};

// A drill reaches the media channel only when its drills are "marked" (CAP status Exercise is
// not enough: feed readers and e-mail show the title): every text it carries starts with the mark.
Item drill_marked(Item item) {
  if (item.status != "exercise") return item;
  const std::string mark(kDrillPrefix);
  item.title = mark + item.title;
  if (!item.summary.empty()) item.summary = mark + item.summary;
  if (!item.body.empty()) item.body = mark + item.body;
  return item;
}

std::string email_text(const Item& item, const std::string& cap_link) {
  std::string text = item.title + "\n\n";
  if (!item.summary.empty()) text += item.summary + "\n\n";
  if (!item.body.empty()) text += item.body + "\n\n";
  if (!item.link.empty()) text += "全文:" + item.link + "\n";
  if (!cap_link.empty()) text += "CAP:" + cap_link + "\n";
  return text;
}

}  // namespace

bool MediaFeedSettings::accepts(const std::string& kind, const std::string& category) const {
  return (kinds.empty() || kinds.count(kind) != 0) &&
         (categories.empty() || categories.count(category) != 0);
}

FeedInfo MediaSettings::feed_info(const MediaFeedSettings& feed) const {
  FeedInfo info;
  info.name = feed.name;
  info.title = feed.title;
  info.description = feed.description;
  info.author = author;
  info.public_base_url = public_base_url;
  info.hub = websub_hub;
  return info;
}

FeedInfo MediaSettings::cap_feed_info() const {
  FeedInfo info;
  info.name = kCapFeedName;
  info.title = author + " 海外安全提醒 (CAP)";
  info.description = "CAP 1.2 alerts";
  info.author = author;
  info.public_base_url = public_base_url;
  info.hub = websub_hub;
  info.cap_feed = true;
  return info;
}

Result<MediaSettings> parse_media_settings(const json& section, const std::string& path) {
  MediaSettings s;
  FieldReader r(section, path);
  s.public_base_url = read_http_url(r, "public_base_url", /*base=*/true);
  s.author = r.string("author", "Herald");

  FieldReader cap = r.child("cap");
  s.cap_sender = cap.string("sender", "herald@" + host_of(s.public_base_url));
  // CAP 1.2: sender must not contain spaces, commas or the XML specials.
  if (r.ok() &&
      (s.cap_sender.empty() || s.cap_sender.find_first_of(" ,<&\t\r\n") != std::string::npos)) {
    cap.fail("sender", "must be non-empty without spaces, commas, '<' or '&' (CAP 1.2)");
  }
  s.cap_max_entries = static_cast<std::size_t>(cap.integer("max_entries", 1, kMaxEntries, 50));

  std::set<std::string> names;
  for (FieldReader& f : r.children("feeds")) {
    MediaFeedSettings feed;
    feed.name = f.string("name");
    if (f.ok() && !is_feed_name(feed.name)) {
      f.fail("name", "must be 1..64 characters of a-z, 0-9, '-' and '_'");
    } else if (f.ok() && !names.insert(feed.name).second) {
      f.fail("name", "'" + feed.name + "' is used by another feed");
    }
    feed.title = f.string("title");
    feed.description = f.string("description", "");
    const auto kinds = f.strings("kinds", {});
    for (std::size_t i = 0; i < kinds.size() && f.ok(); ++i) {
      if (kinds[i] != "publication" && kinds[i] != "alert") {
        f.fail_at(index_path(f.path_of("kinds"), i), "must be \"publication\" or \"alert\"");
      }
      feed.kinds.insert(kinds[i]);
    }
    const auto categories = f.strings("categories", {});
    for (std::size_t i = 0; i < categories.size() && f.ok(); ++i) {
      if (!category_from_string(categories[i])) {
        f.fail_at(index_path(f.path_of("categories"), i), "is not a known category");
      }
      feed.categories.insert(categories[i]);
    }
    feed.max_entries = static_cast<std::size_t>(f.integer("max_entries", 1, kMaxEntries, 50));
    s.feeds.push_back(std::move(feed));
  }

  if (r.has("websub")) {
    FieldReader w = r.child("websub");
    s.websub_hub = read_http_url(w, "hub");
    s.websub_timeout = std::chrono::milliseconds(w.integer("timeout_ms", 1, kMaxTimeoutMs, 10000));
  }

  if (r.has("smtp")) {
    FieldReader m = r.child("smtp");
    MediaSmtpSettings smtp;
    smtp.options.url = m.string("url");
    if (m.ok() && smtp.options.url.rfind("smtp://", 0) != 0 &&
        smtp.options.url.rfind("smtps://", 0) != 0) {
      m.fail("url", "must be an smtp:// or smtps:// URL");
    }
    // A password in the URL would be printed wherever the URL is, and would bypass the check
    // below; credentials have keys of their own.
    if (m.ok()) {
      const std::string_view rest =
          std::string_view(smtp.options.url).substr(smtp.options.url.find("://") + 3);
      if (rest.substr(0, rest.find('/')).find('@') != std::string_view::npos) {
        m.fail("url",
               "must not carry credentials (user@ or user:password@); use \"username\" "
               "and \"password\" or \"password_file\"");
      }
    }
    smtp.from = m.string("from");
    if (m.ok() && smtp.from.find('@') == std::string::npos) {
      m.fail("from", "must be an e-mail address");
    }
    smtp.to = m.strings("to");
    if (m.ok() && smtp.to.empty()) m.fail("to", "must name at least one recipient");
    for (std::size_t i = 0; i < smtp.to.size() && m.ok(); ++i) {
      if (smtp.to[i].find('@') == std::string::npos ||
          smtp.to[i].find_first_of(" <>\r\n") != std::string::npos) {
        m.fail_at(index_path(m.path_of("to"), i), "must be a plain e-mail address");
      }
    }
    smtp.options.starttls = m.boolean("starttls", false);
    smtp.options.username = m.string("username", "");
    smtp.options.password = m.optional_secret("password").value_or("");
    // Credentials over plain smtp:// would cross the network readable unless STARTTLS is
    // required (CURLUSESSL_ALL: no TLS, no AUTH); smtps:// is TLS from the first byte.
    if (m.ok() && (!smtp.options.username.empty() || !smtp.options.password.empty()) &&
        smtp.options.url.rfind("smtp://", 0) == 0 && !smtp.options.starttls) {
      m.fail(smtp.options.password.empty() ? "username" : "password",
             "credentials over smtp:// need \"starttls\": true (or an smtps:// url): they would "
             "otherwise be sent unencrypted");
    }
    smtp.options.timeout =
        std::chrono::milliseconds(m.integer("timeout_ms", 1, kMaxTimeoutMs, 10000));
    s.smtp = std::move(smtp);
  }

  // Each webhook is a channels.webhook section, read by the webhook channel's own parser.
  if (const json* hooks = r.value("webhooks"); hooks != nullptr) {
    if (!hooks->is_array()) {
      r.fail("webhooks", "expected an array, got " + json_type_name(*hooks));
    } else {
      for (std::size_t i = 0; i < hooks->size() && r.ok(); ++i) {
        auto hook = parse_webhook_settings((*hooks)[i], index_path(r.path_of("webhooks"), i));
        if (!hook) return hook.error();
        s.webhooks.push_back(std::move(*hook));
      }
    }
  }
  if (auto done = r.finish(); !done) return done.error();
  return s;
}

Result<void> classify_websub_response(long status, std::string_view body) {
  if (status >= 200 && status <= 299) return ok();
  std::string message = "WebSub hub answered HTTP " + std::to_string(status);
  if (!body.empty()) message += ": " + body_excerpt(body, 200);
  ErrorKind kind = ErrorKind::permanent;
  if (status == 429) kind = ErrorKind::deferred;
  if (status == 408 || (status >= 500 && status <= 599)) kind = ErrorKind::retryable;
  return with_code(Error(kind, std::move(message)), "websub_" + std::to_string(status));
}

MediaChannel::MediaChannel(MediaSettings settings, FeedStore* store, const Clock& clock,
                           HttpClientOptions http_options, OutboundIo* io)
    : Channel("media", io),
      settings_(std::move(settings)),
      store_(store),
      clock_(clock),
      http_(http_options),
      holder_prefix_("media-" + std::to_string(std::random_device{}()) + "-") {
  for (const auto& hook : settings_.webhooks) {
    webhooks_.push_back(std::make_unique<WebhookChannel>(hook, clock_, http_options, &this->io()));
  }
  if (settings_.smtp) email_ = std::make_unique<EmailSender>(settings_.smtp->options);
}

MediaChannel::~MediaChannel() = default;

std::string MediaChannel::message_id(const Delivery& delivery) const {
  return "<herald-" + delivery.id + "@" + host_of(settings_.public_base_url) + ">";
}

// The instant of the delivery's first attempt, kept in its steps, so a retry writes the same
// `sent` and `updated` as the attempt that was cut short.
Result<TimePoint> MediaChannel::attempt_time(const Delivery& delivery,
                                             const std::set<std::string>& done) {
  for (const auto& step : done) {
    if (step.rfind(kAtStep, 0) == 0) {
      return from_unix_ms(std::strtoll(step.c_str() + kAtStep.size(), nullptr, 10));
    }
  }
  const TimePoint now = std::chrono::floor<std::chrono::seconds>(clock_.now());
  if (auto marked =
          store_->mark_done(delivery.id, std::string(kAtStep) + std::to_string(to_unix_ms(now)));
      !marked) {
    return marked.error();
  }
  return now;
}

Result<void> MediaChannel::ping_hub(const std::vector<std::string>& feed_urls) {
  // hub.url is what pubsubhubbub.appspot.com reads, hub.topic what newer hubs read: send both.
  std::string body = "hub.mode=publish";
  for (const auto& url : feed_urls) {
    body += "&hub.url=" + form_escape(url) + "&hub.topic=" + form_escape(url);
  }
  HttpRequest request;
  request.method = "POST";
  request.url = settings_.websub_hub;
  request.total_timeout = settings_.websub_timeout;
  request.connect_timeout = std::min(settings_.websub_timeout, std::chrono::milliseconds(3000));
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = std::move(body);
  auto response = http_.send(request);
  if (!response) return with_code(response.error(), "websub_transport");
  return classify_websub_response(response->status, response->body);
}

Result<void> MediaChannel::send_email(const Delivery& delivery, const std::set<std::string>& done,
                                      const EmailMessage& email) {
  EmailMessage message = email;
  message.to.clear();
  for (const auto& to : settings_.smtp->to) {
    if (done.count("email:" + to) == 0 && done.count("email-refused:" + to) == 0) {
      message.to.push_back(to);
    }
  }
  if (message.to.empty()) return ok();
  auto outcome = email_->send(message);
  if (!outcome) return with_code(outcome.error(), "smtp");
  for (const auto& to : outcome->accepted) {
    if (auto marked = store_->mark_done(delivery.id, "email:" + to); !marked) return marked;
  }
  Failures failures;
  std::size_t permanent = 0;
  for (const auto& [to, error] : outcome->refused) {
    if (error.kind == ErrorKind::permanent) {
      // One bad address must not hold back the others or the delivery: it is recorded, logged,
      // and not tried again.
      ++permanent;
      spdlog::error("media delivery {}: {} refused the e-mail for good: {}", delivery.id, to,
                    error.message);
      if (auto marked = store_->mark_done(delivery.id, "email-refused:" + to); !marked) {
        return marked;
      }
    } else {
      Error e = error;
      e.message = "e-mail to " + to + ": " + e.message;
      failures.add(std::move(e));
    }
  }
  if (!failures.errors.empty()) return failures.result();
  if (permanent == settings_.smtp->to.size()) {
    Error e = Error::permanent("every e-mail recipient refused the message");
    e.code = "smtp_refused";
    return e;
  }
  return ok();
}

// Who holds a step while pushing it: the attempt's lease token, or, for a delivery published
// outside the queue (no lease), a token of this call alone.
std::string MediaChannel::step_holder(const Delivery& delivery) {
  if (!delivery.lease_token.empty()) return delivery.lease_token;
  return holder_prefix_ + std::to_string(calls_.fetch_add(1));
}

Result<void> MediaChannel::push(const Delivery& delivery, const std::set<std::string>& done,
                                const std::vector<std::string>& feed_urls,
                                const EmailMessage* email) {
  Failures failures;
  const std::string holder = step_holder(delivery);
  // Runs one step under its hold. What is done is read again under the hold: another attempt may
  // have finished the step since this one read it.
  auto run_held = [&](const std::string& step, std::chrono::milliseconds timeout,
                      const std::function<Result<void>(const std::set<std::string>&)>& run) {
    auto held = store_->hold_step(delivery.id, step, holder, timeout + kHoldMargin);
    if (!held) return failures.add(held.error());
    if (!*held) {
      Error busy =
          Error::retryable("another attempt is pushing " + redact_url(step) + " right now");
      busy.code = "media_step_busy";
      return failures.add(std::move(busy));
    }
    auto done_now = store_->done_steps(delivery.id);
    Result<void> result = done_now ? run(*done_now) : Result<void>(done_now.error());
    if (auto released = store_->release_step(delivery.id, step, holder); !released) {
      spdlog::warn("media delivery {}: {} stays held until its hold runs out: {}", delivery.id,
                   step, released.error().message);
    }
    if (!result) failures.add(result.error());
  };

  if (!settings_.websub_hub.empty() && !feed_urls.empty() && done.count("websub") == 0) {
    run_held("websub", settings_.websub_timeout, [&](const std::set<std::string>& done_now) {
      if (done_now.count("websub") != 0) return ok();
      auto pinged = ping_hub(feed_urls);
      return pinged ? store_->mark_done(delivery.id, "websub") : pinged;
    });
  }
  if (email_ && email != nullptr) {
    run_held("email", settings_.smtp->options.timeout, [&](const std::set<std::string>& done_now) {
      return send_email(delivery, done_now, *email);
    });
  }
  for (std::size_t i = 0; i < webhooks_.size(); ++i) {
    const std::string step = "webhook:" + settings_.webhooks[i].url;
    if (done.count(step) != 0) continue;
    run_held(step, settings_.webhooks[i].timeout, [&](const std::set<std::string>& done_now) {
      if (done_now.count(step) != 0) return ok();
      auto posted = webhooks_[i]->publish(delivery);
      return posted ? store_->mark_done(delivery.id, step) : Result<void>(posted.error());
    });
  }
  return failures.result();
}

Result<void> MediaChannel::require_store() const {
  if (store_ != nullptr) return ok();
  return with_code(Error::permanent("the media channel has no feed store"), "no_feed_store");
}

// Publishing to the media is a sequence of blocking steps (Redis holds, SMTP, the hub, webhooks,
// each bounded by its timeout) for one delivery per item, not the hot path: it runs on the
// blocking side as a whole rather than as a coroutine.
Task<Result<PublishReceipt>> MediaChannel::do_publish(const Delivery& delivery) {
  co_return co_await io().offload([&] { return publish_blocking(delivery); });
}

Task<Result<void>> MediaChannel::do_recall(const Delivery& delivery, const std::string& remote_id) {
  co_return co_await io().offload([&] { return recall_blocking(delivery, remote_id); });
}

Task<Result<PlatformListing>> MediaChannel::do_list_published(
    TimePoint from, TimePoint to, const std::vector<HeldDelivery>& held) {
  co_return co_await io().offload([&] { return list_blocking(from, to, held); });
}

Result<PublishReceipt> MediaChannel::publish_blocking(const Delivery& delivery) {
  if (auto usable = require_store(); !usable) return usable.error();
  const json payload = json::parse(delivery.payload, nullptr, false);
  std::set<std::string> channels;
  if (payload.is_object() && payload.contains("channels") && payload["channels"].is_array()) {
    for (const auto& c : payload["channels"]) {
      if (c.is_string()) channels.insert(c.get<std::string>());
    }
  }
  auto parsed = payload.is_discarded() ? Result<Item>(Error::permanent("not JSON"))
                                       : item_from_json(payload, channels);
  if (!parsed) {
    return with_code(Error::permanent("delivery " + delivery.id +
                                      ": payload is not an item: " + parsed.error().message),
                     "bad_payload");
  }
  const Item item = drill_marked(*parsed);
  const std::string item_id = item.id.empty() ? delivery.item_id : item.id;

  auto done = store_->done_steps(delivery.id);
  if (!done) return done.error();
  auto at = attempt_time(delivery, *done);
  if (!at) return at.error();

  std::string entry_id = item_id;
  if (!item.corrects.empty()) {
    auto root = store_->entry_id_for(item.corrects);
    if (!root) return root.error();
    entry_id = *root;
  }

  const std::string kind = to_string(item.kind);
  const std::string category = to_string(item.category);
  FeedEntry entry;
  entry.id = entry_id;
  entry.item_id = item_id;
  entry.kind = kind;
  entry.category = category;
  entry.title = item.title;
  entry.summary = item.summary;
  entry.content = item.body;
  entry.link = item.link;
  entry.published = *at;
  entry.updated = *at;

  std::vector<std::string> feed_urls;
  std::string cap_link;
  if (item.kind == ItemKind::alert && item.alert) {
    auto chain = store_->cap_chain(entry_id);
    if (!chain) return chain.error();
    CapMessage message;
    message.identifier = item_id;
    message.sender = settings_.cap_sender;
    message.sent = *at;
    message.status = item.status == "exercise" ? "Exercise" : "Actual";
    // The chain holds this delivery's own reference when an earlier attempt stored the document
    // already; then nothing is stored again below, so what it references does not matter.
    message.msg_type = chain->empty() ? "Alert" : "Update";
    message.references = *chain;
    message.info = cap_info_for(item, settings_.author);
    if (done->count("cap") == 0) {
      CapRecord record{item_id, entry_id,         render_cap(message), cap_reference(message),
                       *at,     message.msg_type, item.title};
      if (auto stored = store_->put_cap(delivery.id, record); !stored) return stored.error();
    } else if (auto stored = store_->cap(item_id); stored && *stored) {
      message.msg_type = (*stored)->msg_type;
    }
    entry.cap_id = item_id;
    entry.msg_type = message.msg_type;
    auto written = store_->write_entry(delivery.id, kCapFeedName, entry, settings_.cap_max_entries);
    if (!written) return written.error();
    const FeedInfo cap_feed = settings_.cap_feed_info();
    feed_urls.push_back(feed_url(cap_feed, ".atom"));
    cap_link = cap_url(settings_.public_base_url, item_id);
  }

  for (const auto& feed : settings_.feeds) {
    if (!feed.accepts(kind, category)) continue;
    auto written = store_->write_entry(delivery.id, feed.name, entry, feed.max_entries);
    if (!written) return written.error();
    const FeedInfo info = settings_.feed_info(feed);
    feed_urls.push_back(feed_url(info, ".rss"));
    feed_urls.push_back(feed_url(info, ".atom"));
  }

  EmailMessage email;
  if (settings_.smtp) {
    email.from = settings_.smtp->from;
    const char* tag = !item.corrects.empty()         ? "【更正】"
                      : item.kind == ItemKind::alert ? "【海外安全提醒】"
                                                     : "";
    email.subject = item.status == "exercise" ? std::string(kDrillPrefix) + tag + parsed->title
                                              : tag + item.title;
    email.text_body = email_text(item, cap_link);
    email.message_id = message_id(delivery);
  }
  if (auto pushed = push(delivery, *done, feed_urls, settings_.smtp ? &email : nullptr); !pushed) {
    return pushed.error();
  }
  return PublishReceipt{std::string(kRemotePrefix) + entry_id};
}

Result<void> MediaChannel::recall_blocking(const Delivery& delivery, const std::string& remote_id) {
  if (auto usable = require_store(); !usable) return usable;
  const std::string entry_id = remote_id.rfind(kRemotePrefix, 0) == 0
                                   ? remote_id.substr(kRemotePrefix.size())
                                   : delivery.item_id;
  if (entry_id.empty()) {
    return with_code(Error::permanent("recall of " + delivery.id + ": no entry id"),
                     "bad_remote_id");
  }
  const json payload = json::parse(delivery.payload, nullptr, false);
  const std::string reason =
      payload.is_object() && payload.contains("reason") && payload["reason"].is_string()
          ? payload["reason"].get<std::string>()
          : std::string();

  auto done = store_->done_steps(delivery.id);
  if (!done) return done.error();
  auto at = attempt_time(delivery, *done);
  if (!at) return at.error();

  std::vector<std::string> feed_urls;
  std::string title;
  auto chain = store_->cap_chain(entry_id);
  if (!chain) return chain.error();
  if (!chain->empty()) {
    // The last message of the chain says what is being cancelled.
    const std::string& last_reference = chain->back();
    const auto first = last_reference.find(',');
    const auto second = last_reference.find(',', first + 1);
    auto last = store_->cap(last_reference.substr(first + 1, second - first - 1));
    if (!last) return last.error();
    if (*last) title = (*last)->title;
    CapMessage message;
    message.identifier = entry_id + "-cancel";
    message.sender = settings_.cap_sender;
    message.sent = *at;
    message.msg_type = "Cancel";
    message.note = "撤回" + (reason.empty() ? std::string() : ":" + reason);
    message.references = *chain;
    if (done->count("cap") == 0) {
      CapRecord record{
          message.identifier, entry_id, render_cap(message), cap_reference(message), *at,
          "Cancel",           title};
      if (auto stored = store_->put_cap(delivery.id, record); !stored) return stored.error();
    }
    FeedEntry entry;
    entry.id = entry_id;
    entry.item_id = delivery.item_id;
    entry.kind = "alert";
    entry.title = "撤回:" + title;
    entry.summary = message.note;
    entry.published = *at;
    entry.updated = *at;
    entry.cap_id = message.identifier;
    entry.msg_type = "Cancel";
    auto written = store_->write_entry(delivery.id, kCapFeedName, entry, settings_.cap_max_entries);
    if (!written) return written.error();
    feed_urls.push_back(feed_url(settings_.cap_feed_info(), ".atom"));
  }
  for (const auto& feed : settings_.feeds) {
    auto removed = store_->remove_entry(delivery.id, feed.name, entry_id);
    if (!removed) return removed.error();
    const FeedInfo info = settings_.feed_info(feed);
    feed_urls.push_back(feed_url(info, ".rss"));
    feed_urls.push_back(feed_url(info, ".atom"));
  }

  EmailMessage email;
  if (settings_.smtp) {
    email.from = settings_.smtp->from;
    email.subject = "【撤回】" + (title.empty() ? entry_id : title);
    email.text_body = "已撤回此前发布的信息 " + entry_id + "。\n" +
                      (reason.empty() ? std::string() : "原因:" + reason + "\n");
    email.message_id = message_id(delivery);
  }
  return push(delivery, *done, feed_urls, settings_.smtp ? &email : nullptr);
}

Result<PlatformListing> MediaChannel::list_blocking(TimePoint from, TimePoint to,
                                                    const std::vector<HeldDelivery>& held) {
  if (auto usable = require_store(); !usable) return usable.error();
  struct Feed {
    std::string name;
    std::size_t max_entries;
  };
  std::vector<Feed> feeds = {{kCapFeedName, settings_.cap_max_entries}};
  for (const auto& feed : settings_.feeds) feeds.push_back({feed.name, feed.max_entries});
  PlatformListing listing;
  std::map<std::string, PlatformRecord> by_entry;
  for (const Feed& feed : feeds) {
    auto entries = store_->newest_entries(feed.name, feed.max_entries);
    if (!entries) return entries.error();
    // A full feed has pushed its oldest entries out: before its oldest one, absence proves nothing.
    if (!entries->empty() && entries->size() >= feed.max_entries) {
      const TimePoint horizon = entries->back().updated;
      if (!listing.complete_from || horizon > *listing.complete_from) {
        listing.complete_from = horizon;
      }
    }
    for (const FeedEntry& entry : *entries) {
      PlatformRecord record{std::string(kRemotePrefix) + entry.id, "", entry.published,
                            entry.msg_type == "Cancel"};
      auto [it, inserted] = by_entry.emplace(entry.id, record);
      // Live in one feed is live: a Cancel in the CAP feed beside a news entry is not a withdrawal
      // of that entry.
      if (!inserted && !record.withdrawn) it->second.withdrawn = false;
    }
  }
  for (auto& [id, record] : by_entry) {
    if (*record.at >= from && *record.at <= to) listing.records.push_back(std::move(record));
  }
  // An entry no feed holds either fell out of a full feed or never belonged in any (no feed takes
  // its kind and category): only the delivery's own record of which feeds it wrote tells.
  for (const HeldDelivery& d : held) {
    if (d.remote_id.rfind(kRemotePrefix, 0) != 0 ||
        by_entry.count(d.remote_id.substr(kRemotePrefix.size())) > 0) {
      continue;
    }
    auto steps = store_->done_steps(d.delivery_id);
    if (!steps) return steps.error();
    const bool wrote_a_feed = std::any_of(steps->begin(), steps->end(), [](const std::string& s) {
      return s == "cap" || s.rfind("feed:", 0) == 0;
    });
    if (!wrote_a_feed) listing.unverifiable.push_back(d.delivery_id);
  }
  return listing;
}

Result<ChannelPtr> make_media_channel(const json& section, const std::string& path,
                                      ChannelDeps& deps) {
  auto settings = parse_media_settings(section, path);
  if (!settings) return settings.error();
  // Without a store (heraldd --check-config) the section is still validated; the channel built
  // then refuses every delivery.
  return ChannelPtr(std::make_unique<MediaChannel>(std::move(*settings), deps.feed_store,
                                                   deps.clock, HttpClientOptions{}, deps.io));
}

}  // namespace herald
