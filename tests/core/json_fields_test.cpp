// Tests for core/json_fields.h: FieldReader's typed getters, paths in errors, unknown keys,
// secrets from inline values or files, and parse_json_text.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/json_fields.h"
#include "tests/support/process.h"

using herald::FieldReader;
using nlohmann::json;

namespace {

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("FieldReader reads typed values and applies fallbacks", "[core][json_fields]") {
  const json j = json::parse(R"({"url": "https://x", "n": 5, "on": false, "tags": ["a", "b"],
                                 "rate": 0.5, "mode": "safe"})");
  FieldReader r(j, "channels.webhook");
  CHECK(r.string("url") == "https://x");
  CHECK(r.string("missing", "dflt") == "dflt");
  CHECK_FALSE(r.optional_string("also_missing"));
  CHECK(r.integer("n", 1, 10) == 5);
  CHECK(r.integer("n_missing", 1, 10, 7) == 7);
  CHECK(r.boolean("on") == false);
  CHECK(r.boolean("on_missing", true) == true);
  CHECK(r.strings("tags") == std::vector<std::string>{"a", "b"});
  CHECK(r.strings("tags_missing", {"z"}) == std::vector<std::string>{"z"});
  CHECK(r.number("rate", 0, 1, 0.9) == 0.5);
  CHECK(r.one_of("mode", {"safe", "compatible"}) == "safe");
  CHECK(r.one_of("mode_missing", {"safe", "compatible"}, "compatible") == "compatible");
  CHECK(r.ok());
  CHECK(r.finish().ok());
}

TEST_CASE("FieldReader errors name the full path and say what was expected",
          "[core][json_fields]") {
  const json j = json::parse(R"({"s": 1, "n": "five", "big": 99, "f": 1.5, "b": "yes",
                                 "list": ["a", 2], "mode": "fast", "o": [], "huge": 18446744073709551615})");
  struct Case {
    std::function<void(FieldReader&)> read;
    const char* field;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](FieldReader& r) { r.string("s"); }, "sec.s", "expected a string, got 1"},
      {[](FieldReader& r) { r.string("absent"); }, "sec.absent", "is required"},
      {[](FieldReader& r) { r.integer("n", 1, 10); }, "sec.n",
       "expected an integer between 1 and 10, got \"five\""},
      {[](FieldReader& r) { r.integer("big", 1, 10, 3); }, "sec.big", "got 99"},
      {[](FieldReader& r) { r.integer("f", 1, 10, 3); }, "sec.f", "got 1.5"},
      {[](FieldReader& r) { r.integer("huge", 0, 10, 3); }, "sec.huge", "between 0 and 10"},
      {[](FieldReader& r) { r.integer("absent", 1, 10); }, "sec.absent", "required"},
      {[](FieldReader& r) { r.boolean("b", true); }, "sec.b", "expected true or false"},
      {[](FieldReader& r) { r.strings("list"); }, "sec.list[1]", "expected a string, got 2"},
      {[](FieldReader& r) { r.strings("s"); }, "sec.s", "an array of strings"},
      {[](FieldReader& r) {
         r.one_of("mode", {"safe", "compatible"});
       },
       "sec.mode", "expected one of safe, compatible; got \"fast\""},
      {[](FieldReader& r) { r.number("n", 0, 1, 0.5); }, "sec.n", "a number between"},
      {[](FieldReader& r) { r.object("o"); }, "sec.o", "expected an object, got an array"},
      {[](FieldReader& r) { r.child("o").string("x"); }, "sec.o", "expected an object"},
      {[](FieldReader& r) { r.children("s"); }, "sec.s", "an array of objects"},
      {[](FieldReader& r) { r.children("list"); }, "sec.list[0]", "expected an object"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    FieldReader r(j, "sec");
    cases[i].read(r);
    CHECK_FALSE(r.ok());
    auto done = r.finish();
    REQUIRE_FALSE(done);
    CHECK(done.error().kind == herald::ErrorKind::invalid_input);
    CHECK(done.error().field == cases[i].field);
    CHECK_THAT(done.error().message, Catch::Contains(cases[i].message));
  }
}

