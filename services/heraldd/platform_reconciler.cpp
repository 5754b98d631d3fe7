#include "services/heraldd/platform_reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "core/delivery.h"
#include "queue/delivery_queue.h"

namespace herald {
namespace {

// The platform is read this much beyond the period on either side: its time and Herald's for one
// publication differ (an ack lands after the post, a portal publishes after its review), and a
// publication near midnight must still find its other half. Only the period's own records are
// reported.
constexpr std::chrono::hours kEdge{48};
// What settle_first_publications() takes per call.
constexpr int kSettleBatch = 500;
// A Weibo remote id recorded without the platform's id (weibo_channel.cpp).
constexpr std::string_view kUnconfirmedPrefix = "unconfirmed:";

std::optional<TimePoint> day_start(const std::string& day, int utc_offset_minutes) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (day[i] < '0' || day[i] > '9') return std::nullopt;
  }
  const std::chrono::year_month_day date{
      std::chrono::year(std::stoi(day.substr(0, 4))),
      std::chrono::month(static_cast<unsigned>(std::stoi(day.substr(5, 2)))),
      std::chrono::day(static_cast<unsigned>(std::stoi(day.substr(8, 2))))};
  if (!date.ok()) return std::nullopt;
  return to_time_point(std::chrono::sys_days(date) - std::chrono::minutes(utc_offset_minutes));
}

bool is_publication(const LedgerEntry& e) {
  return e.kind != DeliveryKind::retraction;
}

void sort_by_time(std::vector<PlatformDifference>& list) {
  std::stable_sort(list.begin(), list.end(),
                   [](const PlatformDifference& a, const PlatformDifference& b) {
                     const auto ta = a.platform_at ? a.platform_at : a.herald_at;
                     const auto tb = b.platform_at ? b.platform_at : b.herald_at;
                     return ta < tb;
                   });
}

}  // namespace

std::optional<std::pair<TimePoint, TimePoint>> period_bounds(const std::string& from_day,
                                                             const std::string& to_day,
                                                             int utc_offset_minutes) {
  const auto from = day_start(from_day, utc_offset_minutes);
  const auto to = day_start(to_day, utc_offset_minutes);
  if (!from || !to || *to < *from) return std::nullopt;
  return std::make_pair(*from, *to + std::chrono::hours(24) - std::chrono::milliseconds(1));
}

