#include "core/content_gate.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

namespace herald {
namespace {

// Never part of valid UTF-8, so no word contains it: joining the fields with it lets one pass scan
// them all without a match ever spanning two fields.
constexpr char kFieldSeparator = '\xFF';
// Findings named in the message (all of them are in the details).
constexpr std::size_t kFindingsInMessage = 5;

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return !is_continuation(static_cast<unsigned char>(c));
  }));
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

ContentGate::ContentGate(std::vector<std::string> blocked_words)
    : matcher_(std::move(blocked_words)) {}

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

Result<ContentGate> ContentGate::from_file(const std::string& path) {
  if (path.empty()) return ContentGate{};
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
  return ContentGate(std::move(*words));
}

GateVerdict ContentGate::check(const Item& item) const {
  return check(item.classification, item.title, item.summary, item.body);
}

GateVerdict ContentGate::check(std::string_view classification, std::string_view title,
                               std::string_view summary, std::string_view body) const {
  GateVerdict verdict;
  if (classification != "public") {
    verdict.allowed = false;
    verdict.code = "classified";
    verdict.field = "classification";
    verdict.message = "classification \"" + std::string(classification) +
                      "\" may not be published: only public items leave the office (内外有别)";
    return verdict;
  }
  if (matcher_.words().empty()) return verdict;

  const std::array<std::pair<const char*, std::string_view>, 3> fields = {
      {{"title", title}, {"summary", summary}, {"body", body}}};
  std::string text;
  text.reserve(title.size() + summary.size() + body.size() + 2);
  std::array<std::size_t, 3> starts{};
  for (std::size_t f = 0; f < fields.size(); ++f) {
    if (f > 0) text += kFieldSeparator;
    starts[f] = text.size();
    text += fields[f].second;
  }

  // Code points before each field (separators count as one each, here and in the cursor below).
  std::array<std::size_t, 3> field_cp_starts{};
  for (std::size_t f = 0; f < fields.size(); ++f) {
    field_cp_starts[f] = code_points(std::string_view(text).substr(0, starts[f]));
  }
  // Matches come ordered by where they end, so one forward cursor counts code points for all.
  std::size_t cursor = 0, cp_at_cursor = 0;
  for (const auto& m : matcher_.find_all(text)) {
    const std::string& word = matcher_.words()[m.word];
    const std::size_t end = m.byte_offset + word.size();
    cp_at_cursor += code_points(std::string_view(text).substr(cursor, end - cursor));
    cursor = end;
    std::size_t f = fields.size() - 1;
    while (f > 0 && starts[f] > m.byte_offset) --f;
    verdict.findings.push_back(
        {word, fields[f].first, cp_at_cursor - code_points(word) - field_cp_starts[f]});
  }
  if (verdict.findings.empty()) return verdict;

  std::stable_sort(verdict.findings.begin(), verdict.findings.end(),
                   [&](const GateFinding& a, const GateFinding& b) {
                     auto rank = [](const std::string& field) {
                       return field == "title" ? 0 : field == "summary" ? 1 : 2;
                     };
                     return std::pair(rank(a.field), a.position) <
                            std::pair(rank(b.field), b.position);
                   });
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