TEST_CASE("The first error wins over later ones and over unknown keys", "[core][json_fields]") {
  const json j = {{"a", 1}, {"b", 2}, {"zzz", 3}};
  FieldReader r(j, "");
  r.string("a");
  r.string("b");
  CHECK(r.finish().error().field == "a");
}

TEST_CASE("Unknown keys are rejected at every depth with the known keys listed",
          "[core][json_fields]") {
  const json j = json::parse(R"({"url": "u", "urll": "typo"})");
  FieldReader r(j, "channels.webhook");
  r.string("url");
  r.optional_secret("secret");
  auto done = r.finish();
  REQUIRE_FALSE(done);
  CHECK(done.error().field == "channels.webhook.urll");
  CHECK(done.error().message ==
        "unknown key 'channels.webhook.urll' (did you mean 'url'? known: url, secret, "
        "secret_file)");

  SECTION("in a child object") {
    const json nested = json::parse(R"({"smtp": {"url": "x", "form": "a@b"}})");
    FieldReader top(nested, "channels.media");
    FieldReader smtp = top.child("smtp");
    smtp.string("url");
    smtp.string("from", "");
    auto result = top.finish();
    REQUIRE_FALSE(result);
    CHECK(result.error().field == "channels.media.smtp.form");
    CHECK_THAT(result.error().message, Catch::Contains("did you mean 'from'"));
  }
  SECTION("in an array of objects") {
    const json nested = json::parse(R"({"hooks": [{"url": "a"}, {"url": "b", "x": 1}]})");
    FieldReader top(nested, "");
    for (FieldReader hook : top.children("hooks")) hook.string("url");
    auto result = top.finish();
    REQUIRE_FALSE(result);
    CHECK(result.error().field == "hooks[1].x");
    CHECK_THAT(result.error().message, Catch::Contains("known: url"));
  }
  SECTION("an object that takes no keys says so") {
    const json nested = {{"a", 1}};
    auto result = FieldReader(nested, "gate").finish();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message, Catch::Contains("takes no keys"));
  }
  SECTION("a child's finish() judges only its own keys") {
    const json nested = json::parse(R"({"a": {"x": 1}, "unread": 2})");
    FieldReader top(nested, "");
    FieldReader a = top.child("a");
    a.integer("x", 0, 9);
    CHECK(a.finish().ok());
    CHECK_FALSE(top.finish().ok());
  }
}

TEST_CASE("Asking twice for the same child reads one scope", "[core][json_fields]") {
  const json j = json::parse(R"({"tls": {"cert_file": "a", "key_file": "b"}, "n": "x"})");
  FieldReader r(j, "");
  CHECK(r.child("tls").string("cert_file") == "a");
  CHECK(r.child("tls").string("key_file") == "b");
  CHECK(r.child("n").string("x", "d") == "d");
  CHECK(r.child("n").string("y", "d") == "d");
  auto done = r.finish();
  REQUIRE_FALSE(done);
  CHECK(done.error().field == "n");  // the bad type, once, not an unknown key in "tls"
}

TEST_CASE("rest() hands on the keys not read, and they are no longer unknown",
          "[core][json_fields]") {
  const json j = json::parse(R"({"enabled": true, "url": "u", "secret": "s"})");
  FieldReader r(j, "channels.webhook");
  CHECK(r.boolean("enabled", true));
  CHECK(r.rest() == json({{"url", "u"}, {"secret", "s"}}));
  CHECK(r.finish().ok());
  CHECK(r.keys() == std::vector<std::string>{"enabled", "secret", "url"});
  CHECK(r.has("url"));
  CHECK_FALSE(r.has("nope"));
}

TEST_CASE("A non-object is an error at the object's own path", "[core][json_fields]") {
  const json j = "text";
  FieldReader r(j, "channels.weibo");
  CHECK(r.string("x", "d") == "d");
  auto done = r.finish();
  REQUIRE_FALSE(done);
  CHECK(done.error().field == "channels.weibo");
  CHECK_THAT(done.error().message, Catch::Contains("expected an object, got \"text\""));
}

