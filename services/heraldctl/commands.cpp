#include "services/heraldctl/commands.h"

#include "adapters/url.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "services/heraldctl/table.h"

namespace herald::ctl {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kExitFooter =
    "Exit codes: 0 ok; 1 runtime failure, worth retrying (heraldd unreachable or timed out, 5xx, "
    "408, 429, `wait` timed out or saw another final state); 2 bad usage or bad config (argument "
    "errors, no token, unreadable file, any other 4xx refusal: 401/403 token or role, 404, 409, "
    "413, 415, 422).";

Result<std::string> read_text(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error("cannot read " + path);
  text << in.rdbuf();
  if (in.bad()) return usage_error("cannot read " + path);
  return text.str();
}

Result<json> read_json_object(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return usage_error(path + " is not a JSON object");
  }
  return j;
}

// The value of `key` as text for a table cell: strings as they are, numbers and booleans printed,
// null or missing as "".
std::string text_of(const json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key)) return {};
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  return v.dump();
}

// "2026-11-29T18:00:01.123+08:00" → "2026-11-29 18:00:01+08:00": one screen column saved per
// character, and the offset kept, since it says which day the report counts it in.
std::string short_time(std::string t) {
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  const auto dot = t.find('.');
  if (dot != std::string::npos) {
    auto end = t.find_first_not_of("0123456789", dot + 1);
    t.erase(dot, end == std::string::npos ? std::string::npos : end - dot);
  }
  return t;
}

// A delivery's last error: {"code","message"} or a plain string.
std::string last_error_of(const json& d) {
  if (!d.contains("last_error")) return {};
  const json& e = d["last_error"];
  if (e.is_string()) return e.get<std::string>();
  if (!e.is_object()) return {};
  const std::string code = text_of(e, "code");
  const std::string message = text_of(e, "message");
  if (code.empty()) return message;
  return message.empty() ? code : code + ": " + message;
}

std::string path_segment(const std::string& id) {
  return form_escape(id);
}

void print_json(const json& j) {
  std::cout << j.dump(2) << "\n";
}

void print_deliveries(const json& deliveries) {
  Table table({"CHANNEL", "STATE", "ATTEMPTS", "REMOTE ID", "PUBLISHED", "UPDATED", "LAST ERROR"});
  table.limit_width(6, 70);
  for (const auto& d : deliveries) {
    if (!d.is_object()) continue;
    std::string state = text_of(d, "state");
    if (d.contains("next_attempt_at") && state != "published" && state != "dead") {
      state += " (next " + short_time(text_of(d, "next_attempt_at")) + ")";
    }
    table.add_row({text_of(d, "channel"), state, text_of(d, "attempts"), text_of(d, "remote_id"),
                   short_time(text_of(d, "published_at")), short_time(text_of(d, "updated_at")),
                   last_error_of(d)});
  }
  table.print(std::cout, 2);
}

// The words officials read for each retraction state, Chinese first (what the console says too).
std::string retraction_words(const std::string& state) {
  if (state == "retracted") return "已撤回 (retracted)";
  if (state == "pending") return "撤回中 (pending)";
  if (state == "failed") return "撤回失败 (failed)";
  if (state == "unsupported") return "平台不支持撤回，请人工删除 (unsupported)";
  if (state == "cancelled") return "未发出，已取消 (cancelled)";
  return state;
}

// What the retraction did on each channel; nothing when the item was not retracted.
void print_retractions(const json& deliveries) {
  Table table({"CHANNEL", "RETRACTION", "AT", "WHY NOT"});
  table.limit_width(3, 70);
  bool any = false;
  for (const auto& d : deliveries) {
    if (!d.is_object() || !d.contains("retraction") || !d["retraction"].is_object()) continue;
    const json& r = d["retraction"];
    table.add_row({text_of(d, "channel"), retraction_words(text_of(r, "state")),
                   short_time(text_of(r, "at")), text_of(r, "error")});
    any = true;
  }
  if (!any) return;
  std::cout << "Retraction\n";
  table.print(std::cout, 2);
}

