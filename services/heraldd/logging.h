// Logging set-up from config: level and format (text or one JSON object per line) for spdlog.
#pragma once

#include "config/config.h"

namespace herald {

// Times are printed in the office's zone (office.utc_offset_minutes) with the offset.
void setup_logging(const LogConfig& config, int utc_offset_minutes);

}  // namespace herald
