// Logging set-up from config: level and format (text or one JSON object per line) for spdlog.
#pragma once

#include "config/config.h"

namespace herald {

void setup_logging(const LogConfig& config);

}  // namespace herald
