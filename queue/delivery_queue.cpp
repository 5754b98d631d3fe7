#include "queue/delivery_queue.h"

#include "queue/audit_log.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "queue/lua_scripts.h"

namespace herald {
namespace {

// Deliveries per enqueue script call: big enough to amortise the round trip, small enough that
// one call never holds Redis for long.
constexpr std::size_t kEnqueueChunk = 256;
// Lane entries depths() looks at to find the oldest waiting delivery.
constexpr int kOldestSample = 16;
constexpr int kMaxListLimit = 1000;
// Most deliveries one claim takes per lane, one complete/heartbeat script call handles, and one
// claim moves out of the timed or inflight set: the scripts unpack() lists of these sizes, and Lua
// can only unpack a few thousand values at once. Bigger batches are split into pipelined calls.
constexpr int kBatchPerCall = 1000;

std::int64_t unix_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint from_ms(std::int64_t ms) {
  return TimePoint(std::chrono::milliseconds(ms));
}

std::optional<std::int64_t> parse_ms(const std::string& text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

const char* lane_name(Lane lane) {
  return lane == Lane::alert ? "alert" : "routine";
}

// A lease token: 128 random bits. Only uniqueness per claim matters, not secrecy.
std::string new_lease_token() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

Result<void> check_channel(const std::string& channel) {
  // A brace would change the hash tag and split a channel's keys over several slots.
  if (channel.empty() || channel.find_first_of("{}") != std::string::npos) {
    return Error::invalid("channel", "invalid channel name \"" + channel + "\"");
  }
  return ok();
}

Result<void> check_script_reply(const Result<RedisValue>& r, const std::string& what) {
  if (!r) return r.error();
  if (r->is_error()) return error_from_reply(*r, what);
  return ok();
}

long long int_at(const RedisValue& v, std::size_t i) {
  if (i >= v.elements.size()) return 0;
  const auto& e = v.elements[i];
  if (e.type == RedisValue::Type::integer) return e.integer;
  return parse_ms(e.str).value_or(0);
}

// A ledger hash read back. Its state and lane are parsed here, once; a value no version of the
// scripts writes is an error naming the delivery, not a record in a state nobody handles.
Result<DeliveryRecord> record_from_hash(const RedisValue& v) {
  using Text = std::string DeliveryRecord::*;
  using Time = std::optional<TimePoint> DeliveryRecord::*;
  static const std::pair<const char*, Text> kTexts[] = {
      {"id", &DeliveryRecord::id},
      {"item_id", &DeliveryRecord::item_id},
      {"channel", &DeliveryRecord::channel},
      {"category", &DeliveryRecord::category},
      {"kind", &DeliveryRecord::kind},
      {"remote_id", &DeliveryRecord::remote_id},
      {"last_error", &DeliveryRecord::last_error},
      {"last_error_code", &DeliveryRecord::last_error_code}};
  static const std::pair<const char*, Time> kTimes[] = {
      {"created_at", &DeliveryRecord::created_at},
      {"updated_at", &DeliveryRecord::updated_at},
      {"published_at", &DeliveryRecord::published_at},
      {"next_attempt_at", &DeliveryRecord::next_attempt_at}};
  DeliveryRecord r;
  std::string state, lane;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    const std::string& field = v.elements[i].str;
    const std::string& value = v.elements[i + 1].str;
    if (field == "attempts") r.attempts = static_cast<int>(parse_ms(value).value_or(0));
    if (field == "state") state = value;
    if (field == "lane") lane = value;
    for (const auto& [name, member] : kTexts) {
      if (field == name) r.*member = value;
    }
    for (const auto& [name, member] : kTimes) {
      if (field != name) continue;
      if (auto ms = parse_ms(value)) r.*member = from_ms(*ms);
    }
  }
  const auto parsed_state = delivery_state_from_string(state);
  if (!parsed_state) {
    return Error::permanent("the ledger of delivery " + r.id + " has an unknown state '" + state +
                            "'");
  }
  r.state = *parsed_state;
  // A tombstone (cancel.lua, for an id that was never queued) has no lane.
  r.lane = lane_from_string(lane).value_or(Lane::routine);
  return r;
}

// The outcome names complete.lua knows (cancelled never reaches it).
const char* outcome_name(OutcomeKind outcome) {
  switch (outcome) {
    case OutcomeKind::published:
      return "published";
    case OutcomeKind::retry:
      return "retry";
    case OutcomeKind::deferred:
      return "defer";
    case OutcomeKind::dead:
    case OutcomeKind::cancelled:
      break;
  }
  return "dead";
}

}  // namespace

std::string channel_of_delivery(const std::string& delivery_id) {
  const auto dot = delivery_id.find('.');
  if (dot == std::string::npos) return {};
  return delivery_id.substr(dot + 1);
}

std::string tally_day(TimePoint t, int utc_offset_minutes) {
  const auto local_day =
      std::chrono::floor<std::chrono::days>(t + std::chrono::minutes(utc_offset_minutes));
  const std::chrono::year_month_day date{local_day};
  char buf[32];  // roomy enough for any year, so the output is never truncated
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buf;
}

DeliveryQueue::DeliveryQueue(QueueOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      enqueue_script_("enqueue", std::string(lua::kEnqueue)),
      claim_script_("claim", std::string(lua::kClaim)),
      complete_script_("complete", std::string(lua::kComplete)),
      heartbeat_script_("heartbeat", std::string(lua::kHeartbeat)),
      replay_script_("replay", std::string(lua::kReplay)),
      depths_script_("depths", std::string(lua::kDepths)),
      cancel_script_("cancel", std::string(lua::kCancel)) {}

std::string DeliveryQueue::key(const std::string& channel, const std::string& suffix) const {
  std::string k;
  k.reserve(options_.prefix.size() + channel.size() + suffix.size() + 3);
  k += options_.prefix;
  k += '{';
  k += channel;
  k += "}:";
  k += suffix;
  return k;
}

std::string DeliveryQueue::script_now() const {
  const auto pinned = clock_.pinned_ms();
  return pinned ? std::to_string(*pinned) : std::string();
}

Result<int> DeliveryQueue::enqueue(RedisConnection& conn,
                                   const std::vector<NewDelivery>& deliveries) {
  // Group by channel (a script call must stay inside one channel's slot), keeping input order.
  std::vector<std::string> channels;
  std::unordered_map<std::string, std::vector<const NewDelivery*>> by_channel;
  for (const auto& nd : deliveries) {
    const Delivery& d = nd.delivery;
    if (auto c = check_channel(d.channel); !c) return c.error();
    if (channel_of_delivery(d.id) != d.channel) {
      return Error::invalid(
          "id", "delivery id \"" + d.id + "\" does not end in its channel \"" + d.channel + "\"");
    }
    auto [it, inserted] = by_channel.try_emplace(d.channel);
    if (inserted) channels.push_back(d.channel);
    it->second.push_back(&nd);
  }

  const std::string now = script_now();
  std::vector<RedisScript::Call> calls;
  for (const auto& channel : channels) {
    const auto& list = by_channel[channel];
    for (std::size_t start = 0; start < list.size(); start += kEnqueueChunk) {
      const std::size_t end = std::min(list.size(), start + kEnqueueChunk);
      RedisScript::Call call;
      call.keys = {key(channel, "alert"), key(channel, "routine"), key(channel, "timed"),
                   key(channel, "wake:alert"), key(channel, "wake")};
      call.args = {now, channel};
      call.args.reserve(2 + 9 * (end - start));
      for (std::size_t i = start; i < end; ++i) {
        const NewDelivery& nd = *list[i];
        const Delivery& d = nd.delivery;
        call.keys.push_back(key(channel, "d:" + d.id));
        call.args.insert(call.args.end(),
                         {d.id, d.item_id, lane_name(d.lane), d.category, to_string(d.kind),
                          d.payload, nd.publish_at ? std::to_string(unix_ms(*nd.publish_at)) : "",
                          d.level, d.exercise ? "1" : "0"});
      }
      calls.push_back(std::move(call));
    }
  }
  if (calls.empty()) return 0;
  auto replies = enqueue_script_.run_many(conn, calls);
  if (!replies) return replies.error();
  int added = 0;
  for (const auto& r : *replies) {
    if (r.is_error()) return error_from_reply(r, "enqueueing deliveries");
    added += static_cast<int>(r.integer);
  }
  return added;
}

Result<Claimed> DeliveryQueue::claim(RedisConnection& conn, const std::string& channel,
                                     const ClaimRequest& request) {
  if (auto c = check_channel(channel); !c) return c.error();
  const int max_alert = std::clamp(request.max_alert, 0, kBatchPerCall);
  const int max_routine = std::clamp(request.max_routine, 0, kBatchPerCall);
  const int max_total = request.max_total > 0 ? std::min(request.max_total, max_alert + max_routine)
                                              : max_alert + max_routine;
  std::vector<std::string> args = {
      script_now(),
      std::to_string(options_.lease.count()),
      request.owner,
      std::to_string(max_alert),
      std::to_string(max_routine),
      key(channel, "d:"),
      std::to_string(std::clamp(options_.move_batch, 1, kBatchPerCall)),
      std::to_string(options_.max_attempts),
      key(channel, std::string(kAuditKeyPart)),
      std::to_string(std::max<long long>(1, options_.audit_retention.count()))};
  // A lease that expires on its last attempt buries the delivery: it counts as failed that day.
  const std::string day = tally_day(clock_.now(), options_.utc_offset_minutes);
  args.push_back(key(channel, "failed:" + day.substr(0, 4)));
  args.push_back(day);
  args.push_back(std::to_string(max_total));
  for (int i = 0; i < max_total; ++i) args.push_back(new_lease_token());
  auto reply =
      claim_script_.run(conn,
                        {key(channel, "alert"), key(channel, "routine"), key(channel, "timed"),
                         key(channel, "inflight"), key(channel, "dead"), key(channel, "wake:alert"),
                         key(channel, "wake"), key(channel, "lease_seq")},
                        args);
  if (auto checked = check_script_reply(reply, "claiming deliveries of " + channel); !checked) {
    return checked.error();
  }
  const RedisValue& v = *reply;
  Claimed out;
  if (v.elements.empty()) return Error::permanent("claim script returned an empty reply");
  if (const long long next = int_at(v, 0); next >= 0) out.next_due_in = Millis(next);
  constexpr std::size_t kFieldsPerDelivery = 11;
  for (std::size_t i = 1; i + kFieldsPerDelivery - 1 < v.elements.size(); i += kFieldsPerDelivery) {
    Delivery d;
    d.id = v.elements[i].str;
    d.item_id = v.elements[i + 1].str;
    d.channel = channel;
    d.lane = v.elements[i + 2].str == "alert" ? Lane::alert : Lane::routine;
    d.category = v.elements[i + 3].str;
    const auto kind = delivery_kind_from_string(v.elements[i + 4].str);
    // Only Herald writes the ledger: an unknown kind is damage or a newer version's data, and
    // guessing would publish a retraction or count a correction as an item.
    if (!kind) {
      return Error::permanent("delivery " + d.id + " has an unknown kind '" +
                              v.elements[i + 4].str + "' in its ledger");
    }
    d.kind = *kind;
    d.payload = v.elements[i + 5].str;
    d.attempt = static_cast<int>(int_at(v, i + 6));
    d.lease_token = v.elements[i + 7].str;
    d.maybe_sent = v.elements[i + 8].str == "1";
    d.lookup_only = v.elements[i + 9].str == "1";
    d.cancel_requested = v.elements[i + 10].str == "1";
    out.deliveries.push_back(std::move(d));
  }
  return out;
}

Result<bool> DeliveryQueue::wait_for_work(RedisConnection& blocking_conn,
                                          const std::string& channel,
                                          std::chrono::milliseconds timeout,
                                          bool routine_capacity) {
  if (auto c = check_channel(channel); !c) return c.error();
  std::vector<std::string> lists = {key(channel, "wake:alert")};
  if (routine_capacity) lists.push_back(key(channel, "wake"));
  if (timeout.count() <= 0) {
    // BLPOP's 0 means "forever": a zero timeout is a non-blocking look instead.
    for (const auto& list : lists) {
      auto r = blocking_conn.command({"LPOP", list});
      if (!r) return r.error();
      if (r->is_error()) return error_from_reply(*r, "waiting for work on " + channel);
      if (!r->is_nil()) return true;
    }
    return false;
  }
  std::vector<std::string> args = {"BLPOP"};
  args.insert(args.end(), lists.begin(), lists.end());
  char seconds[32];  // Redis >= 6 takes a decimal timeout; whole seconds would be far too coarse
  std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(timeout.count()) / 1000.0);
  args.push_back(seconds);
  auto reply = blocking_conn.blocking_command(args, timeout);
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "waiting for work on " + channel);
  return !reply->is_nil();
}

