#include "core/content_gate.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>
#include <Exception.hpp>
#include <SimpleConverter.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

namespace herald {
namespace {

// Findings named in the message (all of them are in the details).
constexpr std::size_t kFindingsInMessage = 5;

// Invisible once rendered, so a word split by one reads whole: controls (C0, DEL, C1), format
// characters and default-ignorables. NFKC_Casefold drops most default-ignorables but keeps
// controls and a few format characters.
bool invisible(UChar32 c) {
  const auto type = u_charType(c);
  return type == U_CONTROL_CHAR || type == U_FORMAT_CHAR ||
         u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

void append_utf8(std::string& out, UChar32 c) {
  char buf[U8_MAX_LENGTH];
  std::int32_t n = 0;
  UBool error = false;
  U8_APPEND(buf, n, U8_MAX_LENGTH, c, error);
  if (!error) out.append(buf, static_cast<std::size_t>(n));
}

std::vector<UChar32> decode_utf8(std::string_view text) {
  std::vector<UChar32> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<std::int32_t>(text.size());
  for (std::int32_t i = 0; i < length;) {
    UChar32 c = 0;
    U8_NEXT_OR_FFFD(s, i, length, c);
    out.push_back(c);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

WordMatcher::WordMatcher(std::vector<std::string> words) : words_(std::move(words)) {
  nodes_.emplace_back();
  for (std::size_t w = 0; w < words_.size(); ++w) {
    if (words_[w].empty()) continue;
    std::size_t node = 0;
    for (unsigned char c : words_[w]) {
      std::int32_t next = child(node, c);
      if (next < 0) {
        next = static_cast<std::int32_t>(nodes_.size());
        auto& edges = nodes_[node].edges;
        edges.insert(std::lower_bound(edges.begin(), edges.end(), std::pair(c, std::int32_t{-1})),
                     {c, next});
        nodes_.emplace_back();
      }
      node = static_cast<std::size_t>(next);
    }
    nodes_[node].ends.push_back(w);
  }
  // Breadth first, so a node's fail target (a shorter suffix) is complete before the node.
  std::deque<std::size_t> queue;
  for (const auto& [c, v] : nodes_[0].edges) queue.push_back(static_cast<std::size_t>(v));
  while (!queue.empty()) {
    const std::size_t u = queue.front();
    queue.pop_front();
    const std::size_t f = static_cast<std::size_t>(nodes_[u].fail);
    nodes_[u].output_link =
        nodes_[f].ends.empty() ? nodes_[f].output_link : static_cast<std::int32_t>(f);
    for (const auto& [c, v] : nodes_[u].edges) {
      nodes_[static_cast<std::size_t>(v)].fail = static_cast<std::int32_t>(step(f, c));
      queue.push_back(static_cast<std::size_t>(v));
    }
  }
}

std::int32_t WordMatcher::child(std::size_t node, std::uint8_t byte) const {
  const auto& edges = nodes_[node].edges;
  auto it = std::lower_bound(edges.begin(), edges.end(), std::pair(byte, std::int32_t{-1}));
  return it != edges.end() && it->first == byte ? it->second : -1;
}

// The automaton's transition: follow fail links until a node has an edge for `byte` (or the root).
std::size_t WordMatcher::step(std::size_t node, std::uint8_t byte) const {
  while (true) {
    if (const std::int32_t next = child(node, byte); next >= 0) {
      return static_cast<std::size_t>(next);
    }
    if (node == 0) return 0;
    node = static_cast<std::size_t>(nodes_[node].fail);
  }
}

std::vector<WordMatcher::Match> WordMatcher::find_all(std::string_view text) const {
  std::vector<Match> out;
  std::size_t node = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    node = step(node, static_cast<std::uint8_t>(text[i]));
    for (std::int32_t n = nodes_[node].ends.empty() ? nodes_[node].output_link
                                                    : static_cast<std::int32_t>(node);
         n >= 0; n = nodes_[static_cast<std::size_t>(n)].output_link) {
      for (std::size_t w : nodes_[static_cast<std::size_t>(n)].ends) {
        out.push_back({w, i + 1 - words_[w].size()});
      }
    }
  }
  return out;
}

Result<void> GateVerdict::to_result() const {
  if (allowed) return ok();
  Error e = Error::invalid(field, message);
  e.code = code;
  return e;
}

struct TextNormalizer::Impl {
  const icu::Normalizer2* nfkc_cf = nullptr;
  std::unique_ptr<opencc::SimpleConverter> t2s;

  // NFKC_Casefold, invisible characters dropped. Text is cut where the normaliser has a boundary,
  // so each piece normalises on its own and its output maps back to the piece it came from.
  NormalizedText fold(std::string_view original) const {
    const std::vector<UChar32> cps = decode_utf8(original);
    NormalizedText out;
    out.text.reserve(original.size());
    auto emit = [&](std::size_t from, std::size_t to, UChar32 c) {
      append_utf8(out.text, c);
      out.origin.resize(out.text.size(), from);
      out.origin_end.resize(out.text.size(), to);
    };
    for (std::size_t i = 0; i < cps.size();) {
      if (invisible(cps[i])) {
        ++i;
        continue;
      }
      const std::size_t from = i;
      std::size_t last = i, count = 1;
      icu::UnicodeString piece(cps[i]);
      for (++i; i < cps.size(); ++i) {
        if (invisible(cps[i])) continue;
        if (nfkc_cf->hasBoundaryBefore(cps[i])) break;
        piece.append(cps[i]);
        last = i;
        ++count;
      }
      if (count == 1 && nfkc_cf->isInert(cps[from])) {  // most text: nothing to do
        emit(from, last + 1, cps[from]);
        continue;
      }
      UErrorCode status = U_ZERO_ERROR;
      const icu::UnicodeString folded = nfkc_cf->normalize(piece, status);
      if (U_FAILURE(status)) continue;  // cannot happen on a valid instance and string
      for (std::int32_t k = 0; k < folded.length();) {
        const UChar32 c = folded.char32At(k);
        k += U16_LENGTH(c);
        if (!invisible(c)) emit(from, last + 1, c);
      }
    }
    return out;
  }

  // Traditional → simplified. OpenCC converts phrase by phrase; when it keeps the number of code
  // points (it nearly always does) the i-th character maps to the i-th, otherwise each character is
  // converted alone so every output still maps to its source.
  NormalizedText simplify(const NormalizedText& in) const {
    std::string converted;
    try {
      converted = t2s->Convert(in.text);
    } catch (...) {
      return in;  // OpenCC throws only on a broken dictionary, which load() has already read
    }
    auto starts = [](const std::string& text) {
      std::vector<std::size_t> out;
      for (std::size_t b = 0; b < text.size(); ++b) {
        if ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80) out.push_back(b);
      }
      return out;
    };
    const std::vector<std::size_t> in_starts = starts(in.text);
    const std::vector<std::size_t> out_starts = starts(converted);
    NormalizedText out;
    if (in_starts.size() == out_starts.size()) {
      out.text = std::move(converted);
      out.origin.reserve(out.text.size());
      out.origin_end.reserve(out.text.size());
      for (std::size_t k = 0; k < out_starts.size(); ++k) {
        const std::size_t bytes =
            (k + 1 < out_starts.size() ? out_starts[k + 1] : out.text.size()) - out_starts[k];
        out.origin.insert(out.origin.end(), bytes, in.origin[in_starts[k]]);
        out.origin_end.insert(out.origin_end.end(), bytes, in.origin_end[in_starts[k]]);
      }
      return out;
    }
    for (std::size_t k = 0; k < in_starts.size(); ++k) {
      const std::size_t b = in_starts[k];
      const std::size_t e = k + 1 < in_starts.size() ? in_starts[k + 1] : in.text.size();
      std::string one = in.text.substr(b, e - b);
      if (e - b > 1) {
        try {
          one = t2s->Convert(one);
        } catch (...) {
        }
      }
      out.text += one;
      out.origin.resize(out.text.size(), in.origin[b]);
      out.origin_end.resize(out.text.size(), in.origin_end[b]);
    }
    return out;
  }
};

TextNormalizer::TextNormalizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextNormalizer::~TextNormalizer() = default;

Result<std::shared_ptr<const TextNormalizer>> TextNormalizer::load(const std::string& t2s_config) {
  const std::string path = t2s_config.empty() ? std::string(HERALD_OPENCC_T2S_CONFIG) : t2s_config;
  // Loading t2s reads megabytes of dictionaries: done once per configuration, not on every reload.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const TextNormalizer>> loaded;
  std::lock_guard lock(mutex);
  if (const auto it = loaded.find(path); it != loaded.end()) return it->second;

  auto impl = std::make_unique<Impl>();
  UErrorCode status = U_ZERO_ERROR;
  impl->nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status) || impl->nfkc_cf == nullptr) {
    return Error::invalid("gate",
                          std::string("ICU NFKC_Casefold is unavailable: ") + u_errorName(status));
  }
  // Probed first so the error says why (OpenCC throws its own type, not std::exception).
  if (std::ifstream probe(path); !probe) {
    return Error::invalid("gate", "cannot read the OpenCC configuration '" + path + "': " +
                                      std::strerror(errno) + " (is libopencc-data installed?)");
  }
  try {
    impl->t2s = std::make_unique<opencc::SimpleConverter>(path);
  } catch (const opencc::Exception& e) {
    return Error::invalid("gate",
                          "cannot load the OpenCC configuration '" + path + "': " + e.what());
  } catch (const std::exception& e) {
    return Error::invalid("gate",
                          "cannot load the OpenCC configuration '" + path + "': " + e.what());
  }
  std::shared_ptr<const TextNormalizer> normalizer(new TextNormalizer(std::move(impl)));
  loaded.emplace(path, normalizer);
  return normalizer;
}

NormalizedText TextNormalizer::normalize(std::string_view text) const {
  return impl_->simplify(impl_->fold(text));
}

Result<ContentGate> ContentGate::create(std::vector<std::string> blocked_words,
                                        const std::string& t2s_config) {
  auto normalizer = TextNormalizer::load(t2s_config);
  if (!normalizer) return normalizer.error();
  ContentGate gate;
  gate.normalizer_ = std::move(*normalizer);
  std::vector<std::string> normalized;
  std::unordered_set<std::string> seen;
  for (auto& word : blocked_words) {
    std::string n = gate.normalizer_->normalize(word).text;
    // Empty (only invisible characters) would match nothing; a repeat would report twice.
    if (n.empty() || !seen.insert(n).second) continue;
    normalized.push_back(std::move(n));
    gate.words_.push_back(std::move(word));
  }
  gate.matcher_ = WordMatcher(std::move(normalized));
  return gate;
}

Result<std::vector<std::string>> ContentGate::parse_word_list(std::string_view text) {
  std::vector<std::string> words;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line_no == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // BOM
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (!is_valid_utf8(line)) {
      return Error::invalid("line " + std::to_string(line_no), "not valid UTF-8");
    }
    words.emplace_back(line);
  }
  return words;
}

