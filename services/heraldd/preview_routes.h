// POST /v1/items:preview: the body of POST /v1/items, checked the same way, stored nowhere. The
// answer is each enabled channel's rendering of it, made by the very functions the channels send
// with, and the content gate's findings (field and position), so the console can show both while
// an officer types.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "core/clock.h"
#include "core/content_gate.h"
#include "core/item.h"
#include "services/heraldd/routes.h"

namespace herald {

inline constexpr const char* kItemsPreviewPath = "/v1/items:preview";

struct PreviewDeps {
  const SharedContentGate& gate;
  const Clock& clock;
  std::set<std::string> channels;                  // enabled: what an item may name
  std::map<std::string, nlohmann::json> settings;  // each enabled channel's config section
  std::string office_name;                         // office.name: the default author
  ItemLimits limits;
};

class PreviewRoutes : public RouteGroup {
 public:
  explicit PreviewRoutes(PreviewDeps deps) : deps_(std::move(deps)) {}
  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

  // {"allowed", "findings": [{word, field, position, length}], "channels": {name: {...}}} for a
  // valid item; the channel entries hold "text" (and for Weibo "length" and "limit") or "error".
  nlohmann::json preview(const Item& item) const;

 private:
  nlohmann::json render(const std::string& channel, const Item& item,
                        const nlohmann::json& payload) const;
  PreviewDeps deps_;
};

}  // namespace herald
