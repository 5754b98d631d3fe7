// Tests for core/item.h: strict UTF-8, request body parsing, item validation with JSON paths, and
// the JSON round trip.
#include <catch2/catch.hpp>
#include <functional>

#include "core/item.h"

using herald::Item;
using herald::ItemKind;
using nlohmann::json;

namespace {

const std::set<std::string> kChannels = {"weibo", "wechat", "portal", "media"};

json valid_alert() {
  return json::parse(R"({
    "kind": "alert", "category": "overseas_safety",
    "title": "提醒中国公民近期暂勿前往泰国南部", "body": "正文", "summary": "摘要",
    "link": "https://cs.mfa.gov.cn/gyls/lsgz/fwxx/",
    "channels": ["weibo", "wechat", "portal", "media"],
    "publish_at": "2026-11-29T08:00:00+08:00",
    "alert": {"level": "avoid", "severity": "Extreme", "urgency": "Immediate",
              "certainty": "Likely", "areas": [{"country": "TH", "desc": "泰国南部"}],
              "expires": "2026-12-31T23:59:59+08:00", "hotline": "12308"},
    "classification": "public"
  })");
}

json valid_publication() {
  return json{{"kind", "publication"},
              {"category", "regulation"},
              {"title", "关于印发某办法的通知"},
              {"channels", {"portal"}}};
}

// Validates `j` and returns the error's field, or "<ok>".
std::string error_field(const json& j, const herald::ItemLimits& limits = {}) {
  auto item = herald::item_from_json(j, kChannels, limits);
  if (item) return "<ok>";
  CHECK(item.error().kind == herald::ErrorKind::invalid_input);
  CHECK(item.error().code == "validation_failed");
  CHECK_FALSE(item.error().message.empty());
  return item.error().field;
}

std::string hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
    out += ' ';
  }
  return out;
}

std::string error_message(const json& j) {
  auto item = herald::item_from_json(j, kChannels);
  return item ? "<ok>" : item.error().message;
}

}  // namespace

TEST_CASE("UTF-8 validation accepts well-formed text and nothing else", "[core][item][utf8]") {
  SECTION("well-formed") {
    for (std::string_view text : {std::string_view(""), std::string_view("plain ASCII"),
                                  std::string_view("\xC2\xA9 \xC3\xA9"),  // 2 bytes
                                  std::string_view("海外安全提醒"),       // 3 bytes
                                  std::string_view("\xF0\x9F\x98\x80"),   // U+1F600
                                  std::string_view("\xF4\x8F\xBF\xBF"),   // U+10FFFF
                                  std::string_view("\xEE\x80\x80"),       // U+E000
                                  std::string_view("\xED\x9F\xBF"),       // U+D7FF
                                  std::string_view("nul\0inside", 10)}) {
      INFO(std::string(text));
      CHECK(herald::is_valid_utf8(text));
    }
  }
  SECTION("ill-formed") {
    for (std::string_view text : {
             std::string_view("\x80"),              // lone continuation byte
             std::string_view("a\xBF"),             // continuation after ASCII
             std::string_view("\xC0\x80"),          // overlong NUL
             std::string_view("\xC1\xBF"),          // overlong
             std::string_view("\xE0\x80\x80"),      // overlong 3-byte
             std::string_view("\xE0\x9F\xBF"),      // overlong 3-byte, top
             std::string_view("\xF0\x80\x80\x80"),  // overlong 4-byte
             std::string_view("\xF0\x8F\xBF\xBF"),  // overlong 4-byte, top
             std::string_view("\xED\xA0\x80"),      // U+D800, a surrogate
             std::string_view("\xED\xBF\xBF"),      // U+DFFF
             std::string_view("\xF4\x90\x80\x80"),  // U+110000
             std::string_view("\xF5\x80\x80\x80"),  // lead byte beyond the range
             std::string_view("\xFF"),              //
             std::string_view("\xE4\xB8"),          // truncated 3-byte at the end
             std::string_view("\xF0\x9F\x98"),      // truncated 4-byte at the end
             std::string_view("\xE4\xB8x"),         // truncated in the middle
             std::string_view("\xE4\x41\x80"),      // bad second byte
             std::string_view("\xF0\x9F\x41\x80"),  // bad third byte
             std::string_view("ok \xC3"),           // truncated 2-byte
         }) {
      INFO(hex(text));
      CHECK_FALSE(herald::is_valid_utf8(text));
    }
  }
}

