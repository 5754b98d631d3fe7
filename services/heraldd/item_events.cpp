#include "services/heraldd/item_events.h"

#include <memory>

namespace herald {
namespace {

constexpr std::string_view kItemsPrefix = "/v1/items/";
constexpr std::string_view kEventsSuffix = "/events";

std::string item_event(const std::string& json_text) {
  // The JSON is compact (no newline), so it fits one data: line.
  return "event: item\ndata: " + json_text + "\n\n";
}

// One open stream: reads the item every poll and sends it when its JSON changed.
class ItemEventStream : public ResponseStream {
 public:
  ItemEventStream(ItemReader read_item, std::string id, std::string first, ItemEventTiming timing)
      : read_item_(std::move(read_item)),
        id_(std::move(id)),
        last_(std::move(first)),
        timing_(timing) {
    interval = timing.poll;
  }

  std::optional<std::string> next() override {
    const auto now = std::chrono::steady_clock::now();
    if (!sent_first_) {
      sent_first_ = true;
      last_sent_ = now;
      return item_event(last_);
    }
    // A storage error (503) is skipped: the page keeps what it has and the next poll tries again.
    // A 404 cannot happen (items are never deleted) but would end the stream.
    const ServerResponse current = read_item_(id_);
    if (current.status == 404) return std::nullopt;
    if (current.status == 200 && current.body != last_) {
      last_ = current.body;
      last_sent_ = now;
      return item_event(last_);
    }
    if (now - last_sent_ >= timing_.heartbeat) {
      last_sent_ = now;
      return std::string(": heartbeat\n\n");
    }
    return std::string();
  }

 private:
  ItemReader read_item_;
  std::string id_;
  std::string last_;
  ItemEventTiming timing_;
  bool sent_first_ = false;
  std::chrono::steady_clock::time_point last_sent_;
};

}  // namespace

std::optional<ServerResponse> ItemEventRoutes::handle(const ServerRequest& request,
                                                      const AuthUser* user) {
  const std::string& path = request.path;
  if (path.rfind(kItemsPrefix, 0) != 0 ||
      path.size() <= kItemsPrefix.size() + kEventsSuffix.size() ||
      path.compare(path.size() - kEventsSuffix.size(), kEventsSuffix.size(), kEventsSuffix) != 0) {
    return std::nullopt;
  }
  const std::string id =
      path.substr(kItemsPrefix.size(), path.size() - kItemsPrefix.size() - kEventsSuffix.size());
  if (id.find('/') != std::string::npos) return std::nullopt;
  // Any role may watch an item, as any role may read it.
  if (user == nullptr) return require_roles(user, {}, "watching items");
  if (request.method != "GET") return method_not_allowed("GET", path);

  // Read once here: an unknown item or unavailable storage is answered as GET /v1/items/{id}
  // would answer it, before any stream is opened.
  ServerResponse first = read_item_(id);
  if (first.status != 200) return first;
  ServerResponse response;
  response.content_type = "text/event-stream; charset=utf-8";
  // A buffering reverse proxy (nginx) would hold events back.
  response.headers.emplace_back("X-Accel-Buffering", "no");
  response.stream =
      std::make_shared<ItemEventStream>(read_item_, id, std::move(first.body), timing_);
  return response;
}

}  // namespace herald
