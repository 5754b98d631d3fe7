#include "services/herald-sim/faults.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace herald::sim {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

Error spec_error(const std::string& message) {
  Error error = Error::invalid("faults", message);
  error.code = "bad_fault_spec";
  return error;
}

Result<double> parse_probability(const std::string& where, std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || errno != 0 || end != copy.c_str() + copy.size() || !std::isfinite(value) ||
      value < 0 || value > 1) {
    return spec_error(where + ": '" + copy + "' is not a probability between 0 and 1");
  }
  return value;
}

Result<int> parse_count(const std::string& where, std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(copy.c_str(), &end, 10);
  if (copy.empty() || errno != 0 || end != copy.c_str() + copy.size() || value < 0 ||
      value > 86'400'000) {
    return spec_error(where + ": '" + copy + "' is not a whole number >= 0");
  }
  return static_cast<int>(value);
}

Result<void> apply_key(const std::string& platform, std::string_view key, std::string_view value,
                       PlatformFaults& faults) {
  std::string where = platform + ":" + std::string(key);
  auto set_probability = [&](double& field) -> Result<void> {
    Result<double> parsed = parse_probability(where, value);
    if (!parsed) return parsed.error();
    field = *parsed;
    return ok();
  };
  auto set_count = [&](int& field) -> Result<void> {
    Result<int> parsed = parse_count(where, value);
    if (!parsed) return parsed.error();
    field = *parsed;
    return ok();
  };
  auto set_millis = [&](std::chrono::milliseconds& field) -> Result<void> {
    Result<int> parsed = parse_count(where, value);
    if (!parsed) return parsed.error();
    field = std::chrono::milliseconds(*parsed);
    return ok();
  };
  const bool smtp_key =
      key == "rcpt_550" || key == "rcpt_450" || key == "data_451" || key == "data_554";
  if (platform == kSmtpPlatform && !smtp_key) {
    return spec_error(where + ": unknown SMTP fault (known: rcpt_550, rcpt_450, data_451, " +
                      "data_554)");
  }
  if (platform != kSmtpPlatform && smtp_key) {
    return spec_error(where + ": only the smtp platform takes this fault");
  }
  if (key == "rcpt_550" || key == "rcpt_450") {
    if (value.empty()) return spec_error(where + ": give a recipient pattern");
    (key == "rcpt_550" ? faults.rcpt_550 : faults.rcpt_450) = std::string(value);
    return ok();
  }
  if (key == "data_451") return set_probability(faults.data_451);
  if (key == "data_554") return set_probability(faults.data_554);
  if (key == "5xx") return set_probability(faults.error_5xx);
  if (key == "429") return set_probability(faults.rate_limited);
  // "timeout" was the only stall before "late" existed and meant what "drop" means now.
  if (key == "drop" || key == "timeout") return set_probability(faults.drop);
  if (key == "late") return set_probability(faults.late);
  if (key == "quota") return set_probability(faults.quota);
  if (key == "accept_then_5xx") return set_probability(faults.accept_then_5xx);
  if (key == "latency_ms") return set_millis(faults.latency);
  if (key == "stall_ms") return set_millis(faults.stall);
  if (key == "retry_after_s") return set_count(faults.retry_after_s);
  if (key == "fail_next") return set_count(faults.fail_next);
  return spec_error(where + ": unknown fault (known: 5xx, 429, drop, timeout, late, quota, " +
                    "accept_then_5xx, latency_ms, stall_ms, retry_after_s, fail_next)");
}

// Glob match, '*' any run and '?' any one character, ASCII case-insensitive.
bool glob_matches(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

Result<FaultPlan> parse_fault_spec(std::string_view spec,
                                   const std::vector<std::string>& platforms) {
  FaultPlan plan;
  for (std::string_view section : split(spec, ';')) {
    section = trim(section);
    if (section.empty()) continue;
    std::size_t colon = section.find(':');
    if (colon == std::string_view::npos) {
      return spec_error("'" + std::string(section) + "' is not PLATFORM:KEY=VALUE,...");
    }
    std::string platform(trim(section.substr(0, colon)));
    if (std::find(platforms.begin(), platforms.end(), platform) == platforms.end()) {
      std::string known;
      for (const auto& name : platforms) known += (known.empty() ? "" : ", ") + name;
      return spec_error("unknown platform '" + platform + "' (known: " + known + ")");
    }
    if (plan.count(platform) != 0) return spec_error("platform '" + platform + "' given twice");
    PlatformFaults faults;
    std::vector<std::string> seen_keys;
    for (std::string_view pair : split(section.substr(colon + 1), ',')) {
      pair = trim(pair);
      if (pair.empty()) continue;
      std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        return spec_error(platform + ": '" + std::string(pair) + "' is not KEY=VALUE");
      }
      std::string key(trim(pair.substr(0, eq)));
      // drop and timeout are one fault under two names; both at once would silently lose one.
      const std::string canonical = key == "timeout" ? "drop" : key;
      if (std::find(seen_keys.begin(), seen_keys.end(), canonical) != seen_keys.end()) {
        return spec_error(platform + ":" + key + ": given twice" +
                          (canonical == "drop" ? " (timeout is another name for drop)" : ""));
      }
      seen_keys.push_back(canonical);
      Result<void> applied = apply_key(platform, key, trim(pair.substr(eq + 1)), faults);
      if (!applied) return applied.error();
    }
    if (faults.error_5xx + faults.rate_limited + faults.drop + faults.late + faults.quota >
        1.0 + 1e-9) {
      return spec_error(platform + ": 5xx + 429 + drop (timeout) + late + quota add up to more " +
                        "than 1");
    }
    if (faults.data_451 + faults.data_554 > 1.0 + 1e-9) {
      return spec_error(platform + ": data_451 + data_554 add up to more than 1");
    }
    plan.emplace(platform, faults);
  }
  return plan;
}

