// heraldctl's subcommands: each one's options on a CLI11 subcommand and the function that runs it
// against heraldd (submit, approve, reject, show, list, retract, correct, dead, replay, stats,
// reconcile, report, import, audit, wait).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "services/heraldctl/client.h"

namespace herald::ctl {

// What `submit` builds an item from: a JSON file, flags, or both (flags override the file).
struct SubmitOptions {
  std::string file;  // "-" = stdin
  std::string kind;  // default: "alert" when any alert flag is given, else "publication"
  std::string category;
  std::string title;
  std::string body;
  std::string body_file;
  std::string summary;
  std::string link;
  std::vector<std::string> channels;
  std::string publish_at;
  std::string classification;
  bool exercise = false;
  // The alert block.
  std::string level;
  std::string severity;
  std::string urgency;
  std::string certainty;
  std::vector<std::string> areas;  // "CC:description", e.g. "TH:泰国南部"
  std::string expires;
  std::string hotline;
};

// The item JSON `submit` sends. Local problems (unreadable file, malformed JSON, an area without
// "CC:", neither --file nor --title and --channel) are usage errors; the rest is the server's
// validation.
Result<nlohmann::json> item_from_options(const SubmitOptions& options);

// The whole command line: global connection options and the subcommands. run() is called after
// app.parse() and runs the subcommand that was given.
class Cli {
 public:
  explicit Cli(CLI::App& app);
  int run();

 private:
  void add_submit();
  void add_review();
  void add_show();
  void add_list();
  void add_retract();
  void add_correct();
  void add_dead();
  void add_replay();
  void add_stats();
  void add_reconcile();
  void add_report();
  void add_import();
  void add_audit();
  void add_wait();
  CLI::App* subcommand(const std::string& name, const std::string& description);

  CLI::App& app_;
  // Where the token comes from: --token-file, else --token (visible in ps: kept for old scripts,
  // with a warning), else HERALD_TOKEN.
  Result<std::string> resolve_token() const;

  ConnectionOptions connection_;
  std::string token_flag_;
  std::string token_file_;
  double timeout_seconds_ = 15;
  std::map<const CLI::App*, std::function<int(ApiClient&)>> runners_;
};

}  // namespace herald::ctl
