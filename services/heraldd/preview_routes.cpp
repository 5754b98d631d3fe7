#include "services/heraldd/preview_routes.h"

#include "adapters/media/feed_render.h"
#include "adapters/media/media_channel.h"
#include "adapters/portal/portal_channel.h"
#include "adapters/wechat/wechat_render.h"
#include "adapters/weibo/weibo_channel.h"
#include "core/delivery.h"

namespace herald {
namespace {

using nlohmann::json;

// The id a preview renders under: it is never stored or sent, only shown.
constexpr const char* kPreviewId = "preview";

json failure(const Error& error) {
  return {{"error", error.message}, {"code", error.code}};
}

json settings_of(const std::map<std::string, json>& all, const std::string& channel) {
  const auto found = all.find(channel);
  return found == all.end() ? json::object() : found->second;
}

}  // namespace

std::optional<ServerResponse> PreviewRoutes::handle(const ServerRequest& request,
                                                    const AuthUser* user) {
  if (request.path != kItemsPreviewPath) return std::nullopt;
  if (auto refused =
          require_roles(user, {"drafter", "duty_officer", "publisher"}, "previewing items")) {
    return refused;
  }
  if (request.method != "POST") return method_not_allowed("POST", request.path);
  if (!is_json_request(request)) return not_json();
  const json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) {
    return ServerResponse::error(400, "malformed_json", "the body is not valid JSON");
  }
  auto item = item_from_json(body, deps_.channels, deps_.limits);
  if (!item) return error_response(item.error());
  return json_response(200, preview(*item));
}

json PreviewRoutes::preview(const Item& item) const {
  const GateVerdict verdict = deps_.gate.get()->check(item);
  json findings = json::array();
  for (const auto& f : verdict.findings) {
    findings.push_back(
        {{"word", f.word}, {"field", f.field}, {"position", f.position}, {"length", f.length}});
  }
  json out = {{"allowed", verdict.allowed}, {"findings", std::move(findings)}};
  if (!verdict.allowed) {
    out["code"] = verdict.code;
    out["message"] = verdict.message;
    out["field"] = verdict.field;
  }
  Item shown = item;
  shown.id = kPreviewId;
  const json payload = item_to_json(shown);
  json channels = json::object();
  for (const auto& channel : item.channels) channels[channel] = render(channel, shown, payload);
  out["channels"] = std::move(channels);
  return out;
}

json PreviewRoutes::render(const std::string& channel, const Item& item,
                           const json& payload) const {
  const json section = settings_of(deps_.settings, channel);
  const std::string path = "channels." + channel;
  if (channel == "weibo") {
    auto settings = parse_weibo_settings(section, path);
    if (!settings) return failure(settings.error());
    auto text = render_weibo_status(payload, kPreviewId, *settings);
    if (!text) return failure(text.error());
    return {{"text", *text}, {"length", weibo_length(*text)}, {"limit", settings->max_chars}};
  }
  if (channel == "wechat") {
    // The author the channel signs with (publish.author), else the office.
    std::string author = deps_.office_name;
    if (section.contains("publish") && section["publish"].is_object() &&
        section["publish"].contains("author") && section["publish"]["author"].is_string()) {
      author = section["publish"]["author"].get<std::string>();
    }
    auto article = render_wechat_article(payload, author);
    if (!article) return failure(article.error());
    return {{"text", article->title + "\n" + article->digest + "\n\n" + article->content},
            {"title", article->title},
            {"digest", article->digest},
            {"content_html", article->content}};
  }
  if (channel == "portal") {
    auto settings = parse_portal_settings(section, path);
    if (!settings) return failure(settings.error());
    Delivery delivery;
    delivery.id = std::string(kPreviewId) + ".portal";
    delivery.item_id = kPreviewId;
    delivery.channel = "portal";
    delivery.kind = item.kind == ItemKind::alert ? DeliveryKind::alert : DeliveryKind::publication;
    delivery.category = to_string(item.category);
    delivery.payload = payload.dump();
    auto body = portal_submission_body(delivery, *settings);
    if (!body) return failure(body.error());
    return {{"text", *body}};
  }
  if (channel == "media") {
    if (item.kind != ItemKind::alert) {
      return {{"text", "（信息发布进入 RSS/Atom 订阅源，不生成 CAP 预警）"}};
    }
    auto settings = parse_media_settings(section, path);
    if (!settings) return failure(settings.error());
    CapMessage message;
    message.identifier = kPreviewId;
    message.sender = settings->cap_sender;
    message.sent = deps_.clock.now();
    if (item.status == "exercise") message.status = "Exercise";
    message.info = cap_info_for(item, settings->author);
    return {{"text", render_cap(message)}};
  }
  // Other channels (the webhook) send the item's JSON as it is.
  return {{"text", payload.dump(2)}};
}

}  // namespace herald
