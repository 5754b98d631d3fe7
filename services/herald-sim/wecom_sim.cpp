#include "services/herald-sim/wecom_sim.h"

#include <utility>

namespace herald::sim {
namespace {

constexpr std::string_view kPath = "/cgi-bin/webhook/send";
constexpr std::size_t kTextMaxBytes = 2048;
constexpr std::size_t kMarkdownMaxBytes = 4096;

ServerResponse answer(int errcode, const std::string& errmsg, int status = 200) {
  return ServerResponse::json(status,
                              nlohmann::json{{"errcode", errcode}, {"errmsg", errmsg}}.dump());
}

}  // namespace

WecomSim::WecomSim() : keys_{kDefaultKey} {}

bool WecomSim::owns(const std::string& path) const {
  return path == kPath;
}

SimReply WecomSim::handle(const ServerRequest& request) {
  if (request.method != "POST") {
    SimReply reply{ServerResponse::error(405, "method_not_allowed", "the robot takes POST")};
    reply.response.headers.emplace_back("Allow", "POST");
    return reply;
  }
  const auto key_it = request.query.find("key");
  const std::string key = key_it == request.query.end() ? std::string() : key_it->second;

  std::lock_guard lock(mutex_);
  if (keys_.count(key) == 0) {
    ++refused_;
    return {answer(93000, "invalid webhook url, hint: [sim] no robot has this key")};
  }
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    ++refused_;
    return {answer(40035, "invalid parameter, hint: [sim] the body is not a JSON object")};
  }
  const std::string msgtype = body.value("msgtype", "");
  if (msgtype != "text" && msgtype != "markdown") {
    ++refused_;
    return {answer(40008, "invalid message type, hint: [sim] text or markdown")};
  }
  const nlohmann::json part = body.value(msgtype, nlohmann::json::object());
  const std::string content =
      part.is_object() && part.contains("content") && part["content"].is_string()
          ? part["content"].get<std::string>()
          : std::string();
  if (content.empty()) {
    ++refused_;
    return {answer(44004, "empty content, hint: [sim] " + msgtype + ".content is required")};
  }
  const std::size_t limit = msgtype == "text" ? kTextMaxBytes : kMarkdownMaxBytes;
  if (content.size() > limit) {
    ++refused_;
    return {answer(40058, "content exceed max length " + std::to_string(limit))};
  }

  // 20 messages per rolling minute per robot, as the real one documents.
  auto& recent = recent_[key];
  const auto now = std::chrono::steady_clock::now();
  while (!recent.empty() && now - recent.front() >= std::chrono::minutes(1)) recent.pop_front();
  if (recent.size() >= kMessagesPerMinute) {
    ++refused_;
    return {answer(45009, "api freq out of limit")};
  }
  recent.push_back(now);
  messages_.push_back({key, msgtype, content, utc_now_iso8601()});
  SimReply reply{answer(0, "ok")};
  reply.recorded = true;
  return reply;
}

nlohmann::json WecomSim::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& m : messages_) {
    items.push_back({{"key", m.key},
                     {"msgtype", m.msgtype},
                     {"content", m.content},
                     {"received_at", m.received_at}});
  }
  return {{"platform", name()},
          {"count", messages_.size()},
          {"refused", refused_},
          {"items", std::move(items)}};
}

void WecomSim::reset() {
  std::lock_guard lock(mutex_);
  messages_.clear();
  recent_.clear();
  refused_ = 0;
}

Result<void> WecomSim::configure(const std::string& key, const nlohmann::json& value) {
  if (key != "wecom_keys") return PlatformSim::configure(key, value);
  std::set<std::string> keys;
  if (!value.is_array()) return Error::invalid(key, "wecom_keys must be an array of strings");
  for (const auto& k : value) {
    if (!k.is_string() || k.get<std::string>().empty()) {
      return Error::invalid(key, "wecom_keys must be an array of non-empty strings");
    }
    keys.insert(k.get<std::string>());
  }
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  return ok();
}

nlohmann::json WecomSim::config() const {
  std::lock_guard lock(mutex_);
  return {{"wecom_keys", keys_}};
}

ServerResponse WecomSim::injected_error(int status, const std::string& message) const {
  return answer(-1, "system error, hint: [sim] " + message, status);
}

ServerResponse WecomSim::quota_error(int /*variant*/, int /*retry_after_s*/) const {
  return answer(45009, "api freq out of limit");
}

}  // namespace herald::sim
