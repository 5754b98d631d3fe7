#include "core/result.h"

namespace herald {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::retryable:
      return "retryable";
    case ErrorKind::ambiguous:
      return "ambiguous";
    case ErrorKind::deferred:
      return "deferred";
    case ErrorKind::credentials:
      return "credentials";
    case ErrorKind::permanent:
      return "permanent";
    case ErrorKind::invalid_input:
      return "invalid_input";
  }
  return "unknown";
}

std::optional<ErrorKind> error_kind_from_string(std::string_view text) {
  for (ErrorKind kind : {ErrorKind::retryable, ErrorKind::ambiguous, ErrorKind::deferred,
                         ErrorKind::credentials, ErrorKind::permanent, ErrorKind::invalid_input}) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

}  // namespace herald