Result<ContentGate> ContentGate::from_file(const std::string& path, const std::string& t2s_config) {
  if (path.empty()) return create({}, t2s_config);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::invalid("gate.blocked_words_file",
                          "cannot read '" + path + "': " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto words = parse_word_list(ss.str());
  if (!words) {
    return Error::invalid("gate.blocked_words_file",
                          path + ", " + words.error().field + ": " + words.error().message);
  }
  return create(std::move(*words), t2s_config);
}

GateVerdict ContentGate::check(const Item& item) const {
  return check_json(item_to_json(item));
}

namespace {

// One text an item publishes, named by its JSON path.
struct GateField {
  std::string name;
  std::string_view text;
};

// The contract's fields that are codes, ids, times or names Herald itself checks or sets, not text
// a drafter writes for readers. Paths with "[]" for any index.
bool is_code_field(const std::string& shape) {
  static const char* const kCodes[] = {"id",
                                       "kind",
                                       "category",
                                       "channels[]",
                                       "publish_at",
                                       "classification",
                                       "status",
                                       "corrects",
                                       "author",
                                       "created_at",
                                       "alert.level",
                                       "alert.severity",
                                       "alert.urgency",
                                       "alert.certainty",
                                       "alert.expires",
                                       "alert.areas[].country"};
  return std::any_of(std::begin(kCodes), std::end(kCodes),
                     [&](const char* code) { return shape == code; });
}

// Every string under `value`. Member names are collected too outside the contract's own objects:
// an extra field's name reaches a webhook as surely as its value.
void collect(const nlohmann::json& value, const std::string& path, const std::string& shape,
             bool names_are_text, std::vector<GateField>& out) {
  if (value.is_string()) {
    if (!is_code_field(shape)) out.push_back({path, value.get_ref<const std::string&>()});
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      collect(value[i], path + "[" + std::to_string(i) + "]", shape + "[]", names_are_text, out);
    }
  } else if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      const std::string member_path = path.empty() ? key : path + "." + key;
      if (names_are_text) out.push_back({member_path + " (name)", key});
      collect(member, member_path, path.empty() ? key : shape + "." + key, names_are_text, out);
    }
  }
}

}  // namespace

