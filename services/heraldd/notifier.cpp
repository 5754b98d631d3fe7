#include "services/heraldd/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "adapters/http_client.h"
#include "adapters/media/email_sender.h"

namespace herald {
namespace {

using nlohmann::json;

// WeCom robot answers (HTTP 200 with a non-zero errcode for every refusal).
constexpr int kWecomRateLimited = 45009;
constexpr int kWecomUnknownKey = 93000;
constexpr int kWecomSystemBusy = -1;

// Redis's own clock, so that heraldd on hosts with different clocks agree on leases.
constexpr const char* kNowMs = R"(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
)";

// KEYS: taken. ARGV: entry. A sign of life: the entry's lease starts again.
const RedisScript kTouch("notify_touch", std::string(kNowMs) + R"(
redis.call('HSET', KEYS[1], ARGV[1], now)
return 1
)");

// KEYS: processing, outbox, taken. ARGV: lease (ms). An entry with no time yet (its heraldd died
// between BLMOVE and the first touch) gets one now, so it too is moved back after a lease.
const RedisScript kReclaim("notify_reclaim", std::string(kNowMs) + R"(
local lease = tonumber(ARGV[1])
local moved = 0
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local at = redis.call('HGET', KEYS[3], entry)
  if not at then
    redis.call('HSET', KEYS[3], entry, now)
  elseif now - tonumber(at) > lease then
    redis.call('LREM', KEYS[1], 1, entry)
    redis.call('RPUSH', KEYS[2], entry)
    redis.call('HDEL', KEYS[3], entry)
    moved = moved + 1
  end
end
return moved
)");

bool retry_may_help(const Error& error) {
  return error.kind == ErrorKind::retryable || error.kind == ErrorKind::ambiguous ||
         error.kind == ErrorKind::deferred;
}

std::string item_link(const ReviewNotice& notice, const std::string& console_url) {
  if (console_url.empty()) return {};
  std::string base = console_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/console/#/items/" + notice.item_id;
}

// The lines both texts share: label, value.
std::vector<std::pair<std::string, std::string>> notice_fields(const ReviewNotice& notice) {
  std::vector<std::pair<std::string, std::string>> fields = {{"Kind", to_string(notice.kind)},
                                                             {"Title", notice.title}};
  if (!notice.level.empty()) fields.emplace_back("Alert level", notice.level);
  fields.emplace_back("Author", notice.author);
  fields.emplace_back("Approvals still needed", std::to_string(notice.approvals_needed));
  return fields;
}

}  // namespace

std::string ReviewNotice::to_entry() const {
  return json{{"id", item_id + "/" + std::to_string(approvals_given)},
              {"item", item_id},
              {"kind", to_string(kind)},
              {"title", title},
              {"level", level},
              {"author", author},
              {"given", approvals_given},
              {"needed", approvals_needed}}
      .dump();
}

Result<ReviewNotice> ReviewNotice::from_entry(const std::string& entry) {
  const json j = json::parse(entry, nullptr, false);
  if (!j.is_object()) return Error::permanent("notification entry is not a JSON object");
  try {
    ReviewNotice n;
    n.item_id = j.at("item").get<std::string>();
    n.kind = j.at("kind").get<std::string>() == "alert" ? ItemKind::alert : ItemKind::publication;
    n.title = j.at("title").get<std::string>();
    n.level = j.at("level").get<std::string>();
    n.author = j.at("author").get<std::string>();
    n.approvals_given = j.at("given").get<int>();
    n.approvals_needed = j.at("needed").get<int>();
    return n;
  } catch (const json::exception& e) {
    return Error::permanent(std::string("notification entry: ") + e.what());
  }
}

std::string notice_subject(const ReviewNotice& notice, const std::string& prefix) {
  std::string subject = prefix.empty() ? "" : prefix + " ";
  return subject + "Review needed (" + to_string(notice.kind) + "): " + notice.title;
}

std::string notice_text(const ReviewNotice& notice, const std::string& console_url) {
  std::string text = "An item waits for review.\n\n";
  for (const auto& [label, value] : notice_fields(notice)) text += label + ": " + value + "\n";
  if (const std::string link = item_link(notice, console_url); !link.empty()) {
    text += "\n" + link + "\n";
  }
  return text;
}

std::string notice_markdown(const ReviewNotice& notice, const std::string& console_url) {
  std::string text = "**An item waits for review**\n";
  for (const auto& [label, value] : notice_fields(notice)) {
    text += "> " + label + ": " + value + "\n";
  }
  if (const std::string link = item_link(notice, console_url); !link.empty()) {
    text += "[Open in the console](" + link + ")\n";
  }
  return text;
}

