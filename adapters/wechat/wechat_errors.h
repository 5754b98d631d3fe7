// The WeChat errcode table (channel-apis.md §2.5-2.7): what each code means for a delivery
// (retry, refresh the token, defer to the quota window, or give up).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace herald {

// The reference's classes: RETRY, REFRESH, DEFER, PERM, OPS (permanent until an operator acts),
// OK (45065: the same clientmsgid was already sent, i.e. our own earlier attempt).
enum class WechatClass { retry, refresh, defer, perm, ops, ok };

// Windows the reference does not pin down, so they are configuration (channels.wechat.quota).
struct WechatQuotaPolicy {
  // Daily quotas (45009, and 45028 for a subscription account) reset at midnight in this zone;
  // Beijing time is our assumption (unverified).
  int reset_utc_offset_minutes = 480;
  // 45028 "has no masssend quota": a subscription account (订阅号) may mass-send once a day, a
  // service account (服务号) four times a natural month. false = wait for the next day.
  bool mass_quota_monthly = false;
  // 45011 "retry next minute" and 45066 "wait 1 min".
  std::chrono::milliseconds minute_wait{60000};
  // 53501 "publishing too frequently" names no window (unverified): this long.
  std::chrono::milliseconds publish_too_frequent_wait{600000};
  // 45047 (customer-service message cap; not expected from publishing) names no window either.
  std::chrono::milliseconds other_quota_wait{3600000};
};

// The class of a listed errcode; nullopt for a code the table does not list.
std::optional<WechatClass> wechat_class_of(long errcode);

// Turns a non-zero errcode into an Error with code "wechat_<errcode>" and a message with the
// code, WeChat's errmsg (trimmed) and `api`. Matches on errcode only, never on errmsg (which
// carries "rid: ..." suffixes). Unlisted codes are permanent (not retried blindly).
//   RETRY → retryable; REFRESH → credentials (the channel has already refreshed once by then);
//   DEFER → deferred with retry_after: 45009 → next day, 45011/45066 → minute_wait,
//   45028 → next day or month, 53501 → publish_too_frequent_wait, 45047 → other_quota_wait;
//   PERM and OPS → permanent (OPS says an operator must act); OK → ok().
// `token_call`: the answer of stable_token itself, where 40001 means a wrong AppSecret (OPS), not
// a token to refresh.
Result<void> classify_wechat_error(long errcode, std::string_view errmsg, std::string_view api,
                                   TimePoint now, const WechatQuotaPolicy& policy,
                                   bool token_call = false);

// Time from `now` to the next midnight / first day of the next month in the given UTC offset;
// never 0.
std::chrono::milliseconds until_next_day(TimePoint now, int utc_offset_minutes);
std::chrono::milliseconds until_next_month(TimePoint now, int utc_offset_minutes);

}  // namespace herald