Result<std::vector<CompletionResult>> DeliveryQueue::complete(
    RedisConnection& conn, const std::string& channel, const std::vector<Completion>& completions) {
  if (auto c = check_channel(channel); !c) return c.error();
  std::vector<CompletionResult> results;
  if (completions.empty()) return results;
  if (std::any_of(completions.begin(), completions.end(),
                  [](const Completion& c) { return c.outcome == OutcomeKind::cancelled; })) {
    return complete_with_cancellations(conn, channel, completions);
  }
  const TimePoint now = clock_.now();
  const std::string day = tally_day(now, options_.utc_offset_minutes);
  const std::vector<std::string> fixed_keys = {
      key(channel, "inflight"),
      key(channel, "timed"),
      key(channel, "dead"),
      key(channel, "tally:" + day.substr(0, 4)),
      key(channel, "wake:alert"),
      key(channel, "wake"),
      key(channel, "failed:" + day.substr(0, 4)),
      key(channel, "firstpub"),
      key(channel, "tally:" + day.substr(0, 4) + ":months"),
      key(channel, "failed:" + day.substr(0, 4) + ":months")};
  const std::vector<std::string> fixed_args = {
      script_now(), day, std::to_string(options_.max_attempts),
      key(channel, std::string(kAuditKeyPart)),
      std::to_string(std::max<long long>(1, options_.audit_retention.count()))};
  std::vector<RedisScript::Call> calls;
  for (std::size_t i = 0; i < completions.size(); ++i) {
    const Completion& c = completions[i];
    if (channel_of_delivery(c.delivery_id) != channel) {
      return Error::invalid("delivery_id", "delivery \"" + c.delivery_id +
                                               "\" does not belong to channel " + channel);
    }
    if (i % kBatchPerCall == 0) calls.push_back({fixed_keys, fixed_args});
    RedisScript::Call& call = calls.back();
    call.keys.push_back(key(channel, "d:" + c.delivery_id));
    call.args.insert(
        call.args.end(),
        {c.delivery_id, c.lease_token, outcome_name(c.outcome), c.remote_id, c.error_code,
         c.error_message, std::to_string(std::max<long long>(0, c.retry_in.count())),
         c.counted ? "1" : "0", c.maybe_sent ? "1" : "0", std::to_string(c.defer_limit.count())});
  }
  auto replies = complete_script_.run_many(conn, calls);
  if (!replies) return replies.error();
  results.reserve(completions.size());
  for (const auto& reply : *replies) {
    if (reply.is_error()) {
      // Earlier calls of this batch may have applied: the caller retries the whole batch, and
      // those now answer "stale", which is harmless (they were applied exactly once).
      return error_from_reply(reply, "completing deliveries of " + channel);
    }
    for (const auto& e : reply.elements) {
      results.push_back(e.integer == 0   ? CompletionResult::stale
                        : e.integer == 1 ? CompletionResult::applied
                                         : CompletionResult::buried);
    }
  }
  if (results.size() != completions.size()) {
    return Error::permanent("complete script answered " + std::to_string(results.size()) +
                            " results for " + std::to_string(completions.size()) + " completions");
  }
  // Durable before answered (DESIGN.md §3): the acks are fsynced by the script's reply; with
  // replicas, WAIT too. A shortfall cannot undo an applied ack, so it is only reported.
  if (auto replicated = conn.wait_for_replicas(); !replicated) {
    spdlog::warn("acks on {}: {}", channel, replicated.error().message);
  }
  return results;
}

