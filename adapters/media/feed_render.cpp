#include "adapters/media/feed_render.h"

#include <algorithm>
#include <ctime>

namespace herald {
namespace {

constexpr const char* kXmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr const char* kCapType = "application/cap+xml";

// <name>escaped text</name>, skipped when the text is empty (every optional element).
void element(std::string& out, std::string_view indent, std::string_view name,
             std::string_view text, bool always = false) {
  if (text.empty() && !always) return;
  out += indent;
  out += '<';
  out += name;
  out += '>';
  out += xml_escape(text);
  out += "</";
  out += name;
  out += ">\n";
}

std::string attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + xml_escape(value) + "\"";
}

std::string atom_time(TimePoint t) {
  return cap_time(t);  // RFC 3339 as well; whole seconds keep the output stable
}

std::string entry_uri(const FeedInfo& feed, const FeedEntry& entry) {
  return feed.public_base_url + "/feeds/entries/" + entry.id;
}

TimePoint newest_update(const std::vector<FeedEntry>& entries) {
  TimePoint newest{};
  for (const auto& e : entries) newest = std::max(newest, e.updated);
  return newest;
}

const char* response_type_for(std::string_view level) {
  if (level == "avoid") return "Avoid";
  if (level == "reconsider") return "Assess";
  if (level == "caution") return "Monitor";
  return "";
}

}  // namespace

std::string rfc822_date(TimePoint t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);  // %a and %b are English in the "C" locale heraldd runs in
}

std::string cap_time(TimePoint t) {
  return format_rfc3339(std::chrono::floor<std::chrono::seconds>(t), 480);
}

std::string feed_url(const FeedInfo& feed, std::string_view extension) {
  return feed.public_base_url + "/feeds/" + feed.name + std::string(extension);
}

std::string cap_url(std::string_view public_base_url, std::string_view cap_id) {
  return std::string(public_base_url) + "/feeds/cap/" + std::string(cap_id) + ".xml";
}

std::string render_rss(const FeedInfo& feed, const std::vector<FeedEntry>& entries) {
  std::string out = kXmlDeclaration;
  out += "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n";
  element(out, "  ", "title", feed.title, true);
  element(out, "  ", "link", feed.public_base_url + "/", true);
  element(out, "  ", "description", feed.description, true);
  element(out, "  ", "language", "zh-cn");
  if (!entries.empty()) element(out, "  ", "lastBuildDate", rfc822_date(newest_update(entries)));
  element(out, "  ", "generator", "Herald");
  out += "  <atom:link" + attr("rel", "self") + attr("type", "application/rss+xml") +
         attr("href", feed_url(feed, ".rss")) + "/>\n";
  if (!feed.hub.empty())
    out += "  <atom:link" + attr("rel", "hub") + attr("href", feed.hub) + "/>\n";
  for (const auto& e : entries) {
    out += "  <item>\n";
    element(out, "    ", "title", e.title, true);
    element(out, "    ", "link", e.link);
    element(out, "    ", "description", e.summary.empty() ? e.content : e.summary, true);
    element(out, "    ", "category", e.category);
    out += "    <guid isPermaLink=\"false\">" + xml_escape(e.id) + "</guid>\n";
    element(out, "    ", "pubDate", rfc822_date(e.updated));
    if (!e.cap_id.empty()) {
      // The length of the CAP document is not known here; RSS readers accept 0 for "unknown".
      out += "    <enclosure" + attr("url", cap_url(feed.public_base_url, e.cap_id)) +
             attr("length", "0") + attr("type", kCapType) + "/>\n";
    }
    out += "  </item>\n";
  }
  out += "</channel>\n</rss>\n";
  return out;
}

