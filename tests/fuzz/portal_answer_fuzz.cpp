// The provincial portal's answers as PortalChannel reads them, under each status it may answer
// with; the same bytes also serve as the Retry-After and Idempotent-Replayed headers.
#include "adapters/portal/portal_channel.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = herald::fuzz::as_text(data, size);
  const auto now = herald::fuzz::fixed_now();
  for (const long status : {200L, 201L, 401L, 403L, 408L, 409L, 413L, 422L, 429L, 500L, 503L}) {
    auto answer = herald::classify_portal_response(status, "true", "", body, now);
    if (!answer) {
      HERALD_FUZZ_CHECK(!answer.error().code.empty(), "a portal error without a code");
    }
  }
  (void)herald::classify_portal_response(429, body, body, "{}", now);
  (void)herald::classify_portal_response(503, "", body, body, now);
  return 0;
}
