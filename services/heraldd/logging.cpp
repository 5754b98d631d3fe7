#include "services/heraldd/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace herald {

void setup_logging(const LogConfig& config) {
  auto logger = spdlog::stderr_color_mt("herald");
  if (config.format == "json") {
    logger->set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"message":"%v"})");
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  }
  logger->set_level(spdlog::level::from_str(config.level));
  spdlog::set_default_logger(logger);
}

}  // namespace herald