Result<std::vector<CompletionResult>> DeliveryQueue::complete_with_cancellations(
    RedisConnection& conn, const std::string& channel, const std::vector<Completion>& completions) {
  std::vector<Completion> others;
  std::vector<RedisScript::Call> cancels;
  const std::string now = script_now();
  const std::string retention =
      std::to_string(std::max<long long>(1, options_.audit_retention.count()));
  for (const Completion& c : completions) {
    if (c.outcome != OutcomeKind::cancelled) {
      others.push_back(c);
      continue;
    }
    if (channel_of_delivery(c.delivery_id) != channel) {
      return Error::invalid("delivery_id", "delivery \"" + c.delivery_id +
                                               "\" does not belong to channel " + channel);
    }
    cancels.push_back(
        {{key(channel, "d:" + c.delivery_id), key(channel, "alert"), key(channel, "routine"),
          key(channel, "timed"), key(channel, "dead"), key(channel, "inflight"),
          key(channel, std::string(kAuditKeyPart) + c.delivery_id)},
         {now, c.delivery_id, "", c.error_message, retention, "claimed", c.lease_token, "",
          channel}});
  }
  // The others first: a failure there leaves the cancellations to the caller's retry, and a
  // cancellation applied twice answers "stale" the second time, which is harmless.
  std::vector<CompletionResult> other_results;
  if (!others.empty()) {
    auto applied = complete(conn, channel, others);
    if (!applied) return applied.error();
    other_results = std::move(*applied);
  }
  auto replies = cancel_script_.run_many(conn, cancels);
  if (!replies) return replies.error();
  std::vector<CompletionResult> results;
  std::size_t next_other = 0, next_cancel = 0;
  for (const Completion& c : completions) {
    if (c.outcome != OutcomeKind::cancelled) {
      results.push_back(other_results.at(next_other++));
      continue;
    }
    const RedisValue& r = replies->at(next_cancel++);
    if (r.is_error()) return error_from_reply(r, "cancelling " + c.delivery_id);
    const bool applied = !r.elements.empty() && r.elements[0].str == "cancelled";
    results.push_back(applied ? CompletionResult::applied : CompletionResult::stale);
  }
  return results;
}

