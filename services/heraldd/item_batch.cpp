// POST /v1/items:batch: a CMS's bulk ingest. Each item goes through Api::prepare_submission, the
// checks of POST /v1/items, and is answered on its own; the items that pass are stored in one
// pipelined Redis round trip (ItemStore::create_many), each still one atomic script call.
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/digest.h"
#include "core/json_fields.h"
#include "services/heraldd/api.h"

namespace herald {
namespace {

using nlohmann::json;

// Idempotency keys of this route live in their own scopes, apart from POST /v1/items's
// Idempotency-Key: a batch item's key is compared with the item's canonical JSON, a single
// submission's with its raw body, so the two could never recognise each other's requests.
constexpr std::string_view kBatchRoute = "POST /v1/items:batch";
constexpr std::size_t kMaxIdempotencyKeyBytes = 256;

// One item of the batch as read from the body: its JSON, or why it could not be read (an NDJSON
// line that is not JSON).
struct Entry {
  json body;
  std::optional<ServerResponse> refused;
  std::size_t line = 0;  // NDJSON: 1-based line number; 0 for a JSON array
};

json result_base(std::size_t index, const Entry& entry, int status) {
  json r = {{"index", index}, {"status", status}};
  if (entry.line != 0) r["line"] = entry.line;
  return r;
}

// The single route's refusal as one result: its status and its {"error": {...}} body.
json refusal_result(std::size_t index, const Entry& entry, const ServerResponse& refused) {
  json r = result_base(index, entry, refused.status);
  json body = json::parse(refused.body, nullptr, false);
  r["error"] = body.is_object() && body.contains("error")
                   ? body["error"]
                   : json{{"code", "internal"}, {"message", refused.body}};
  return r;
}

ServerResponse too_many_items(std::size_t count) {
  return ServerResponse::error(413, "too_many_items",
                               "a batch holds at most " + std::to_string(kItemsBatchMaxItems) +
                                   " items; this one has " + std::to_string(count) +
                                   ": split it into several batches");
}

ServerResponse empty_batch() {
  return ServerResponse::error(400, "empty_batch", "the batch holds no item");
}

// NDJSON: one item per line; blank lines (and a final newline) are not items.
struct NdjsonLine {
  std::size_t number = 0;  // 1-based
  std::string_view text;
};

std::vector<NdjsonLine> ndjson_lines(std::string_view body) {
  std::vector<NdjsonLine> lines;
  for (std::size_t number = 1; !body.empty(); ++number) {
    const auto end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back({number, line});
  }
  return lines;
}

}  // namespace

ServerResponse Api::submit_batch(const ServerRequest& request, const AuthUser& user) {
  const bool ndjson = request.header("content-type").rfind("application/x-ndjson", 0) == 0;
  if (!ndjson && !is_json_request(request)) {
    return ServerResponse::error(415, "unsupported_media_type",
                                 "the body must be a JSON array of items (Content-Type: "
                                 "application/json) or one item per line (Content-Type: "
                                 "application/x-ndjson)");
  }
  std::vector<Entry> entries;
  if (ndjson) {
    const auto lines = ndjson_lines(request.body);
    if (lines.size() > kItemsBatchMaxItems) return too_many_items(lines.size());
    entries.resize(lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      // A line that is not JSON is that item's refusal; the lines around it are items still.
      entries[i].line = lines[i].number;
      auto parsed = parse_json_body(lines[i].text);
      if (parsed) {
        entries[i].body = std::move(*parsed);
      } else {
        entries[i].refused = error_response(parsed.error());
      }
    }
  } else {
    // A JSON array that does not parse has no items to answer one by one.
    auto body = parse_json_body(request.body);
    if (!body) return error_response(body.error());
    if (!body->is_array()) {
      return ServerResponse::error(400, "not_an_array",
                                   "the body must be a JSON array of items, not " +
                                       json_type_name(*body) +
                                       " (one item goes to POST /v1/items)");
    }
    if (body->size() > kItemsBatchMaxItems) return too_many_items(body->size());
    entries.resize(body->size());
    for (std::size_t i = 0; i < body->size(); ++i) entries[i].body = std::move((*body)[i]);
  }
  if (entries.empty()) return empty_batch();

  // Each item is keyed by its own "idempotency_key" or, failing that, by the batch's
  // Idempotency-Key and its index; either way a retried batch finds each item's first answer.
  const std::string batch_key = request.header("idempotency-key");
  std::vector<json> results(entries.size());
  std::vector<Submission> submissions;
  std::vector<NewItem> to_store;
  std::vector<std::size_t> stored_index;  // to_store[k] is item stored_index[k] of the batch
  submissions.reserve(entries.size());
  std::map<std::string, std::size_t> first_with_key;
  const std::string own_scope = idempotency_scope(user.name, kBatchRoute);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& entry = entries[i];
    if (entry.refused) {
      results[i] = refusal_result(i, entry, *entry.refused);
      continue;
    }
    NewItem n;
    if (entry.body.is_object() && entry.body.contains("idempotency_key")) {
      const json& key = entry.body["idempotency_key"];
      if (!key.is_string() || key.get_ref<const std::string&>().empty() ||
          key.get_ref<const std::string&>().size() > kMaxIdempotencyKeyBytes) {
        results[i] = refusal_result(
            i, entry,
            ServerResponse::error(422, "validation_failed",
                                  "must be a non-empty string of at most " +
                                      std::to_string(kMaxIdempotencyKeyBytes) + " bytes",
                                  "idempotency_key"));
        continue;
      }
      n.idempotency_key = key.get<std::string>();
      if (const auto [it, fresh] = first_with_key.emplace(n.idempotency_key, i); !fresh) {
        results[i] =
            refusal_result(i, entry,
                           ServerResponse::error(422, "validation_failed",
                                                 "item " + std::to_string(it->second) +
                                                     " of this batch has the same idempotency_key",
                                                 "idempotency_key"));
        continue;
      }
      n.idempotency_scope = own_scope;
      // Not part of the item: neither stored nor covered by a CMS's content hash.
      entry.body.erase("idempotency_key");
    } else if (!batch_key.empty()) {
      n.idempotency_key = batch_key;
      n.idempotency_scope = idempotency_scope(user.name, kBatchRoute, std::to_string(i));
    }
    // Canonical (sorted keys, no whitespace): a retry need not reproduce the bytes.
    n.body_sha256 = sha256_hex(entry.body.dump());
    auto prepared = prepare_submission(std::move(entry.body), user);
    if (auto* refused = std::get_if<ServerResponse>(&prepared)) {
      results[i] = refusal_result(i, entry, *refused);
      continue;
    }
    submissions.push_back(std::move(std::get<Submission>(prepared)));
    to_store.push_back(std::move(n));
    stored_index.push_back(i);
  }

