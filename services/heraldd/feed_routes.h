// FeedRoutes: the public media feeds (DESIGN.md §4): /feeds/{name}.rss, /feeds/{name}.atom,
// /feeds/alerts.cap.atom and /feeds/cap/{id}.xml, with ETag and If-None-Match → 304.
#pragma once

#include <optional>
#include <string>

#include "adapters/media/media_channel.h"
#include "core/feed_store.h"
#include "services/heraldd/routes.h"

namespace herald {

class FeedRoutes final : public RouteGroup {
 public:
  // `settings` are the media channel's (its feeds and public URL); `store` must outlive this.
  FeedRoutes(MediaSettings settings, FeedStore& store);

  // No token needed. GET only (HEAD too: the server drops the body); 404 for an unknown feed or
  // document, 503 when Redis does not answer.
  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse feed(const FeedInfo& info, std::size_t max_entries, bool rss,
                      const ServerRequest& request);
  ServerResponse cap_document(const std::string& id, const ServerRequest& request);

  MediaSettings settings_;
  FeedStore& store_;
};

// The ETag of a response body (a quoted content hash), and whether an If-None-Match header value
// ("*", or a comma-separated list of tags, weak ones included) matches it.
std::string etag_of(const std::string& body);
bool if_none_match_matches(const std::string& header, const std::string& etag);

}  // namespace herald
