// The content gate: the Aho–Corasick matcher, the word-list format and the gate's verdicts.
#include "core/content_gate.h"

#include <catch2/catch.hpp>

using namespace herald;

namespace {

std::vector<std::pair<std::string, std::size_t>> matches(const WordMatcher& m,
                                                         std::string_view text) {
  std::vector<std::pair<std::string, std::size_t>> out;
  for (const auto& match : m.find_all(text))
    out.emplace_back(m.words()[match.word], match.byte_offset);
  std::sort(out.begin(), out.end());
  return out;
}

Item item_with(std::string title, std::string summary, std::string body) {
  Item item;
  item.title = std::move(title);
  item.summary = std::move(summary);
  item.body = std::move(body);
  return item;
}

}  // namespace

TEST_CASE("the matcher finds every occurrence of every word, overlapping ones included", "[gate]") {
  SECTION("words inside words and sharing suffixes") {
    WordMatcher m({"he", "she", "his", "hers"});
    CHECK(matches(m, "ushers") ==
          std::vector<std::pair<std::string, std::size_t>>{{"he", 2}, {"hers", 2}, {"she", 1}});
  }
  SECTION("a partial match that fails resumes from its longest matching suffix") {
    WordMatcher m({"abd", "bca", "ca"});
    CHECK(matches(m, "abcabd") ==
          std::vector<std::pair<std::string, std::size_t>>{{"abd", 3}, {"bca", 1}, {"ca", 2}});
  }
  SECTION("repeated and self-overlapping occurrences") {
    WordMatcher m({"aa"});
    CHECK(matches(m, "aaaa") ==
          std::vector<std::pair<std::string, std::size_t>>{{"aa", 0}, {"aa", 1}, {"aa", 2}});
  }
  SECTION("an empty word list, or empty words, match nothing") {
    CHECK(WordMatcher(std::vector<std::string>{}).find_all("anything at all").empty());
    CHECK(WordMatcher({""}).find_all("anything").empty());
  }
  SECTION("Chinese words match at character boundaries only") {
    // "国家秘密" shares its first character with "国家"; "家秘" sits across both.
    WordMatcher m({"国家秘密", "国家", "家秘"});
    const std::string text = "涉及国家秘密事项";
    CHECK(matches(m, text) == std::vector<std::pair<std::string, std::size_t>>{
                                  {"国家", 6}, {"国家秘密", 6}, {"家秘", 9}});
    // Characters that are not adjacent in the text do not match.
    CHECK(WordMatcher({"家密"}).find_all(text).empty());
  }
}

TEST_CASE("the gate refuses items that are not public, with the reason", "[gate]") {
  ContentGate gate({"秘密"});
  Item item = item_with("标题", "", "正文");
  item.classification = "internal";
  const GateVerdict v = gate.check(item);
  CHECK_FALSE(v.allowed);
  CHECK(v.code == "classified");
  CHECK(v.field == "classification");
  CHECK(v.message.find("internal") != std::string::npos);
  CHECK_FALSE(v.to_result());
  CHECK(v.to_result().error().code == "classified");
}

TEST_CASE("the gate reports each blocked word with its field and code-point position", "[gate]") {
  ContentGate gate({"国家秘密", "机密", "secret plan"});
  SECTION("a clean item passes") {
    const GateVerdict v = gate.check(item_with("提醒中国公民谨慎前往", "摘要", "正文"));
    CHECK(v.allowed);
    CHECK(v.findings.empty());
    CHECK(v.to_result());
  }
  SECTION("words in title, summary and body, positions counted in code points per field") {
    const GateVerdict v = gate.check(
        item_with("关于机密的通知", "the secret plan", "第一段。涉及国家秘密事项，机密。"));
    REQUIRE_FALSE(v.allowed);
    CHECK(v.code == "blocked_content");
    CHECK(v.field == "title");
    REQUIRE(v.findings.size() == 4);
    CHECK(v.findings[0].word == "机密");
    CHECK(v.findings[0].field == "title");
    CHECK(v.findings[0].position == 2);
    CHECK(v.findings[1].field == "summary");
    CHECK(v.findings[1].word == "secret plan");
    CHECK(v.findings[1].position == 4);
    CHECK(v.findings[2].field == "body");
    CHECK(v.findings[2].word == "国家秘密");
    CHECK(v.findings[2].position == 6);
    CHECK(v.findings[3].word == "机密");
    CHECK(v.findings[3].position == 13);
    CHECK(v.message.find("\"国家秘密\" in body at 6") != std::string::npos);
  }
  SECTION("a word never spans two fields") {
    const GateVerdict v = gate.check(item_with("国家", "秘密", ""));
    CHECK(v.allowed);
  }
  SECTION("an empty list lets everything public through") {
    CHECK(ContentGate{}.check(item_with("国家秘密", "", "")).allowed);
  }
}

TEST_CASE("a word list is one word or phrase per line with comments", "[gate]") {
  SECTION("comments, blank lines, spaces and CRLF are skipped") {
    auto words = ContentGate::parse_word_list("# 敏感词\n\n  国家秘密 \r\nsecret plan\r\n#x\n机密");
    REQUIRE(words);
    CHECK(*words == std::vector<std::string>{"国家秘密", "secret plan", "机密"});
  }
  SECTION("invalid UTF-8 names the line") {
    auto words = ContentGate::parse_word_list("ok\n\xC3\x28\n");
    REQUIRE_FALSE(words);
    CHECK(words.error().field == "line 2");
  }
  SECTION("an unreadable file is an error, no file an empty gate") {
    CHECK_FALSE(ContentGate::from_file("/nonexistent/words.txt"));
    auto empty = ContentGate::from_file("");
    REQUIRE(empty);
    CHECK(empty->word_count() == 0);
  }
}