Result<CancelResult> DeliveryQueue::cancel(RedisConnection& conn, const std::string& delivery_id,
                                           const std::string& who, const std::string& reason,
                                           const std::string& item_id) {
  const std::string channel = channel_of_delivery(delivery_id);
  if (channel.empty() || !check_channel(channel)) {
    return Error::invalid("id", "\"" + delivery_id + "\" is not a delivery id");
  }
  auto reply = cancel_script_.run(
      conn,
      {key(channel, "d:" + delivery_id), key(channel, "alert"), key(channel, "routine"),
       key(channel, "timed"), key(channel, "dead"), key(channel, "inflight"),
       key(channel, std::string(kAuditKeyPart) + delivery_id)},
      {script_now(), delivery_id, who, reason,
       std::to_string(std::max<long long>(1, options_.audit_retention.count())), "request", "",
       item_id, channel});
  if (auto checked = check_script_reply(reply, "cancelling " + delivery_id); !checked) {
    return checked.error();
  }
  if (reply->elements.size() < 2) return Error::permanent("cancel script: unexpected reply");
  return CancelResult{reply->elements[0].str, reply->elements[1].str};
}

Result<bool> DeliveryQueue::cancel_requested(RedisConnection& conn,
                                             const std::string& delivery_id) {
  const std::string channel = channel_of_delivery(delivery_id);
  if (channel.empty() || !check_channel(channel)) return false;
  auto reply = conn.command({"HEXISTS", key(channel, "d:" + delivery_id), "cancel_requested"});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "reading " + delivery_id);
  return reply->integer == 1;
}

