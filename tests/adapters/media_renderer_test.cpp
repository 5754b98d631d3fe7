// Tests for adapters/media/feed_render: CAP 1.2 in schema order with +08:00 times, RSS 2.0 and Atom
// well-formed with hostile text escaped. When xmllint is installed (libxml2-utils) every document
// is also parsed by it, and CAP is validated against the schema-order XSD below.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "adapters/media/feed_render.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/test_time.h"

using herald::CapArea;
using herald::CapInfo;
using herald::CapMessage;
using herald::FeedEntry;
using herald::FeedInfo;
using herald::test::time_at;
using namespace std::chrono_literals;

namespace {

// The part of the OASIS CAP 1.2 schema Herald emits, transcribed from domain-standards.md §1.1-1.3
// (element order, cardinality, enumerations, the dateTime pattern). Not the OASIS file (no Debian
// package ships it), but it lets xmllint check what order and codes alone can get wrong.
constexpr const char* kCapSubsetXsd = R"xsd(<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"
        targetNamespace="urn:oasis:names:tc:emergency:cap:1.2" elementFormDefault="qualified">
  <simpleType name="time"><restriction base="dateTime">
    <pattern value="\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d"/></restriction></simpleType>
  <simpleType name="word"><restriction base="string"><pattern value="[^\s,&lt;&amp;]+"/></restriction></simpleType>
  <element name="alert"><complexType><sequence>
    <element name="identifier" type="cap:word"/>
    <element name="sender" type="cap:word"/>
    <element name="sent" type="cap:time"/>
    <element name="status"><simpleType><restriction base="string">
      <enumeration value="Actual"/><enumeration value="Exercise"/><enumeration value="System"/>
      <enumeration value="Test"/><enumeration value="Draft"/></restriction></simpleType></element>
    <element name="msgType"><simpleType><restriction base="string">
      <enumeration value="Alert"/><enumeration value="Update"/><enumeration value="Cancel"/>
      <enumeration value="Ack"/><enumeration value="Error"/></restriction></simpleType></element>
    <element name="source" type="string" minOccurs="0"/>
    <element name="scope"><simpleType><restriction base="string">
      <enumeration value="Public"/><enumeration value="Restricted"/><enumeration value="Private"/>
      </restriction></simpleType></element>
    <element name="restriction" type="string" minOccurs="0"/>
    <element name="addresses" type="string" minOccurs="0"/>
    <element name="code" type="string" minOccurs="0" maxOccurs="unbounded"/>
    <element name="note" type="string" minOccurs="0"/>
    <element name="references" type="string" minOccurs="0"/>
    <element name="incidents" type="string" minOccurs="0"/>
    <element name="info" minOccurs="0" maxOccurs="unbounded"><complexType><sequence>
      <element name="language" type="language" minOccurs="0"/>
      <element name="category" maxOccurs="unbounded"><simpleType><restriction base="string">
        <enumeration value="Geo"/><enumeration value="Met"/><enumeration value="Safety"/>
        <enumeration value="Security"/><enumeration value="Rescue"/><enumeration value="Fire"/>
        <enumeration value="Health"/><enumeration value="Env"/><enumeration value="Transport"/>
        <enumeration value="Infra"/><enumeration value="CBRNE"/><enumeration value="Other"/>
        </restriction></simpleType></element>
      <element name="event" type="string"/>
      <element name="responseType" minOccurs="0" maxOccurs="unbounded"><simpleType>
        <restriction base="string"><enumeration value="Shelter"/><enumeration value="Evacuate"/>
        <enumeration value="Prepare"/><enumeration value="Execute"/><enumeration value="Avoid"/>
        <enumeration value="Monitor"/><enumeration value="Assess"/><enumeration value="AllClear"/>
        <enumeration value="None"/></restriction></simpleType></element>
      <element name="urgency"><simpleType><restriction base="string">
        <enumeration value="Immediate"/><enumeration value="Expected"/><enumeration value="Future"/>
        <enumeration value="Past"/><enumeration value="Unknown"/></restriction></simpleType></element>
      <element name="severity"><simpleType><restriction base="string">
        <enumeration value="Extreme"/><enumeration value="Severe"/><enumeration value="Moderate"/>
        <enumeration value="Minor"/><enumeration value="Unknown"/></restriction></simpleType></element>
      <element name="certainty"><simpleType><restriction base="string">
        <enumeration value="Observed"/><enumeration value="Likely"/><enumeration value="Possible"/>
        <enumeration value="Unlikely"/><enumeration value="Unknown"/></restriction></simpleType></element>
      <element name="audience" type="string" minOccurs="0"/>
      <element name="effective" type="cap:time" minOccurs="0"/>
      <element name="onset" type="cap:time" minOccurs="0"/>
      <element name="expires" type="cap:time" minOccurs="0"/>
      <element name="senderName" type="string" minOccurs="0"/>
      <element name="headline" type="string" minOccurs="0"/>
      <element name="description" type="string" minOccurs="0"/>
      <element name="instruction" type="string" minOccurs="0"/>
      <element name="web" type="anyURI" minOccurs="0"/>
      <element name="contact" type="string" minOccurs="0"/>
      <element name="parameter" minOccurs="0" maxOccurs="unbounded"><complexType><sequence>
        <element name="valueName" type="string"/><element name="value" type="string"/>
        </sequence></complexType></element>
      <element name="area" minOccurs="0" maxOccurs="unbounded"><complexType><sequence>
        <element name="areaDesc" type="string"/>
        <element name="geocode" minOccurs="0" maxOccurs="unbounded"><complexType><sequence>
          <element name="valueName" type="string"/><element name="value" type="string"/>
          </sequence></complexType></element>
        </sequence></complexType></element>
    </sequence></complexType></element>
  </sequence></complexType></element>
</schema>
)xsd";

