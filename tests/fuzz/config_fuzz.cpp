// The config loader on any text (JSON with comments, ${ENV} substitution): every refusal is an
// Error naming a key, never a crash, since an operator's typo must stop heraldd with a message.
#include <set>
#include <string>

#include "config/config.h"
#include "tests/fuzz/fuzz_check.h"

namespace {
const std::set<std::string> kChannels = {"weibo", "wechat", "portal", "media", "webhook"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto config = herald::parse_config(herald::fuzz::as_text(data, size), kChannels, "");
  if (!config) return 0;
  for (const std::string& name : config->enabled_channels()) {
    HERALD_FUZZ_CHECK(kChannels.count(name) == 1, "an enabled channel the binary cannot build");
  }
  return 0;
}