GateVerdict ContentGate::check_json(const nlohmann::json& item) const {
  GateVerdict verdict;
  const auto cls = item.find("classification");
  const std::string classification = cls == item.end()  ? "public"
                                     : cls->is_string() ? cls->get<std::string>()
                                                        : cls->dump();
  if (classification != "public") {
    verdict.allowed = false;
    verdict.code = "classified";
    verdict.field = "classification";
    verdict.message = "classification \"" + classification +
                      "\" may not be published: only public items leave the office (内外有别)";
    return verdict;
  }
  if (words_.empty() || !item.is_object()) return verdict;

  // The contract's texts first, in reading order, so the first finding is the one a drafter sees
  // first; then the extra fields.
  static const char* const kContract[] = {"title",    "summary",    "body",           "link",
                                          "alert",    "id",         "kind",           "category",
                                          "channels", "publish_at", "classification", "status",
                                          "corrects", "author",     "created_at"};
  std::vector<GateField> fields;
  for (const char* key : kContract) {
    if (const auto it = item.find(key); it != item.end()) collect(*it, key, key, false, fields);
  }
  for (const auto& [key, value] : item.items()) {
    if (std::find_if(std::begin(kContract), std::end(kContract),
                     // clang before 16 cannot capture a structured binding.
                     [&name = key](const char* k) { return name == k; }) != std::end(kContract)) {
      continue;
    }
    fields.push_back({key + " (name)", key});
    collect(value, key, key, true, fields);
  }

  std::vector<std::size_t> field_order;
  for (std::size_t f = 0; f < fields.size(); ++f) {
    const NormalizedText text = normalizer_->normalize(fields[f].text);
    for (const auto& m : matcher_.find_all(text.text)) {
      const std::size_t last = m.byte_offset + matcher_.words()[m.word].size() - 1;
      const std::size_t position = text.origin[m.byte_offset];
      verdict.findings.push_back(
          {words_[m.word], fields[f].name, position, text.origin_end[last] - position});
      field_order.push_back(f);
    }
  }
  if (verdict.findings.empty()) return verdict;

  std::vector<std::size_t> order(verdict.findings.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::pair(field_order[a], verdict.findings[a].position) <
           std::pair(field_order[b], verdict.findings[b].position);
  });
  std::vector<GateFinding> sorted;
  sorted.reserve(order.size());
  for (std::size_t i : order) sorted.push_back(std::move(verdict.findings[i]));
  verdict.findings = std::move(sorted);

  verdict.allowed = false;
  verdict.code = "blocked_content";
  verdict.field = verdict.findings.front().field;
  std::string list;
  for (std::size_t i = 0; i < verdict.findings.size() && i < kFindingsInMessage; ++i) {
    const auto& f = verdict.findings[i];
    if (i > 0) list += ", ";
    list += "\"" + f.word + "\" in " + f.field + " at " + std::to_string(f.position);
  }
  if (verdict.findings.size() > kFindingsInMessage) {
    list += " and " + std::to_string(verdict.findings.size() - kFindingsInMessage) + " more";
  }
  verdict.message = "blocked word(s) found: " + list;
  return verdict;
}

}  // namespace herald