Result<int> DeliveryQueue::heartbeat(
    RedisConnection& conn, const std::string& channel,
    const std::vector<std::pair<std::string, std::string>>& id_and_token) {
  if (auto c = check_channel(channel); !c) return c.error();
  if (id_and_token.empty()) return 0;
  const std::string now = script_now();
  const std::string lease = std::to_string(options_.lease.count());
  std::vector<RedisScript::Call> calls;
  for (std::size_t i = 0; i < id_and_token.size(); ++i) {
    const auto& [id, token] = id_and_token[i];
    if (channel_of_delivery(id) != channel) {
      return Error::invalid("delivery_id",
                            "delivery \"" + id + "\" does not belong to channel " + channel);
    }
    if (i % kBatchPerCall == 0) calls.push_back({{key(channel, "inflight")}, {now, lease}});
    calls.back().keys.push_back(key(channel, "d:" + id));
    calls.back().args.push_back(id);
    calls.back().args.push_back(token);
  }
  auto replies = heartbeat_script_.run_many(conn, calls);
  if (!replies) return replies.error();
  int extended = 0;
  for (const auto& reply : *replies) {
    if (reply.is_error()) return error_from_reply(reply, "extending leases on " + channel);
    extended += static_cast<int>(reply.integer);
  }
  return extended;
}

