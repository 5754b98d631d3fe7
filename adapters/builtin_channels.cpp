#include "adapters/channel.h"
#include "adapters/webhook/webhook_channel.h"

namespace herald {

// Each platform is added here and nowhere else: no static-initialiser registration, so what a
// binary can publish to is visible in one function.
void register_builtin_channels(ChannelRegistry& registry) {
  registry.add("webhook", make_webhook_channel);
}

}  // namespace herald
