// The media renderers behind /feeds: for any item the validator accepts, the RSS, Atom and CAP
// documents made from it must be well-formed XML (libxml2 parses each back), since one bad
// character in a feed stops every reader of it, not just this entry.
#include <libxml/parser.h>

#include <set>
#include <string>

#include "adapters/media/feed_render.h"
#include "core/item.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

const std::set<std::string> kChannels = {"weibo", "wechat", "portal", "media", "webhook"};

void check_well_formed(const std::string& xml, const char* what) {
  xmlDocPtr doc =
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "feed.xml", nullptr, XML_PARSE_NONET);
  if (doc == nullptr) std::fprintf(stderr, "%s is not well-formed:\n%s\n", what, xml.c_str());
  HERALD_FUZZ_CHECK(doc != nullptr, what);
  xmlFreeDoc(doc);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  xmlInitParser();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto body = herald::parse_json_body(herald::fuzz::as_text(data, size));
  if (!body) return 0;
  auto item = herald::item_from_json(*body, kChannels);
  if (!item) return 0;
  item->id = "01m8ks85kmf3g8d08sexpmwvhe";  // as the API assigns it
  const auto at = herald::fuzz::fixed_now();

  // The entry as MediaChannel writes it.
  herald::FeedEntry entry;
  entry.id = item->corrects.empty() ? item->id : item->corrects;
  entry.item_id = item->id;
  entry.kind = herald::to_string(item->kind);
  entry.category = herald::to_string(item->category);
  entry.title = item->title;
  entry.summary = item->summary;
  entry.content = item->body;
  entry.link = item->link;
  entry.published = entry.updated = at;
  herald::FeedInfo feed{"news",
                        "外事动态",
                        "省外办发布的政府信息",
                        "某省人民政府外事办公室",
                        "https://www.example.gov.cn",
                        "https://hub.example.gov.cn/",
                        false};
  if (item->kind == herald::ItemKind::alert && item->alert) {
    herald::CapMessage message;
    message.identifier = item->id;
    message.sender = "alerts@example.gov.cn";
    message.sent = at;
    message.status = item->status == "exercise" ? "Exercise" : "Actual";
    message.info = herald::cap_info_for(*item, "某省人民政府外事办公室");
    check_well_formed(herald::render_cap(message), "CAP");
    message.msg_type = "Update";
    message.references = {herald::cap_reference(message)};
    check_well_formed(herald::render_cap(message), "CAP update");
    entry.cap_id = item->id;
    entry.msg_type = "Alert";
    feed.name = "alerts";
    feed.cap_feed = true;
  }
  check_well_formed(herald::render_rss(feed, {entry}), "RSS");
  check_well_formed(herald::render_atom(feed, {entry}), "Atom");
  return 0;
}
