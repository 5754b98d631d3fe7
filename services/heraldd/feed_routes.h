// FeedRoutes: the public media feeds (DESIGN.md §4): /feeds/{name}.rss, /feeds/{name}.atom,
// /feeds/alerts.cap.atom and /feeds/cap/{id}.xml, with ETag and If-None-Match → 304 (and
// Last-Modified / If-Modified-Since), each rendering kept in memory for a short while.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "adapters/media/media_channel.h"
#include "core/feed_store.h"
#include "services/heraldd/routes.h"

namespace herald {

class FeedRoutes final : public RouteGroup {
 public:
  // `settings` are the media channel's (its feeds and public URL); `store` must outlive this.
  // A feed or document answered 200 is served from memory for `cache_for` after it was rendered
  // (0: rendered for every request), so a crowd of pollers costs one Redis read and one rendering
  // per feed per `cache_for`, and a new alert shows at most that much later.
  FeedRoutes(MediaSettings settings, FeedStore& store,
             std::chrono::milliseconds cache_for = std::chrono::milliseconds(0));

  // No token needed. GET only (HEAD too: the server drops the body); 404 for an unknown feed or
  // document, 503 when Redis does not answer.
  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  // What a 200 answer carries, kept for cache_for_.
  struct Rendered {
    std::string body;
    std::string content_type;
    std::string etag;
    std::string last_modified;  // "" when unknown
    std::chrono::steady_clock::time_point expires;
  };

  // The rendering for `request.path`; `status` is set when there is none (404, 503).
  std::optional<Rendered> render(const ServerRequest& request, ServerResponse& status);
  std::optional<Rendered> feed(const FeedInfo& info, std::size_t max_entries, bool rss,
                               ServerResponse& status);
  std::optional<Rendered> cap_document(const std::string& id, const std::string& path,
                                       ServerResponse& status);

  MediaSettings settings_;
  FeedStore& store_;
  std::chrono::milliseconds cache_for_;
  std::mutex cache_mutex_;
  std::unordered_map<std::string, Rendered> cache_;  // by path
};

// The ETag of a response body (a quoted content hash), and whether an If-None-Match header value
// ("*", or a comma-separated list of tags, weak ones included) matches it.
std::string etag_of(const std::string& body);
bool if_none_match_matches(const std::string& header, const std::string& etag);

}  // namespace herald
