#include "adapters/channel.h"
#include "adapters/media/media_channel.h"
#include "adapters/portal/portal_channel.h"
#include "adapters/webhook/webhook_channel.h"
#include "adapters/wechat/wechat_channel.h"
#include "adapters/weibo/weibo_channel.h"

namespace herald {

// Each platform is added here and nowhere else: no static-initialiser registration, so what a
// binary can publish to is visible in one function.
void register_builtin_channels(ChannelRegistry& registry) {
  registry.add("media", make_media_channel);
  registry.add("portal", make_portal_channel);
  registry.add("webhook", make_webhook_channel);
  registry.add("wechat", make_wechat_channel);
  registry.add("weibo", make_weibo_channel);
}

}  // namespace herald