void print_item(const json& item) {
  std::cout << "Item      " << text_of(item, "id") << "  (" << text_of(item, "kind") << ", "
            << text_of(item, "category");
  if (text_of(item, "status") == "exercise") std::cout << ", exercise";
  std::cout << ")\n";
  std::cout << "Title     " << text_of(item, "title") << "\n";
  std::cout << "State     " << text_of(item, "state") << "\n";
  std::cout << "Author    " << text_of(item, "author") << ", created "
            << short_time(text_of(item, "created_at")) << "\n";
  if (!text_of(item, "publish_at").empty()) {
    std::cout << "Publish   " << short_time(text_of(item, "publish_at")) << "\n";
  }
  if (!text_of(item, "corrects").empty()) {
    std::cout << "Corrects  " << text_of(item, "corrects") << "\n";
  }
  if (item.contains("alert") && item["alert"].is_object()) {
    const json& a = item["alert"];
    std::string areas;
    if (a.contains("areas") && a["areas"].is_array()) {
      for (const auto& area : a["areas"]) {
        if (!areas.empty()) areas += ", ";
        areas += text_of(area, "country") + " " + text_of(area, "desc");
      }
    }
    std::cout << "Alert     " << text_of(a, "level") << " / " << text_of(a, "severity") << " / "
              << text_of(a, "urgency") << " / " << text_of(a, "certainty") << "  " << areas << "\n";
  }
  if (item.contains("approvals") && item["approvals"].is_array()) {
    std::cout << "Approvals " << item["approvals"].size();
    if (item.contains("approvals_required"))
      std::cout << "/" << text_of(item, "approvals_required");
    std::cout << "\n";
    for (const auto& a : item["approvals"]) {
      std::cout << "  " << text_of(a, "decision") << " by " << text_of(a, "user");
      // A CMS's approvals are its word, not a Herald reviewer's: say whose word it is.
      if (!text_of(a, "via").empty()) std::cout << " via " << text_of(a, "via");
      std::cout << " at " << short_time(text_of(a, "at"));
      if (!text_of(a, "comment").empty()) std::cout << ": " << text_of(a, "comment");
      std::cout << "\n";
    }
  }
  if (item.contains("deliveries") && item["deliveries"].is_array() && !item["deliveries"].empty()) {
    std::cout << "Deliveries\n";
    print_deliveries(item["deliveries"]);
  }
  // A retraction's recall deliveries (one per channel that had published).
  if (item.contains("recalls") && item["recalls"].is_array() && !item["recalls"].empty()) {
    std::cout << "Recalls\n";
    print_deliveries(item["recalls"]);
  }
  if (item.contains("deliveries") && item["deliveries"].is_array()) {
    print_retractions(item["deliveries"]);
  }
}

// The short status line a write command prints: "ID STATE".
void print_status(const json& reply, const std::string& fallback_id) {
  std::string id = text_of(reply, "id");
  std::cout << (id.empty() ? fallback_id : id) << " " << text_of(reply, "state") << "\n";
}

CLI::Option* add_json_flag(CLI::App* sub, bool& flag) {
  return sub->add_flag("--json", flag, "print the server's JSON instead of a table");
}

// heraldctl submit --batch: the file as it is (a JSON array, or NDJSON when it does not start with
// '['), one line per item answered; exit 2 if any item was refused, 1 if any could not be stored.
int submit_batch(ApiClient& client, const std::string& path, const Headers& headers, bool as_json,
                 bool quiet) {
  auto text = read_text(path);
  if (!text) return report_failure(text.error());
  const auto first = text->find_first_not_of(" \t\r\n");
  const bool array = first != std::string::npos && (*text)[first] == '[';
  auto reply = client.call("POST", "/v1/items:batch", *text,
                           array ? "application/json" : "application/x-ndjson", headers);
  if (!reply) return report_failure(reply.error());
  const json& answer = reply->json;
  if (!answer.is_object() || !answer.contains("results") || !answer["results"].is_array()) {
    return report_failure(Error::retryable("POST /v1/items:batch answered without results"));
  }
  int exit = kExitOk;
  Table table({"INDEX", "STATUS", "ID", "STATE", "ERROR"});
  table.limit_width(4, 100);
  for (const auto& r : answer["results"]) {
    const long status = r.value("status", 0L);
    if (status >= 500) exit = kExitRuntime;
    if (status >= 400 && status < 500 && exit == kExitOk) exit = kExitUsage;
    std::string error;
    if (r.contains("error")) {
      const json& e = r["error"];
      error = text_of(e, "code") + ": " + text_of(e, "message");
      if (!text_of(e, "field").empty()) error += " (field " + text_of(e, "field") + ")";
    }
    if (quiet) {
      if (status < 300) std::cout << text_of(r, "id") << "\n";
      continue;
    }
    table.add_row({text_of(r, "index"), std::to_string(status), text_of(r, "id"),
                   text_of(r, "state"), error});
  }
  if (as_json) {
    print_json(answer);
  } else if (!quiet) {
    table.print(std::cout);
    std::cout << "created " << text_of(answer, "created") << ", replayed "
              << text_of(answer, "replayed") << ", failed " << text_of(answer, "failed") << "\n";
  }
  return exit;
}

}  // namespace