constexpr const char* kHostile = "A & B <script>\"x\" 'y' ]]> \x01\x1f end";

bool have_xmllint() {
  return access("/usr/bin/xmllint", X_OK) == 0;
}

// Runs xmllint on `xml` (plus `args`); its exit code, with its output in `log`.
int xmllint(const std::string& xml, const std::vector<std::string>& args, std::string& log) {
  const std::string dir = herald::test::make_temp_dir("xmllint");
  const std::string file = dir + "/doc.xml";
  std::ofstream(file) << xml;
  std::vector<std::string> argv = {"/usr/bin/xmllint", "--noout", "--nonet"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(file);
  auto child = herald::test::ChildProcess::spawn(argv, {}, dir + "/log");
  const auto code = child.wait(30s);
  log = herald::test::read_file(dir + "/log");
  std::filesystem::remove_all(dir);
  return code.value_or(-1);
}

void check_well_formed(const std::string& xml) {
  if (!have_xmllint()) return;
  std::string log;
  const int code = xmllint(xml, {}, log);
  INFO(xml);
  INFO(log);
  CHECK(code == 0);
}

void check_cap_schema(const std::string& xml) {
  if (!have_xmllint()) return;
  const std::string dir = herald::test::make_temp_dir("cap-xsd");
  std::ofstream(dir + "/cap.xsd") << kCapSubsetXsd;
  std::string log;
  const int code = xmllint(xml, {"--schema", dir + "/cap.xsd"}, log);
  std::filesystem::remove_all(dir);
  INFO(xml);
  INFO(log);
  CHECK(code == 0);
}

// The element names of a document in order of their start tags.
std::vector<std::string> element_names(const std::string& xml) {
  static const std::regex tag(R"(<([A-Za-z][A-Za-z0-9:]*)[\s/>])");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), tag); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

CapMessage full_alert() {
  CapMessage m;
  m.identifier = "01jd6v3m0000000000000000aa";
  m.sender = "herald@fao.example.gov.cn";
  m.sent = time_at("2013-07-15T01:30:00.750Z");
  CapInfo info;
  info.response_type = "Avoid";
  info.urgency = "Expected";
  info.severity = "Extreme";
  info.certainty = "Likely";
  info.expires = time_at("2013-11-01T00:00:00+08:00");
  info.sender_name = "XX省人民政府外事办公室";
  info.headline = "提醒中国公民近期暂勿前往利比亚";
  info.description = kHostile;
  info.instruction = "尽快撤离";
  info.web = "https://www.example.gov.cn/a?x=1&y=2";
  info.contact = "应急热线:12308";
  info.parameters = {{"提醒级别", "暂勿前往"}};
  info.areas = {CapArea{"利比亚全境", "LY"}, CapArea{"泰国南部", "TH"}};
  m.info = info;
  return m;
}

FeedInfo feed_info(bool cap_feed = false) {
  FeedInfo f;
  f.name = cap_feed ? "alerts.cap" : "news";
  f.title = "新闻 & 通知 <测试>";
  f.description = "描述";
  f.author = "XX省人民政府外事办公室";
  f.public_base_url = "https://www.example.gov.cn";
  f.hub = "https://hub.example.com/";
  f.cap_feed = cap_feed;
  return f;
}

std::vector<FeedEntry> entries() {
  FeedEntry a;
  a.id = "01jd6v3m0000000000000000aa";
  a.item_id = a.id;
  a.kind = "alert";
  a.category = "overseas_safety";
  a.title = kHostile;
  a.summary = "摘要 <b>";
  a.content = "正文 & more";
  a.link = "https://www.example.gov.cn/a?x=1&y=2";
  a.published = a.updated = time_at("2026-11-29T08:00:00+08:00");
  a.cap_id = a.id;
  a.msg_type = "Alert";
  FeedEntry b;
  b.id = "01jd6v3m0000000000000000bb";
  b.item_id = b.id;
  b.kind = "publication";
  b.category = "work_news";
  b.title = "工作动态";
  b.content = "正文";
  b.published = b.updated = time_at("2026-11-28T08:00:00+08:00");
  return {a, b};
}

}  // namespace

