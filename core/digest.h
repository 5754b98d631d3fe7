// Hashes Herald needs in several parts: token hashes (SHA-256), Lua script ids (SHA-1) and request
// signatures (HMAC-SHA256), all as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace herald {

std::string sha1_hex(std::string_view data);
std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Compares in time independent of where the strings differ (for secrets and their hashes).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace herald
