// Notifier: tells reviewers that an item waits for them, by e-mail and/or a WeCom group robot
// (config "notify"). The routes push a notice onto a Redis outbox list right after the review state
// changed (ReviewOutbox); one thread per heraldd (Notifier::run) moves each entry to a processing
// list (BLMOVE), sends it, and removes it. Whichever heraldd moves an entry is the only one that
// sends it; an entry left in processing by a heraldd that died is moved back to the outbox once
// its lease ran out, so none is lost.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/item.h"
#include "core/result.h"
#include "queue/redis.h"

namespace herald {

// What a notification says about an item that waits for review.
struct ReviewNotice {
  std::string item_id;
  ItemKind kind = ItemKind::publication;
  std::string title;
  std::string level;  // an alert's level; "" for a publication
  std::string author;
  int approvals_given = 0;
  int approvals_needed = 0;  // still needed before it is queued

  // The outbox entry. Unique per item and review step, so LREM removes exactly this one.
  std::string to_entry() const;
  static Result<ReviewNotice> from_entry(const std::string& entry);
};

// The notification texts; `console_url` is console.public_url ("" leaves the link out).
std::string notice_subject(const ReviewNotice& notice, const std::string& prefix);
std::string notice_text(const ReviewNotice& notice, const std::string& console_url);
std::string notice_markdown(const ReviewNotice& notice, const std::string& console_url);

struct NotifierKeys {
  std::string outbox;      // LIST: entries waiting (LPUSH in, taken from the right)
  std::string processing;  // LIST: entries one heraldd is sending
  std::string taken;       // HASH: processing entry → when it was taken or last retried (ms)
  explicit NotifierKeys(const std::string& prefix)
      : outbox(prefix + "notify:outbox"),
        processing(prefix + "notify:processing"),
        taken(prefix + "notify:taken") {}
};

// The routes' side: queues a notice. A failure is logged and never fails the request: the item's
// state is already stored and answering an error would make the client submit it twice.
class ReviewOutbox {
 public:
  explicit ReviewOutbox(const std::string& key_prefix) : keys_(key_prefix) {}
  void push(RedisConnection& conn, const Item& item, int approvals_given,
            int approvals_required) const;

 private:
  NotifierKeys keys_;
};

struct NotifierTiming {
  std::chrono::milliseconds poll{1000};  // BLMOVE's timeout: how long stop() may wait for it
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
  // How long an entry may sit in processing without a sign of life before it is sent again.
  std::chrono::milliseconds lease{60000};
};

class Notifier {
 public:
  Notifier(NotifyConfig config, std::string console_url, std::string key_prefix, RedisOptions redis,
           NotifierTiming timing = {});
  ~Notifier();

  // Takes and sends entries until stop(); returns then. Throws only on programmer errors.
  void run();
  void stop();

 private:
  enum class Outcome { sent, dropped, interrupted };
  void handle(RedisConnection& conn, const std::string& entry);
  // Calls `send` until it succeeds, fails for good, or max_attempts are used up.
  template <typename Send>
  Outcome with_retries(RedisConnection& conn, const std::string& entry, const char* what,
                       Send&& send);
  Result<void> send_email(const ReviewNotice& notice, std::vector<std::string>& pending_to);
  Result<void> send_wecom(const ReviewNotice& notice);
  // Moves entries whose lease ran out back to the outbox; how many it moved.
  Result<long long> reclaim(RedisConnection& conn);
  void touch(RedisConnection& conn, const std::string& entry);
  // Waits `pause` unless stop() comes first; false if stopping.
  bool pause(std::chrono::milliseconds pause);
  bool stopping() const;

  struct Senders;
  NotifyConfig config_;
  std::string console_url_;
  NotifierKeys keys_;
  RedisOptions redis_;
  NotifierTiming timing_;
  std::unique_ptr<Senders> senders_;
  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace herald