TEST_CASE("to_valid_utf8 replaces each byte that is not UTF-8 with U+FFFD", "[core][item]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(herald::to_valid_utf8("泰国 ok") == "泰国 ok");
  CHECK(herald::to_valid_utf8("\xd6\xd0\xce\xc4") == fffd + fffd + fffd + fffd);  // GBK
  CHECK(herald::to_valid_utf8("a\xE4\xB8x") == "a" + fffd + fffd + "x");
  CHECK(herald::to_valid_utf8("end \xF0\x9F\x98") == "end " + fffd + fffd + fffd);
  CHECK(herald::is_valid_utf8(herald::to_valid_utf8("\xED\xA0\x80\xC0\xAF\xFF")));
}

TEST_CASE("A request body is checked for UTF-8 before JSON syntax", "[core][item]") {
  SECTION("invalid UTF-8 says so, even when the JSON is broken too") {
    auto parsed = herald::parse_json_body("{\"title\": \"\xED\xA0\x80\"");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == "invalid_utf8");
    CHECK(parsed.error().kind == herald::ErrorKind::invalid_input);
    CHECK_THAT(parsed.error().message, Catch::Contains("offset 11"));
  }
  SECTION("malformed JSON gives the byte position") {
    auto parsed = herald::parse_json_body("{\"title\": tru }");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == "malformed_json");
    CHECK_THAT(parsed.error().message, Catch::Contains("at byte 14"));
  }
  SECTION("empty body, trailing garbage and comments are malformed") {
    for (std::string_view body : {"", "{} {}", "{\"a\": 1} x", "{/* c */}", "[1,]"}) {
      INFO(std::string(body));
      auto parsed = herald::parse_json_body(body);
      REQUIRE_FALSE(parsed);
      CHECK(parsed.error().code == "malformed_json");
    }
  }
  SECTION("a duplicate key is refused rather than silently resolved") {
    auto parsed = herald::parse_json_body(R"({"alert": {"level": "caution", "level": "avoid"}})");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == "malformed_json");
    CHECK(parsed.error().field == "alert.level");
  }
  SECTION("absurd nesting is refused") {
    const std::string deep = std::string(1000, '[') + std::string(1000, ']');
    auto parsed = herald::parse_json_body(deep);
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error().message, Catch::Contains("nested deeper"));
  }
  SECTION("a good body parses") {
    auto parsed = herald::parse_json_body(R"({"title": "海外安全提醒", "n": [1, 2.5, null]})");
    REQUIRE(parsed);
    CHECK((*parsed)["title"] == "海外安全提醒");
  }
}

TEST_CASE("A valid alert and a valid publication are accepted with every field read",
          "[core][item]") {
  auto alert = herald::item_from_json(valid_alert(), kChannels);
  REQUIRE(alert);
  CHECK(alert->kind == ItemKind::alert);
  CHECK(alert->category == herald::Category::overseas_safety);
  CHECK(alert->channels == std::vector<std::string>{"weibo", "wechat", "portal", "media"});
  REQUIRE(alert->publish_at);
  CHECK(herald::to_unix_ms(*alert->publish_at) == 1795910400000);
  REQUIRE(alert->alert);
  CHECK(alert->alert->level == "avoid");
  CHECK(herald::alert_level_label(alert->alert->level) == std::string("暂勿前往"));
  CHECK(alert->alert->areas.size() == 1);
  CHECK(alert->alert->areas[0].country == "TH");
  CHECK(alert->alert->hotline == "12308");
  CHECK(alert->status == "actual");
  CHECK(alert->extra.empty());

  auto publication = herald::item_from_json(valid_publication(), kChannels);
  REQUIRE(publication);
  CHECK(publication->kind == ItemKind::publication);
  CHECK_FALSE(publication->alert);
  CHECK(publication->classification == "public");
  CHECK_FALSE(publication->publish_at);
}

