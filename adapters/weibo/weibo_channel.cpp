#include "adapters/weibo/weibo_channel.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "adapters/url.h"
#include "core/digest.h"
#include "core/json_fields.h"

namespace herald {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;
constexpr std::string_view kEllipsis = "…";
constexpr std::string_view kAlertPrefix = "【海外安全提醒】";
// What a recorded success without an idstr (20032 whose post the timeline does not show yet) is
// stored as: recall cannot find it by id, so it says so instead of deleting something else.
constexpr std::string_view kUnconfirmedPrefix = "unconfirmed:";
// "Target weibo does not exist!": what destroy answers for an id that is already gone.
constexpr long kTargetMissing = 20101;
// 20016 says "posting too often" without a window; a short wait, not the hour.
constexpr std::chrono::minutes kTooOftenWait{10};
// "Repeat conetnt": identical to the account's last post (§1.3, §6). Proves nothing by itself: the
// post that carries our marker on the timeline does.
constexpr long kRepeatContent = 20019;
// "Update success, while server slow now": accepted, but without the status in the answer.
constexpr long kAcceptedSlow = 20032;
// user_timeline's largest page (§5A).
constexpr int kTimelinePage = 100;

enum class WeiboClass { retry, defer, defer_short, token, ops, perm, ok, look };

struct WeiboCode {
  long code;
  WeiboClass cls;
};

// channel-apis.md §1.5, one row per code.
constexpr WeiboCode kWeiboCodes[] = {
    {10001, WeiboClass::retry},       {10002, WeiboClass::retry}, {10003, WeiboClass::retry},
    {10009, WeiboClass::retry},       {10010, WeiboClass::retry}, {10011, WeiboClass::retry},
    {10004, WeiboClass::ops},         {10005, WeiboClass::perm},  {10014, WeiboClass::perm},
    {10006, WeiboClass::perm},        {10008, WeiboClass::perm},  {10016, WeiboClass::perm},
    {10017, WeiboClass::perm},        {10018, WeiboClass::perm},  {10020, WeiboClass::perm},
    {10021, WeiboClass::perm},        {10022, WeiboClass::defer}, {10023, WeiboClass::defer},
    {10024, WeiboClass::defer},       {20003, WeiboClass::ops},   {20005, WeiboClass::perm},
    {20006, WeiboClass::perm},        {20007, WeiboClass::perm},  {20008, WeiboClass::perm},
    {20012, WeiboClass::perm},        {20013, WeiboClass::perm},  {20015, WeiboClass::ops},
    {20016, WeiboClass::defer_short}, {20017, WeiboClass::perm},  {20018, WeiboClass::perm},
    {20020, WeiboClass::perm},        {20021, WeiboClass::perm},  {20019, WeiboClass::look},
    {20022, WeiboClass::ops},         {20031, WeiboClass::ops},   {20032, WeiboClass::ok},
    {20111, WeiboClass::perm},        {21301, WeiboClass::token}, {21314, WeiboClass::token},
    {21315, WeiboClass::token},       {21316, WeiboClass::token}, {21317, WeiboClass::token},
    {21319, WeiboClass::token},       {21321, WeiboClass::ops},   {21327, WeiboClass::token},
    {21332, WeiboClass::token},       {21322, WeiboClass::perm},  {21323, WeiboClass::perm},
    {21324, WeiboClass::perm},        {21325, WeiboClass::perm},  {21326, WeiboClass::perm},
    {21328, WeiboClass::perm},        {21329, WeiboClass::perm},  {21330, WeiboClass::perm},
    {21331, WeiboClass::retry},
};

std::optional<WeiboClass> class_of(long code) {
  for (const WeiboCode& row : kWeiboCodes) {
    if (row.code == code) return row.cls;
  }
  return std::nullopt;
}

bool is_domain_name(std::string_view domain) {
  if (domain.empty() || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(domain.begin(), domain.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '.' || c == '-'; });
}

std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += '&';
    out += form_escape(key);
    out += '=';
    out += form_escape(value);
  }
  return out;
}