std::string render_atom(const FeedInfo& feed, const std::vector<FeedEntry>& entries) {
  std::string out = kXmlDeclaration;
  out += "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">\n";
  element(out, "  ", "id", feed_url(feed, ".atom"), true);
  element(out, "  ", "title", feed.title, true);
  element(out, "  ", "subtitle", feed.description);
  element(out, "  ", "updated", atom_time(newest_update(entries)), true);
  out += "  <author>\n";
  element(out, "    ", "name", feed.author, true);
  out += "  </author>\n";
  out += "  <link" + attr("rel", "self") + attr("type", "application/atom+xml") +
         attr("href", feed_url(feed, ".atom")) + "/>\n";
  if (!feed.hub.empty()) out += "  <link" + attr("rel", "hub") + attr("href", feed.hub) + "/>\n";
  out += "  <generator>Herald</generator>\n";
  for (const auto& e : entries) {
    out += "  <entry>\n";
    element(out, "    ", "id", entry_uri(feed, e), true);
    element(out, "    ", "title", e.title, true);
    element(out, "    ", "updated", atom_time(e.updated), true);
    element(out, "    ", "published", atom_time(e.published));
    if (!e.cap_id.empty()) {
      out += "    <link" + attr("rel", feed.cap_feed ? "alternate" : "related") +
             attr("type", kCapType) + attr("href", cap_url(feed.public_base_url, e.cap_id)) +
             "/>\n";
    }
    if (!e.link.empty() && !feed.cap_feed) {
      out += "    <link" + attr("rel", "alternate") + attr("type", "text/html") +
             attr("href", e.link) + "/>\n";
    }
    if (!e.category.empty()) out += "    <category" + attr("term", e.category) + "/>\n";
    if (!e.summary.empty()) {
      out += "    <summary type=\"text\">" + xml_escape(e.summary) + "</summary>\n";
    }
    // Always given: RFC 4287 requires content when there is no alternate link, and desks want the
    // full text rather than a summary.
    out += "    <content type=\"text\">" + xml_escape(e.content.empty() ? e.summary : e.content) +
           "</content>\n";
    out += "  </entry>\n";
  }
  out += "</feed>\n";
  return out;
}

std::string cap_reference(const CapMessage& message) {
  return message.sender + "," + message.identifier + "," + cap_time(message.sent);
}

std::string render_cap(const CapMessage& m) {
  std::string out = kXmlDeclaration;
  out += "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n";
  element(out, "  ", "identifier", m.identifier, true);
  element(out, "  ", "sender", m.sender, true);
  element(out, "  ", "sent", cap_time(m.sent), true);
  element(out, "  ", "status", m.status, true);
  element(out, "  ", "msgType", m.msg_type, true);
  element(out, "  ", "scope", m.scope, true);
  element(out, "  ", "note", m.note);
  std::string references;
  for (const auto& r : m.references) references += (references.empty() ? "" : " ") + r;
  element(out, "  ", "references", references);
  if (m.info) {
    const CapInfo& i = *m.info;
    out += "  <info>\n";
    element(out, "    ", "language", i.language);
    for (const auto& category : i.categories) element(out, "    ", "category", category, true);
    element(out, "    ", "event", i.event, true);
    element(out, "    ", "responseType", i.response_type);
    element(out, "    ", "urgency", i.urgency, true);
    element(out, "    ", "severity", i.severity, true);
    element(out, "    ", "certainty", i.certainty, true);
    if (i.expires) element(out, "    ", "expires", cap_time(*i.expires));
    element(out, "    ", "senderName", i.sender_name);
    element(out, "    ", "headline", i.headline);
    element(out, "    ", "description", i.description);
    element(out, "    ", "instruction", i.instruction);
    element(out, "    ", "web", i.web);
    element(out, "    ", "contact", i.contact);
    for (const auto& [name, value] : i.parameters) {
      out += "    <parameter>\n";
      element(out, "      ", "valueName", name, true);
      element(out, "      ", "value", value, true);
      out += "    </parameter>\n";
    }
    for (const auto& area : i.areas) {
      out += "    <area>\n";
      element(out, "      ", "areaDesc", area.desc, true);
      if (!area.country.empty()) {
        out += "      <geocode>\n";
        element(out, "        ", "valueName", "ISO3166-1", true);
        element(out, "        ", "value", area.country, true);
        out += "      </geocode>\n";
      }
      out += "    </area>\n";
    }
    out += "  </info>\n";
  }
  out += "</alert>\n";
  return out;
}

CapInfo cap_info_for(const Item& item, const std::string& sender_name) {
  CapInfo info;
  info.sender_name = sender_name;
  info.headline = item.title;
  info.description = item.body.empty() ? item.summary : item.body;
  if (item.link.rfind("http://", 0) == 0 || item.link.rfind("https://", 0) == 0) {
    info.web = item.link;
  }
  if (const auto instruction = item.extra.find("instruction");
      instruction != item.extra.end() && instruction->is_string()) {
    info.instruction = instruction->get<std::string>();
  }
  if (!item.alert) return info;
  const AlertInfo& a = *item.alert;
  info.response_type = response_type_for(a.level);
  info.urgency = a.urgency;
  info.severity = a.severity;
  info.certainty = a.certainty;
  info.expires = a.expires;
  if (!a.hotline.empty()) info.contact = "应急热线:" + a.hotline;
  if (const char* label = alert_level_label(a.level); *label != '\0') {
    info.parameters.emplace_back("提醒级别", label);
  }
  for (const auto& area : a.areas) {
    info.areas.push_back({area.desc.empty() ? area.country : area.desc, area.country});
  }
  return info;
}

}  // namespace herald
