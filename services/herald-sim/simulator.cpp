#include "services/herald-sim/simulator.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "services/herald-sim/portal_sim.h"
#include "services/herald-sim/webhook_sim.h"
#include "services/herald-sim/websub_sim.h"
#include "services/herald-sim/wechat_sim.h"
#include "services/herald-sim/wecom_sim.h"
#include "services/herald-sim/weibo_sim.h"

namespace herald::sim {

Result<void> PlatformSim::configure(const std::string& key, const nlohmann::json& /*value*/) {
  return Error::invalid(key, "platform " + name() + " has no setting '" + key + "'");
}

ServerResponse PlatformSim::injected_error(int status, const std::string& message) const {
  return ServerResponse::error(status, status == 429 ? "rate_limited" : "sim_injected_fault",
                               message);
}

ServerResponse PlatformSim::quota_error(int /*variant*/, int retry_after_s) const {
  ServerResponse response = injected_error(429, "injected quota");
  response.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return response;
}

std::string utc_now_iso8601() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
  return std::string(date) + fraction;
}

namespace {

HttpServerOptions server_options(const SimulatorOptions& options) {
  HttpServerOptions server;
  server.listen = options.listen;
  server.handler_threads = options.handler_threads;
  server.max_body_bytes = 8 * 1024 * 1024;  // media uploads (WeChat) come later
  return server;
}

ServerResponse method_not_allowed(const std::string& allow) {
  ServerResponse response =
      ServerResponse::error(405, "method_not_allowed", "this path takes " + allow);
  response.headers.emplace_back("Allow", allow);
  return response;
}

}  // namespace

Simulator::Simulator(SimulatorOptions options)
    : options_(std::move(options)),
      faults_(options_.seed),
      server_(server_options(options_),
              [this](const ServerRequest& request) { return handle(request); }) {
  // Each platform is registered here, explicitly; later platforms add a line.
  platforms_.push_back(std::make_unique<WebhookSim>(options_.webhook_secret));
  platforms_.push_back(std::make_unique<PortalSim>(options_.portal_key));
  platforms_.push_back(std::make_unique<WeiboSim>());
  // Before WeChat, which owns the rest of /cgi-bin/: the robot's path is asked first.
  platforms_.push_back(std::make_unique<WecomSim>());
  platforms_.push_back(
      std::make_unique<WechatSim>(WechatSim::kDefaultAppId, WechatSim::kDefaultSecret));
  platforms_.push_back(std::make_unique<WebSubHubSim>());
  auto smtp = std::make_unique<SmtpSink>(faults_);
  smtp_ = smtp.get();
  platforms_.push_back(std::move(smtp));
}

Simulator::~Simulator() {
  stop();
}

Result<void> Simulator::set_faults(std::string_view spec) {
  Result<FaultPlan> plan = parse_fault_spec(spec, platform_names());
  if (!plan) return plan.error();
  faults_.replace(std::move(*plan));
  return ok();
}

Result<void> Simulator::start() {
  // The sink first, so once the HTTP port answers (what tests wait for) the sink does too.
  if (!options_.smtp_listen.empty()) {
    if (auto started = smtp_->start(options_.smtp_listen); !started) return started.error();
  }
  return server_.start();
}

int Simulator::smtp_port() const {
  return smtp_->port();
}

int Simulator::port() const {
  return server_.port();
}

void Simulator::stop() {
  server_.stop(std::chrono::milliseconds(2000));
  smtp_->stop();  // before faults_ goes: its sessions consult it
}

std::vector<std::string> Simulator::platform_names() const {
  std::vector<std::string> names;
  for (const auto& platform : platforms_) names.push_back(platform->name());
  return names;
}

PlatformSim* Simulator::find_platform(const std::string& name) const {
  for (const auto& platform : platforms_) {
    if (platform->name() == name) return platform.get();
  }
  return nullptr;
}

ServerResponse Simulator::handle(const ServerRequest& request) {
  if (request.path.rfind("/_sim/", 0) == 0) return handle_control(request);
  for (const auto& platform : platforms_) {
    if (platform->owns(request.path)) return handle_platform(*platform, request);
  }
  return ServerResponse::error(404, "not_found", "no simulated platform serves " + request.path);
}