// Runs of whitespace (line breaks included) become one space; '#' becomes '＃', so no #话题#.
std::string clean_text(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    if (c == '#') {
      out += "＃";
    } else {
      out += c;
    }
  }
  return out;
}

std::string string_field(const json& item, const char* key) {
  const auto found = item.find(key);
  return found != item.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

Error weibo_error(ErrorKind kind, long status, long code, std::string_view text,
                  std::string_view meaning) {
  std::string message = code != 0 ? "Weibo error " + std::to_string(code)
                                  : "Weibo answered HTTP without an error code";
  if (!text.empty()) message += " (" + body_excerpt(text, 200) + ")";
  message += ", HTTP " + std::to_string(status) + ": " + std::string(meaning);
  Error error(kind, std::move(message));
  error.code = code != 0 ? "weibo_" + std::to_string(code) : "http_" + std::to_string(status);
  return error;
}

}  // namespace

WeiboAnswer parse_weibo_answer(std::string_view body) {
  WeiboAnswer answer;
  const json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object()) return answer;
  const auto code = parsed.find("error_code");
  if (code != parsed.end()) {
    if (code->is_number_integer()) {
      answer.code = code->get<long>();
    } else if (code->is_string()) {  // the docs' own example sends "10006" as a string
      answer.code = std::strtol(code->get<std::string>().c_str(), nullptr, 10);
    }
  }
  answer.text = string_field(parsed, "error");
  return answer;
}

std::string weibo_post_id(const json& post) {
  if (!post.is_object()) return {};
  std::string idstr = string_field(post, "idstr");
  const auto id = post.find("id");
  if (idstr.empty() && id != post.end() && id->is_number_integer()) idstr = id->dump();
  return idstr;
}

Result<WeiboSettings> parse_weibo_settings(const json& section, const std::string& path) {
  WeiboSettings settings;
  FieldReader r(section, path);
  settings.api_base = read_http_url(r, "api_base", /*base=*/true);
  settings.access_token = r.secret("access_token");
  settings.safe_domain = ascii_lower(r.string("safe_domain"));
  if (r.ok() && !is_domain_name(settings.safe_domain)) {
    r.fail("safe_domain", "must be a domain name such as www.example.gov.cn (no scheme or path)");
  }
  FieldReader limit = r.child("rate_limit");
  settings.rate_limit_posts =
      static_cast<int>(limit.integer("posts", 1, 100000, settings.rate_limit_posts));
  settings.rate_limit_window = std::chrono::milliseconds(
      limit.integer("window_ms", 1000, 7LL * 24 * 3600 * 1000, settings.rate_limit_window.count()));
  settings.timeout = std::chrono::milliseconds(
      r.integer("timeout_ms", 1, kMaxTimeoutMs, settings.timeout.count()));
  settings.connect_timeout = std::chrono::milliseconds(
      r.integer("connect_timeout_ms", 1, kMaxTimeoutMs, settings.connect_timeout.count()));
  settings.rip = r.string("rip");
  if (r.ok() && !std::all_of(settings.rip.begin(), settings.rip.end(), [](unsigned char c) {
        return std::isxdigit(c) != 0 || c == '.' || c == ':';
      })) {
    r.fail("rip", "must be an IPv4 or IPv6 address");
  }
  settings.portal_link_template = r.string("portal_link_template", "");
  if (r.ok() && !settings.portal_link_template.empty() &&
      !is_url_under_domain(replace_all(settings.portal_link_template, "{id}", "x"),
                           settings.safe_domain)) {
    r.fail("portal_link_template",
           "must be an http(s) URL under safe_domain '" + settings.safe_domain + "'");
  }
  settings.max_chars =
      static_cast<std::size_t>(r.integer("max_chars", 20, 5000, settings.max_chars));
  settings.lookup_pages = static_cast<int>(r.integer("lookup_pages", 1, 20, settings.lookup_pages));
  if (auto done = r.finish(); !done) return done.error();
  return settings;
}