void ReviewOutbox::push(RedisConnection& conn, const Item& item, int approvals_given,
                        int approvals_required) const {
  ReviewNotice notice;
  notice.item_id = item.id;
  notice.kind = item.kind;
  notice.title = item.title;
  notice.level = item.alert ? item.alert->level : "";
  notice.author = item.author;
  notice.approvals_given = approvals_given;
  notice.approvals_needed = std::max(0, approvals_required - approvals_given);
  auto pushed = conn.command({"LPUSH", keys_.outbox, notice.to_entry()});
  if (!pushed || pushed->is_error()) {
    spdlog::error("review notification for item {} not queued: {}", item.id,
                  pushed ? pushed->str : pushed.error().message);
  }
}

struct Notifier::Senders {
  std::optional<EmailSender> email;
  HttpClient http;
};

Notifier::Notifier(NotifyConfig config, std::string console_url, std::string key_prefix,
                   RedisOptions redis, NotifierTiming timing)
    : config_(std::move(config)),
      console_url_(std::move(console_url)),
      keys_(key_prefix),
      redis_(std::move(redis)),
      timing_(timing),
      senders_(std::make_unique<Senders>()) {
  if (config_.email) {
    SmtpOptions smtp;
    smtp.url = config_.email->smtp_url;
    smtp.starttls = config_.email->starttls;
    smtp.username = config_.email->username;
    smtp.password = config_.email->password;
    smtp.timeout = std::chrono::milliseconds(config_.email->timeout_ms);
    senders_->email.emplace(std::move(smtp));
  }
  // A lease shorter than one send could hand an entry that is still being sent to another heraldd.
  std::chrono::milliseconds longest{0};
  if (config_.email) longest = std::chrono::milliseconds(config_.email->timeout_ms);
  if (config_.wecom) {
    longest = std::max(longest, std::chrono::milliseconds(config_.wecom->timeout_ms));
  }
  timing_.lease = std::max(timing_.lease, 2 * longest + timing_.max_backoff);
}

Notifier::~Notifier() = default;

void Notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
}

bool Notifier::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool Notifier::pause(std::chrono::milliseconds pause) {
  std::unique_lock lock(mutex_);
  return !stop_cv_.wait_for(lock, pause, [this] { return stopping_; });
}

void Notifier::run() {
  RedisConnection conn(redis_);
  // Every heraldd looks now and then, not only at start-up: one that died is found even if no
  // other restarts.
  const auto reclaim_every = timing_.lease / 2;
  auto next_reclaim = std::chrono::steady_clock::now();
  while (!stopping()) {
    if (std::chrono::steady_clock::now() >= next_reclaim) {
      if (auto moved = reclaim(conn); !moved) {
        spdlog::warn("notifier: looking for abandoned notifications: {}", moved.error().message);
      } else if (*moved > 0) {
        spdlog::info("notifier: {} abandoned notification(s) queued again", *moved);
      }
      next_reclaim = std::chrono::steady_clock::now() + reclaim_every;
    }
    const auto seconds = std::to_string(std::max<long long>(
        1, std::chrono::duration_cast<std::chrono::seconds>(timing_.poll).count()));
    auto taken =
        conn.blocking_command({"BLMOVE", keys_.outbox, keys_.processing, "RIGHT", "LEFT", seconds},
                              timing_.poll + redis_.command_timeout);
    if (!taken || taken->is_error()) {
      spdlog::warn("notifier: cannot take from the outbox: {}",
                   taken ? taken->str : taken.error().message);
      pause(timing_.first_backoff);
      continue;
    }
    if (taken->is_nil()) continue;
    handle(conn, taken->str);
  }
}

void Notifier::handle(RedisConnection& conn, const std::string& entry) {
  touch(conn, entry);
  auto notice = ReviewNotice::from_entry(entry);
  Outcome outcome = Outcome::sent;
  if (!notice) {
    spdlog::error("notifier: dropping a malformed entry: {}", notice.error().message);
  } else {
    if (config_.email) {
      std::vector<std::string> pending_to = config_.email->to;
      outcome =
          with_retries(conn, entry, "e-mail", [&] { return send_email(*notice, pending_to); });
    }
    if (config_.wecom && outcome != Outcome::interrupted) {
      outcome = with_retries(conn, entry, "WeCom", [&] { return send_wecom(*notice); });
    }
  }
  // Stopped half way: the entry stays in processing and is sent again once its lease runs out.
  if (outcome == Outcome::interrupted) return;
  auto removed = conn.pipeline(
      {{"MULTI"}, {"LREM", keys_.processing, "1", entry}, {"HDEL", keys_.taken, entry}, {"EXEC"}});
  if (!removed) {
    spdlog::warn("notifier: a sent notification stays in processing: {}", removed.error().message);
  }
}

