#include "services/heraldd/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace herald {
namespace {

// "%*": the log message as a JSON string (quoted and escaped), so json logs stay parseable
// whatever a message contains.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string quoted = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// "%~": the time in the office's zone with its offset, "2026-11-29 21:52:26.123+08:00" (or with
// 'T' between date and time, RFC 3339), as heraldctl prints times: a log line then reads the same
// whatever zone the server's clock is set to (often UTC on a server, +08:00 at the office).
class OfficeTimeFlag final : public spdlog::custom_flag_formatter {
 public:
  OfficeTimeFlag(char separator, int utc_offset_minutes)
      : separator_(separator), offset_minutes_(utc_offset_minutes) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    // Milliseconds since the epoch in the office's zone (log times are never before 1970).
    const auto local_ms =
        duration_cast<milliseconds>((msg.time + minutes(offset_minutes_)).time_since_epoch())
            .count();
    const std::time_t seconds = static_cast<std::time_t>(local_ms / 1000);
    std::tm t{};
    gmtime_r(&seconds, &t);
    const int offset = offset_minutes_ < 0 ? -offset_minutes_ : offset_minutes_;
    char text[64];
    const int n =
        std::snprintf(text, sizeof(text), "%04d-%02d-%02d%c%02d:%02d:%02d.%03d%c%02d:%02d",
                      t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, separator_, t.tm_hour, t.tm_min,
                      t.tm_sec, static_cast<int>(local_ms % 1000), offset_minutes_ < 0 ? '-' : '+',
                      offset / 60, offset % 60);
    if (n > 0) dest.append(text, text + std::min<int>(n, sizeof(text) - 1));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<OfficeTimeFlag>(separator_, offset_minutes_);
  }

 private:
  char separator_;
  int offset_minutes_;
};

}  // namespace

void setup_logging(const LogConfig& config, int utc_offset_minutes) {
  auto logger = spdlog::stderr_color_mt("herald");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (config.format == "json") {
    formatter->add_flag<JsonMessageFlag>('*')
        .add_flag<OfficeTimeFlag>('~', 'T', utc_offset_minutes)
        .set_pattern(R"({"time":"%~","level":"%l","thread":%t,"message":%*})");
  } else {
    formatter->add_flag<OfficeTimeFlag>('~', ' ', utc_offset_minutes)
        .set_pattern("%~ %^%l%$ [%t] %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(config.level));
  spdlog::set_default_logger(logger);
}

}  // namespace herald