Result<json> item_from_options(const SubmitOptions& o) {
  json item = json::object();
  if (!o.file.empty()) {
    auto from_file = read_json_object(o.file);
    if (!from_file) return from_file.error();
    item = std::move(*from_file);
  } else if (o.title.empty() || o.channels.empty()) {
    return usage_error("give --file ITEM.json, or at least --title and --channel");
  }
  const bool alert_flags = !o.level.empty() || !o.severity.empty() || !o.urgency.empty() ||
                           !o.certainty.empty() || !o.areas.empty() || !o.expires.empty() ||
                           !o.hotline.empty();
  if (!o.kind.empty()) {
    item["kind"] = o.kind;
  } else if (!item.contains("kind")) {
    item["kind"] = alert_flags ? "alert" : "publication";
  }
  if (!o.category.empty()) {
    item["category"] = o.category;
  } else if (!item.contains("category") && item["kind"] == "alert") {
    item["category"] = "overseas_safety";
  }
  std::string body = o.body;
  if (!o.body_file.empty()) {
    auto text = read_text(o.body_file);
    if (!text) return text.error();
    body = std::move(*text);
  }
  for (const auto& [key, value] :
       {std::pair{"title", &o.title}, std::pair{"body", static_cast<const std::string*>(&body)},
        std::pair{"summary", &o.summary}, std::pair{"link", &o.link},
        std::pair{"publish_at", &o.publish_at}, std::pair{"classification", &o.classification}}) {
    if (!value->empty()) item[key] = *value;
  }
  if (!o.channels.empty()) item["channels"] = o.channels;
  if (o.exercise) item["status"] = "exercise";

  if (alert_flags) {
    json alert =
        item.contains("alert") && item["alert"].is_object() ? item["alert"] : json::object();
    for (const auto& [key, value] :
         {std::pair{"level", &o.level}, std::pair{"severity", &o.severity},
          std::pair{"urgency", &o.urgency}, std::pair{"certainty", &o.certainty},
          std::pair{"expires", &o.expires}, std::pair{"hotline", &o.hotline}}) {
      if (!value->empty()) alert[key] = *value;
    }
    if (!o.areas.empty()) {
      json areas = json::array();
      for (const auto& area : o.areas) {
        const auto colon = area.find(':');
        if (colon == std::string::npos || colon == 0) {
          return usage_error(
              "--area expects COUNTRY:description (e.g. TH:泰国南部), got '" + area + "'", "area");
        }
        areas.push_back({{"country", area.substr(0, colon)}, {"desc", area.substr(colon + 1)}});
      }
      alert["areas"] = std::move(areas);
    }
    item["alert"] = std::move(alert);
  }
  return item;
}

Cli::Cli(CLI::App& app) : app_(app) {
  app_.require_subcommand(1);
  // Global options may come after the subcommand too: `heraldctl show ID --server URL`.
  app_.fallthrough();
  app_.footer(kExitFooter);
  app_.add_option("--server", connection_.server,
                  "heraldd base URL (default http://127.0.0.1:8080)")
      ->envname("HERALD_URL");
  // No default shown, and never echoed anywhere: the token is a secret. HERALD_TOKEN is read in
  // resolve_token(), not bound here, so that a --token on the command line is told apart.
  app_.add_option("--token-file", token_file_,
                  "file holding the bearer token (first line); or set HERALD_TOKEN");
  app_.add_option("--token", token_flag_,
                  "bearer token (deprecated: other users see it in ps; use HERALD_TOKEN or "
                  "--token-file)");
  app_.add_option("--timeout", timeout_seconds_, "seconds allowed per HTTP request (default 15)")
      ->check(CLI::Range(0.1, 3600.0));
  add_submit();
  add_review();
  add_show();
  add_list();
  add_retract();
  add_correct();
  add_dead();
  add_replay();
  add_stats();
  add_reconcile();
  add_report();
  add_import();
  add_audit();
  add_wait();
}

CLI::App* Cli::subcommand(const std::string& name, const std::string& description) {
  CLI::App* sub = app_.add_subcommand(name, description);
  sub->footer(
      std::string("Global options, before or after the subcommand: --server URL (env HERALD_URL), "
                  "--token-file FILE or env HERALD_TOKEN, --timeout SECONDS.\n") +
      kExitFooter);
  return sub;
}