TEST_CASE("Each validation error names the JSON path of the bad field", "[core][item]") {
  struct Case {
    const char* what;
    std::function<void(json&)> change;
    const char* field;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"not an object", [](json& j) { j = json::array(); }, "", "expected an object"},
      {"kind missing", [](json& j) { j.erase("kind"); }, "kind", "required"},
      {"kind unknown", [](json& j) { j["kind"] = "notice"; }, "kind", "publication, alert"},
      {"kind not a string", [](json& j) { j["kind"] = 1; }, "kind", "expected a string"},
      {"category unknown", [](json& j) { j["category"] = "sports"; }, "category", "work_news"},
      {"title missing", [](json& j) { j.erase("title"); }, "title", "required"},
      {"title empty", [](json& j) { j["title"] = ""; }, "title", "blank"},
      {"title only white space", [](json& j) { j["title"] = " \t\u3000\u00a0 "; }, "title",
       "blank"},
      {"title a number", [](json& j) { j["title"] = 42; }, "title", "got 42"},
      {"title too long", [](json& j) { j["title"] = std::string(513, 'x'); }, "title", "513"},
      {"summary too long", [](json& j) { j["summary"] = std::string(2049, 'x'); }, "summary",
       "limit is 2048"},
      {"body an array", [](json& j) { j["body"] = json::array(); }, "body", "an array"},
      {"link not http", [](json& j) { j["link"] = "ftp://example.com/x"; }, "link", "http"},
      {"link without host", [](json& j) { j["link"] = "https:///path"; }, "link", "http"},
      {"link with a space", [](json& j) { j["link"] = "https://a.example/x y"; }, "link", "http"},
      {"channels missing", [](json& j) { j.erase("channels"); }, "channels", "required"},
      {"channels empty", [](json& j) { j["channels"] = json::array(); }, "channels", "non-empty"},
      {"channels a string", [](json& j) { j["channels"] = "weibo"; }, "channels", "a string"},
      {"channel unknown",
       [](json& j) {
         j["channels"] = {"weibo", "wechat", "tiktok"};
       },
       "channels[2]", "known: media, portal, wechat, weibo"},
      {"channel twice",
       [](json& j) {
         j["channels"] = {"weibo", "weibo"};
       },
       "channels[1]", "twice"},
      {"channel not a string",
       [](json& j) {
         j["channels"] = {"weibo", 7};
       },
       "channels[1]", "an integer"},
      {"publish_at without offset", [](json& j) { j["publish_at"] = "2026-11-29T08:00:00"; },
       "publish_at", "RFC 3339"},
      {"publish_at a number", [](json& j) { j["publish_at"] = 1795910400; }, "publish_at",
       "a string"},
      {"alert block missing", [](json& j) { j.erase("alert"); }, "alert", "required"},
      {"alert block not an object", [](json& j) { j["alert"] = "avoid"; }, "alert", "an object"},
      {"level unknown", [](json& j) { j["alert"]["level"] = "red"; }, "alert.level",
       "caution, reconsider, avoid"},
      {"severity lower case", [](json& j) { j["alert"]["severity"] = "severe"; }, "alert.severity",
       "Extreme, Severe"},
      {"urgency missing", [](json& j) { j["alert"].erase("urgency"); }, "alert.urgency",
       "required"},
      {"certainty unknown", [](json& j) { j["alert"]["certainty"] = "Sure"; }, "alert.certainty",
       "Observed"},
      {"areas missing", [](json& j) { j["alert"].erase("areas"); }, "alert.areas", "required"},
      {"areas empty", [](json& j) { j["alert"]["areas"] = json::array(); }, "alert.areas",
       "at least one"},
      {"area not an object", [](json& j) { j["alert"]["areas"].push_back("TH"); }, "alert.areas[1]",
       "an object"},
      {"country lower case", [](json& j) { j["alert"]["areas"][0]["country"] = "th"; },
       "alert.areas[0].country", "alpha-2"},
      {"country three letters",
       [](json& j) {
         j["alert"]["areas"].push_back({{"country", "THA"}, {"desc", "x"}});
       },
       "alert.areas[1].country", "alpha-2"},
      {"country missing", [](json& j) { j["alert"]["areas"][0].erase("country"); },
       "alert.areas[0].country", "required"},
      {"desc blank", [](json& j) { j["alert"]["areas"][0]["desc"] = "  "; }, "alert.areas[0].desc",
       "blank"},
      {"unknown key in an area", [](json& j) { j["alert"]["areas"][0]["region"] = "south"; },
       "alert.areas[0].region", "unknown key"},
      {"unknown key in the alert", [](json& j) { j["alert"]["levle"] = "avoid"; }, "alert.levle",
       "did you mean 'level'"},
      {"expires not RFC 3339", [](json& j) { j["alert"]["expires"] = "tomorrow"; }, "alert.expires",
       "RFC 3339"},
      // Found by fuzzing: a year past 2262 overflowed the nanosecond clock (undefined behaviour).
      {"expires in a year no clock holds",
       [](json& j) { j["alert"]["expires"] = "9767-03-01T00:00:00+08:00"; }, "alert.expires",
       "RFC 3339"},
      {"publish_at in a year no clock holds",
       [](json& j) { j["publish_at"] = "9999-12-31T23:59:59+08:00"; }, "publish_at", "RFC 3339"},
      {"expires before publish_at",
       [](json& j) { j["alert"]["expires"] = "2026-11-29T07:59:59+08:00"; }, "alert.expires",
       "later than publish_at"},
      {"hotline a number", [](json& j) { j["alert"]["hotline"] = 12308; }, "alert.hotline",
       "a string"},
      {"publication with an alert block", [](json& j) { j["kind"] = "publication"; }, "alert",
       "must not carry"},
      {"classification not a string", [](json& j) { j["classification"] = true; }, "classification",
       "a string"},
      {"status unknown", [](json& j) { j["status"] = "test"; }, "status", "actual, exercise"},
      {"id not a string", [](json& j) { j["id"] = 5; }, "id", "a string"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json j = valid_alert();
    c.change(j);
    CHECK(error_field(j) == c.field);
    CHECK_THAT(error_message(j), Catch::Contains(c.message_part));
  }
}