std::string to_spec(const FaultPlan& plan) {
  const PlatformFaults defaults;
  std::string out;
  for (const auto& [platform, faults] : plan) {
    std::vector<std::string> keys;
    auto probability = [&](const char* key, double value) {
      if (value > 0) keys.push_back(std::string(key) + "=" + format_number(value));
    };
    probability("5xx", faults.error_5xx);
    probability("429", faults.rate_limited);
    probability("drop", faults.drop);
    probability("late", faults.late);
    probability("quota", faults.quota);
    probability("accept_then_5xx", faults.accept_then_5xx);
    if (faults.latency != defaults.latency) {
      keys.push_back("latency_ms=" + std::to_string(faults.latency.count()));
    }
    if (faults.stall != defaults.stall) {
      keys.push_back("stall_ms=" + std::to_string(faults.stall.count()));
    }
    if (faults.retry_after_s != defaults.retry_after_s) {
      keys.push_back("retry_after_s=" + std::to_string(faults.retry_after_s));
    }
    if (faults.fail_next > 0) keys.push_back("fail_next=" + std::to_string(faults.fail_next));
    if (!faults.rcpt_550.empty()) keys.push_back("rcpt_550=" + faults.rcpt_550);
    if (!faults.rcpt_450.empty()) keys.push_back("rcpt_450=" + faults.rcpt_450);
    probability("data_451", faults.data_451);
    probability("data_554", faults.data_554);
    if (!out.empty()) out += ";";
    out += platform + ":";
    for (std::size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + keys[i];
  }
  return out;
}

void FaultInjector::replace(FaultPlan plan) {
  std::lock_guard lock(mutex_);
  plan_ = std::move(plan);
}

std::string FaultInjector::spec() const {
  std::lock_guard lock(mutex_);
  return to_spec(plan_);
}

FaultDecision FaultInjector::decide(const std::string& platform) {
  std::lock_guard lock(mutex_);
  FaultDecision decision;
  auto found = plan_.find(platform);
  if (found == plan_.end()) return decision;
  PlatformFaults& faults = found->second;
  decision.latency = faults.latency;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  if (faults.fail_next > 0) {
    --faults.fail_next;
    decision.action = FaultDecision::Action::fail;
    decision.status = 503;
    return decision;
  }
  // Draw only when a probability is set, so a plan without randomness consumes no numbers.
  if (faults.drop + faults.late + faults.quota + faults.rate_limited + faults.error_5xx > 0) {
    double draw = uniform(rng_);
    if (draw < faults.drop) {
      decision.action = FaultDecision::Action::drop;
      decision.stall = faults.stall;
      return decision;
    }
    draw -= faults.drop;
    if (draw < faults.late) {
      decision.action = FaultDecision::Action::late;
      decision.stall = faults.stall;
      return decision;
    }
    draw -= faults.late;
    if (draw < faults.quota) {
      decision.action = FaultDecision::Action::quota;
      decision.quota_variant = uniform(rng_) < 0.5 ? 0 : 1;
      decision.retry_after_s = faults.retry_after_s;
      return decision;
    }
    draw -= faults.quota;
    if (draw < faults.rate_limited) {
      decision.action = FaultDecision::Action::rate_limit;
      decision.retry_after_s = faults.retry_after_s;
      return decision;
    }
    draw -= faults.rate_limited;
    if (draw < faults.error_5xx) {
      decision.action = FaultDecision::Action::fail;
      decision.status = uniform(rng_) < 0.5 ? 500 : 503;
      return decision;
    }
  }
  if (faults.accept_then_5xx > 0) decision.accept_then_5xx = uniform(rng_) < faults.accept_then_5xx;
  return decision;
}

int FaultInjector::smtp_rcpt_reply(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto found = plan_.find(kSmtpPlatform);
  if (found == plan_.end()) return 0;
  const PlatformFaults& faults = found->second;
  if (!faults.rcpt_550.empty() && glob_matches(faults.rcpt_550, address)) return 550;
  if (!faults.rcpt_450.empty() && glob_matches(faults.rcpt_450, address)) return 450;
  return 0;
}

int FaultInjector::smtp_data_reply() {
  std::lock_guard lock(mutex_);
  auto found = plan_.find(kSmtpPlatform);
  if (found == plan_.end()) return 0;
  const PlatformFaults& faults = found->second;
  if (faults.data_451 + faults.data_554 <= 0) return 0;
  double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  if (draw < faults.data_451) return 451;
  if (draw - faults.data_451 < faults.data_554) return 554;
  return 0;
}

}  // namespace herald::sim
