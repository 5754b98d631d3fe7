// Result<T>: an expected-style value for failures that are part of normal operation (a platform's
// error, a Redis outage, bad input). Exceptions are kept for start-up and broken invariants.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace herald {

// How the caller should react to a failure. For a platform call these are the outcomes of
// DESIGN.md §3 (success being the value itself): the dispatcher maps them onto retry, deferral,
// token refresh or dead letter; the API maps invalid_input onto a 4xx answer.
enum class ErrorKind {
  retryable,     // not_sent: refused or failed before anyone could act on it; safe to send again
  ambiguous,     // the request was sent and may have been acted on (a timeout or a dropped
                 // connection after sending, a 5xx after the body): look before sending again
  deferred,      // the platform asked us to wait (rate limit, quota, still processing): come back
                 // after `retry_after`; never spends an attempt
  credentials,   // token expired or revoked: refresh once, then retry
  permanent,     // will never succeed as is: dead letter
  invalid_input  // the caller sent something wrong
};

// Why a deferred outcome waits: each has its own deadline per channel, after which the delivery
// becomes a dead letter (`deferred_too_long`).
enum class DeferReason {
  rate_limit,  // a rate limit or quota window
  processing   // the platform accepted the work and is still processing it (publishing, review)
};

const char* to_string(ErrorKind kind);
std::optional<ErrorKind> error_kind_from_string(std::string_view text);

struct Error {
  ErrorKind kind = ErrorKind::permanent;
  std::string message;
  std::string field;  // JSON path or config key the error is about, when there is one
  std::optional<std::chrono::milliseconds> retry_after;
  std::string code;  // machine-readable code (e.g. "validation_failed", a platform's error code)
  DeferReason defer_reason = DeferReason::rate_limit;  // for deferred errors

  // Constructors rather than aggregate initialisation, so `Error{kind, message}` does not trip
  // -Wmissing-field-initializers.
  Error() = default;
  Error(ErrorKind kind, std::string message, std::string field = {})
      : kind(kind), message(std::move(message)), field(std::move(field)) {}

  static Error retryable(std::string message) { return {ErrorKind::retryable, std::move(message)}; }
  static Error permanent(std::string message) { return {ErrorKind::permanent, std::move(message)}; }
  static Error credentials(std::string message) {
    return {ErrorKind::credentials, std::move(message)};
  }
  static Error ambiguous(std::string message) { return {ErrorKind::ambiguous, std::move(message)}; }
  static Error deferred(std::string message,
                        std::optional<std::chrono::milliseconds> retry_after = std::nullopt,
                        DeferReason reason = DeferReason::rate_limit) {
    Error e{ErrorKind::deferred, std::move(message)};
    e.retry_after = retry_after;
    e.defer_reason = reason;
    return e;
  }
  static Error invalid(std::string field, std::string message) {
    Error e{ErrorKind::invalid_input, std::move(message), std::move(field)};
    e.code = "validation_failed";
    return e;
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

inline Result<void> ok() {
  return {};
}

}  // namespace herald