Result<std::string> Cli::resolve_token() const {
  if (!token_file_.empty() && !token_flag_.empty()) {
    return usage_error("give --token-file or --token, not both");
  }
  if (!token_file_.empty()) {
    auto text = read_text(token_file_);
    if (!text) return text.error();
    std::string token = text->substr(0, text->find_first_of("\r\n"));
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.pop_back();
    if (token.empty()) return usage_error(token_file_ + " holds no token on its first line");
    return token;
  }
  if (!token_flag_.empty()) {
    std::cerr << "heraldctl: warning: --token is visible to other users (ps, /proc); use "
                 "HERALD_TOKEN or --token-file instead\n";
    return token_flag_;
  }
  if (const char* env = std::getenv("HERALD_TOKEN"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return usage_error("no token: set HERALD_TOKEN or give --token-file FILE");
}

int Cli::run() {
  auto token = resolve_token();
  if (!token) return report_failure(token.error());
  connection_.token = std::move(*token);
  connection_.timeout =
      std::chrono::milliseconds(static_cast<long long>(timeout_seconds_ * 1000.0));
  ApiClient client(connection_);
  for (const CLI::App* sub : app_.get_subcommands()) {
    auto runner = runners_.find(sub);
    if (runner != runners_.end()) return runner->second(client);
  }
  return report_failure(usage_error("no subcommand given (see --help)"));
}

void Cli::add_submit() {
  struct Options {
    SubmitOptions item;
    std::string idempotency_key;
    std::string batch;
    bool json = false;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "submit",
      "submit an item for review, from flags or a JSON file (flags override the file's fields); "
      "prints 'ID STATE'");
  SubmitOptions& i = o->item;
  auto* file =
      sub->add_option("--file,-f", i.file, "item JSON (DESIGN.md §4 shape), '-' for stdin");
  sub->add_option("--batch", o->batch,
                  "up to 1,000 items in one request (POST /v1/items:batch): a JSON array, or one "
                  "item per line (NDJSON); '-' for stdin. Each item may carry its own "
                  "\"idempotency_key\"; item flags do not apply. Prints 'INDEX STATUS ID STATE' "
                  "or the item's error; exit 2 if any item was refused")
      ->excludes(file);
  sub->add_option("--kind", i.kind,
                  "publication or alert (default: alert if an alert flag is given)")
      ->check(CLI::IsMember({"publication", "alert"}));
  sub->add_option("--category", i.category,
                  "regulation, work_news, personnel, finance or overseas_safety (alerts default to "
                  "overseas_safety)");
  sub->add_option("--title", i.title, "title");
  auto* body = sub->add_option("--body", i.body, "body text");
  auto* body_file = sub->add_option("--body-file", i.body_file, "read the body from a file");
  body->excludes(body_file);
  sub->add_option("--summary", i.summary, "summary");
  sub->add_option("--link", i.link, "http(s) link to the full text");
  sub->add_option("--channel,-c", i.channels, "channel, repeatable or comma-separated")
      ->delimiter(',');
  sub->add_option("--publish-at", i.publish_at,
                  "RFC 3339 time with offset, e.g. 2026-11-29T08:00:00+08:00");
  sub->add_option("--classification", i.classification,
                  "default public (anything else is refused)");
  sub->add_flag("--exercise", i.exercise,
                "a drill (status exercise): withheld, or sent marked 【演练】, as each "
                "channel's drills key says; never counted in reports");
  sub->add_option("--level", i.level,
                  "alert: caution (注意安全), reconsider (谨慎前往), avoid (暂勿前往)");
  sub->add_option("--severity", i.severity,
                  "alert: CAP severity (Extreme, Severe, Moderate, Minor)");
  sub->add_option("--urgency", i.urgency, "alert: CAP urgency (Immediate, Expected, Future, Past)");
  sub->add_option("--certainty", i.certainty, "alert: CAP certainty (Observed, Likely, Possible)");
  sub->add_option("--area", i.areas, "alert: COUNTRY:description, repeatable (e.g. TH:泰国南部)");
  sub->add_option("--expires", i.expires, "alert: RFC 3339 expiry");
  sub->add_option("--hotline", i.hotline, "alert: consular hotline, e.g. 12308");
  sub->add_option("--idempotency-key", o->idempotency_key,
                  "makes a retried submit return the first answer instead of a second item");
  add_json_flag(sub, o->json);
  sub->add_flag("--quiet,-q", o->quiet, "print only the new item's id (for scripts)");
  runners_[sub] = [o](ApiClient& client) {
    Headers headers;
    if (!o->idempotency_key.empty()) headers.emplace_back("Idempotency-Key", o->idempotency_key);
    if (!o->batch.empty()) return submit_batch(client, o->batch, headers, o->json, o->quiet);
    auto item = item_from_options(o->item);
    if (!item) return report_failure(item.error());
    auto reply = client.call_json("POST", "/v1/items", &*item, headers);
    if (!reply) return report_failure(reply.error());
    if (o->json) {
      print_json(*reply);
    } else if (o->quiet) {
      std::cout << text_of(*reply, "id") << "\n";
    } else {
      print_status(*reply, "");
    }
    return kExitOk;
  };
}

void Cli::add_review() {
  for (const std::string decision : {"approve", "reject"}) {
    struct Options {
      std::string id;
      std::string comment;
      bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* sub = subcommand(
        decision, decision == "approve"
                      ? "approve an item (两级审核: approvers must be distinct and not the author)"
                      : "reject an item (final: a rejected item never publishes)");
    sub->add_option("id", o->id, "item id")->required();
    auto* comment = sub->add_option("--comment,-m", o->comment, "the reviewer's comment");
    if (decision == "reject") comment->required();
    add_json_flag(sub, o->json);
    runners_[sub] = [o, decision](ApiClient& client) {
      const json body = {{"decision", decision}, {"comment", o->comment}};
      auto reply =
          client.call_json("POST", "/v1/items/" + path_segment(o->id) + "/approvals", &body);
      if (!reply) return report_failure(reply.error());
      if (o->json) {
        print_json(*reply);
        return kExitOk;
      }
      std::cout << o->id << " " << text_of(*reply, "state");
      if (reply->contains("approvals")) {
        std::cout << " (approvals " << text_of(*reply, "approvals");
        if (reply->contains("approvals_required")) {
          std::cout << "/" << text_of(*reply, "approvals_required");
        }
        std::cout << ")";
      }
      std::cout << "\n";
      return kExitOk;
    };
  }
}

void Cli::add_show() {
  struct Options {
    std::string id;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "show",
      "show an item: state, approvals, and per channel the delivery state, attempts, remote id, "
      "times and last error");
  sub->add_option("id", o->id, "item id")->required();
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    auto reply = client.call_json("GET", "/v1/items/" + path_segment(o->id));
    if (!reply) return report_failure(reply.error());
    if (o->json) {
      print_json(*reply);
    } else {
      print_item(*reply);
    }
    return kExitOk;
  };
}

void Cli::add_list() {
  struct Options {
    std::string state, kind, category, from, to, cursor;
    int limit = 0;
    bool all = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand("list", "list items, newest first");
  sub->add_option("--state", o->state, "only items in this state (e.g. pending_review, published)");
  sub->add_option("--kind", o->kind, "publication or alert");
  sub->add_option("--category", o->category, "only this category");
  sub->add_option("--from", o->from, "created at or after (RFC 3339 or YYYY-MM-DD)");
  sub->add_option("--to", o->to, "created before (RFC 3339 or YYYY-MM-DD)");
  sub->add_option("--limit", o->limit, "items per page (the server's default when not given)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--cursor", o->cursor, "continue from a previous page's next_cursor");
  sub->add_flag("--all", o->all, "follow next_cursor to the last page");
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    const Query query = {{"state", o->state},
                         {"kind", o->kind},
                         {"category", o->category},
                         {"from", o->from},
                         {"to", o->to},
                         {"limit", o->limit > 0 ? std::to_string(o->limit) : ""}};
    auto pages = client.get_pages("/v1/items", query, "items", o->all, o->cursor);
    if (!pages) return report_failure(pages.error());
    if (o->json) {
      print_json(*pages);
      return kExitOk;
    }
    Table table({"ID", "STATE", "KIND", "CATEGORY", "CREATED", "TITLE"});
    table.limit_width(5, 48);
    for (const auto& item : (*pages)["items"]) {
      table.add_row({text_of(item, "id"), text_of(item, "state"), text_of(item, "kind"),
                     text_of(item, "category"), short_time(text_of(item, "created_at")),
                     text_of(item, "title")});
    }
    if (table.empty()) {
      std::cout << "no items\n";
    } else {
      table.print(std::cout);
    }
    const json& next = (*pages)["next_cursor"];
    if (next.is_string()) {
      std::cerr << "more: --cursor " << next.get<std::string>() << " (or --all)\n";
    }
    return kExitOk;
  };
}

void Cli::add_retract() {
  struct Options {
    std::string id, reason;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "retract",
      "retract an item everywhere: published deliveries are recalled through each platform, "
      "pending ones cancelled");
  sub->add_option("id", o->id, "item id")->required();
  sub->add_option("--reason", o->reason, "why (kept in the audit trail)")->required();
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    const json body = {{"reason", o->reason}};
    auto reply = client.call_json("POST", "/v1/items/" + path_segment(o->id) + "/retract", &body);
    if (!reply) return report_failure(reply.error());
    if (o->json) {
      print_json(*reply);
    } else {
      print_status(*reply, o->id);
      // What happens on each channel: "cancelled" (never went out) or "recall" (withdrawn).
      Table table({"CHANNEL", "DELIVERY", "ACTION", "RECALL"});
      if (reply->contains("channels") && (*reply)["channels"].is_array()) {
        for (const auto& c : (*reply)["channels"]) {
          std::string recall;
          if (c.contains("recall")) {
            recall = text_of(c["recall"], "id") + " (" + text_of(c["recall"], "state") + ")";
          }
          table.add_row({text_of(c, "channel"),
                         c.contains("delivery") ? text_of(c["delivery"], "state") : "",
                         text_of(c, "action"), recall});
        }
      }
      if (!table.empty()) table.print(std::cout, 2);
    }
    return kExitOk;
  };
}

void Cli::add_correct() {
  struct Options {
    std::string id, file;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "correct",
      "publish a correction (an Update) of an item: a new item that goes through review again; "
      "prints 'NEW_ID STATE'");
  sub->add_option("id", o->id, "the item being corrected")->required();
  sub->add_option("--file,-f", o->file, "the corrected item JSON, '-' for stdin")->required();
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    auto body = read_json_object(o->file);
    if (!body) return report_failure(body.error());
    auto reply =
        client.call_json("POST", "/v1/items/" + path_segment(o->id) + "/corrections", &*body);
    if (!reply) return report_failure(reply.error());
    if (o->json) {
      print_json(*reply);
    } else {
      print_status(*reply, "");
    }
    return kExitOk;
  };
}

