#include "core/json_fields.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

namespace herald {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxSecretFileBytes = 1 << 20;
constexpr std::size_t kMaxShownValueBytes = 40;

Error malformed(std::string message, std::string field = "") {
  Error e{ErrorKind::invalid_input, std::move(message), std::move(field)};
  e.code = "malformed_json";
  return e;
}

// Builds the DOM from SAX events so that errors come back as values with their byte position,
// and so that duplicate keys and excessive nesting can be refused (nlohmann would keep the last
// duplicate silently).
class DomBuilder {
 public:
  DomBuilder(json& root, std::size_t max_depth) : root_(root), max_depth_(max_depth) {}

  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(json::number_integer_t v) { return add(v); }
  bool number_unsigned(json::number_unsigned_t v) { return add(v); }
  bool number_float(json::number_float_t v, const std::string&) { return add(v); }
  bool string(std::string& v) { return add(std::move(v)); }
  bool binary(json::binary_t& v) { return add(std::move(v)); }

  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& k) {
    Frame& top = stack_.back();
    if (top.value->contains(k)) {
      error_ = malformed("duplicate key '" + k + "'", join_path(top.path, k));
      return false;
    }
    top.key = std::move(k);
    return true;
  }

  template <class Exception>
  bool parse_error(std::size_t position, const std::string&, const Exception& ex) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string detail = ex.what();
    if (const auto bracket = detail.find("] "); bracket != std::string::npos) {
      detail.erase(0, bracket + 2);
    }
    error_ = malformed("malformed JSON at byte " + std::to_string(position) + ": " + detail);
    return false;
  }

  std::optional<Error>& error() { return error_; }

 private:
  struct Frame {
    json* value;
    std::string path;
    std::string key;  // the pending key, for objects
  };

  // The path a value placed now would have; only containers need it (for later messages).
  std::string next_path() const {
    if (stack_.empty()) return "";
    const Frame& top = stack_.back();
    return top.value->is_array() ? index_path(top.path, top.value->size())
                                 : join_path(top.path, top.key);
  }

  // Places a value where the parser is and returns it.
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& top = stack_.back();
    if (top.value->is_array()) {
      top.value->push_back(std::move(v));
      return &top.value->back();
    }
    json& slot = (*top.value)[top.key];
    slot = std::move(v);
    return &slot;
  }

  bool add(json&& v) {
    place(std::move(v));
    return true;
  }

  bool open(json&& container) {
    if (stack_.size() >= max_depth_) {
      error_ = malformed("JSON nested deeper than " + std::to_string(max_depth_) + " levels");
      return false;
    }
    std::string path = next_path();
    json* placed = place(std::move(container));
    stack_.push_back({placed, std::move(path), {}});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  json& root_;
  std::size_t max_depth_;
  std::vector<Frame> stack_;
  std::optional<Error> error_;
};

// Shortens a string for a message without cutting a UTF-8 sequence in two.
std::string shorten(const std::string& text) {
  if (text.size() <= kMaxShownValueBytes) return text;
  std::size_t cut = kMaxShownValueBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "…";
}

std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return json(shorten(value.get_ref<const std::string&>())).dump();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
    case json::value_t::boolean:
    case json::value_t::null:
      return value.dump();
    default:
      return json_type_name(value);
  }
}

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string list(std::initializer_list<std::string_view> names) {
  return list(std::vector<std::string>(names.begin(), names.end()));
}

}  // namespace

Result<json> parse_json_text(std::string_view text, bool allow_comments, std::size_t max_depth) {
  json root;
  DomBuilder builder(root, max_depth);
  const bool parsed =
      json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                      /*strict=*/true, allow_comments);
  if (!parsed || builder.error()) {
    return builder.error() ? std::move(*builder.error()) : malformed("malformed JSON");
  }
  return root;
}

std::string json_type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      return "nothing";
  }
  return "an unknown value";
}