// Faults are decided before the platform sees the request, so a failed request records nothing;
// only accept_then_5xx and late let the platform act and then fail the answer.
ServerResponse Simulator::handle_platform(PlatformSim& platform, const ServerRequest& request) {
  FaultDecision decision = faults_.decide(platform.name());
  ServerResponse response;
  switch (decision.action) {
    case FaultDecision::Action::fail:
      response = platform.injected_error(decision.status, "injected fault");
      break;
    case FaultDecision::Action::rate_limit:
      response = platform.injected_error(429, "injected rate limit");
      response.headers.emplace_back("Retry-After", std::to_string(decision.retry_after_s));
      break;
    case FaultDecision::Action::quota:
      response = platform.quota_error(decision.quota_variant, decision.retry_after_s);
      break;
    case FaultDecision::Action::drop:
      // Held on a timer, not a handler thread, then dropped: the client times out or sees the
      // connection close without an answer.
      response.close_without_response = true;
      response.delay = decision.stall;
      break;
    case FaultDecision::Action::late:
      // The platform acts now; its real answer waits on a timer until the client has given up.
      response = platform.handle(request).response;
      response.delay = decision.stall;
      break;
    case FaultDecision::Action::pass: {
      SimReply reply = platform.handle(request);
      response = std::move(reply.response);
      if (decision.accept_then_5xx && reply.recorded) {
        response = platform.injected_error(500, "injected fault after recording");
      }
      break;
    }
  }
  if (decision.action != FaultDecision::Action::pass) {
    spdlog::debug("herald-sim: {} {} -> injected fault", request.method, request.path);
  }
  response.delay += decision.latency;
  return response;
}

ServerResponse Simulator::handle_control(const ServerRequest& request) {
  const std::string& path = request.path;
  if (path == "/_sim/health") {
    return ServerResponse::json(200, R"({"ok":true})");
  }
  if (path == "/_sim/published") {
    if (request.method != "GET") return method_not_allowed("GET");
    auto wanted = request.query.find("platform");
    if (wanted == request.query.end() || wanted->second.empty()) {
      return ServerResponse::error(400, "validation_failed", "give ?platform=NAME", "platform");
    }
    PlatformSim* platform = find_platform(wanted->second);
    if (platform == nullptr) {
      return ServerResponse::error(404, "unknown_platform",
                                   "no simulated platform '" + wanted->second + "'", "platform");
    }
    platform->advance();
    return ServerResponse::json(200, platform->published(request).dump());
  }
  if (path == "/_sim/faults") {
    if (request.method == "GET") {
      return ServerResponse::json(200, nlohmann::json{{"faults", faults_.spec()}}.dump());
    }
    if (request.method != "POST") return method_not_allowed("GET, POST");
    std::string spec = request.body;
    auto first = spec.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && spec[first] == '{') {
      nlohmann::json body = nlohmann::json::parse(spec, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.contains("spec") ||
          !body["spec"].is_string()) {
        return ServerResponse::error(400, "validation_failed",
                                     R"(expected {"spec": "..."} or the spec as text)", "spec");
      }
      spec = body["spec"].get<std::string>();
    }
    Result<void> applied = set_faults(spec);
    if (!applied) {
      return ServerResponse::error(400, applied.error().code, applied.error().message, "spec");
    }
    return ServerResponse::json(200,
                                nlohmann::json{{"ok", true}, {"faults", faults_.spec()}}.dump());
  }
  if (path == "/_sim/reset") {
    if (request.method != "POST") return method_not_allowed("POST");
    for (const auto& platform : platforms_) platform->reset();
    faults_.replace({});
    return ServerResponse::json(200, R"({"ok":true})");
  }
  if (path == "/_sim/config") {
    if (request.method == "POST") return post_config(request);
    if (request.method != "GET") return method_not_allowed("GET, POST");
    nlohmann::json config = nlohmann::json::object();
    for (const auto& platform : platforms_) config.update(platform->config());
    return ServerResponse::json(200, config.dump());
  }
  return ServerResponse::error(404, "not_found", "no control endpoint " + path);
}

// Unknown keys are refused before anything is applied.
ServerResponse Simulator::post_config(const ServerRequest& request) {
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return ServerResponse::error(400, "validation_failed", "expected a JSON object");
  }
  std::vector<std::pair<PlatformSim*, std::string>> targets;
  for (const auto& [key, value] : body.items()) {
    PlatformSim* owner = nullptr;
    for (const auto& platform : platforms_) {
      for (const auto& known : platform->config_keys()) {
        if (known == key) owner = platform.get();
      }
    }
    if (owner == nullptr) {
      return ServerResponse::error(400, "validation_failed", "unknown setting '" + key + "'", key);
    }
    targets.emplace_back(owner, key);
  }
  for (const auto& [platform, key] : targets) {
    Result<void> applied = platform->configure(key, body[key]);
    if (!applied) {
      return ServerResponse::error(400, "validation_failed", applied.error().message, key);
    }
  }
  return ServerResponse::json(200, R"({"ok":true})");
}

}  // namespace herald::sim
