// Simulator: herald-sim's HTTP front. One port serves every simulated platform under its real
// paths, plus /_sim/... to inspect what was published, inject faults and reset between tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "services/common/http_server.h"
#include "services/herald-sim/faults.h"
#include "services/herald-sim/platform_sim.h"
#include "services/herald-sim/smtp_sink.h"

namespace herald::sim {

struct SimulatorOptions {
  std::string listen = "127.0.0.1:0";
  std::uint64_t seed = 1;      // for the fault draws
  std::string webhook_secret;  // empty: webhooks are not signature-checked
  std::string portal_key;      // empty: portal signatures are not checked
  std::string smtp_listen;     // HOST:PORT of the SMTP sink; empty: no sink
  int handler_threads = 8;
};

class Simulator {
 public:
  explicit Simulator(SimulatorOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Replaces every fault (see faults.h for SPEC); an invalid spec changes nothing.
  Result<void> set_faults(std::string_view spec);
  Result<void> start();
  int port() const;
  int smtp_port() const;  // 0 when no SMTP sink was asked for
  void stop();

  // Everything the HTTP server hands over: platforms, then /_sim/ control. Thread-safe.
  ServerResponse handle(const ServerRequest& request);
  std::vector<std::string> platform_names() const;

 private:
  ServerResponse handle_control(const ServerRequest& request);
  ServerResponse handle_platform(PlatformSim& platform, const ServerRequest& request);
  ServerResponse post_config(const ServerRequest& request);
  PlatformSim* find_platform(const std::string& name) const;

  SimulatorOptions options_;
  // Filled in the constructor, never changed after: read without a lock.
  std::vector<std::unique_ptr<PlatformSim>> platforms_;
  FaultInjector faults_;
  HttpServer server_;
  SmtpSink* smtp_ = nullptr;  // owned by platforms_
};

}  // namespace herald::sim