std::string join_path(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view path, std::size_t index) {
  std::string out(path);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

struct FieldReader::State {
  struct Scope {
    const json* object;
    std::string path;
    std::optional<std::size_t> parent;
    std::vector<std::string> known;  // in the order asked for, for the "known:" list
  };
  const json empty = json::object();
  std::vector<Scope> scopes;
  std::optional<Error> error;
};

FieldReader::FieldReader(const json& object, std::string path) : state_(std::make_shared<State>()) {
  const bool is_object = object.is_object();
  state_->scopes.push_back(
      {is_object ? &object : &state_->empty, std::move(path), std::nullopt, {}});
  if (!is_object) {
    fail_at(state_->scopes[0].path, "expected an object, got " + describe(object));
  }
}

FieldReader::FieldReader(std::shared_ptr<State> state, std::size_t scope)
    : state_(std::move(state)), scope_(scope) {}

const std::string& FieldReader::path() const {
  return state_->scopes[scope_].path;
}

std::string FieldReader::path_of(std::string_view key) const {
  return join_path(path(), key);
}

bool FieldReader::ok() const {
  return !state_->error.has_value();
}

bool FieldReader::has(std::string_view key) const {
  return state_->scopes[scope_].object->contains(key);
}

std::vector<std::string> FieldReader::keys() const {
  std::vector<std::string> out;
  for (const auto& item : state_->scopes[scope_].object->items()) out.push_back(item.key());
  return out;
}

void FieldReader::fail_at(std::string path, std::string problem) {
  if (!state_->error) state_->error = Error::invalid(std::move(path), std::move(problem));
}

void FieldReader::fail(std::string_view key, std::string problem) {
  fail_at(path_of(key), std::move(problem));
}

void FieldReader::expected(std::string_view key, std::string_view what, const json& got) {
  fail(key, "expected " + std::string(what) + ", got " + describe(got));
}

const json* FieldReader::lookup(std::string_view key) {
  auto& scope = state_->scopes[scope_];
  if (std::find(scope.known.begin(), scope.known.end(), key) == scope.known.end()) {
    scope.known.emplace_back(key);
  }
  const auto it = scope.object->find(key);
  return it == scope.object->end() ? nullptr : &*it;
}

const json* FieldReader::value(std::string_view key) {
  return lookup(key);
}

std::string FieldReader::string(std::string_view key) {
  const json* v = lookup(key);
  if (!v) {
    fail(key, "is required");
    return {};
  }
  if (!v->is_string()) {
    expected(key, "a string", *v);
    return {};
  }
  return v->get<std::string>();
}

std::string FieldReader::string(std::string_view key, std::string fallback) {
  if (!has(key)) {
    lookup(key);
    return fallback;
  }
  return string(key);
}

std::optional<std::string> FieldReader::optional_string(std::string_view key) {
  if (!has(key)) {
    lookup(key);
    return std::nullopt;
  }
  return string(key);
}

std::string FieldReader::one_of(std::string_view key,
                                std::initializer_list<std::string_view> allowed) {
  const bool present = has(key);
  std::string text = string(key);
  if (present && ok() && std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    fail(key, "expected one of " + list(allowed) + "; got " + describe(json(text)));
  }
  return text;
}

std::string FieldReader::one_of(std::string_view key,
                                std::initializer_list<std::string_view> allowed,
                                std::string fallback) {
  if (!has(key)) {
    lookup(key);
    return fallback;
  }
  return one_of(key, allowed);
}

std::int64_t FieldReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const std::string what =
      "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  const json* v = lookup(key);
  if (!v) {
    fail(key, "is required (" + what + ")");
    return min;
  }
  if (!v->is_number_integer()) {
    expected(key, what, *v);
    return min;
  }
  if (v->is_number_unsigned() &&
      v->get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    expected(key, what, *v);
    return max;
  }
  const auto n = v->get<std::int64_t>();
  if (n < min || n > max) {
    expected(key, what, *v);
    return std::clamp(n, min, max);
  }
  return n;
}

std::int64_t FieldReader::integer(std::string_view key, std::int64_t min, std::int64_t max,
                                  std::int64_t fallback) {
  if (!has(key)) {
    lookup(key);
    return fallback;
  }
  return integer(key, min, max);
}

double FieldReader::number(std::string_view key, double min, double max, double fallback) {
  const json* v = lookup(key);
  if (!v) return fallback;
  const std::string what = "a number between " + json(min).dump() + " and " + json(max).dump();
  if (!v->is_number()) {
    expected(key, what, *v);
    return fallback;
  }
  const auto n = v->get<double>();
  if (!(n >= min && n <= max)) {
    expected(key, what, *v);
    return fallback;
  }
  return n;
}

bool FieldReader::boolean(std::string_view key) {
  const json* v = lookup(key);
  if (!v) {
    fail(key, "is required (true or false)");
    return false;
  }
  if (!v->is_boolean()) {
    expected(key, "true or false", *v);
    return false;
  }
  return v->get<bool>();
}

bool FieldReader::boolean(std::string_view key, bool fallback) {
  if (!has(key)) {
    lookup(key);
    return fallback;
  }
  return boolean(key);
}

std::vector<std::string> FieldReader::strings(std::string_view key) {
  const json* v = lookup(key);
  if (!v) {
    fail(key, "is required (an array of strings)");
    return {};
  }
  if (!v->is_array()) {
    expected(key, "an array of strings", *v);
    return {};
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& element = (*v)[i];
    if (!element.is_string()) {
      fail_at(index_path(path_of(key), i), "expected a string, got " + describe(element));
      return {};
    }
    out.push_back(element.get<std::string>());
  }
  return out;
}

std::vector<std::string> FieldReader::strings(std::string_view key,
                                              std::vector<std::string> fallback) {
  if (!has(key)) {
    lookup(key);
    return fallback;
  }
  return strings(key);
}