ChannelReconciliation compare_with_platform(const std::string& channel,
                                            const std::vector<LedgerEntry>& entries,
                                            const PlatformListing& listing, TimePoint from,
                                            TimePoint to) {
  ChannelReconciliation out;
  out.channel = channel;
  out.complete_from = listing.complete_from;
  out.notes = listing.notes;
  out.unverifiable = listing.unverifiable;
  auto in_period = [&](TimePoint t) { return t >= from && t <= to; };

  std::map<std::string, std::vector<std::size_t>> by_remote;
  std::map<std::string, std::size_t> by_marker;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const LedgerEntry& e = entries[i];
    if (!is_publication(e)) continue;  // a recall names the publication's id, but is not it
    if (!e.remote_id.empty()) by_remote[e.remote_id].push_back(i);
    Delivery d;
    d.id = e.delivery_id;
    by_marker[d.marker()] = i;
  }
  // One record per remote id: a post listed twice (paging while posts arrive) is one post.
  std::map<std::string, PlatformRecord> records;
  for (const PlatformRecord& r : listing.records) {
    if (r.remote_id.empty()) continue;
    auto [it, inserted] = records.emplace(r.remote_id, r);
    if (!inserted) {
      it->second.withdrawn = it->second.withdrawn && r.withdrawn;
      if (it->second.marker.empty()) it->second.marker = r.marker;
    }
  }

  std::set<std::size_t> live;
  for (const auto& [remote_id, record] : records) {
    std::vector<std::size_t> candidates;
    bool by_marker_only = false;
    if (const auto found = by_remote.find(remote_id); found != by_remote.end()) {
      candidates = found->second;
    } else if (const auto marked = by_marker.find(record.marker);
               !record.marker.empty() && marked != by_marker.end()) {
      candidates = {marked->second};
      by_marker_only = true;
    }
    // A platform that gives no time (WeChat's broadcasts) is placed by Herald's time.
    bool record_in_period = true;
    if (record.at) {
      record_in_period = in_period(*record.at);
    } else if (!candidates.empty()) {
      const auto& herald_at = entries[candidates.front()].published_at;
      record_in_period = !herald_at || in_period(*herald_at);
    }
    if (record_in_period && !record.withdrawn) ++out.platform_records;
    if (candidates.empty()) {
      if (!record.withdrawn && record_in_period) {
        out.unknown_to_herald.push_back(
            {"", "", remote_id, "", record.marker, record.at, std::nullopt,
             record.marker.empty() ? "matches no delivery"
                                   : "carries a marker no delivery of this channel has",
             false});
      }
      continue;
    }
    if (by_marker_only) {
      const LedgerEntry& e = entries[candidates.front()];
      const auto other = records.find(e.remote_id);
      // The delivery's own post is on the platform under the id Herald recorded: this one is a
      // second copy of it, which Herald never counted.
      if (e.state == DeliveryState::published && !e.remote_id.empty() && other != records.end() &&
          !other->second.withdrawn && !e.remote_id.starts_with(kUnconfirmedPrefix)) {
        if (!record.withdrawn && record_in_period) {
          out.unknown_to_herald.push_back({e.delivery_id, e.item_id, remote_id, e.remote_id,
                                           record.marker, record.at, e.published_at,
                                           "a second copy: carries the marker of " + e.delivery_id +
                                               ", published as " + e.remote_id,
                                           false});
        }
        continue;
      }
    }
    if (record.withdrawn) continue;  // not live: the Herald side says whether that is expected
    live.insert(candidates.begin(), candidates.end());
    if (!record_in_period) continue;
    // Several deliveries may share one remote id (a correction replaces its original's feed
    // entry): one that is published and stands accounts for the record.
    const LedgerEntry* dead = nullptr;
    const LedgerEntry* retracted = nullptr;
    bool accounted = false;
    for (std::size_t c : candidates) {
      const LedgerEntry& e = entries[c];
      if (e.item_state == "retracted") {
        if (retracted == nullptr) retracted = &e;
      } else if (e.state == DeliveryState::published) {
        accounted = true;
      } else if (e.state == DeliveryState::dead && dead == nullptr) {
        dead = &e;
      }
    }
    if (accounted) continue;
    // A retracted item's post should be withdrawn, not counted: that comes before a repair.
    if (retracted != nullptr) {
      out.live_but_retracted.push_back(
          {retracted->delivery_id, retracted->item_id, remote_id, retracted->remote_id,
           record.marker, record.at, retracted->published_at,
           std::string("delivery ") + to_string(retracted->state) + ", item retracted", false});
    } else if (dead != nullptr) {
      out.dead_but_live.push_back({dead->delivery_id, dead->item_id, remote_id, dead->remote_id,
                                   record.marker, record.at, dead->dead_at,
                                   "counted failed, but published on the platform", false});
    }
    // Otherwise the delivery is still in progress (queued, in flight, waiting to retry): its
    // attempt is about to find the post.
  }

  const std::set<std::string> unverifiable(listing.unverifiable.begin(),
                                           listing.unverifiable.end());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const LedgerEntry& e = entries[i];
    if (!is_publication(e) || e.state != DeliveryState::published || e.item_state == "retracted" ||
        !e.published_at || !in_period(*e.published_at)) {
      continue;
    }
    ++out.herald_deliveries;
    if (live.count(i) > 0 || unverifiable.count(e.delivery_id) > 0) continue;
    if (listing.complete_from && *e.published_at < *listing.complete_from) continue;
    const auto shown = records.find(e.remote_id);
    out.missing_on_platform.push_back(
        {e.delivery_id, e.item_id, "", e.remote_id, "", std::nullopt, e.published_at,
         shown != records.end() ? "withdrawn on the platform" : "not found on the platform",
         false});
  }
  for (auto* list : {&out.unknown_to_herald, &out.missing_on_platform, &out.dead_but_live,
                     &out.live_but_retracted}) {
    sort_by_time(*list);
  }
  return out;
}

