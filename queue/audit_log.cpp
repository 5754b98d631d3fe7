#include "queue/audit_log.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "core/delivery.h"
#include "core/utf8.h"

namespace herald {
namespace {

// Far more entries than one item or delivery ever has; a bound so a runaway stream cannot make
// one request read without limit.
constexpr const char* kMaxEntries = "10000";
constexpr const char* kLastEntry = "9999";

void add_field(AuditEvent& e, const std::string& field, const std::string& value) {
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

// An XRANGE reply of a stream an older version wrote.
void append_stream_entries(const RedisValue& reply, const std::string& delivery_id,
                           std::vector<AuditEvent>& out) {
  for (const auto& entry : reply.elements) {
    if (entry.elements.size() < 2) continue;
    AuditEvent e;
    e.delivery_id = delivery_id;
    const auto& kv = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) add_field(e, kv[i].str, kv[i + 1].str);
    out.push_back(std::move(e));
  }
}

// An LRANGE reply of an audit list: each entry a JSON array [field, value, ...]. Lua's cjson
// passes bytes through unchecked, so an entry is made valid UTF-8 before parsing: a platform's
// garbled error text must not hide the rest of the trail.
void append_list_entries(const RedisValue& reply, const std::string& delivery_id,
                         std::vector<AuditEvent>& out) {
  for (const auto& entry : reply.elements) {
    const auto kv = nlohmann::json::parse(to_valid_utf8(entry.str), nullptr, false);
    if (!kv.is_array()) continue;
    AuditEvent e;
    e.delivery_id = delivery_id;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
      if (kv[i].is_string() && kv[i + 1].is_string()) {
        add_field(e, kv[i].get<std::string>(), kv[i + 1].get<std::string>());
      }
    }
    out.push_back(std::move(e));
  }
}

std::string channel_of(const std::string& delivery_id) {
  const auto dot = delivery_id.find('.');
  return dot == std::string::npos ? "" : delivery_id.substr(dot + 1);
}

}  // namespace

std::string AuditLog::item_log(const std::string& item_id) const {
  return prefix_ + "{items}:" + std::string(kAuditKeyPart) + item_id;
}

std::string AuditLog::delivery_log(const std::string& delivery_id) const {
  // The same name DeliveryQueue::key(channel, kAuditKeyPart + id) gives, which the scripts use.
  return prefix_ + "{" + channel_of(delivery_id) + "}:" + std::string(kAuditKeyPart) + delivery_id;
}

Result<std::vector<AuditEvent>> AuditLog::history(RedisConnection& conn, const std::string& item_id,
                                                  const std::vector<std::string>& channels) const {
  // Per trail: the stream an older version may have written, then the list.
  std::vector<std::string> delivery_ids = {""};
  std::vector<std::vector<std::string>> commands = {
      {"XRANGE", prefix_ + "{items}:audit:" + item_id, "-", "+", "COUNT", kMaxEntries},
      {"LRANGE", item_log(item_id), "0", kLastEntry}};
  for (const auto& channel : channels) {
    const std::string id = delivery_id_for(item_id, channel);
    delivery_ids.push_back(id);
    commands.push_back(
        {"XRANGE", prefix_ + "{" + channel + "}:audit:" + id, "-", "+", "COUNT", kMaxEntries});
    commands.push_back({"LRANGE", delivery_log(id), "0", kLastEntry});
  }
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  std::vector<AuditEvent> out;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    const RedisValue& r = (*replies)[i];
    if (r.is_error()) return error_from_reply(r, "reading the audit trail of " + item_id);
    const std::string& delivery_id = delivery_ids[i / 2];
    if (i % 2 == 0) {
      append_stream_entries(r, delivery_id, out);
    } else {
      append_list_entries(r, delivery_id, out);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const AuditEvent& a, const AuditEvent& b) {
    if (a.at != b.at) return a.at < b.at;
    return a.delivery_id.empty() && !b.delivery_id.empty();
  });
  return out;
}

}  // namespace herald