std::size_t weibo_length(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string utf8_prefix(std::string_view utf8, std::size_t max_code_points) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    if ((static_cast<unsigned char>(utf8[i]) & 0xC0) != 0x80) {
      if (seen == max_code_points) return std::string(utf8.substr(0, i));
      ++seen;
    }
  }
  return std::string(utf8);
}

bool is_url_under_domain(std::string_view url, std::string_view domain) {
  if (!is_http_url(url) || domain.empty()) return false;
  std::string_view rest = url.substr(url.find("://") + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  // user@host could make "https://gov.cn@evil.example" look like ours.
  if (authority.find('@') != std::string_view::npos) return false;
  const std::string host = ascii_lower(authority.substr(0, authority.find(':')));
  const std::string want = ascii_lower(domain);
  return host == want || (host.size() > want.size() && host.ends_with(want) &&
                          host[host.size() - want.size() - 1] == '.');
}

Result<std::string> render_weibo_status(const json& item, std::string_view item_id,
                                        const WeiboSettings& settings, std::string_view marker) {
  auto fail = [](std::string code, std::string message) {
    Error error = Error::permanent(std::move(message));
    error.code = std::move(code);
    return error;
  };
  if (!item.is_object()) return fail("bad_payload", "the item is not a JSON object");

  std::string link = string_field(item, "link");
  if (!is_url_under_domain(link, settings.safe_domain)) {
    if (settings.portal_link_template.empty()) {
      return fail("no_safe_link", "item " + std::string(item_id) + " has no link under " +
                                      settings.safe_domain +
                                      " and no portal_link_template is configured");
    }
    link = replace_all(settings.portal_link_template, "{id}", form_escape(item_id));
  }
  link = with_marker(link, marker);
  const std::size_t link_length = weibo_length(link);
  if (link_length + 1 >= settings.max_chars) {
    return fail("link_too_long", "the link alone takes " + std::to_string(link_length) +
                                     " of the " + std::to_string(settings.max_chars) +
                                     " characters a status may have");
  }

  const std::string title = clean_text(string_field(item, "title"));
  std::string text = clean_text(string_field(item, "summary"));
  if (text.empty()) text = clean_text(string_field(item, "body"));
  std::string main;
  if (string_field(item, "kind") == "alert") {
    main = std::string(kAlertPrefix) + title;
    if (!text.empty()) main += (title.empty() ? "" : " ") + text;
  } else {
    main = title.empty() ? text : "【" + title + "】" + text;
  }
  // A drill reaches a channel only when its drills are "marked"; it must never read as real.
  if (string_field(item, "status") == "exercise") main = std::string(kDrillPrefix) + main;

  const std::size_t budget = settings.max_chars - link_length - 1;  // 1: the space before it
  if (weibo_length(main) > budget) {
    main = utf8_prefix(main, budget - 1);
    while (!main.empty() && main.back() == ' ') main.pop_back();
    main += kEllipsis;
  }
  return main.empty() ? link : main + " " + link;
}

std::chrono::milliseconds until_next_hour(TimePoint now) {
  constexpr std::int64_t kHourMs = 3600 * 1000;
  const std::int64_t ms = to_unix_ms(now);
  const std::int64_t into_hour = ((ms % kHourMs) + kHourMs) % kHourMs;
  return std::chrono::milliseconds(kHourMs - into_hour);
}

Result<void> classify_weibo_error(long http_status, long error_code, std::string_view error_text,
                                  TimePoint now) {
  const std::optional<WeiboClass> cls = class_of(error_code);
  if (!cls) {
    if (http_status >= 500 && http_status <= 599) {
      // No Weibo error code: something in between failed, maybe after Weibo had posted.
      return weibo_error(ErrorKind::ambiguous, http_status, error_code, error_text,
                         "server side after the request was sent; the timeline is read before "
                         "posting again");
    }
    if (http_status == 408) {
      return weibo_error(ErrorKind::retryable, http_status, error_code, error_text,
                         "the request did not arrive whole, will retry");
    }
    if (http_status == 429) {
      Error error = weibo_error(ErrorKind::deferred, http_status, error_code, error_text,
                                "rate limited, waiting for the hourly reset");
      error.retry_after = until_next_hour(now);
      return error;
    }
    return weibo_error(ErrorKind::permanent, http_status, error_code, error_text,
                       error_code != 0 ? "unknown error code, not retried" : "not retried");
  }
  switch (*cls) {
    case WeiboClass::ok:
      return ok();
    case WeiboClass::look:
      return weibo_error(ErrorKind::permanent, http_status, error_code, error_text,
                         "identical to the account's last post, and no post on the timeline "
                         "carries this delivery's marker, so that post is not ours");
    case WeiboClass::retry:
      return weibo_error(ErrorKind::retryable, http_status, error_code, error_text,
                         "server busy, will retry");
    case WeiboClass::defer: {
      Error error = weibo_error(ErrorKind::deferred, http_status, error_code, error_text,
                                "hourly limit reached, waiting for the reset on the hour");
      error.retry_after = until_next_hour(now);
      return error;
    }
    case WeiboClass::defer_short: {
      Error error = weibo_error(ErrorKind::deferred, http_status, error_code, error_text,
                                "posting too often, waiting a few minutes");
      error.retry_after = kTooOftenWait;
      return error;
    }
    case WeiboClass::token:
      return weibo_error(ErrorKind::permanent, http_status, error_code, error_text,
                         "the access token is expired or revoked; Weibo has no refresh, "
                         "re-authorise the account and replay");
    case WeiboClass::ops:
      return weibo_error(ErrorKind::permanent, http_status, error_code, error_text,
                         "the account, app or IP needs an operator");
    case WeiboClass::perm:
      break;
  }
  return weibo_error(ErrorKind::permanent, http_status, error_code, error_text,
                     "refused, not retried");
}

WeiboChannel::WeiboChannel(WeiboSettings settings, const Clock& clock, RateLimiter* rate_limiter,
                           HttpClientOptions http_options, OutboundIo* io)
    : Channel("weibo", io),
      settings_(std::move(settings)),
      clock_(clock),
      rate_limiter_(rate_limiter),
      rate_limit_key_("weibo:" + sha256_hex(settings_.access_token).substr(0, 16)),
      http_(this->io(), std::move(http_options)) {}

Task<Result<HttpResponse>> WeiboChannel::post_form(const std::string& resource,
                                                   const std::string& body) {
  HttpRequest request;
  request.method = "POST";
  request.url = settings_.api_base + "/2/statuses/" + resource;
  request.connect_timeout = settings_.connect_timeout;
  request.total_timeout = settings_.timeout;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = body;
  co_return co_await http_.send(request);
}

Task<Result<json>> WeiboChannel::timeline_page(int page) {
  HttpRequest request;
  request.url = settings_.api_base + "/2/statuses/user_timeline.json?access_token=" +
                form_escape(settings_.access_token) + "&count=" + std::to_string(kTimelinePage) +
                "&page=" + std::to_string(page);
  request.connect_timeout = settings_.connect_timeout;
  request.total_timeout = settings_.timeout;
  auto response = co_await http_.send(request);
  if (!response) co_return response.error();
  const WeiboAnswer answer = parse_weibo_answer(response->body);
  if (response->status != 200 || answer.code != 0) {
    auto classified =
        classify_weibo_error(response->status, answer.code, answer.text, clock_.now());
    if (!classified) co_return classified.error();
  }
  json parsed = json::parse(response->body, nullptr, false);
  const auto statuses = parsed.is_object() ? parsed.find("statuses") : parsed.end();
  if (!parsed.is_object() || statuses == parsed.end() || !statuses->is_array()) {
    Error error = Error::retryable("user_timeline answered without a statuses list: " +
                                   body_excerpt(response->body, 200));
    error.code = "weibo_bad_answer";
    co_return error;
  }
  co_return std::move(*statuses);
}

Task<Result<Lookup>> WeiboChannel::do_lookup(const Delivery& delivery) {
  const std::string marker = delivery.marker();
  for (int page = 1; page <= settings_.lookup_pages; ++page) {
    auto page_of_posts = co_await timeline_page(page);
    if (!page_of_posts) co_return page_of_posts.error();
    const json* statuses = &*page_of_posts;
    for (const json& post : *statuses) {
      if (!post.is_object() || string_field(post, "text").find(marker) == std::string::npos) {
        continue;
      }
      const std::string idstr = weibo_post_id(post);
      if (!idstr.empty()) co_return Lookup{LookupState::found, PublishReceipt{idstr}};
    }
    // A short page is the end of the account's posts.
    if (statuses->size() < static_cast<std::size_t>(kTimelinePage)) break;
  }
  co_return Lookup{LookupState::absent, {}};
}

Task<Result<PublishReceipt>> WeiboChannel::do_publish(const Delivery& delivery) {
  const json item = json::parse(delivery.payload, nullptr, false);
  if (item.is_discarded()) {
    Error error = Error::permanent("delivery " + delivery.id + ": payload is not valid JSON");
    error.code = "bad_payload";
    co_return error;
  }
  auto status = render_weibo_status(item, delivery.item_id, settings_, delivery.marker());
  if (!status) co_return status.error();

  if (rate_limiter_ != nullptr) {
    auto wait = rate_limiter_->try_acquire(rate_limit_key_, settings_.rate_limit_posts,
                                           settings_.rate_limit_window);
    if (!wait) co_return wait.error();
    if (wait->count() > 0) {
      Error error = Error::deferred(
          "Weibo posting budget of " + std::to_string(settings_.rate_limit_posts) + " per " +
              std::to_string(settings_.rate_limit_window.count()) + " ms is spent",
          *wait);
      error.code = "weibo_budget_spent";
      co_return error;
    }
  }

  const std::string body =
      form({{"access_token", settings_.access_token}, {"status", *status}, {"rip", settings_.rip}});
  auto response = co_await post_form("share.json", body);
  if (!response) co_return response.error();

  const WeiboAnswer answer = parse_weibo_answer(response->body);
  if (response->status == 200 && answer.code == 0) {
    const std::string idstr = weibo_post_id(json::parse(response->body, nullptr, false));
    if (!idstr.empty()) co_return PublishReceipt{idstr};
    // Maybe posted, maybe not: the next attempt reads the timeline first.
    Error error = Error::ambiguous("Weibo answered 200 without a status id: " +
                                   body_excerpt(response->body, 200));
    error.code = "weibo_no_id";
    co_return error;
  }
  auto classified = classify_weibo_error(response->status, answer.code, answer.text, clock_.now());
  if (answer.code != kRepeatContent && answer.code != kAcceptedSlow) {
    if (!classified) co_return classified.error();
    co_return PublishReceipt{std::string(kUnconfirmedPrefix) + std::to_string(answer.code)};
  }
  // Both name a post without its id: the timeline has it if it carries our marker.
  auto looked = co_await do_lookup(delivery);
  if (!looked) {
    // Weibo holds a post like ours: wait to look again (the next attempt looks before it
    // posts), without spending the attempts that would bury a post that may be ours.
    Error error = looked.error();
    error.kind = ErrorKind::deferred;
    error.defer_reason = DeferReason::processing;
    co_return error;
  }
  if (looked->state == LookupState::found) co_return looked->receipt;
  if (answer.code == kAcceptedSlow) {
    co_return PublishReceipt{std::string(kUnconfirmedPrefix) + std::to_string(answer.code)};
  }
  co_return classified.error();
}

Task<Result<void>> WeiboChannel::do_recall(const Delivery& /*delivery*/,
                                           const std::string& remote_id) {
  if (remote_id.empty() || remote_id.starts_with(kUnconfirmedPrefix) ||
      !std::all_of(remote_id.begin(), remote_id.end(),
                   [](unsigned char c) { return std::isdigit(c) != 0; })) {
    Error error = Error::permanent("Weibo status id '" + remote_id +
                                   "' is not known; delete the post by hand");
    error.code = "remote_id_unknown";
    co_return error;
  }
  // Built before the co_await: GCC 12 cannot keep a temporary holding a string literal across a
  // suspension point ("array used as initializer").
  const std::string body = form({{"access_token", settings_.access_token}, {"id", remote_id}});
  auto response = co_await post_form("destroy.json", body);
  if (!response) co_return response.error();
  const WeiboAnswer answer = parse_weibo_answer(response->body);
  if (response->status == 200 && answer.code == 0) co_return ok();
  if (answer.code == kTargetMissing) co_return ok();
  co_return classify_weibo_error(response->status, answer.code, answer.text, clock_.now());
}

std::optional<TimePoint> parse_weibo_time(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::vector<std::string_view> words;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find(' ', at), text.size());
    if (end > at) words.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  if (words.size() != 6 || words[3].size() != 8 || words[4].size() != 5) return std::nullopt;
  auto number = [](std::string_view digits) -> std::optional<int> {
    int value = 0;
    // No field of the format has more than 4 digits; more could overflow `value`.
    if (digits.empty() || digits.size() > 4) return std::nullopt;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    return value;
  };
  const auto month = std::find(std::begin(kMonths), std::end(kMonths), words[1]);
  const auto day = number(words[2]), year = number(words[5]);
  const auto hh = number(words[3].substr(0, 2)), mm = number(words[3].substr(3, 2)),
             ss = number(words[3].substr(6, 2));
  const auto zh = number(words[4].substr(1, 2)), zm = number(words[4].substr(3, 2));
  if (month == std::end(kMonths) || !day || !year || !hh || !mm || !ss || !zh || !zm ||
      (words[4][0] != '+' && words[4][0] != '-')) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{
      std::chrono::year(*year),
      std::chrono::month(static_cast<unsigned>(month - std::begin(kMonths) + 1)),
      std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok() || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  const auto offset = std::chrono::minutes((*zh * 60 + *zm) * (words[4][0] == '-' ? -1 : 1));
  return to_time_point(std::chrono::sys_days(date) + std::chrono::hours(*hh) +
                       std::chrono::minutes(*mm) + std::chrono::seconds(*ss) - offset);
}

Task<Result<PlatformListing>> WeiboChannel::do_list_published(
    TimePoint from, TimePoint to, const std::vector<HeldDelivery>& /*held*/) {
  // Ten thousand pages is a million posts: only a broken paging would get there.
  constexpr int kMaxPages = 10000;
  PlatformListing listing;
  for (int page = 1; page <= kMaxPages; ++page) {
    auto page_of_posts = co_await timeline_page(page);
    if (!page_of_posts) co_return page_of_posts.error();
    const json* statuses = &*page_of_posts;
    bool past_from = false;
    for (const json& post : *statuses) {
      if (!post.is_object()) continue;
      const std::string idstr = weibo_post_id(post);
      const auto at = parse_weibo_time(string_field(post, "created_at"));
      if (!at) {
        // Without its time a post cannot be placed in or out of the period: guessing either way
        // would make a false difference.
        Error error =
            Error::retryable("user_timeline gave status " + idstr + " an unreadable created_at: " +
                             body_excerpt(string_field(post, "created_at"), 60));
        error.code = "weibo_bad_answer";
        co_return error;
      }
      if (*at < from) {
        past_from = true;
        continue;
      }
      if (*at > to || idstr.empty()) continue;
      listing.records.push_back({idstr, marker_in(string_field(post, "text")), *at, false});
    }
    // Newest first: a page that reached back before `from` is the last one needed.
    if (past_from || statuses->size() < static_cast<std::size_t>(kTimelinePage)) {
      co_return listing;
    }
  }
  listing.notes.push_back("user_timeline still had posts after " + std::to_string(kMaxPages) +
                          " pages; older ones were not read");
  listing.complete_from = listing.records.empty() ? to : *listing.records.back().at;
  co_return listing;
}

Result<ChannelPtr> make_weibo_channel(const json& section, const std::string& path,
                                      ChannelDeps& deps) {
  auto settings = parse_weibo_settings(section, path);
  if (!settings) return settings.error();
  return ChannelPtr(std::make_unique<WeiboChannel>(
      std::move(*settings), deps.clock, deps.rate_limiter, HttpClientOptions{}, deps.io));
}

}  // namespace herald