void Cli::add_dead() {
  struct Options {
    std::string channel, cursor;
    int limit = 0;
    bool all = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand("dead", "list dead-lettered deliveries (replay them with `replay`)");
  sub->add_option("--channel", o->channel, "only this channel");
  sub->add_option("--limit", o->limit, "deliveries per page")->check(CLI::PositiveNumber);
  sub->add_option("--cursor", o->cursor, "continue from a previous page's next_cursor");
  sub->add_flag("--all", o->all, "follow next_cursor to the last page");
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    const Query query = {{"channel", o->channel},
                         {"limit", o->limit > 0 ? std::to_string(o->limit) : ""}};
    auto pages = client.get_pages("/v1/deliveries/dead", query, "deliveries", o->all, o->cursor);
    if (!pages) return report_failure(pages.error());
    if (o->json) {
      print_json(*pages);
      return kExitOk;
    }
    Table table({"DELIVERY", "CHANNEL", "ITEM", "ATTEMPTS", "SINCE", "LAST ERROR"});
    table.limit_width(5, 70);
    for (const auto& d : (*pages)["deliveries"]) {
      std::string id = text_of(d, "id");
      if (id.empty()) id = text_of(d, "delivery_id");
      std::string since = text_of(d, "dead_at");
      if (since.empty()) since = text_of(d, "updated_at");
      table.add_row({id, text_of(d, "channel"), text_of(d, "item_id"), text_of(d, "attempts"),
                     short_time(since), last_error_of(d)});
    }
    if (table.empty()) {
      std::cout << "no dead letters\n";
    } else {
      table.print(std::cout);
    }
    const json& next = (*pages)["next_cursor"];
    if (next.is_string()) {
      std::cerr << "more: --cursor " << next.get<std::string>() << " (or --all)\n";
    }
    return kExitOk;
  };
}