  std::size_t created_count = 0, replayed_count = 0;
  if (!to_store.empty()) {
    for (std::size_t k = 0; k < to_store.size(); ++k) {
      to_store[k].item = &submissions[k].item;
      to_store[k].record = submissions[k].record ? &*submissions[k].record : nullptr;
    }
    auto conn = deps_.redis.acquire();
    if (!conn) return error_response(conn.error());
    auto created = deps_.items.create_many(**conn, to_store);
    if (!created) {
      return ServerResponse::error(
          503, "unavailable",
          "storing the batch failed partway (" + created.error().message +
              "): some of its items may be stored; retry the same batch with the same "
              "idempotency keys to get each item's answer without submitting it twice");
    }
    std::vector<std::string> replayed_ids;
    for (const auto& c : *created) {
      if (c && c->replayed) replayed_ids.push_back(c->id);
    }
    auto replayed_states = deps_.items.states(**conn, replayed_ids);
    if (!replayed_states) return error_response(replayed_states.error());
    std::size_t next_replayed = 0;
    for (std::size_t k = 0; k < to_store.size(); ++k) {
      const std::size_t i = stored_index[k];
      const auto& c = (*created)[k];
      if (!c) {
        Error error = c.error();
        if (error.code == "idempotency_conflict" && to_store[k].idempotency_scope == own_scope) {
          error.field = "idempotency_key";  // the item's own key, not the header
          if (const auto first = error.message.rfind("(item "); first != std::string::npos) {
            error.message = "this idempotency_key was used for different content " +
                            error.message.substr(first);
          }
        }
        results[i] = refusal_result(i, entries[i], error_response(error));
        continue;
      }
      json r = result_base(i, entries[i], c->replayed ? 200 : 201);
      r["id"] = c->id;
      if (c->replayed) {
        r["state"] = (*replayed_states)[next_replayed++];
        r["replayed"] = true;
        ++replayed_count;
      } else {
        // Fanned out one by one, as POST /v1/items does: each is already stored with its fan-out
        // pending, so a failure here is repaired by recovery and the item is still created.
        r["state"] = state_after_create(**conn, submissions[k]);
        ++created_count;
      }
      results[i] = std::move(r);
    }
    // Once for the whole batch: WAIT covers every write of this connection before it.
    if (created_count + replayed_count > 0) {
      if (auto replicated = (*conn)->wait_for_replicas(); !replicated) {
        return unreplicated(
            std::to_string(created_count + replayed_count) + " item(s) of the batch",
            "retry the same batch with the same idempotency keys to get each "
            "item's answer without submitting it twice",
            replicated.error());
      }
    }
  }
  const std::size_t failed = entries.size() - created_count - replayed_count;
  return json_response(200, json{{"results", std::move(results)},
                                 {"created", created_count},
                                 {"replayed", replayed_count},
                                 {"failed", failed}});
}

}  // namespace herald
