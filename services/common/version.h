// The version every Herald binary prints for --version: the project version from CMake and the git
// commit it was built from ("unknown" when built outside a git checkout).
#pragma once

#include <string>

namespace herald {

// e.g. "0.1.0 (commit a56e2b0c1d2e)"
std::string version_string();

}  // namespace herald
