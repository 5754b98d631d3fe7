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

// Cached renderings at most: CAP document ids are many, and only the ones that exist are kept.
constexpr std::size_t kMaxCached = 1024;

ServerResponse not_found(const std::string& path) {
  return ServerResponse::error(404, "not_found", "no such feed or document: " + path);
}

TimePoint newest_update(const std::vector<FeedEntry>& entries) {
  TimePoint newest{};
  for (const auto& e : entries) newest = std::max(newest, e.updated);
  return newest;
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

FeedRoutes::FeedRoutes(MediaSettings settings, FeedStore& store,
                       std::chrono::milliseconds cache_for)
    : settings_(std::move(settings)), store_(store), cache_for_(cache_for) {}

std::optional<ServerResponse> FeedRoutes::handle(const ServerRequest& request,
                                                 const AuthUser* /*user*/) {
  const std::string& path = request.path;
  if (path.rfind(kFeedsPrefix, 0) != 0) return std::nullopt;
  if (request.method != "GET") return method_not_allowed("GET", path);

  std::optional<Rendered> rendered;
  const auto now = std::chrono::steady_clock::now();
  if (cache_for_.count() > 0) {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(path); it != cache_.end() && it->second.expires > now) {
      rendered = it->second;
    }
  }
  if (!rendered) {
    ServerResponse status;
    rendered = render(request, status);
    if (!rendered) return status;
    if (cache_for_.count() > 0) {
      rendered->expires = now + cache_for_;
      std::lock_guard lock(cache_mutex_);
      if (cache_.size() >= kMaxCached) {
        std::erase_if(cache_, [now](const auto& kept) { return kept.second.expires <= now; });
      }
      if (cache_.size() < kMaxCached) cache_[path] = *rendered;
    }
  }

  // 200 with the body, or 304 when the client already has it. Clients must revalidate (no-cache)
  // so an alert is never kept stale by a cache downstream, while the 304 keeps polling cheap.
  ServerResponse response;
  response.content_type = rendered->content_type;
  response.headers = {{"ETag", rendered->etag}, {"Cache-Control", "no-cache"}};
  if (!rendered->last_modified.empty()) {
    response.headers.emplace_back("Last-Modified", rendered->last_modified);
  }
  const std::string if_none_match = request.header("if-none-match");
  // If-Modified-Since only counts without If-None-Match (RFC 9110 §13.1.3); an exact match with
  // what we sent, the way clients echo it, is all that is checked.
  const bool unchanged = if_none_match.empty()
                             ? !rendered->last_modified.empty() &&
                                   request.header("if-modified-since") == rendered->last_modified
                             : if_none_match_matches(if_none_match, rendered->etag);
  if (unchanged) {
    response.status = 304;
    return response;
  }
  response.body = std::move(rendered->body);
  return response;
}

std::optional<FeedRoutes::Rendered> FeedRoutes::render(const ServerRequest& request,
                                                       ServerResponse& status) {
  const std::string& path = request.path;
  if (path.rfind(kCapPrefix, 0) == 0) {
    const std::string_view rest = std::string_view(path).substr(kCapPrefix.size());
    const std::string id(rest.substr(0, rest.size() >= 4 ? rest.size() - 4 : 0));
    if (!ends_with(rest, ".xml") || !is_document_id(id)) {
      status = not_found(path);
      return std::nullopt;
    }
    return cap_document(id, path, status);
  }
  const std::string name = path.substr(kFeedsPrefix.size());
  if (name == std::string(kCapFeedName) + ".atom") {
    return feed(settings_.cap_feed_info(), settings_.cap_max_entries, false, status);
  }
  for (const auto& f : settings_.feeds) {
    if (name == f.name + ".rss") return feed(settings_.feed_info(f), f.max_entries, true, status);
    if (name == f.name + ".atom") {
      return feed(settings_.feed_info(f), f.max_entries, false, status);
    }
  }
  status = not_found(path);
  return std::nullopt;
}

std::optional<FeedRoutes::Rendered> FeedRoutes::feed(const FeedInfo& info, std::size_t max_entries,
                                                     bool rss, ServerResponse& status) {
  auto entries = store_.newest_entries(info.name, max_entries);
  if (!entries) {
    status = error_response(entries.error());
    return std::nullopt;
  }
  Rendered out;
  out.body = rss ? render_rss(info, *entries) : render_atom(info, *entries);
  out.content_type =
      rss ? "application/rss+xml; charset=utf-8" : "application/atom+xml; charset=utf-8";
  out.etag = etag_of(out.body);
  if (!entries->empty()) out.last_modified = rfc822_date(newest_update(*entries));
  return out;
}

std::optional<FeedRoutes::Rendered> FeedRoutes::cap_document(const std::string& id,
                                                             const std::string& path,
                                                             ServerResponse& status) {
  auto record = store_.cap(id);
  if (!record) {
    status = error_response(record.error());
    return std::nullopt;
  }
  if (!*record) {
    status = not_found(path);
    return std::nullopt;
  }
  Rendered out;
  out.body = std::move((*record)->xml);
  out.content_type = "application/cap+xml; charset=utf-8";
  out.etag = etag_of(out.body);
  out.last_modified = rfc822_date((*record)->sent);
  return out;
}

}  // namespace herald