std::chrono::milliseconds DeliveryQueue::backoff(
    int attempt, std::optional<std::chrono::milliseconds> retry_after, std::mt19937_64& rng) const {
  const long long base = std::max<long long>(1, options_.retry_base.count());
  const long long cap_max = std::max<long long>(base, options_.retry_max.count());
  // base * 2^(attempt-1), computed without overflow: stop doubling once past the cap.
  long long cap = base;
  for (int i = 1; i < attempt && cap < cap_max; ++i) cap *= 2;
  cap = std::min(cap, cap_max);
  std::uniform_int_distribution<long long> jitter(0, cap);
  std::chrono::milliseconds delay(jitter(rng));
  if (retry_after && *retry_after > delay) delay = *retry_after;
  return delay;
}

Result<std::optional<DeliveryRecord>> DeliveryQueue::get(RedisConnection& conn,
                                                         const std::string& delivery_id) {
  auto many = get_many(conn, {delivery_id});
  if (!many) return many.error();
  if (many->empty()) return std::optional<DeliveryRecord>{};
  return std::optional<DeliveryRecord>{std::move(many->front())};
}

Result<std::vector<DeliveryRecord>> DeliveryQueue::get_many(
    RedisConnection& conn, const std::vector<std::string>& delivery_ids) {
  std::vector<DeliveryRecord> records;
  std::vector<std::vector<std::string>> commands;
  for (const auto& id : delivery_ids) {
    const std::string channel = channel_of_delivery(id);
    if (channel.empty() || !check_channel(channel)) continue;  // cannot exist
    commands.push_back({"HGETALL", key(channel, "d:" + id)});
  }
  if (commands.empty()) return records;
  auto replies = conn.pipeline(commands);
  if (!replies) return replies.error();
  for (const auto& r : *replies) {
    if (r.is_error()) return error_from_reply(r, "reading deliveries");
    if (r.elements.empty()) continue;
    auto record = record_from_hash(r);
    if (!record) return record.error();
    records.push_back(std::move(*record));
  }
  return records;
}