void Cli::add_replay() {
  struct Options {
    std::string id;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand("replay", "send a dead-lettered delivery again");
  sub->add_option("delivery_id", o->id, "delivery id, as `dead` lists it")->required();
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    const json body = json::object();
    auto reply =
        client.call_json("POST", "/v1/deliveries/" + path_segment(o->id) + "/replay", &body);
    if (!reply) return report_failure(reply.error());
    if (o->json) {
      print_json(*reply);
    } else {
      std::string id = text_of(*reply, "id");
      if (id.empty()) id = o->id;
      const std::string state = text_of(*reply, "state");
      std::cout << id << " " << (state.empty() ? "replayed" : state) << "\n";
    }
    return kExitOk;
  };
}

void Cli::add_stats() {
  struct Options {
    std::string from, to, group_by, format = "json";
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand("stats", "delivery and item counts from the pre-aggregated counters");
  sub->add_option("--from", o->from, "period start (YYYY-MM-DD or RFC 3339, office time zone)");
  sub->add_option("--to", o->to, "period end");
  sub->add_option("--group-by", o->group_by,
                  "comma-separated: channel, category, kind, level, month, day");
  sub->add_option("--format", o->format, "json (default) or csv")
      ->check(CLI::IsMember({"json", "csv"}));
  runners_[sub] = [o](ApiClient& client) {
    const Query query = {
        {"from", o->from}, {"to", o->to}, {"group_by", o->group_by}, {"format", o->format}};
    auto reply = client.call("GET", "/v1/stats" + query_string(query));
    if (!reply) return report_failure(reply.error());
    if (o->format == "json" && !reply->json.is_null()) {
      print_json(reply->json);
    } else {
      std::cout << reply->body;
    }
    return kExitOk;
  };
}

void Cli::add_reconcile() {
  struct Options {
    std::string from, to, channel;
    bool platforms = false;
    bool repair = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "reconcile",
      "check the counters against the delivery ledger, or (--platforms) the ledger against what "
      "each platform holds; --repair settles dead letters a platform shows published");
  sub->add_option("--from", o->from, "period start (YYYY-MM-DD, office time zone)")->required();
  sub->add_option("--to", o->to, "period end (YYYY-MM-DD)")->required();
  sub->add_flag("--platforms", o->platforms,
                "read each enabled channel's platform back and compare (slow: one listing per "
                "platform; raise --timeout for a long period)");
  sub->add_option("--channel", o->channel, "with --platforms: only these (comma-separated)");
  sub->add_flag("--repair", o->repair,
                "with --platforms: dead letters found live become published with the platform's "
                "id, and their counts move");
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    if (!o->platforms && (o->repair || !o->channel.empty())) {
      return report_failure(usage_error("--repair and --channel go with --platforms"));
    }
    const Query query = {{"from", o->from},
                         {"to", o->to},
                         {"against", o->platforms ? "platforms" : ""},
                         {"channel", o->channel},
                         {"repair", o->repair ? "true" : ""}};
    auto reply = client.call_json("GET", "/v1/stats/reconcile" + query_string(query));
    if (!reply) return report_failure(reply.error());
    const json& r = *reply;
    if (o->json) {
      print_json(r);
      return kExitOk;
    }
    const bool ok = r.value("ok", false);
    if (!o->platforms) {
      std::cout << (ok ? "counters agree with the ledger" : "counters differ from the ledger")
                << " (" << text_of(r, "from") << " to " << text_of(r, "to") << ", "
                << text_of(r, "ledger_entries") << " ledger entries)\n";
      Table table({"COUNTER", "CHANNEL", "FIELD", "COUNTED", "LEDGER"});
      for (const auto& d : r.value("differences", json::array())) {
        table.add_row({text_of(d, "counter"), text_of(d, "channel"), text_of(d, "field"),
                       text_of(d, "counted"), text_of(d, "ledger")});
      }
      if (!table.empty()) table.print(std::cout, 2);
      return kExitOk;
    }
    Table summary({"CHANNEL", "OK", "PLATFORM", "HERALD", "UNKNOWN", "MISSING", "DEAD BUT LIVE",
                   "LIVE BUT RETRACTED", "ERROR"});
    summary.limit_width(8, 70);
    Table found({"LIST", "CHANNEL", "DELIVERY", "REMOTE ID", "PLATFORM AT", "HERALD AT", "NOTE"});
    found.limit_width(6, 60);
    static const std::pair<const char*, const char*> kLists[] = {
        {"unknown_to_herald", "unknown"},
        {"missing_on_platform", "missing"},
        {"dead_but_live", "dead but live"},
        {"live_but_retracted", "live but retracted"}};
    for (const auto& c : r.value("channels", json::array())) {
      const std::string channel = text_of(c, "channel");
      std::vector<std::string> row = {channel, c.value("ok", false) ? "yes" : "no",
                                      text_of(c, "platform_records"),
                                      text_of(c, "herald_deliveries")};
      for (const auto& [key, label] : kLists) {
        row.push_back(c.contains(key) ? std::to_string(c[key].size()) : "");
        for (const auto& d : c.value(key, json::array())) {
          std::string note = text_of(d, "note");
          if (d.value("repaired", false)) note = "[repaired] " + note;
          found.add_row({label, channel, text_of(d, "delivery_id"),
                         text_of(d, "remote_id").empty() ? text_of(d, "herald_remote_id")
                                                         : text_of(d, "remote_id"),
                         short_time(text_of(d, "platform_at")), short_time(text_of(d, "herald_at")),
                         note});
        }
      }
      const json error = c.value("error", json());
      row.push_back(error.is_object()
                        ? text_of(error, "code") +
                              (c.value("supported", true) ? ": " + text_of(error, "message") : "")
                        : "");
      summary.add_row(std::move(row));
    }
    std::cout << (ok ? "every platform agrees with Herald" : "the platforms and Herald differ")
              << " (" << text_of(r, "from") << " to " << text_of(r, "to") << ")";
    if (r.value("repair", false)) std::cout << "; repaired " << text_of(r, "repaired");
    std::cout << "\n";
    summary.print(std::cout, 2);
    if (!found.empty()) {
      std::cout << "\n";
      found.print(std::cout, 2);
    }
    for (const auto& c : r.value("channels", json::array())) {
      for (const auto& n : c.value("notes", json::array())) {
        if (n.is_string())
          std::cout << "note (" << text_of(c, "channel") << "): " << n.get<std::string>() << "\n";
      }
    }
    const json last = r.value("last_clean", json());
    std::cout << "last clean reconciliation: "
              << (last.is_object() ? text_of(last, "on") + " (" + text_of(last, "from") + " to " +
                                         text_of(last, "to") + ")"
                                   : std::string("never"))
              << "\n";
    return kExitOk;
  };
}

