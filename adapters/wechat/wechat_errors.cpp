#include "adapters/wechat/wechat_errors.h"

#include <cstdint>
#include <string>

#include "adapters/http_client.h"

namespace herald {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

struct WechatCode {
  long code;
  WechatClass cls;
};

// channel-apis.md §2.7 (and §2.5 for the 535xx publish codes, §2.6 for 4506x), one row per code.
constexpr WechatCode kWechatCodes[] = {
    {-1, WechatClass::retry},      {40001, WechatClass::refresh}, {40014, WechatClass::refresh},
    {42001, WechatClass::refresh}, {41001, WechatClass::perm},    {40002, WechatClass::ops},
    {40013, WechatClass::ops},     {40125, WechatClass::ops},     {40164, WechatClass::ops},
    {40004, WechatClass::perm},    {40005, WechatClass::perm},    {40007, WechatClass::perm},
    {40009, WechatClass::perm},    {44002, WechatClass::perm},    {47001, WechatClass::perm},
    {45001, WechatClass::perm},    {45002, WechatClass::perm},    {45003, WechatClass::perm},
    {45004, WechatClass::perm},    {45009, WechatClass::defer},   {45011, WechatClass::defer},
    {45028, WechatClass::defer},   {45047, WechatClass::defer},   {45065, WechatClass::ok},
    {45066, WechatClass::defer},   {45067, WechatClass::perm},    {48001, WechatClass::ops},
    {48004, WechatClass::ops},     {50002, WechatClass::ops},     {48006, WechatClass::perm},
    {53500, WechatClass::ops},     {53501, WechatClass::defer},   {53502, WechatClass::perm},
    {53600, WechatClass::perm},    {53503, WechatClass::perm},    {53504, WechatClass::perm},
    {53505, WechatClass::perm},    {87009, WechatClass::perm},
};

Error wechat_error(ErrorKind kind, long errcode, std::string_view errmsg, std::string_view api,
                   std::string_view meaning) {
  std::string message = "WeChat errcode " + std::to_string(errcode);
  if (!errmsg.empty()) message += " (" + body_excerpt(errmsg, 160) + ")";
  message += " from " + std::string(api) + ": " + std::string(meaning);
  Error error(kind, std::move(message));
  error.code = "wechat_" + std::to_string(errcode);
  return error;
}

Error deferred(long errcode, std::string_view errmsg, std::string_view api,
               std::chrono::milliseconds wait, std::string_view meaning) {
  Error error = wechat_error(ErrorKind::deferred, errcode, errmsg, api, meaning);
  error.retry_after = wait;
  return error;
}

// Days since 1970-01-01 → civil date, and back (proleptic Gregorian).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

std::optional<WechatClass> wechat_class_of(long errcode) {
  for (const WechatCode& row : kWechatCodes) {
    if (row.code == errcode) return row.cls;
  }
  return std::nullopt;
}

std::chrono::milliseconds until_next_day(TimePoint now, int utc_offset_minutes) {
  const std::int64_t local = to_unix_ms(now) + std::int64_t{utc_offset_minutes} * 60000;
  const std::int64_t into_day = local - floor_div(local, kDayMs) * kDayMs;
  return std::chrono::milliseconds(kDayMs - into_day);
}

std::chrono::milliseconds until_next_month(TimePoint now, int utc_offset_minutes) {
  const std::int64_t local = to_unix_ms(now) + std::int64_t{utc_offset_minutes} * 60000;
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(floor_div(local, kDayMs), y, m, d);
  const std::int64_t next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
  return std::chrono::milliseconds(next * kDayMs - local);
}

Result<void> classify_wechat_error(long errcode, std::string_view errmsg, std::string_view api,
                                   TimePoint now, const WechatQuotaPolicy& policy,
                                   bool token_call) {
  const std::optional<WechatClass> cls = wechat_class_of(errcode);
  if (!cls) {
    return wechat_error(ErrorKind::permanent, errcode, errmsg, api,
                        "not in the errcode table, not retried");
  }
  switch (*cls) {
    case WechatClass::ok:
      return ok();
    case WechatClass::retry:
      return wechat_error(ErrorKind::retryable, errcode, errmsg, api, "system busy, will retry");
    case WechatClass::refresh:
      if (token_call) {
        return wechat_error(ErrorKind::permanent, errcode, errmsg, api,
                            "stable_token refused the AppID/AppSecret; fix the config");
      }
      return wechat_error(ErrorKind::credentials, errcode, errmsg, api,
                          "the access token was refused again after a refresh");
    case WechatClass::defer:
      switch (errcode) {
        case 45009:
          return deferred(errcode, errmsg, api,
                          until_next_day(now, policy.reset_utc_offset_minutes),
                          "daily API quota spent, waiting for the next day");
        case 45028:
          return policy.mass_quota_monthly
                     ? deferred(errcode, errmsg, api,
                                until_next_month(now, policy.reset_utc_offset_minutes),
                                "mass-send quota spent, waiting for the next month")
                     : deferred(errcode, errmsg, api,
                                until_next_day(now, policy.reset_utc_offset_minutes),
                                "mass-send quota spent, waiting for the next day");
        case 53501:
          return deferred(errcode, errmsg, api, policy.publish_too_frequent_wait,
                          "publishing too frequently, waiting");
        case 45047:
          return deferred(errcode, errmsg, api, policy.other_quota_wait, "quota spent, waiting");
        default:  // 45011, 45066
          return deferred(errcode, errmsg, api, policy.minute_wait,
                          "per-minute limit, waiting a minute");
      }
    case WechatClass::ops:
      return wechat_error(ErrorKind::permanent, errcode, errmsg, api,
                          "the account, app, API permission or IP whitelist needs an operator");
    case WechatClass::perm:
      break;
  }
  return wechat_error(ErrorKind::permanent, errcode, errmsg, api, "refused, not retried");
}

}  // namespace herald
