#include "queue/audit_log.h"

#include <algorithm>
#include <charconv>

#include "core/delivery.h"

namespace herald {
namespace {

// Far more entries than one item or delivery ever has; a bound so a runaway stream cannot make
// one request read without limit.
constexpr const char* kMaxEntries = "10000";

void append_entries(const RedisValue& reply, const std::string& delivery_id,
                    std::vector<AuditEvent>& out) {
  for (const auto& entry : reply.elements) {
    if (entry.elements.size() < 2) continue;
    AuditEvent e;
    e.delivery_id = delivery_id;
    const auto& kv = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
      const std::string& field = kv[i].str;
      const std::string& value = kv[i + 1].str;
      if (field == "event") {
        e.event = value;
      } else if (field == "who") {
        e.who = value;
      } else if (field == "at") {
        long long ms = 0;
        std::from_chars(value.data(), value.data() + value.size(), ms);
        e.at = from_unix_ms(ms);
      } else {
        e.fields[field] = value;
      }
    }
    out.push_back(std::move(e));
  }
}

}  // namespace

std::string AuditLog::item_stream(const std::string& item_id) const {
  return prefix_ + "{items}:audit:" + item_id;
}

std::string AuditLog::delivery_stream(const std::string& delivery_id) const {
  // The same name DeliveryQueue::key(channel, "audit:" + id) gives, which the queue scripts use.
  const auto dot = delivery_id.find('.');
  const std::string channel = dot == std::string::npos ? "" : delivery_id.substr(dot + 1);
  return prefix_ + "{" + channel + "}:audit:" + delivery_id;
}

Result<std::vector<AuditEvent>> AuditLog::history(RedisConnection& conn, const std::string& item_id,
                                                  const std::vector<std::string>& channels) const {
  std::vector<std::vector<std::string>> commands = {
      {"XRANGE", item_stream(item_id), "-", "+", "COUNT", kMaxEntries}};
  std::vector<std::string> delivery_ids;
  for (const auto& channel : channels) {
    delivery_ids.push_back(delivery_id_for(item_id, channel));
    commands.push_back(
        {"XRANGE", delivery_stream(delivery_ids.back()), "-", "+", "COUNT", kMaxEntries});
  }
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  std::vector<AuditEvent> out;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    const RedisValue& r = (*replies)[i];
    if (r.is_error()) return error_from_reply(r, "reading the audit trail of " + item_id);
    append_entries(r, i == 0 ? "" : delivery_ids[i - 1], out);
  }
  std::stable_sort(out.begin(), out.end(), [](const AuditEvent& a, const AuditEvent& b) {
    if (a.at != b.at) return a.at < b.at;
    return a.delivery_id.empty() && !b.delivery_id.empty();
  });
  return out;
}

}  // namespace herald