void Cli::add_report() {
  struct Options {
    int year = 0;
    std::string format = "md";
    std::string supplied;
    std::string output;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "report", "the annual report's 主动公开 section (政府信息公开工作年度报告) for a year");
  sub->add_option("--year", o->year, "calendar year in the office's time zone")
      ->required()
      ->check(CLI::Range(1990, 2200));
  sub->add_option("--format", o->format, "md (default), html, json or csv")
      ->check(CLI::IsMember({"json", "md", "html", "csv"}));
  sub->add_option(
      "--supplied", o->supplied,
      "JSON file of the figures Herald does not hold (依申请公开, fees, reconsideration "
      "and litigation), validated by the server");
  sub->add_option("--output,-o", o->output, "write the report to this file instead of stdout");
  runners_[sub] = [o](ApiClient& client) {
    const Query query = {{"year", std::to_string(o->year)}, {"format", o->format}};
    Result<ApiReply> reply = Error::permanent("unreachable");
    if (o->supplied.empty()) {
      reply = client.call("GET", "/v1/reports/annual" + query_string(query));
    } else {
      auto supplied = read_json_object(o->supplied);
      if (!supplied) return report_failure(supplied.error());
      const json body = {{"year", o->year}, {"format", o->format}, {"supplied", *supplied}};
      reply = client.call("POST", "/v1/reports/annual" + query_string(query), body.dump());
    }
    if (!reply) return report_failure(reply.error());
    std::string text = reply->body;
    if (o->format == "json" && !reply->json.is_null()) text = reply->json.dump(2) + "\n";
    if (o->output.empty()) {
      std::cout << text;
      return kExitOk;
    }
    std::ofstream out(o->output, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return report_failure(usage_error("cannot write " + o->output));
    std::cerr << "wrote " << o->output << " (" << text.size() << " bytes)\n";
    return kExitOk;
  };
}

void Cli::add_import() {
  struct Options {
    std::string file;
    bool dry_run = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "import", "load historic publications from CSV as already published (past years only)");
  // The format, in full, where a compiler looks first: the header is required, one row per item.
  sub->footer(
      sub->get_footer() + "\n" +
      std::string(
          "CSV format (RFC 4180, UTF-8, header line required):\n"
          "  published_at,category,kind,level,channels,title,link,remote_ids\n"
          "  published_at  RFC 3339 with offset, e.g. 2013-07-01T09:30:00+08:00\n"
          "  category      regulation | work_news | personnel | finance | overseas_safety\n"
          "  kind          publication | alert\n"
          "  level         alerts: caution | reconsider | avoid (or empty); publications: empty\n"
          "  channels      configured channel names separated by ';' or ',' (quote the field when\n"
          "                it contains ','), e.g. website;portal\n"
          "  title         the item's title\n"
          "  link          http(s) URL or empty\n"
          "  remote_ids    channel=id pairs separated by ';' or ',', or empty\n"
          "Example:\n"
          "  published_at,category,kind,level,channels,title,link,remote_ids\n"
          "  2013-07-01T09:30:00+08:00,work_news,alert,caution,website;weibo,赴泰旅游安全提醒,"
          "http://www.scfao.gov.cn/2013/1.html,weibo=3600001\n"
          "Run --dry-run first: it prints the split by category, kind and alert level and\n"
          "the deliveries per channel, to compare with the paper report before anything is "
          "stored."));
  sub->add_option("file", o->file, "CSV file, '-' for stdin")->required();
  sub->add_flag("--dry-run", o->dry_run, "validate and count, store nothing");
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    auto csv = read_text(o->file);
    if (!csv) return report_failure(csv.error());
    const Query query = {{"dry_run", o->dry_run ? "true" : "false"}};
    auto reply = client.call("POST", "/v1/imports" + query_string(query), *csv, "text/csv");
    if (!reply) return report_failure(reply.error());
    if (reply->json.is_null()) {
      std::cout << reply->body;
    } else if (o->json || !reply->json.is_object()) {
      print_json(reply->json);
    } else {
      // A one-line summary of the scalar counts, then each split on its own lines.
      std::string line = o->dry_run ? "dry run:" : "imported:";
      for (const auto& [key, value] : reply->json.items()) {
        if (value.is_number() || value.is_boolean()) line += " " + key + "=" + value.dump();
      }
      std::cout << line << "\n";
      for (const char* key : {"items_by_category", "items_by_kind", "alerts_by_level",
                              "channels_in_file", "items_by_year", "deliveries_by_channel"}) {
        if (!reply->json.contains(key) || !reply->json[key].is_object()) continue;
        std::cout << key << ":\n";
        for (const auto& [name, n] : reply->json[key].items()) {
          std::cout << "  " << name << "\t" << n.dump() << "\n";
        }
      }
      for (const char* key : {"errors", "problems", "rejected"}) {
        if (reply->json.contains(key) && reply->json[key].is_array()) {
          for (const auto& e : reply->json[key]) std::cout << "  " << e.dump() << "\n";
        }
      }
    }
    return kExitOk;
  };
}