Result<PlatformReconcileReport> PlatformReconciler::run(RedisConnection& conn,
                                                        const std::string& from_day,
                                                        const std::string& to_day, bool repair,
                                                        const std::string& who,
                                                        const std::vector<std::string>& only) {
  const auto bounds = period_bounds(from_day, to_day, utc_offset_minutes_);
  if (!bounds) return Error::invalid("to", "expected from <= to, both yyyy-mm-dd");
  for (const auto& name : only) {
    if (std::none_of(channels_.begin(), channels_.end(),
                     [&](const Channel* c) { return c->name() == name; })) {
      std::string enabled;
      for (const Channel* c : channels_) enabled += (enabled.empty() ? "" : ", ") + c->name();
      return Error::invalid(
          "channel", "\"" + name + "\" is not an enabled channel (enabled: " + enabled + ")");
    }
  }
  const auto [from, to] = *bounds;
  PlatformReconcileReport report;
  report.from = from_day;
  report.to = to_day;
  report.repair = repair;
  const TimePoint now = clock_.now();

  for (Channel* channel : channels_) {
    const std::string& name = channel->name();
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    auto entries = ledger_.entries(conn, name);
    if (!entries) return entries.error();
    std::vector<HeldDelivery> held;
    for (const LedgerEntry& e : *entries) {
      if (is_publication(e) && e.state == DeliveryState::published && e.published_at &&
          *e.published_at >= from - kEdge && *e.published_at <= to + kEdge) {
        held.push_back({e.delivery_id, e.remote_id});
      }
    }
    auto listing = channel->list_published(from - kEdge, to + kEdge, held);
    if (!listing) {
      ChannelReconciliation failed;
      failed.channel = name;
      failed.supported = listing.error().code != "list_unsupported";
      failed.error = listing.error();
      report.channels.push_back(std::move(failed));
      continue;
    }
    ChannelReconciliation rec = compare_with_platform(name, *entries, *listing, from, to);
    if (repair && !rec.dead_but_live.empty()) {
      for (PlatformDifference& d : rec.dead_but_live) {
        const auto entry =
            std::find_if(entries->begin(), entries->end(),
                         [&](const LedgerEntry& e) { return e.delivery_id == d.delivery_id; });
        if (entry == entries->end()) continue;
        const TimePoint published = d.platform_at.value_or(entry->dead_at.value_or(now));
        auto settled =
            ledger_.settle_dead_letter(conn, *entry, name, d.remote_id, published, who, now);
        if (!settled) return settled.error();
        if (*settled == SettleResult::settled) {
          d.repaired = true;
          d.note = "settled as published on " + tally_day(published, utc_offset_minutes_);
          ++report.repaired;
          spdlog::info("reconciliation: dead letter {} is published on {} as {}; settled by {}",
                       d.delivery_id, name, d.remote_id, who);
        } else {
          d.note = "not repaired: the delivery changed while it was being reconciled";
        }
      }
      // The items of the settled publications are counted now, not at the next recovery pass.
      while (true) {
        auto counted = stats_.settle_first_publications(conn, name, std::chrono::milliseconds(0),
                                                        kSettleBatch);
        if (!counted) return counted.error();
        if (*counted < kSettleBatch) break;
      }
    }
    report.channels.push_back(std::move(rec));
  }
  report.ok = std::all_of(report.channels.begin(), report.channels.end(),
                          [](const ChannelReconciliation& c) { return c.clean(); });
  // Only a check of every channel speaks for the platforms as a whole, and only if one of them
  // could be read back at all.
  const bool any_read = std::any_of(report.channels.begin(), report.channels.end(),
                                    [](const ChannelReconciliation& c) { return c.supported; });
  if (report.ok && only.empty() && any_read) {
    auto recorded =
        ledger_.record_clean(conn, {tally_day(now, utc_offset_minutes_), now, from_day, to_day});
    if (!recorded) return recorded.error();
  }
  auto last = ledger_.last_clean(conn);
  if (!last) return last.error();
  report.last_clean = *last;
  return report;
}

}  // namespace herald