std::optional<std::string> FieldReader::optional_secret(std::string_view key) {
  const std::string file_key = std::string(key) + "_file";
  const json* inline_value = lookup(key);
  const json* file_value = lookup(file_key);
  if (inline_value && file_value) {
    fail(key, "set either '" + std::string(key) + "' or '" + file_key + "', not both");
    return std::nullopt;
  }
  if (inline_value) {
    // The value is a secret: say what it is, never what it says.
    if (!inline_value->is_string()) {
      fail(key, "expected a string, got " + json_type_name(*inline_value));
      return std::nullopt;
    }
    if (inline_value->get_ref<const std::string&>().empty()) {
      fail(key, "must not be empty");
      return std::nullopt;
    }
    return inline_value->get<std::string>();
  }
  if (!file_value) return std::nullopt;
  if (!file_value->is_string() || file_value->get_ref<const std::string&>().empty()) {
    expected(file_key, "a file path", *file_value);
    return std::nullopt;
  }
  const auto& file = file_value->get_ref<const std::string&>();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    fail(file_key, "cannot read file '" + file + "': " + std::strerror(errno));
    return std::nullopt;
  }
  std::string content(kMaxSecretFileBytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) {
    fail(file_key, "cannot read file '" + file + "': " + std::strerror(errno));
    return std::nullopt;
  }
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > kMaxSecretFileBytes) {
    fail(file_key, "file '" + file + "' is larger than 1 MiB; is it the right file?");
    return std::nullopt;
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }
  if (content.empty()) {
    fail(file_key, "file '" + file + "' is empty");
    return std::nullopt;
  }
  return content;
}

std::string FieldReader::secret(std::string_view key) {
  const std::string file_key = std::string(key) + "_file";
  if (!has(key) && !has(file_key)) {
    lookup(key);
    lookup(file_key);
    fail(key, "is required (set '" + std::string(key) + "' or '" + file_key + "')");
    return {};
  }
  return optional_secret(key).value_or(std::string());
}

const json* FieldReader::object(std::string_view key) {
  const json* v = lookup(key);
  if (v && !v->is_object()) {
    expected(key, "an object", *v);
    return nullptr;
  }
  return v;
}

std::size_t FieldReader::scope_for(const json* object, std::string path) {
  // Asking twice for the same child gives the same scope, so keys read through either count.
  auto& scopes = state_->scopes;
  for (std::size_t i = scope_ + 1; i < scopes.size(); ++i) {
    if (scopes[i].parent == scope_ && scopes[i].path == path) return i;
  }
  scopes.push_back({object, std::move(path), scope_, {}});
  return scopes.size() - 1;
}

FieldReader FieldReader::child(std::string_view key) {
  const bool seen_before =
      std::find(state_->scopes[scope_].known.begin(), state_->scopes[scope_].known.end(), key) !=
      state_->scopes[scope_].known.end();
  const json* v = seen_before ? lookup(key) : object(key);  // report a bad type only once
  if (v && !v->is_object()) v = nullptr;
  return FieldReader(state_, scope_for(v ? v : &state_->empty, path_of(key)));
}

std::vector<FieldReader> FieldReader::children(std::string_view key) {
  const json* v = lookup(key);
  if (!v) return {};
  if (!v->is_array()) {
    expected(key, "an array of objects", *v);
    return {};
  }
  std::vector<FieldReader> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& element = (*v)[i];
    std::string element_path = index_path(path_of(key), i);
    if (!element.is_object()) {
      fail_at(element_path, "expected an object, got " + describe(element));
    }
    out.push_back(FieldReader(state_, scope_for(element.is_object() ? &element : &state_->empty,
                                                std::move(element_path))));
  }
  return out;
}

json FieldReader::rest() {
  json out = json::object();
  for (const auto& item : state_->scopes[scope_].object->items()) {
    auto& known = state_->scopes[scope_].known;
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      out[item.key()] = item.value();
      known.push_back(item.key());
    }
  }
  return out;
}

Result<void> FieldReader::finish() const {
  if (state_->error) return *state_->error;
  const auto& scopes = state_->scopes;
  for (std::size_t i = scope_; i < scopes.size(); ++i) {
    std::optional<std::size_t> ancestor = i;
    while (ancestor && *ancestor != scope_) ancestor = scopes[*ancestor].parent;
    if (!ancestor) continue;  // a sibling's reader, not ours to judge

    const auto& scope = scopes[i];
    for (const auto& item : scope.object->items()) {
      const std::string& key = item.key();
      if (std::find(scope.known.begin(), scope.known.end(), key) != scope.known.end()) continue;
      const std::string full = join_path(scope.path, key);
      std::string hint;
      for (const auto& candidate : scope.known) {
        if (edit_distance(key, candidate) <= 2) {
          hint = "did you mean '" + candidate + "'? ";
          break;
        }
      }
      const std::string known =
          scope.known.empty() ? "this object takes no keys" : "known: " + list(scope.known);
      return Error::invalid(full, "unknown key '" + full + "' (" + hint + known + ")");
    }
  }
  return {};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace herald
