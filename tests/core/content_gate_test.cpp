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

ContentGate gate_of(std::vector<std::string> words) {
  auto gate = ContentGate::create(std::move(words));
  REQUIRE(gate);
  return std::move(*gate);
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
  ContentGate gate = gate_of({"秘密"});
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
  ContentGate gate = gate_of({"国家秘密", "机密", "secret plan"});
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

TEST_CASE("the gate sees what the reader sees: hidden and look-alike spellings are caught",
          "[gate]") {
  ContentGate gate = gate_of({"法轮", "badword"});
  auto blocked_title = [&](const std::string& title) {
    const GateVerdict v = gate.check(item_with(title, "", ""));
    INFO(title);
    CHECK_FALSE(v.allowed);
    CHECK(v.code == "blocked_content");
    CHECK(v.field == "title");
    return v;
  };
  SECTION("a zero-width space inside the word") {
    const GateVerdict v = blocked_title("法\u200b轮");
    REQUIRE(v.findings.size() == 1);
    CHECK(v.findings[0].word == "法轮");
    CHECK(v.findings[0].position == 0);
    CHECK(v.findings[0].length == 3);
  }
  SECTION("a C0 control inside the word") {
    blocked_title("法\x01轮");
  }
  SECTION("other invisible characters: C1 control, soft hyphen, word joiner, BOM, bidi mark") {
    blocked_title("法\u0085轮");
    blocked_title("bad\u00adword");
    blocked_title("bad\u2060word");
    blocked_title("法\ufeff轮");
    blocked_title("bad\u200eword");
  }
  SECTION("case") {
    blocked_title("BadWord");
  }
  SECTION("full width") {
    blocked_title("ｂａｄｗｏｒｄ");
    blocked_title("ＢＡＤＷＯＲＤ");
  }
  SECTION("traditional characters") {
    blocked_title("法輪");
  }
  SECTION("all of them at once") {
    blocked_title("法\u200b輪 and Ｂ\x07ａdWORD");
  }
  SECTION("text that only looks near a word passes") {
    CHECK(gate.check(item_with("法律与轮值", "bad words", "bad-word")).allowed);
  }
}

TEST_CASE("blocked words are normalised as they are loaded", "[gate]") {
  ContentGate gate = gate_of({"ＢＡＤ\u200bＷＯＲＤ", "法輪", "badword", "\u200b"});
  CHECK(gate.word_count() == 2);  // "badword" repeats the first; a lone ZWSP is nothing
  CHECK_FALSE(gate.check(item_with("a badword", "", "")).allowed);
  const GateVerdict v = gate.check(item_with("", "", "法轮"));
  REQUIRE_FALSE(v.allowed);
  CHECK(v.findings[0].word == "法輪");  // reported as the list spells it
}

TEST_CASE("a finding's position and length are in the text the drafter typed", "[gate]") {
  ContentGate gate = gate_of({"法轮", "badword"});
  SECTION("characters dropped before and inside the word") {
    const GateVerdict v = gate.check(item_with("\u200b注意：法\u200b\u200b輪功", "", ""));
    REQUIRE(v.findings.size() == 1);
    CHECK(v.findings[0].position == 4);
    CHECK(v.findings[0].length == 4);
    CHECK(v.message.find("\"法轮\" in title at 4") != std::string::npos);
  }
  SECTION("characters that expand or sit outside the BMP before the word") {
    // U+FB01 (ﬁ) folds to two letters and 😀 is one code point of four bytes.
    const GateVerdict v = gate.check(item_with("", "\ufb01😀ＢａｄＷｏｒｄ!", ""));
    REQUIRE(v.findings.size() == 1);
    CHECK(v.findings[0].field == "summary");
    CHECK(v.findings[0].position == 2);
    CHECK(v.findings[0].length == 7);
  }
  SECTION("a decomposed accent before the word") {
    const GateVerdict v = gate.check(item_with("", "", "e\u0301 BADWORD"));
    REQUIRE(v.findings.size() == 1);
    CHECK(v.findings[0].position == 3);
  }
}

TEST_CASE("every field a channel publishes is checked", "[gate]") {
  ContentGate gate = gate_of({"法轮"});
  Item clean = item_with("标题", "摘要", "正文");
  clean.kind = ItemKind::alert;
  clean.alert = AlertInfo{
      "reconsider", "Severe", "Immediate", "Likely", {{"TH", "泰国南部"}, {"MY", "马来西亚北部"}},
      std::nullopt, "12308"};
  clean.extra = {{"instruction", "远离人群"},
                 {"subject", "安全提醒"},
                 {"doc_no", "川外〔2026〕1号"},
                 {"attachments", {{{"name", "附件.pdf"}, {"url", "https://example.gov.cn/a.pdf"}}}},
                 {"webhook", {{"note", {"一", "二"}}}}};
  REQUIRE(gate.check(clean).allowed);

  auto expect_field = [&](Item item, const std::string& field) {
    INFO(field);
    const GateVerdict v = gate.check(item);
    REQUIRE_FALSE(v.allowed);
    CHECK(v.field == field);
    CHECK(v.findings[0].position == 1);
    // A delivery carries the item as item_to_json writes it: checked the same there.
    const GateVerdict again = gate.check_json(item_to_json(item));
    REQUIRE_FALSE(again.allowed);
    CHECK(again.field == field);
  };
  const std::string word = "x法\u200b輪";
  {
    Item item = clean;
    item.link = word;
    expect_field(item, "link");
  }
  {
    Item item = clean;
    item.alert->areas[1].desc = word;
    expect_field(item, "alert.areas[1].desc");
  }
  {
    Item item = clean;
    item.alert->hotline = word;
    expect_field(item, "alert.hotline");
  }
  for (const char* key : {"instruction", "subject", "doc_no"}) {
    Item item = clean;
    item.extra[key] = word;
    expect_field(item, key);
  }
  {
    Item item = clean;
    item.extra["attachments"][0]["name"] = word;
    expect_field(item, "attachments[0].name");
  }
  {
    Item item = clean;
    item.extra["attachments"][0]["url"] = word;
    expect_field(item, "attachments[0].url");
  }
  {
    Item item = clean;
    item.extra["webhook"]["note"][1] = word;
    expect_field(item, "webhook.note[1]");
  }
  {
    Item item = clean;
    item.extra["webhook"][word] = 1;
    expect_field(item, "webhook." + word + " (name)");
  }
  SECTION("findings follow reading order: the contract's texts, then the extras") {
    Item item = clean;
    item.extra["instruction"] = "法轮";
    item.body = "法轮";
    const GateVerdict v = gate.check(item);
    REQUIRE(v.findings.size() == 2);
    CHECK(v.findings[0].field == "body");
    CHECK(v.findings[1].field == "instruction");
  }
  SECTION("a payload that says nothing of its classification is taken as public") {
    CHECK_FALSE(gate.check_json({{"title", "法轮"}}).allowed);
    CHECK(gate.check_json({{"title", "法轮"}, {"classification", "internal"}}).code ==
          "classified");
  }
}

TEST_CASE("a missing OpenCC configuration is an error, not a gate that lets traditional through",
          "[gate]") {
  auto gate = ContentGate::create({"法轮"}, "/nonexistent/opencc/t2s.json");
  REQUIRE_FALSE(gate);
  CHECK(gate.error().message.find("/nonexistent/opencc/t2s.json") != std::string::npos);
  CHECK_FALSE(ContentGate::from_file("", "/nonexistent/opencc/t2s.json"));
}
