// UTF-8 repair for text from outside, kept apart from item.h so that translation units that must
// not pull in nlohmann/json (the HTTP server) can use it.
#pragma once

#include <string>
#include <string_view>

namespace herald {

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: for text from
// outside (a platform's answer may be GBK) that ends up in JSON, which must be UTF-8. Defined in
// item.cpp next to the validator it shares.
std::string to_valid_utf8(std::string_view text);

}  // namespace herald
