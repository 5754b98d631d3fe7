#include "services/common/version.h"

// Generated at build time into the build tree (cmake/herald_version.cmake). Only this file
// includes it, so a new commit recompiles one translation unit.
#include "herald_version.h"

namespace herald {

std::string version_string() {
  return std::string(HERALD_VERSION) + " (commit " + HERALD_GIT_COMMIT + ")";
}

}  // namespace herald
