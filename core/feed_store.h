// FeedStore: where the media channel keeps its feeds (RSS/Atom entries, CAP documents) and which of
// a delivery's pushes are done, shared by every heraldd (implemented in Redis by queue/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace herald {

// One entry of a feed, as every format renders it. `id` is the entry's permanent id: the item id
// of the first publication, kept by corrections (Atom: same id, new `updated`).
struct FeedEntry {
  std::string id;
  std::string item_id;  // the item whose content the entry shows now (a correction's own id)
  std::string kind;     // "publication" or "alert"
  std::string category;
  std::string title;
  std::string summary;
  std::string content;
  std::string link;  // the item's page, or "" when it has none
  TimePoint published{};
  TimePoint updated{};
  std::string cap_id;    // the CAP document the entry points at ("" for publications)
  std::string msg_type;  // CAP msgType of that document: Alert, Update or Cancel
};

// A CAP document and where it sits in its chain (original alert, updates, cancel).
struct CapRecord {
  std::string id;       // served at /feeds/cap/{id}.xml
  std::string root_id;  // the first alert's item id
  std::string xml;
  // This message's own "sender,identifier,sent" triple: the next Update or Cancel references it.
  std::string reference;
  TimePoint sent{};
  std::string msg_type;  // Alert, Update or Cancel
  std::string title;     // the headline (or what a Cancel cancels), unescaped
};

class FeedStore {
 public:
  virtual ~FeedStore() = default;

  // Writes (or replaces) `entry` in `feed` on behalf of `delivery_id`, keeping the newest
  // `max_entries`. Idempotent per delivery: when this delivery already wrote this feed nothing
  // changes and the answer is false; true means the feed changed now. Records the item →
  // entry id alias so a later correction of `entry.item_id` finds the entry.
  virtual Result<bool> write_entry(const std::string& delivery_id, const std::string& feed,
                                   const FeedEntry& entry, std::size_t max_entries) = 0;
  // Removes entry `entry_id` from `feed` (a retraction); false when this delivery already did, or
  // the feed did not hold it.
  virtual Result<bool> remove_entry(const std::string& delivery_id, const std::string& feed,
                                    const std::string& entry_id) = 0;
  // The newest `n` entries (by `updated`), newest first.
  virtual Result<std::vector<FeedEntry>> newest_entries(const std::string& feed, std::size_t n) = 0;
  // A counter that grows on every change of the feed (0 for a feed never written).
  virtual Result<std::int64_t> version(const std::string& feed) = 0;
  // The entry id an item's content lives under (itself unless the item corrected another).
  virtual Result<std::string> entry_id_for(const std::string& item_id) = 0;

  // Stores a CAP document once per delivery (false when this delivery already stored one) and
  // appends its reference to the chain of `record.root_id`.
  virtual Result<bool> put_cap(const std::string& delivery_id, const CapRecord& record) = 0;
  virtual Result<std::optional<CapRecord>> cap(const std::string& id) = 0;
  // The references of every message of a chain so far, oldest first (empty: no CAP chain).
  virtual Result<std::vector<std::string>> cap_chain(const std::string& root_id) = 0;

  // The steps of a delivery already done ("feed:news", "cap", "websub", "email:desk@x", ...),
  // so that a retry repeats none of them.
  virtual Result<std::set<std::string>> done_steps(const std::string& delivery_id) = 0;
  virtual Result<void> mark_done(const std::string& delivery_id, const std::string& step) = 0;
  // Holds `step` of a delivery for `holder` (an attempt's lease token) during `hold` at most:
  // false while another attempt holds it. Two workers holding the same delivery at once (a lease
  // taken over from a worker still running) so never push the same step together; a hold left by
  // a crash runs out. release_step ends a hold, only if `holder` still has it.
  virtual Result<bool> hold_step(const std::string& delivery_id, const std::string& step,
                                 const std::string& holder, std::chrono::milliseconds hold) = 0;
  virtual Result<void> release_step(const std::string& delivery_id, const std::string& step,
                                    const std::string& holder) = 0;
};

}  // namespace herald
