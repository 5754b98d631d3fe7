#include "queue/platform_ledger.h"

#include <charconv>
#include <map>
#include <set>

#include "queue/delivery_queue.h"
#include "queue/lua_scripts.h"

namespace herald {
namespace {

// Ledger keys per SCAN step and per pipelined HMGET batch: bounded, so neither Redis nor this
// process handles a whole year's ledger in one reply.
constexpr int kScanCount = 1000;

const RedisScript kSettleScript("platform_settle_dead", std::string(lua::kPlatformSettleDead));

std::optional<TimePoint> time_of(const std::string& ms) {
  std::int64_t value = 0;
  const auto parsed = std::from_chars(ms.data(), ms.data() + ms.size(), value);
  if (ms.empty() || parsed.ec != std::errc() || parsed.ptr != ms.data() + ms.size()) {
    return std::nullopt;
  }
  return from_unix_ms(value);
}

}  // namespace

PlatformLedger::PlatformLedger(std::string prefix, int utc_offset_minutes,
                               std::chrono::seconds audit_retention)
    : prefix_(std::move(prefix)),
      utc_offset_minutes_(utc_offset_minutes),
      audit_retention_(audit_retention) {}

Result<std::vector<LedgerEntry>> PlatformLedger::entries(RedisConnection& conn,
                                                         const std::string& channel) const {
  std::vector<LedgerEntry> out;
  const std::string pattern = glob_escape(prefix_ + "{" + channel + "}:d:");
  std::string cursor = "0";
  do {
    auto scan =
        conn.command({"SCAN", cursor, "MATCH", pattern + "*", "COUNT", std::to_string(kScanCount)});
    if (!scan) return scan.error();
    if (scan->is_error()) return error_from_reply(*scan, "scanning the ledger");
    if (scan->elements.size() != 2) return Error::permanent("unexpected SCAN reply");
    cursor = scan->elements[0].str;
    std::vector<std::vector<std::string>> reads;
    for (const auto& k : scan->elements[1].elements) {
      reads.push_back({"HMGET", k.str, "id", "item_id", "state", "kind", "remote_id",
                       "published_at", "dead_at", "failed_at", "exercise"});
    }
    if (reads.empty()) continue;
    auto ledgers = conn.pipeline(reads);
    if (!ledgers) return ledgers.error();
    for (const auto& l : *ledgers) {
      // Not a hash (nothing else should match the pattern, but a stray key must not stop this).
      if (l.is_error()) continue;
      auto at = [&](std::size_t i) { return i < l.elements.size() ? l.elements[i].str : ""; };
      const auto state = delivery_state_from_string(at(2));
      const auto kind = delivery_kind_from_string(at(3));
      // Not a ledger a version of the scripts wrote: nothing reconciliation could compare.
      if (at(0).empty() || !state || !kind) continue;
      LedgerEntry e;
      e.delivery_id = at(0);
      e.item_id = at(1);
      e.state = *state;
      e.kind = *kind;
      e.remote_id = at(4);
      e.published_at = time_of(at(5));
      e.dead_at = time_of(at(6));
      e.failed_at = time_of(at(7));
      e.exercise = at(8) == "1";
      out.push_back(std::move(e));
    }
  } while (cursor != "0");

  std::set<std::string> items;
  for (const auto& e : out) {
    if (!e.item_id.empty()) items.insert(e.item_id);
  }
  std::vector<std::string> ids(items.begin(), items.end());
  std::map<std::string, std::string> states;
  for (std::size_t start = 0; start < ids.size(); start += kScanCount) {
    std::vector<std::vector<std::string>> reads;
    for (std::size_t i = start; i < ids.size() && i < start + kScanCount; ++i) {
      reads.push_back({"HGET", prefix_ + "{items}:item:" + ids[i], "state"});
    }
    auto replies = conn.pipeline(reads);
    if (!replies) return replies.error();
    for (std::size_t i = 0; i < replies->size(); ++i) {
      if (!(*replies)[i].is_error()) states[ids[start + i]] = (*replies)[i].str;
    }
  }
  for (auto& e : out) {
    const auto found = states.find(e.item_id);
    if (found != states.end()) e.item_state = found->second;
  }
  return out;
}

Result<SettleResult> PlatformLedger::settle_dead_letter(
    RedisConnection& conn, const LedgerEntry& entry, const std::string& channel,
    const std::string& remote_id, TimePoint published_at, const std::string& who,
    TimePoint now) const {
  auto key = [&](const std::string& suffix) { return prefix_ + "{" + channel + "}:" + suffix; };
  const std::string day = tally_day(published_at, utc_offset_minutes_);
  const std::string died = entry.failed_at ? tally_day(*entry.failed_at, utc_offset_minutes_) : "";
  const std::string failed_year = (died.empty() ? day : died).substr(0, 4);
  auto reply = kSettleScript.run(
      conn,
      {key("d:" + entry.delivery_id), key("dead"), key("tally:" + day.substr(0, 4)),
       key("tally:" + day.substr(0, 4) + ":months"), key("failed:" + failed_year),
       key("failed:" + failed_year + ":months"), key("firstpub"),
       key(std::string(kAuditKeyPart) + entry.delivery_id)},
      {std::to_string(to_unix_ms(now)), entry.delivery_id, remote_id,
       std::to_string(to_unix_ms(published_at)), day, died,
       entry.failed_at ? std::to_string(to_unix_ms(*entry.failed_at)) : "", who,
       std::to_string(audit_retention_.count())});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "settling a dead letter");
  if (reply->str == "ok") return SettleResult::settled;
  if (reply->str == "not_dead") return SettleResult::not_dead;
  if (reply->str == "changed") return SettleResult::changed;
  return SettleResult::not_found;
}

Result<void> PlatformLedger::record_clean(RedisConnection& conn,
                                          const CleanReconciliation& clean) const {
  auto reply =
      conn.command({"HSET", prefix_ + "{items}:reconcile:platforms", "on", clean.on, "at",
                    std::to_string(to_unix_ms(clean.at)), "from", clean.from, "to", clean.to});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "recording a clean reconciliation");
  return ok();
}

Result<std::optional<CleanReconciliation>> PlatformLedger::last_clean(RedisConnection& conn) const {
  auto reply =
      conn.command({"HMGET", prefix_ + "{items}:reconcile:platforms", "on", "at", "from", "to"});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "reading the last reconciliation");
  auto at = [&](std::size_t i) {
    return i < reply->elements.size() ? reply->elements[i].str : std::string();
  };
  if (at(0).empty()) return std::optional<CleanReconciliation>();
  return std::optional<CleanReconciliation>(
      CleanReconciliation{at(0), time_of(at(1)).value_or(TimePoint{}), at(2), at(3)});
}

}  // namespace herald