void Cli::add_audit() {
  struct Options {
    std::string id;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub =
      subcommand("audit", "an item's audit trail (备案): every state change, who, when");
  sub->add_option("id", o->id, "item id")->required();
  add_json_flag(sub, o->json);
  runners_[sub] = [o](ApiClient& client) {
    auto reply = client.call_json("GET", "/v1/items/" + path_segment(o->id) + "/audit");
    if (!reply) return report_failure(reply.error());
    if (o->json) {
      print_json(*reply);
      return kExitOk;
    }
    Table table({"AT", "EVENT", "WHO", "CHANNEL", "DETAILS"});
    table.limit_width(4, 80);
    static const std::set<std::string> kShown = {"at",  "at_ms",    "event",
                                                 "who", "delivery", "channel"};
    if (reply->contains("events") && (*reply)["events"].is_array()) {
      for (const auto& e : (*reply)["events"]) {
        std::string details;
        for (const auto& [key, value] : e.items()) {
          if (kShown.count(key) != 0) continue;
          if (!details.empty()) details += " ";
          details += key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
        }
        table.add_row({short_time(text_of(e, "at")), text_of(e, "event"), text_of(e, "who"),
                       text_of(e, "channel"), details});
      }
    }
    table.print(std::cout);
    return kExitOk;
  };
}

void Cli::add_wait() {
  struct Options {
    std::string id;
    std::string state = "published";
    double timeout_s = 60;
    int interval_ms = 250;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = subcommand(
      "wait",
      "poll an item until it reaches a state (for scripts). Stops early with exit 1 when the "
      "item ends elsewhere: rejected, retracted or withheld (a drill sent nowhere), or "
      "failed/partially_failed while waiting for "
      "published");
  sub->add_option("id", o->id, "item id")->required();
  sub->add_option("--state", o->state, "the state to wait for (default published)");
  sub->add_option("--timeout", o->timeout_s, "seconds to wait (default 60)")
      ->check(CLI::Range(0.0, 86400.0));
  sub->add_option("--interval", o->interval_ms, "milliseconds between polls (default 250)")
      ->check(CLI::Range(10, 60000));
  sub->add_flag("--quiet,-q", o->quiet, "print nothing on success");
  runners_[sub] = [o](ApiClient& client) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<long long>(o->timeout_s * 1000));
    std::set<std::string> final_elsewhere = {"rejected", "retracted", "withheld"};
    if (o->state == "published") final_elsewhere.insert({"failed", "partially_failed"});
    final_elsewhere.erase(o->state);
    std::string last_state;
    std::string last_problem;
    for (;;) {
      auto item = client.call_json("GET", "/v1/items/" + path_segment(o->id));
      if (item) {
        last_state = text_of(*item, "state");
        if (last_state == o->state) {
          if (!o->quiet) std::cout << o->id << " " << last_state << "\n";
          return kExitOk;
        }
        if (final_elsewhere.count(last_state) != 0) {
          return report_failure(Error::retryable(o->id + " is " + last_state + ", it will not be " +
                                                 o->state + " (see `heraldctl show " + o->id +
                                                 "`)"));
        }
      } else if (exit_code_for(item.error()) != kExitRuntime) {
        return report_failure(item.error());  // 404, 401...: waiting longer will not help
      } else {
        last_problem = item.error().message;  // heraldd restarting: keep polling
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        std::ostringstream message;
        message << "timed out after " << o->timeout_s << " s waiting for " << o->id << " to be "
                << o->state;
        if (!last_state.empty()) message << " (it is " << last_state << ")";
        if (!last_problem.empty()) message << "; last error: " << last_problem;
        return report_failure(Error::retryable(message.str()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(o->interval_ms));
    }
  };
}

}  // namespace herald::ctl
