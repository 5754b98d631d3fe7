// The content gate (内外有别): refuses items that are not public or that contain a blocked word or
// phrase. Every text an item publishes is normalised (as a reader would see it) and searched with
// an Aho–Corasick automaton.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/item.h"
#include "core/result.h"

namespace herald {

// Aho–Corasick over bytes. Working on bytes keeps the automaton small and needs no decoding; since
// UTF-8 is self-synchronising, a valid UTF-8 word can only match at code-point boundaries of valid
// UTF-8 text, so byte matches are exactly the character matches.
class WordMatcher {
 public:
  struct Match {
    std::size_t word = 0;         // index into words()
    std::size_t byte_offset = 0;  // where the match starts in the text
  };

  // Empty words are ignored. Duplicates are kept (each reports its own matches).
  explicit WordMatcher(std::vector<std::string> words = {});

  // Every occurrence of every word, overlapping ones included, ordered by where they end (then
  // longest first).
  std::vector<Match> find_all(std::string_view text) const;
  const std::vector<std::string>& words() const { return words_; }

 private:
  // Sparse edges (sorted by byte) keep a node small: a list of thousands of Chinese phrases has
  // hundreds of thousands of nodes, and a full 256-entry table each would cost hundreds of MB.
  struct Node {
    std::vector<std::pair<std::uint8_t, std::int32_t>> edges;
    std::int32_t fail = 0;
    std::int32_t output_link = -1;  // nearest node on the fail chain that ends a word
    std::vector<std::size_t> ends;  // words ending here
  };
  std::int32_t child(std::size_t node, std::uint8_t byte) const;
  std::size_t step(std::size_t node, std::uint8_t byte) const;

  std::vector<std::string> words_;
  std::vector<Node> nodes_;
};

// Text as the gate compares it. Renderers drop control and invisible characters and readers do not
// tell case, width or traditional from simplified apart, so a word hidden by any of these would be
// published whole: the text is NFKC case-folded (ICU), stripped of C0/C1 controls, format
// characters and default-ignorables, and turned simplified (OpenCC t2s).
struct NormalizedText {
  std::string text;  // UTF-8
  // Per byte of `text`: the original code points it came from, [origin, origin_end), so a match is
  // reported where the drafter typed it.
  std::vector<std::size_t> origin;
  std::vector<std::size_t> origin_end;
};

class TextNormalizer {
 public:
  // "" is the t2s.json the opencc package installs. A missing or unreadable configuration is an
  // error: without it traditional spellings would pass.
  static Result<std::shared_ptr<const TextNormalizer>> load(const std::string& t2s_config = "");
  ~TextNormalizer();

  NormalizedText normalize(std::string_view text) const;

 private:
  struct Impl;  // ICU and OpenCC stay out of this header
  explicit TextNormalizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One blocked word found in an item: which field, and where, in code points of the original text
// from the field's start.
struct GateFinding {
  std::string word;   // as the word list spells it
  std::string field;  // a JSON path: "title", "alert.areas[0].desc", "attachments[1].name" …
  std::size_t position = 0;
  std::size_t length = 0;  // original code points the match covers (hidden characters included)
};

struct GateVerdict {
  bool allowed = true;
  std::string code;     // "classified" or "blocked_content" when refused
  std::string message;  // the reason, for people
  std::string field;    // "classification", or the field of the first finding
  std::vector<GateFinding> findings;

  // allowed → ok; refused → invalid_input with code, message and field.
  Result<void> to_result() const;
};

class ContentGate {
 public:
  ContentGate() = default;  // no words: only the classification is checked
  // The words are normalised like the texts; words that normalise alike count once.
  static Result<ContentGate> create(std::vector<std::string> blocked_words,
                                    const std::string& t2s_config = "");

  // A word list: one word or phrase per line, UTF-8; blank lines and lines starting with '#' are
  // skipped; surrounding spaces and a trailing '\r' are trimmed. Invalid UTF-8 is an error naming
  // the line.
  static Result<std::vector<std::string>> parse_word_list(std::string_view text);
  // Reads and parses a word-list file; "" gives an empty gate. The normaliser is loaded either
  // way, so a missing OpenCC configuration stops start-up even before a list is configured.
  static Result<ContentGate> from_file(const std::string& path, const std::string& t2s_config = "");

  // Every text any channel publishes is checked: the contract's free-text fields (title, summary,
  // body, link, alert.areas[].desc, alert.hotline) and every extra field, names included (the
  // portal's subject, doc_no and attachments, CAP's instruction, webhooks' whole payload).
  GateVerdict check(const Item& item) const;
  // The same on an item as item_to_json writes it, which is what a delivery carries.
  GateVerdict check_json(const nlohmann::json& item) const;
  std::size_t word_count() const { return words_.size(); }

 private:
  std::vector<std::string> words_;  // as listed, parallel to matcher_'s normalised words
  WordMatcher matcher_;
  std::shared_ptr<const TextNormalizer> normalizer_;
};

// The gate in force, swapped as a whole on reload (SIGHUP) while API handlers and dispatchers
// keep using the one they took.
class SharedContentGate {
 public:
  explicit SharedContentGate(ContentGate gate = ContentGate{})
      : gate_(std::make_shared<const ContentGate>(std::move(gate))) {}
  std::shared_ptr<const ContentGate> get() const {
    std::lock_guard lock(mutex_);
    return gate_;
  }
  void set(ContentGate gate) {
    auto next = std::make_shared<const ContentGate>(std::move(gate));
    std::lock_guard lock(mutex_);
    gate_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ContentGate> gate_;
};

}  // namespace herald