TEST_CASE("xml_escape escapes markup and drops characters XML 1.0 cannot carry", "[media]") {
  CHECK(herald::xml_escape(kHostile) ==
        "A &amp; B &lt;script&gt;&quot;x&quot; &#39;y&#39; ]]&gt;  end");
  CHECK(herald::xml_escape("tab\tline\nret\r中文") == "tab\tline\nret\r中文");
}

TEST_CASE("times are written as CAP wants them: whole seconds at +08:00", "[media]") {
  CHECK(herald::cap_time(time_at("2013-07-15T01:30:00.750Z")) == "2013-07-15T09:30:00+08:00");
  CHECK(herald::rfc822_date(time_at("2002-09-07T00:00:01Z")) == "Sat, 07 Sep 2002 00:00:01 GMT");
}

TEST_CASE("a CAP alert is rendered in the schema's element order", "[media][cap]") {
  const std::string xml = herald::render_cap(full_alert());
  SECTION("the element sequence is the schema's") {
    const std::vector<std::string> expected = {
        "alert",       "identifier",  "sender",    "sent",      "status",     "msgType",
        "scope",       "info",        "language",  "category",  "event",      "responseType",
        "urgency",     "severity",    "certainty", "expires",   "senderName", "headline",
        "description", "instruction", "web",       "contact",   "parameter",  "valueName",
        "value",       "area",        "areaDesc",  "geocode",   "valueName",  "value",
        "area",        "areaDesc",    "geocode",   "valueName", "value"};
    CHECK(element_names(xml) == expected);
  }
  SECTION("the header says what the message is") {
    CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0) == 0);
    CHECK(xml.find("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">") != std::string::npos);
    CHECK(xml.find("<sent>2013-07-15T09:30:00+08:00</sent>") != std::string::npos);
    CHECK(xml.find("<expires>2013-11-01T00:00:00+08:00</expires>") != std::string::npos);
    CHECK(xml.find("<language>zh-CN</language>") != std::string::npos);
    CHECK(xml.find("<category>Safety</category>") != std::string::npos);
    CHECK(xml.find("<event>海外安全提醒</event>") != std::string::npos);
    CHECK(xml.find("<msgType>Alert</msgType>") != std::string::npos);
    CHECK(xml.find("<references>") == std::string::npos);
    CHECK(xml.find("Z<") == std::string::npos);
  }
  SECTION("text is escaped") {
    CHECK(xml.find("<description>A &amp; B &lt;script&gt;") != std::string::npos);
    CHECK(xml.find("<web>https://www.example.gov.cn/a?x=1&amp;y=2</web>") != std::string::npos);
  }
  SECTION("xmllint accepts it against the schema order") {
    check_cap_schema(xml);
  }
}

TEST_CASE("Update and Cancel reference the earlier messages in schema position", "[media][cap]") {
  const CapMessage original = full_alert();
  const std::string original_ref = herald::cap_reference(original);
  CHECK(original_ref ==
        "herald@fao.example.gov.cn,01jd6v3m0000000000000000aa,2013-07-15T09:30:00+08:00");

  CapMessage update = full_alert();
  update.identifier = "01jd6v3m0000000000000000cc";
  update.sent = time_at("2013-07-16T09:00:00+08:00");
  update.msg_type = "Update";
  update.references = {original_ref};
  const std::string update_xml = herald::render_cap(update);
  CHECK(update_xml.find("<msgType>Update</msgType>") != std::string::npos);
  CHECK(update_xml.find("<references>" + original_ref + "</references>") != std::string::npos);
  check_cap_schema(update_xml);

  CapMessage cancel;
  cancel.identifier = "01jd6v3m0000000000000000aa-cancel";
  cancel.sender = original.sender;
  cancel.sent = time_at("2013-07-17T09:00:00+08:00");
  cancel.msg_type = "Cancel";
  cancel.note = "撤回:情况已变化";
  cancel.references = {original_ref, herald::cap_reference(update)};
  const std::string cancel_xml = herald::render_cap(cancel);
  const std::vector<std::string> expected = {
      "alert", "identifier", "sender", "sent", "status", "msgType", "scope", "note", "references"};
  CHECK(element_names(cancel_xml) == expected);
  CHECK(cancel_xml.find("<references>" + original_ref + " " + herald::cap_reference(update) +
                        "</references>") != std::string::npos);
  check_cap_schema(cancel_xml);
}