TEST_CASE("Item limits come from ItemLimits", "[core][item]") {
  herald::ItemLimits limits;
  limits.max_title_bytes = 10;
  limits.max_body_bytes = 4;
  limits.max_link_bytes = 20;
  json j = valid_publication();
  j["title"] = "0123456789";
  CHECK(error_field(j, limits) == "<ok>");
  j["title"] = "海外安全";  // 12 bytes
  CHECK(error_field(j, limits) == "title");
  j["title"] = "ok";
  j["body"] = "12345";
  CHECK(error_field(j, limits) == "body");
  j["body"] = "1234";
  j["link"] = "https://example.com/long";
  CHECK(error_field(j, limits) == "link");
}

TEST_CASE("The first problem in field order is the one reported", "[core][item]") {
  json j = valid_alert();
  j["title"] = "";
  j["channels"] = {"nowhere"};
  j["alert"]["level"] = "red";
  CHECK(error_field(j) == "title");
}

TEST_CASE("Defaults apply and fields beyond the contract are kept in extra", "[core][item]") {
  json j = valid_publication();
  j["source_system"] = "cms-7";
  j["meta"] = {{"editor", "王"}, {"tags", {"a", "b"}}};
  j["status"] = "exercise";
  auto item = herald::item_from_json(j, kChannels);
  REQUIRE(item);
  CHECK(item->status == "exercise");
  CHECK(item->classification == "public");
  CHECK(item->extra == json({{"source_system", "cms-7"}, {"meta", j["meta"]}}));
  CHECK(herald::item_to_json(*item)["source_system"] == "cms-7");

  SECTION("any classification is accepted here; the gate decides later") {
    j["classification"] = "内部";
    auto internal = herald::item_from_json(j, kChannels);
    REQUIRE(internal);
    CHECK(internal->classification == "内部");
  }
}