TEST_CASE("Secrets come from the key or from key_file, exactly one of them",
          "[core][json_fields]") {
  const std::string dir = herald::test::make_temp_dir("json-fields");
  const std::string with_newline = write_file(dir, "token", "s3cr3t\r\n\n");
  const std::string empty = write_file(dir, "empty", "\n");

  SECTION("inline") {
    const json j = {{"secret", "inline-value"}};
    FieldReader r(j, "c");
    CHECK(r.secret("secret") == "inline-value");
    CHECK(r.finish().ok());
  }
  SECTION("from a file, trailing newlines trimmed") {
    const json j = {{"secret_file", with_newline}};
    FieldReader r(j, "c");
    CHECK(r.secret("secret") == "s3cr3t");
    CHECK(r.finish().ok());
  }
  SECTION("both") {
    const json j = {{"secret", "x"}, {"secret_file", with_newline}};
    FieldReader r(j, "c");
    r.secret("secret");
    auto done = r.finish();
    REQUIRE_FALSE(done);
    CHECK(done.error().field == "c.secret");
    CHECK_THAT(done.error().message, Catch::Contains("not both"));
  }
  SECTION("neither") {
    const json j = json::object();
    FieldReader r(j, "c");
    r.secret("access_token");
    auto done = r.finish();
    REQUIRE_FALSE(done);
    CHECK(done.error().field == "c.access_token");
    CHECK_THAT(done.error().message, Catch::Contains("'access_token' or 'access_token_file'"));
    FieldReader optional(j, "c");
    CHECK_FALSE(optional.optional_secret("access_token"));
    CHECK(optional.finish().ok());
  }
  SECTION("a missing file") {
    const json j = {{"secret_file", dir + "/no-such-file"}};
    FieldReader r(j, "c");
    r.secret("secret");
    auto done = r.finish();
    REQUIRE_FALSE(done);
    CHECK(done.error().field == "c.secret_file");
    CHECK_THAT(done.error().message,
               Catch::Contains("no-such-file") && Catch::Contains("No such file or directory"));
  }
  SECTION("an empty file or value") {
    const json from_file = {{"secret_file", empty}};
    FieldReader r(from_file, "c");
    r.secret("secret");
    CHECK(r.finish().error().field == "c.secret_file");
    const json inline_empty = {{"secret", ""}};
    FieldReader r2(inline_empty, "c");
    r2.secret("secret");
    CHECK(r2.finish().error().field == "c.secret");
  }
  SECTION("a secret of the wrong type is not echoed") {
    const json j = {{"secret", 123456}};
    FieldReader r(j, "c");
    r.secret("secret");
    auto done = r.finish();
    REQUIRE_FALSE(done);
    CHECK_THAT(done.error().message, !Catch::Contains("123456"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("parse_json_text reports position, and accepts comments only when asked",
          "[core][json_fields]") {
  const std::string text = "{\n  // a comment\n  \"a\": 1 /* another */\n}";
  CHECK_FALSE(herald::parse_json_text(text));
  auto parsed = herald::parse_json_text(text, /*allow_comments=*/true);
  REQUIRE(parsed);
  CHECK((*parsed)["a"] == 1);

  auto bad = herald::parse_json_text("{\n  \"a\": 1,\n}", true);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == "malformed_json");
  CHECK_THAT(bad.error().message, Catch::Contains("line 3"));
}

TEST_CASE("Path helpers join keys and indexes", "[core][json_fields]") {
  CHECK(herald::join_path("", "http") == "http");
  CHECK(herald::join_path("http", "listen") == "http.listen");
  CHECK(herald::index_path("channels", 2) == "channels[2]");
  CHECK(herald::json_type_name(json(1.5)) == "a number");
  CHECK(herald::json_type_name(json(nullptr)) == "null");
}
