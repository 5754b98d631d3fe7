// WeChat's answers as WechatChannel reads them: the body of a 200 (WeChat answers its errors with
// 200 too), then the errcode's classification, for an ordinary call and for stable_token.
#include "adapters/wechat/wechat_channel.h"
#include "adapters/wechat/wechat_errors.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto answer = herald::parse_wechat_answer(herald::fuzz::as_text(data, size));
  if (!answer) {
    HERALD_FUZZ_CHECK(answer.error().kind == herald::ErrorKind::retryable, "bad answer kind");
    return 0;
  }
  HERALD_FUZZ_CHECK(answer->body.is_object(), "an answer that is not an object");
  if (answer->errcode == 0) return 0;
  const herald::WechatQuotaPolicy policy;
  for (const bool token_call : {false, true}) {
    auto classified =
        herald::classify_wechat_error(answer->errcode, answer->errmsg, "message/mass/sendall",
                                      herald::fuzz::fixed_now(), policy, token_call);
    if (!classified && classified.error().kind == herald::ErrorKind::deferred) {
      HERALD_FUZZ_CHECK(classified.error().retry_after.has_value(), "a deferral without a wait");
      HERALD_FUZZ_CHECK(classified.error().retry_after->count() > 0, "a deferral of no time");
    }
  }
  return 0;
}