TEST_CASE("item_to_json and item_from_json are inverses", "[core][item]") {
  SECTION("a submitted alert") {
    auto first = herald::item_from_json(valid_alert(), kChannels);
    REQUIRE(first);
    const json j = herald::item_to_json(*first);
    CHECK(j["publish_at"] == "2026-11-29T08:00:00+08:00");
    CHECK(j["alert"]["expires"] == "2026-12-31T23:59:59+08:00");
    auto second = herald::item_from_json(j, kChannels);
    REQUIRE(second);
    CHECK(herald::item_to_json(*second) == j);
  }
  SECTION("a stored item with Herald's own fields and extras") {
    Item item;
    item.id = "20261129-0001";
    item.kind = ItemKind::alert;
    item.category = herald::Category::overseas_safety;
    item.title = "提醒";
    item.body = "b";
    item.channels = {"media", "weibo"};
    item.publish_at = herald::from_unix_ms(1795910400123);
    herald::AlertInfo alert;
    alert.level = "caution";
    alert.severity = "Moderate";
    alert.urgency = "Expected";
    alert.certainty = "Possible";
    alert.areas = {{"TH", "泰国南部"}, {"MY", "马来西亚沙巴州"}};
    item.alert = alert;
    item.classification = "public";
    item.status = "exercise";
    item.author = "duty";
    item.created_at = herald::from_unix_ms(1795900000007) + std::chrono::microseconds(5);
    item.extra = {{"x", {1, 2, 3}}};

    auto back = herald::item_from_json(herald::item_to_json(item), kChannels);
    REQUIRE(back);
    CHECK(back->id == item.id);
    CHECK(back->kind == item.kind);
    CHECK(back->category == item.category);
    CHECK(back->title == item.title);
    CHECK(back->body == item.body);
    CHECK(back->summary.empty());
    CHECK(back->channels == item.channels);
    CHECK(back->publish_at == item.publish_at);
    REQUIRE(back->alert);
    CHECK(back->alert->areas.size() == 2);
    CHECK(back->alert->areas[1].desc == "马来西亚沙巴州");
    CHECK(back->alert->severity == "Moderate");
    CHECK_FALSE(back->alert->expires);
    CHECK(back->status == "exercise");
    CHECK(back->author == "duty");
    CHECK(back->created_at == item.created_at);
    CHECK(back->extra == item.extra);
    CHECK(herald::item_to_json(*back) == herald::item_to_json(item));
  }
}

TEST_CASE("Enum names convert both ways", "[core][item]") {
  for (auto kind : {ItemKind::publication, ItemKind::alert}) {
    CHECK(herald::item_kind_from_string(herald::to_string(kind)) == kind);
  }
  for (auto c :
       {herald::Category::regulation, herald::Category::work_news, herald::Category::personnel,
        herald::Category::finance, herald::Category::overseas_safety}) {
    CHECK(herald::category_from_string(herald::to_string(c)) == c);
  }
  CHECK(herald::to_string(herald::Category::work_news) == std::string("work_news"));
  CHECK_FALSE(herald::item_kind_from_string("Alert"));
  CHECK_FALSE(herald::category_from_string(""));
  CHECK(herald::alert_level_label("caution") == std::string("注意安全"));
  CHECK(herald::alert_level_label("reconsider") == std::string("谨慎前往"));
  CHECK(herald::alert_level_label("red") == std::string(""));
}

