// Strict, path-aware reading of typed values from JSON objects: config sections, channel sections
// and submitted items. The first problem wins, and keys nobody asked for are rejected at the end.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald {

// Parses JSON text without exceptions. A syntax error is an invalid_input Error with code
// "malformed_json" and a message giving the byte offset, line and column. `allow_comments` accepts
// // and /* */ comments (config files). Nesting deeper than `max_depth` is refused, so hostile
// input cannot exhaust the stack of code that later walks the value.
Result<nlohmann::json> parse_json_text(std::string_view text, bool allow_comments = false,
                                       std::size_t max_depth = 128);

// "a string", "an integer", "an object", ... for messages like "expected X, got Y".
std::string json_type_name(const nlohmann::json& value);

// Reads one JSON object, e.g.
//
//   FieldReader r(section, "channels.webhook");
//   settings.url = r.string("url");
//   settings.secret = r.secret("secret");            // "secret" or "secret_file"
//   settings.timeout_ms = r.integer("timeout_ms", 1, 60000, 5000);
//   for (FieldReader& h : r.children("headers")) { ... h.string("name") ... }
//   if (auto done = r.finish(); !done) return done.error();
//
// Getters never throw: on a missing or bad value they record an Error::invalid(path, message)
// (only the first is kept) and return the fallback (or an empty value). finish() returns that
// error, else the first key that no getter asked for: "unknown key 'channels.webhook.urll'
// (known: url, secret, secret_file, timeout_ms)". Readers made by child()/children() share the
// error with their parent, and the parent's finish() checks their keys too.
//
// The JSON must outlive the reader. Copies of a reader share its state.
class FieldReader {
 public:
  // `path` is the object's own path ("" for a document's root, "channels.webhook", "alert").
  // A non-object value is recorded as an error and read as an empty object.
  FieldReader(const nlohmann::json& object, std::string path);

  // Strings. Without a fallback the key is required. Empty strings are accepted; use fail() for
  // field-specific rules.
  std::string string(std::string_view key);
  std::string string(std::string_view key, std::string fallback);
  std::optional<std::string> optional_string(std::string_view key);
  // A string that must be one of `allowed` (the message lists them).
  std::string one_of(std::string_view key, std::initializer_list<std::string_view> allowed);
  std::string one_of(std::string_view key, std::initializer_list<std::string_view> allowed,
                     std::string fallback);

  // Integers in [min, max]; a fractional number is an error, not rounded.
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max,
                       std::int64_t fallback);
  // Any number in [min, max].
  double number(std::string_view key, double min, double max, double fallback);

  bool boolean(std::string_view key);
  bool boolean(std::string_view key, bool fallback);

  // An array of strings (possibly empty).
  std::vector<std::string> strings(std::string_view key);
  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback);

  // A secret given inline as `key` or as a file `key_file` (its content, trailing newlines
  // trimmed): exactly one of the two, and not empty. Messages never echo a secret's value.
  std::string secret(std::string_view key);
  // The same, but neither key present gives nullopt instead of an error.
  std::optional<std::string> optional_secret(std::string_view key);

  // Raw access: the value (nullptr when absent), marked as known.
  const nlohmann::json* value(std::string_view key);
  // An object's raw value; nullptr when absent, an error (and nullptr) when not an object.
  const nlohmann::json* object(std::string_view key);
  // A reader for a nested object (an absent key reads as an empty object, so defaults apply).
  // Asking again for the same key gives a reader over the same scope.
  FieldReader child(std::string_view key);
  // Readers for an array of objects, path "key[i]" (absent: none; not an array: an error).
  std::vector<FieldReader> children(std::string_view key);

  // Every key that has not been read yet, as an object, now marked as read: a section handed on
  // to someone else, or the extra fields of an item.
  nlohmann::json rest();

  bool has(std::string_view key) const;
  // The object's keys (sorted: nlohmann keeps objects ordered).
  std::vector<std::string> keys() const;

  // Records a problem with `key`'s value: Error::invalid(path_of(key), problem).
  void fail(std::string_view key, std::string problem);
  // Records a problem at any path (e.g. "channels[2]").
  void fail_at(std::string path, std::string problem);

  const std::string& path() const;
  std::string path_of(std::string_view key) const;
  // True while no error has been recorded (by this reader or any that share its state).
  bool ok() const;

  // The first recorded error, else the first unknown key of this reader or its descendants.
  Result<void> finish() const;

 private:
  struct State;
  FieldReader(std::shared_ptr<State> state, std::size_t scope);
  const nlohmann::json* lookup(std::string_view key);  // marks the key as known
  std::size_t scope_for(const nlohmann::json* object, std::string path);
  void expected(std::string_view key, std::string_view what, const nlohmann::json& got);

  std::shared_ptr<State> state_;
  std::size_t scope_ = 0;
};

// Joins a path and a key: ("", "http") → "http", ("http", "listen") → "http.listen".
std::string join_path(std::string_view path, std::string_view key);
// ("channels", 2) → "channels[2]".
std::string index_path(std::string_view path, std::size_t index);

// The Levenshtein distance between two strings (in bytes), for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace herald
