// Fault injection for herald-sim: the --faults / POST /_sim/faults spec, parsed into a per-platform
// plan, and the seeded random choice of what happens to each request.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::sim {

// One platform's faults. The probabilities of 5xx, 429, drop, late and quota share one draw, so
// they must add up to at most 1; accept_then_5xx is drawn separately, only for requests the
// platform recorded.
struct PlatformFaults {
  double error_5xx = 0;     // "5xx": answer 500 or 503 (even odds), record nothing
  double rate_limited = 0;  // "429": answer 429 with Retry-After, record nothing
  // "drop" (alias "timeout", its old name): the platform never sees the request; the connection
  // is held for stall, then closed without an answer.
  double drop = 0;
  // "late": the platform acts (records, publishes) and its answer goes out only after stall, i.e.
  // after the client gave up: the ambiguous outcome a client must resolve by reading back.
  double late = 0;
  // "quota": the platform's own quota / frequency answer, in its own format (Weibo 10023 or 20016,
  // WeChat 45009 or 45011, portal and webhooks 429 with Retry-After), record nothing.
  double quota = 0;
  double accept_then_5xx = 0;            // record, then answer 500 ("it worked but we never heard")
  std::chrono::milliseconds latency{0};  // "latency_ms": added to every answer
  std::chrono::milliseconds stall{30000};  // "stall_ms": how long drop / late hold the request
  int retry_after_s = 1;                   // "retry_after_s": the Retry-After of a 429
  int fail_next = 0;                       // "fail_next": the next N requests get 503
  // The SMTP sink ("smtp:...") takes only these keys, and only it takes them. Recipient patterns
  // are globs ('*', '?'; case-insensitive) over the bare address, e.g. "*@bad.example".
  std::string rcpt_550;  // "rcpt_550": RCPT TO answered 550 (permanent)
  std::string rcpt_450;  // "rcpt_450": RCPT TO answered 450 (temporary)
  double data_451 = 0;   // "data_451": the end of DATA answered 451, nothing recorded
  double data_554 = 0;   // "data_554": the end of DATA answered 554, nothing recorded
};

inline constexpr const char* kSmtpPlatform = "smtp";

using FaultPlan = std::map<std::string, PlatformFaults>;

// SPEC: "webhook:5xx=0.3,drop=0.05,late=0.05,latency_ms=20;weibo:quota=0.1". Platforms not in
// `platforms`, unknown keys, probabilities outside [0, 1] and bad numbers are errors naming the
// culprit.
Result<FaultPlan> parse_fault_spec(std::string_view spec,
                                   const std::vector<std::string>& platforms);
// The plan written back as a spec (only non-default keys; fail_next as it stands now).
std::string to_spec(const FaultPlan& plan);

struct FaultDecision {
  enum class Action { pass, fail, rate_limit, drop, late, quota };
  Action action = Action::pass;
  int status = 0;         // for fail: 500 or 503
  int quota_variant = 0;  // for quota: 0 or 1 (even odds), which of the platform's two codes
  bool accept_then_5xx = false;
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds stall{0};
  int retry_after_s = 0;
};

// Thread-safe; one draw sequence for all platforms, so a seed reproduces a single-client run.
class FaultInjector {
 public:
  explicit FaultInjector(std::uint64_t seed) : rng_(seed) {}

  void replace(FaultPlan plan);
  FaultDecision decide(const std::string& platform);
  std::string spec() const;
  // The SMTP sink's replies: for RCPT TO:<address> and for the end of DATA; 0 means accept.
  int smtp_rcpt_reply(const std::string& address);
  int smtp_data_reply();

 private:
  mutable std::mutex mutex_;
  FaultPlan plan_;
  std::mt19937_64 rng_;
};

}  // namespace herald::sim