TEST_CASE("an alert item maps onto a zh-CN info block", "[media][cap]") {
  herald::Item item;
  item.kind = herald::ItemKind::alert;
  item.title = "泰国南部安全提醒";
  item.body = "正文";
  item.link = "https://www.example.gov.cn/x";
  item.alert = herald::AlertInfo{
      "avoid",      "Extreme", "Immediate", "Likely", {{"TH", "泰国南部"}, {"MM", ""}},
      std::nullopt, "12308"};
  const CapInfo info = herald::cap_info_for(item, "外事办");
  CHECK(info.language == "zh-CN");
  CHECK(info.response_type == "Avoid");
  CHECK(info.severity == "Extreme");
  CHECK(info.headline == "泰国南部安全提醒");
  CHECK(info.web == "https://www.example.gov.cn/x");
  CHECK(info.contact.find("12308") != std::string::npos);
  REQUIRE(info.areas.size() == 2);
  CHECK(info.areas[1].desc == "MM");  // areaDesc is required: the country code stands in
  REQUIRE(info.parameters.size() == 1);
  CHECK(info.parameters[0].second == "暂勿前往");
}

TEST_CASE("the RSS feed is RSS 2.0 with escaped text and CAP enclosures", "[media][rss]") {
  const std::string xml = herald::render_rss(feed_info(), entries());
  CHECK(xml.find("<rss version=\"2.0\"") != std::string::npos);
  CHECK(xml.find("<title>新闻 &amp; 通知 &lt;测试&gt;</title>") != std::string::npos);
  CHECK(xml.find("<language>zh-cn</language>") != std::string::npos);
  CHECK(xml.find("<lastBuildDate>Sun, 29 Nov 2026 00:00:00 GMT</lastBuildDate>") !=
        std::string::npos);
  CHECK(xml.find("<guid isPermaLink=\"false\">01jd6v3m0000000000000000aa</guid>") !=
        std::string::npos);
  CHECK(xml.find("<enclosure url=\"https://www.example.gov.cn/feeds/cap/"
                 "01jd6v3m0000000000000000aa.xml\" length=\"0\" type=\"application/cap+xml\"/>") !=
        std::string::npos);
  CHECK(xml.find("<link>https://www.example.gov.cn/a?x=1&amp;y=2</link>") != std::string::npos);
  CHECK(xml.find("rel=\"hub\"") != std::string::npos);
  CHECK(xml.find('\x01') == std::string::npos);
  // The publication has no CAP document: one enclosure in all.
  CHECK(xml.find("<enclosure", xml.find("<enclosure") + 1) == std::string::npos);
  check_well_formed(xml);
  SECTION("an empty feed is still a valid channel") {
    const std::string empty = herald::render_rss(feed_info(), {});
    CHECK(empty.find("<item>") == std::string::npos);
    check_well_formed(empty);
  }
}

TEST_CASE("the Atom feed has what RFC 4287 requires", "[media][atom]") {
  const std::string xml = herald::render_atom(feed_info(), entries());
  CHECK(xml.find("<feed xmlns=\"http://www.w3.org/2005/Atom\"") != std::string::npos);
  CHECK(xml.find("<id>https://www.example.gov.cn/feeds/news.atom</id>") != std::string::npos);
  CHECK(xml.find("<updated>2026-11-29T08:00:00+08:00</updated>") != std::string::npos);
  CHECK(xml.find("<author>") < xml.find("<entry>"));
  CHECK(xml.find("rel=\"self\"") != std::string::npos);
  CHECK(xml.find("<id>https://www.example.gov.cn/feeds/entries/01jd6v3m0000000000000000bb</id>") !=
        std::string::npos);
  CHECK(xml.find("<content type=\"text\">正文 &amp; more</content>") != std::string::npos);
  CHECK(xml.find("rel=\"related\" type=\"application/cap+xml\"") != std::string::npos);
  CHECK(xml.find("<summary type=\"text\">摘要 &lt;b&gt;</summary>") != std::string::npos);
  check_well_formed(xml);
  SECTION("the CAP feed links each entry to its CAP document as the alternate") {
    const std::string cap = herald::render_atom(feed_info(true), entries());
    CHECK(cap.find(
              "<link rel=\"alternate\" type=\"application/cap+xml\" "
              "href=\"https://www.example.gov.cn/feeds/cap/01jd6v3m0000000000000000aa.xml\"/>") !=
          std::string::npos);
    CHECK(cap.find("<id>https://www.example.gov.cn/feeds/alerts.cap.atom</id>") !=
          std::string::npos);
    check_well_formed(cap);
  }
  SECTION("the same entries give the same bytes (the ETag is a content hash)") {
    CHECK(herald::render_atom(feed_info(), entries()) == xml);
  }
}
