// Renderers of the media channel: RSS 2.0 and Atom (RFC 4287) feeds, and CAP 1.2 alert messages
// in schema order with +08:00 times. Pure functions: the same input gives the same bytes, so a
// content hash of the output is a valid ETag.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/feed_store.h"
#include "core/item.h"
#include "core/markup.h"

namespace herald {

// "Sat, 07 Sep 2002 00:00:01 GMT" (RFC 822 as RSS 2.0 uses it).
std::string rfc822_date(TimePoint t);
// "2026-11-29T08:00:00+08:00": whole seconds (CAP forbids fractions) in UTC+8 (CAP forbids "Z").
std::string cap_time(TimePoint t);

// What a feed says about itself.
struct FeedInfo {
  std::string name;  // "news" → /feeds/news.rss
  std::string title;
  std::string description;
  std::string author;           // Atom feed author (the office)
  std::string public_base_url;  // "https://www.example.gov.cn" (no trailing slash)
  std::string hub;              // WebSub hub, advertised with rel="hub"; "" for none
  bool cap_feed = false;        // alerts.cap.atom: entries link to their CAP document as alternate
};

// URLs under public_base_url.
std::string feed_url(const FeedInfo& feed, std::string_view extension);  // ".../feeds/news.rss"
std::string cap_url(std::string_view public_base_url, std::string_view cap_id);

// RSS 2.0 with language zh-cn; an entry with a CAP document gets an enclosure of type
// application/cap+xml (OASIS CAP Feeds), guid isPermaLink="false" is the entry id.
std::string render_rss(const FeedInfo& feed, const std::vector<FeedEntry>& entries);
// Atom 1.0; the feed's `updated` is its newest entry's (so the output depends on the entries
// alone), entry ids are URIs under public_base_url that stay the same across corrections.
std::string render_atom(const FeedInfo& feed, const std::vector<FeedEntry>& entries);

// The CAP 1.2 subset Herald emits (reference domain-standards.md §1).
struct CapArea {
  std::string desc;
  std::string country;  // ISO 3166-1 alpha-2, as a geocode; "" for none
};

struct CapInfo {
  std::string language = "zh-CN";
  std::vector<std::string> categories = {"Safety"};
  std::string event = "海外安全提醒";
  std::string response_type;  // "" for none
  std::string urgency;
  std::string severity;
  std::string certainty;
  std::optional<TimePoint> expires;
  std::string sender_name;
  std::string headline;
  std::string description;
  std::string instruction;
  std::string web;
  std::string contact;
  std::vector<std::pair<std::string, std::string>> parameters;  // valueName, value
  std::vector<CapArea> areas;
};

struct CapMessage {
  std::string identifier;
  std::string sender;
  TimePoint sent{};
  std::string status = "Actual";
  std::string msg_type = "Alert";  // Alert, Update, Cancel
  std::string scope = "Public";
  std::string note;
  std::vector<std::string> references;  // "sender,identifier,sent" triples, oldest first
  std::optional<CapInfo> info;
};

// `sender,identifier,sent` of a message, as a later Update or Cancel references it.
std::string cap_reference(const CapMessage& message);
// The <alert> document with an XML declaration, elements in the order of the CAP 1.2 schema.
std::string render_cap(const CapMessage& message);

// The <info> block of an alert item: zh-CN, Safety, 海外安全提醒, the item's CAP codes, its
// areas as areaDesc + ISO 3166-1 geocode, the MFA level as a parameter and as responseType.
CapInfo cap_info_for(const Item& item, const std::string& sender_name);

}  // namespace herald
