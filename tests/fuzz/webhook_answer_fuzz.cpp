// A webhook receiver's answers as WebhookChannel reads them: the remote id of a 2xx, and the
// Retry-After of a 429 or 5xx (the same bytes serve as the header).
#include "adapters/webhook/webhook_channel.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = herald::fuzz::as_text(data, size);
  const auto now = herald::fuzz::fixed_now();
  for (const long status : {200L, 202L, 204L, 301L, 400L, 408L, 429L, 500L, 503L}) {
    auto receipt = herald::classify_webhook_response(status, "", body, now);
    if (!receipt) {
      HERALD_FUZZ_CHECK(receipt.error().code == "http_" + std::to_string(status), "error code");
    }
    auto waited = herald::classify_webhook_response(status, body, "", now);
    if (!waited && waited.error().retry_after) {
      HERALD_FUZZ_CHECK(waited.error().retry_after->count() >= 0, "a negative Retry-After");
    }
  }
  return 0;
}