TEST_CASE("Control characters and non-characters are refused in every string, naming the field",
          "[core][item][text]") {
  auto refused_at = [](const json& j) {
    auto item = herald::item_from_json(j, kChannels);
    if (item) return std::string("<ok>");
    CHECK(item.error().code == "validation_failed");
    return item.error().field;
  };
  json j = valid_alert();
  j["title"] = "看这里\x1b[2K\x1b[1G另一个标题";
  CHECK(refused_at(j) == "title");
  CHECK(error_message(j).find("U+001B") != std::string::npos);
  CHECK(error_message(j).find("character 4") != std::string::npos);

  j = valid_alert();
  j["title"] = "标题\xEF\xBF\xBF";  // U+FFFF
  CHECK(refused_at(j) == "title");
  j = valid_alert();
  j["alert"]["areas"][0]["desc"] = "泰国\xEF\xBF\xBE";  // U+FFFE
  CHECK(refused_at(j) == "alert.areas[0].desc");
  j = valid_alert();
  j["body"] = "a\xEF\xB7\x90";  // U+FDD0
  CHECK(refused_at(j) == "body");
  j = valid_alert();
  j["summary"] = "x\xF4\x8F\xBF\xBF";  // U+10FFFF
  CHECK(refused_at(j) == "summary");
  j = valid_alert();
  j["summary"] =
      "x\xC2\x9B"
      "31m";  // C1 CSI
  CHECK(refused_at(j) == "summary");
  j = valid_alert();
  j["alert"]["hotline"] = std::string("12308\0", 6);
  CHECK(refused_at(j) == "alert.hotline");
  j = valid_alert();
  j["body"] = "one\rtwo";  // a bare CR rewrites the line on a terminal
  CHECK(refused_at(j) == "body");
  j = valid_alert();
  j["body"] = "x\x7f";
  CHECK(refused_at(j) == "body");

  // Extra fields at any depth, and their keys.
  j = valid_publication();
  j["notes"] = {{"history", {"ok", {{"text", "bad\x07"}}}}};
  CHECK(refused_at(j) == "notes.history[1].text");
  j = valid_publication();
  j["notes"] = {{"k\x1b", 1}};
  CHECK(refused_at(j) == "notes.k\x1b");

  // Tab, LF and CR LF line ends, and ordinary CJK, emoji and U+FFFD are text.
  j = valid_publication();
  j["body"] = "第一段\r\n第二段\n\t缩进 😀 \xEF\xBF\xBD \xEF\xBF\xBC";
  CHECK(refused_at(j) == "<ok>");

  // Unpaired surrogates cannot arrive: as bytes they are not UTF-8, escaped they are not JSON.
  CHECK_FALSE(herald::parse_json_body("{\"title\":\"\xED\xA0\x80\"}"));
  CHECK_FALSE(herald::parse_json_body(R"({"title":"\ud800x"})"));
  CHECK(herald::parse_json_body(R"({"title":"\ud83d\ude00"})"));

  // Read-back of a stored item may skip the rule.
  j = valid_publication();
  j["title"] = "旧\x1b";
  herald::ItemLimits lenient;
  lenient.check_text = false;
  CHECK(herald::item_from_json(j, kChannels, lenient));
}

TEST_CASE("unsafe_text names the character and its position", "[core][item][text]") {
  CHECK_FALSE(herald::unsafe_text("普通文本\r\n"));
  const auto problem = herald::unsafe_text("ab\xC2\x85");
  REQUIRE(problem);
  CHECK(problem->find("U+0085") != std::string::npos);
  CHECK(problem->find("character 3 (byte offset 2)") != std::string::npos);
  CHECK(herald::unsafe_text("\xFF"));
  CHECK(herald::is_item_link("https://example.org/a"));
  CHECK_FALSE(herald::is_item_link("http://"));
  CHECK_FALSE(herald::is_item_link("https://exa mple.org"));
}
