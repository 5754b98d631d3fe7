// AuditLog: the audit trail (备案). Every item state change is an entry in a Redis list per item,
// every delivery event one in a list per delivery; both are written by the Lua script that makes
// the change (audit_add in queue/lua/audit.lua), so an entry exists exactly when the change
// happened. This class names the lists and reads an item's whole history back.
//
// Lists (each entry a JSON array of fields and values: event, who, at = unix ms, and
// event-specific ones):
//   <p>{items}:log:<item id>       submitted, approval, rejection, approved, rejected, queued,
//                                  scheduled (ItemStore's scripts)
//   <p>{<ch>}:log:<delivery id>    attempt, published (remote_id), retry (error), dead (error),
//                                  lease_expired, replayed (queue/lua/*.lua), reconciled
//                                  (queue/platform_ledger.h)
// Each write refreshes the list's EXPIRE to the retention (audit.retention_days).
// Older versions kept the trail in streams named "...:audit:<id>"; history() still reads them, so
// an upgrade loses no record, and new entries go to the lists.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "queue/redis.h"

namespace herald {

// Ten years, as the archives keep publication records.
inline constexpr std::chrono::seconds kDefaultAuditRetention{3660LL * 24 * 3600};

// The part of an audit list's key between the hash tag and the id: "<p>{<ch>}:log:<delivery id>".
inline constexpr std::string_view kAuditKeyPart = "log:";

struct AuditEvent {
  TimePoint at{};
  std::string event;
  std::string who;
  std::string delivery_id;                    // "" for an item event
  std::map<std::string, std::string> fields;  // everything else the entry holds
};

class AuditLog {
 public:
  explicit AuditLog(std::string prefix) : prefix_(std::move(prefix)) {}

  std::string item_log(const std::string& item_id) const;
  std::string delivery_log(const std::string& delivery_id) const;

  // The item's events and those of its deliveries on `channels`, ordered by time (item events
  // first at equal times: a state change precedes the delivery work it causes); a stream's own
  // order is kept.
  Result<std::vector<AuditEvent>> history(RedisConnection& conn, const std::string& item_id,
                                          const std::vector<std::string>& channels) const;

 private:
  std::string prefix_;
};

}  // namespace herald
