// Weibo's answers (share.json, destroy.json, user_timeline) as WeiboChannel reads them: the error
// code and text, the post id, each timeline post's id and created_at, and the classification of
// the error under the statuses Weibo answers with.
#include <nlohmann/json.hpp>

#include "adapters/weibo/weibo_channel.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = herald::fuzz::as_text(data, size);
  const herald::WeiboAnswer answer = herald::parse_weibo_answer(body);
  for (const long status : {200L, 400L, 403L, 408L, 429L, 500L, 502L}) {
    auto classified =
        herald::classify_weibo_error(status, answer.code, answer.text, herald::fuzz::fixed_now());
    if (!classified) {
      HERALD_FUZZ_CHECK(!classified.error().code.empty(), "a Weibo error without a code");
    }
  }
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  (void)herald::weibo_post_id(parsed);
  if (parsed.is_object() && parsed.contains("statuses") && parsed["statuses"].is_array()) {
    for (const auto& post : parsed["statuses"]) {
      (void)herald::weibo_post_id(post);
      if (post.is_object() && post.contains("created_at") && post["created_at"].is_string()) {
        (void)herald::parse_weibo_time(post["created_at"].get<std::string>());
      }
    }
  }
  (void)herald::parse_weibo_time(body);
  return 0;
}
