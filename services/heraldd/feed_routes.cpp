#include "services/heraldd/feed_routes.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "core/digest.h"

namespace herald {
namespace {

constexpr std::string_view kFeedsPrefix = "/feeds/";
constexpr std::string_view kCapPrefix = "/feeds/cap/";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Document ids are item ids, optionally with "-cancel": nothing else may reach a Redis key.
bool is_document_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '-';
  });
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

// 200 with the body, or 304 when the client already has it. Clients must revalidate (no-cache)
// so an alert is never served stale from a cache, while the 304 keeps polling cheap.
ServerResponse cached(const ServerRequest& request, std::string body, const char* content_type) {
  const std::string etag = etag_of(body);
  ServerResponse response;
  response.content_type = content_type;
  response.headers = {{"ETag", etag}, {"Cache-Control", "no-cache"}};
  if (if_none_match_matches(request.header("if-none-match"), etag)) {
    response.status = 304;
    return response;
  }
  response.body = std::move(body);
  return response;
}

ServerResponse not_found(const std::string& path) {
  return ServerResponse::error(404, "not_found", "no such feed or document: " + path);
}

}  // namespace

std::string etag_of(const std::string& body) {
  return "\"" + sha256_hex(body).substr(0, 32) + "\"";
}

bool if_none_match_matches(const std::string& header, const std::string& etag) {
  std::string_view rest = header;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string tag = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (tag == "*") return true;
    // If-None-Match uses the weak comparison (RFC 9110 §13.1.2).
    if (tag.rfind("W/", 0) == 0) tag.erase(0, 2);
    if (tag == etag) return true;
  }
  return false;
}

FeedRoutes::FeedRoutes(MediaSettings settings, FeedStore& store)
    : settings_(std::move(settings)), store_(store) {}

std::optional<ServerResponse> FeedRoutes::handle(const ServerRequest& request,
                                                 const AuthUser* /*user*/) {
  const std::string& path = request.path;
  if (path.rfind(kFeedsPrefix, 0) != 0) return std::nullopt;
  if (request.method != "GET") return method_not_allowed("GET", path);

  if (path.rfind(kCapPrefix, 0) == 0) {
    const std::string_view rest = std::string_view(path).substr(kCapPrefix.size());
    if (!ends_with(rest, ".xml")) return not_found(path);
    const std::string id(rest.substr(0, rest.size() - 4));
    if (!is_document_id(id)) return not_found(path);
    return cap_document(id, request);
  }
  const std::string name = path.substr(kFeedsPrefix.size());
  if (name == std::string(kCapFeedName) + ".atom") {
    return feed(settings_.cap_feed_info(), settings_.cap_max_entries, false, request);
  }
  for (const auto& f : settings_.feeds) {
    if (name == f.name + ".rss") return feed(settings_.feed_info(f), f.max_entries, true, request);
    if (name == f.name + ".atom") {
      return feed(settings_.feed_info(f), f.max_entries, false, request);
    }
  }
  return not_found(path);
}

ServerResponse FeedRoutes::feed(const FeedInfo& info, std::size_t max_entries, bool rss,
                                const ServerRequest& request) {
  auto entries = store_.newest_entries(info.name, max_entries);
  if (!entries) return error_response(entries.error());
  if (rss) return cached(request, render_rss(info, *entries), "application/rss+xml; charset=utf-8");
  return cached(request, render_atom(info, *entries), "application/atom+xml; charset=utf-8");
}

ServerResponse FeedRoutes::cap_document(const std::string& id, const ServerRequest& request) {
  auto record = store_.cap(id);
  if (!record) return error_response(record.error());
  if (!*record) return not_found(request.path);
  return cached(request, (*record)->xml, "application/cap+xml; charset=utf-8");
}

}  // namespace herald
