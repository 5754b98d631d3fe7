#include "services/herald-sim/websub_sim.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

namespace herald::sim {
namespace {

constexpr std::string_view kHubPath = "/websub/hub";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; nullopt on a broken escape.
std::optional<std::string> form_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size() || hex_digit(text[i + 1]) < 0 || hex_digit(text[i + 2]) < 0) {
        return std::nullopt;
      }
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Every pair, repeats kept (hub.url may be given more than once).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = form_decode(pair.substr(0, eq));
    auto value =
        form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    pairs.emplace_back(std::move(*key), std::move(*value));
  }
  return pairs;
}

// A hub fetches the topic, so it must be an absolute http(s) URL with a host.
bool is_feed_url(const std::string& url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.compare(0, scheme.size(), scheme) == 0) {
      const std::string_view rest = std::string_view(url).substr(scheme.size());
      return !rest.empty() && rest.front() != '/' &&
             rest.find_first_of(" \t\r\n") == std::string_view::npos;
    }
  }
  return false;
}

}  // namespace

bool WebSubHubSim::owns(const std::string& path) const {
  return path == kHubPath;
}

SimReply WebSubHubSim::handle(const ServerRequest& request) {
  if (request.method != "POST") {
    SimReply reply{ServerResponse::error(405, "method_not_allowed", "the hub takes POST")};
    reply.response.headers.emplace_back("Allow", "POST");
    return reply;
  }
  const std::string content_type = request.header("content-type");
  if (content_type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return {ServerResponse::error(400, "bad_request",
                                  "the hub takes application/x-www-form-urlencoded")};
  }
  auto form = parse_form(request.body);
  if (!form) return {ServerResponse::error(400, "bad_request", "malformed form body")};
  std::string mode;
  std::vector<std::string> urls;
  for (const auto& [key, value] : *form) {
    if (key == "hub.mode") mode = value;
    // Hubs differ on the name (channel-apis.md §4.4): hub.url for publish, hub.topic elsewhere.
    if ((key == "hub.url" || key == "hub.topic") &&
        std::find(urls.begin(), urls.end(), value) == urls.end()) {
      urls.push_back(value);
    }
  }
  if (mode != "publish") {
    return {ServerResponse::error(400, "bad_request",
                                  "hub.mode must be publish (subscriptions are not simulated)",
                                  "hub.mode")};
  }
  if (urls.empty()) {
    return {ServerResponse::error(400, "bad_request", "hub.url is missing", "hub.url")};
  }
  for (const auto& url : urls) {
    if (!is_feed_url(url)) {
      return {ServerResponse::error(400, "bad_request",
                                    "hub.url '" + url + "' is not an http(s) URL", "hub.url")};
    }
  }
  std::lock_guard lock(mutex_);
  Ping ping;
  ping.id = "ws-" + std::to_string(next_id_++);
  ping.urls = std::move(urls);
  ping.received_at = utc_now_iso8601();
  pings_.push_back(std::move(ping));
  SimReply reply;
  reply.response.status = 204;
  reply.response.content_type.clear();
  reply.recorded = true;
  return reply;
}

nlohmann::json WebSubHubSim::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& ping : pings_) {
    items.push_back({{"id", ping.id}, {"urls", ping.urls}, {"received_at", ping.received_at}});
  }
  return {{"platform", name()}, {"count", pings_.size()}, {"items", std::move(items)}};
}

void WebSubHubSim::reset() {
  std::lock_guard lock(mutex_);
  pings_.clear();
}

}  // namespace herald::sim