template <typename Send>
Notifier::Outcome Notifier::with_retries(RedisConnection& conn, const std::string& entry,
                                         const char* what, Send&& send) {
  std::chrono::milliseconds backoff = timing_.first_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<void> sent = send();
    if (sent) return Outcome::sent;
    const Error& error = sent.error();
    if (!retry_may_help(error) || attempt >= config_.max_attempts) {
      spdlog::error("notifier: {} notification dropped after {} attempt(s): {}", what, attempt,
                    error.message);
      return Outcome::dropped;
    }
    // A robot's rate limit is per minute: waiting the ordinary backoff would only use attempts up.
    const auto wait =
        error.kind == ErrorKind::deferred ? std::min(4 * backoff, timing_.max_backoff) : backoff;
    spdlog::warn("notifier: {} notification failed (attempt {} of {}), retrying in {} ms: {}", what,
                 attempt, config_.max_attempts, wait.count(), error.message);
    if (!pause(wait)) return Outcome::interrupted;
    touch(conn, entry);
    backoff = std::min(2 * backoff, timing_.max_backoff);
  }
}

Result<void> Notifier::send_email(const ReviewNotice& notice,
                                  std::vector<std::string>& pending_to) {
  EmailMessage message;
  message.from = config_.email->from;
  message.to = pending_to;
  message.subject = notice_subject(notice, config_.email->subject_prefix);
  message.text_body = notice_text(notice, console_url_);
  message.message_id =
      "review-" + notice.item_id + "-" + std::to_string(notice.approvals_given) + "@herald";
  auto outcome = senders_->email->send(message);
  if (!outcome) return outcome.error();
  // Only the recipients that may still take it are tried again, so nobody gets it twice.
  pending_to.clear();
  std::optional<Error> last;
  for (const auto& [address, error] : outcome->refused) {
    if (retry_may_help(error)) pending_to.push_back(address);
    spdlog::warn("notifier: e-mail to {} refused: {}", address, error.message);
    last = error;
  }
  if (!pending_to.empty()) return *last;
  return ok();
}

Result<void> Notifier::send_wecom(const ReviewNotice& notice) {
  HttpRequest request;
  request.method = "POST";
  request.url = config_.wecom->webhook_url;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = json{{"msgtype", "markdown"},
                      {"markdown", {{"content", notice_markdown(notice, console_url_)}}}}
                     .dump();
  request.total_timeout = std::chrono::milliseconds(config_.wecom->timeout_ms);
  request.connect_timeout = std::min(request.connect_timeout, request.total_timeout);
  auto response = senders_->http.send(request);
  if (!response) return response.error();
  if (response->status >= 500) {
    return Error::retryable("WeCom robot answered HTTP " + std::to_string(response->status));
  }
  if (response->status != 200) {
    return Error::permanent("WeCom robot answered HTTP " + std::to_string(response->status) + ": " +
                            body_excerpt(response->body));
  }
  const json body = json::parse(response->body, nullptr, false);
  if (!body.is_object() || !body.contains("errcode") || !body["errcode"].is_number_integer()) {
    return Error::permanent("WeCom robot answered without an errcode: " +
                            body_excerpt(response->body));
  }
  const int errcode = body["errcode"].get<int>();
  if (errcode == 0) return ok();
  const std::string message =
      "WeCom robot errcode " + std::to_string(errcode) + ": " + body.value("errmsg", std::string());
  if (errcode == kWecomRateLimited) return Error::deferred(message);
  if (errcode == kWecomSystemBusy) return Error::retryable(message);
  if (errcode == kWecomUnknownKey) {
    return Error::permanent(message + " (notify.wecom.webhook_url names no robot)");
  }
  return Error::permanent(message);
}

Result<long long> Notifier::reclaim(RedisConnection& conn) {
  auto moved = kReclaim.run(conn, {keys_.processing, keys_.outbox, keys_.taken},
                            {std::to_string(timing_.lease.count())});
  if (!moved) return moved.error();
  if (moved->is_error()) return error_from_reply(*moved, "notify reclaim");
  return moved->integer;
}

void Notifier::touch(RedisConnection& conn, const std::string& entry) {
  auto touched = kTouch.run(conn, {keys_.taken}, {entry});
  if (!touched || touched->is_error()) {
    spdlog::warn("notifier: cannot renew a notification's lease: {}",
                 touched ? touched->str : touched.error().message);
  }
}

}  // namespace herald