Result<std::vector<DeliveryRecord>> DeliveryQueue::list_dead(RedisConnection& conn,
                                                             const std::string& channel, int offset,
                                                             int limit) {
  if (auto c = check_channel(channel); !c) return c.error();
  if (limit <= 0) return std::vector<DeliveryRecord>{};
  offset = std::max(0, offset);
  limit = std::min(limit, kMaxListLimit);
  auto ids = conn.command({"ZREVRANGE", key(channel, "dead"), std::to_string(offset),
                           std::to_string(offset + limit - 1)});
  if (!ids) return ids.error();
  if (ids->is_error()) return error_from_reply(*ids, "listing dead deliveries of " + channel);
  std::vector<std::string> id_list;
  id_list.reserve(ids->elements.size());
  for (const auto& e : ids->elements) id_list.push_back(e.str);
  return get_many(conn, id_list);
}

Result<void> DeliveryQueue::replay(RedisConnection& conn, const std::string& delivery_id,
                                   const std::string& who) {
  const std::string channel = channel_of_delivery(delivery_id);
  auto not_found = [&] {
    Error e = Error::invalid("id", "no delivery with id " + delivery_id);
    e.code = "not_found";
    return e;
  };
  if (channel.empty() || !check_channel(channel)) return not_found();
  auto reply = replay_script_.run(
      conn,
      {key(channel, "d:" + delivery_id), key(channel, "dead"), key(channel, "alert"),
       key(channel, "routine"), key(channel, "wake:alert"), key(channel, "wake"),
       key(channel, std::string(kAuditKeyPart) + delivery_id)},
      {script_now(), delivery_id,
       std::to_string(std::max<long long>(1, options_.audit_retention.count())), who});
  if (auto checked = check_script_reply(reply, "replaying " + delivery_id); !checked) {
    return checked.error();
  }
  if (reply->str == "not_found") return not_found();
  if (reply->str == "not_dead") {
    Error e = Error::invalid("id", "delivery " + delivery_id + " is not a dead letter");
    e.code = "not_dead";
    return e;
  }
  return ok();
}

Result<std::map<std::string, long long>> DeliveryQueue::read_tally(RedisConnection& conn,
                                                                   const std::string& channel,
                                                                   int year) {
  if (auto c = check_channel(channel); !c) return c.error();
  auto reply = conn.command({"HGETALL", key(channel, "tally:" + std::to_string(year))});
  if (!reply) return reply.error();
  if (reply->is_error()) return error_from_reply(*reply, "reading the tally of " + channel);
  std::map<std::string, long long> out;
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    out[reply->elements[i].str] = parse_ms(reply->elements[i + 1].str).value_or(0);
  }
  return out;
}

Result<LaneDepths> DeliveryQueue::depths(RedisConnection& conn, const std::string& channel) {
  if (auto c = check_channel(channel); !c) return c.error();
  auto reply =
      depths_script_.run(conn,
                         {key(channel, "alert"), key(channel, "routine"), key(channel, "timed"),
                          key(channel, "inflight"), key(channel, "dead")},
                         {key(channel, "d:"), std::to_string(kOldestSample)});
  if (auto checked = check_script_reply(reply, "reading queue depths of " + channel); !checked) {
    return checked.error();
  }
  LaneDepths d;
  d.alert = int_at(*reply, 0);
  d.routine = int_at(*reply, 1);
  d.timed = int_at(*reply, 2);
  d.inflight = int_at(*reply, 3);
  d.dead = int_at(*reply, 4);
  if (const long long oldest = int_at(*reply, 5); oldest >= 0 && reply->elements.size() > 5) {
    d.oldest_waiting = from_ms(oldest);
  }
  return d;
}

}  // namespace herald
