// The content gate's normaliser and matcher on any text: a normalised text maps every byte back
// to the code points it came from (that is how a finding names where the drafter typed the word),
// and a word list read from the same text matches only inside it.
#include <memory>
#include <string>

#include "core/content_gate.h"
#include "core/item.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

const herald::TextNormalizer& normalizer() {
  static const std::shared_ptr<const herald::TextNormalizer> loaded = [] {
    auto made = herald::TextNormalizer::load();
    if (!made) std::abort();  // no OpenCC data: nothing here could be tested
    return *made;
  }();
  return *loaded;
}

std::size_t code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (const char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = herald::fuzz::as_text(data, size);
  const bool valid = herald::is_valid_utf8(input);

  const herald::NormalizedText normal = normalizer().normalize(input);
  HERALD_FUZZ_CHECK(normal.origin.size() == normal.text.size(), "origin per byte");
  HERALD_FUZZ_CHECK(normal.origin_end.size() == normal.text.size(), "origin_end per byte");
  if (valid) {
    HERALD_FUZZ_CHECK(herald::is_valid_utf8(normal.text), "normalised text is not UTF-8");
    const std::size_t n = code_points(input);
    for (std::size_t i = 0; i < normal.text.size(); ++i) {
      HERALD_FUZZ_CHECK(normal.origin[i] < normal.origin_end[i], "empty origin");
      HERALD_FUZZ_CHECK(normal.origin_end[i] <= n, "origin past the input");
    }
  }

  auto words = herald::ContentGate::parse_word_list(input);
  if (!words) return 0;
  // Many one-letter words over a long text give quadratically many matches: slow, not a finding.
  if (words->size() > 64) words->resize(64);
  const herald::WordMatcher matcher(*words);
  for (const auto& match : matcher.find_all(normal.text)) {
    HERALD_FUZZ_CHECK(match.word < matcher.words().size(), "match of no word");
    const std::string& word = matcher.words()[match.word];
    HERALD_FUZZ_CHECK(normal.text.compare(match.byte_offset, word.size(), word) == 0,
                      "match where the word is not");
  }
  return 0;
}
