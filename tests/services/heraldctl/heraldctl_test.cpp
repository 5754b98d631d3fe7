// heraldctl as a process: argument errors and --help, the exit codes, and a duty officer's whole
// session (submit, two approvals, wait, show, list, retract, dead letters and replay) driven only
// through the binary against real heraldd, herald-sim and Redis.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "services/heraldctl/commands.h"
#include "services/heraldctl/table.h"
#include "tests/adapters/scripted_http_server.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

namespace {

using nlohmann::json;
using namespace herald::test;

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs heraldctl with `args`, HERALD_URL/HERALD_TOKEN from `env` only (the test's own environment
// never leaks in), stdin from /dev/null; waits up to a minute.
CtlRun run_ctl(const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {}) {
  static int counter = 0;
  static const std::string dir = make_temp_dir("heraldctl");
  const std::string base = dir + "/run" + std::to_string(++counter);
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::vector<std::string> argv = {HERALDCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());

  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(120);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    unsetenv("HERALD_URL");
    unsetenv("HERALD_TOKEN");
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(121);
  }
  int status = 0;
  const bool done = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                               std::chrono::seconds(60), std::chrono::milliseconds(5));
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL("heraldctl did not finish within a minute");
  }
  CtlRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = read_file(out_path);
  run.err = read_file(err_path);
  return run;
}

std::string describe(const CtlRun& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The first word of the first line: the id `submit` and `correct` print.
std::string first_word(const std::string& text) {
  return text.substr(0, text.find_first_of(" \n"));
}

const std::vector<std::string> kSubcommands = {"submit",  "approve", "reject", "show",   "list",
                                               "retract", "correct", "dead",   "replay", "stats",
                                               "report",  "import",  "audit",  "wait"};

}  // namespace

TEST_CASE("heraldctl explains every subcommand on --help and exits 0", "[heraldctl]") {
  const CtlRun top = run_ctl({"--help"});
  CHECK(top.exit_code == 0);
  CHECK(top.out.find("Exit codes") != std::string::npos);
  for (const auto& sub : kSubcommands) {
    INFO("subcommand " << sub);
    const CtlRun r = run_ctl({sub, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(sub) != std::string::npos);
    CHECK(r.out.find("Exit codes") != std::string::npos);
  }
}

TEST_CASE("heraldctl refuses bad usage with exit 2 and a message on stderr", "[heraldctl]") {
  const std::map<std::string, std::string> env = {{"HERALD_URL", "http://127.0.0.1:1"},
                                                  {"HERALD_TOKEN", "t"}};
  SECTION("no subcommand") {
    const CtlRun r = run_ctl({}, env);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(r.err.empty());
  }
  SECTION("an unknown subcommand or option") {
    CHECK(run_ctl({"frobnicate"}, env).exit_code == 2);
    CHECK(run_ctl({"list", "--colour"}, env).exit_code == 2);
  }
  SECTION("a missing required argument") {
    const CtlRun show = run_ctl({"show"}, env);
    CHECK(show.exit_code == 2);
    CHECK(show.err.find("id") != std::string::npos);
    CHECK(run_ctl({"reject", "X"}, env).exit_code == 2);   // --comment is required
    CHECK(run_ctl({"retract", "X"}, env).exit_code == 2);  // --reason is required
    CHECK(run_ctl({"report"}, env).exit_code == 2);        // --year is required
  }
  SECTION("a value out of its set") {
    CHECK(run_ctl({"stats", "--format", "xml"}, env).exit_code == 2);
    CHECK(run_ctl({"submit", "--kind", "memo", "--title", "t", "--channel", "webhook"}, env)
              .exit_code == 2);
  }
  SECTION("--body and --body-file together") {
    CHECK(run_ctl({"submit", "--title", "t", "--channel", "webhook", "--body", "b", "--body-file",
                   "/dev/null"},
                  env)
              .exit_code == 2);
  }
  SECTION("submit with neither a file nor a title and a channel") {
    const CtlRun r = run_ctl({"submit", "--body", "b"}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--title") != std::string::npos);
  }
  SECTION("an area without its country code") {
    const CtlRun r = run_ctl(
        {"submit", "--title", "t", "--channel", "webhook", "--level", "caution", "--area", "泰国"},
        env);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("COUNTRY:description") != std::string::npos);
  }
  SECTION("an unreadable file") {
    const CtlRun r = run_ctl({"submit", "--file", "/nonexistent/item.json"}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("/nonexistent/item.json") != std::string::npos);
  }
  SECTION("no token anywhere") {
    const CtlRun r = run_ctl({"show", "X", "--server", "http://127.0.0.1:1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("token") != std::string::npos);
  }
  SECTION("a server URL that is not http(s)") {
    CHECK(run_ctl({"show", "X", "--server", "ftp://127.0.0.1:1"}, env).exit_code == 2);
  }
}

TEST_CASE("heraldctl exits 1 when heraldd cannot be reached, and never prints the token",
          "[heraldctl]") {
  const std::string url = "http://127.0.0.1:" + std::to_string(free_tcp_port());
  const CtlRun r = run_ctl({"show", "X", "--server", url, "--timeout", "5"},
                           {{"HERALD_TOKEN", "secret-token-value"}});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot reach") != std::string::npos);
  CHECK(r.out.find("secret-token-value") == std::string::npos);
  CHECK(r.err.find("secret-token-value") == std::string::npos);
}

TEST_CASE("submit builds the item JSON from flags, over a file's fields", "[heraldctl]") {
  herald::ctl::SubmitOptions o;
  o.title = "提醒";
  o.channels = {"weibo", "webhook"};
  o.level = "avoid";
  o.areas = {"TH:泰国南部", "MM:缅甸北部"};
  o.hotline = "12308";
  o.exercise = true;
  auto item = herald::ctl::item_from_options(o);
  REQUIRE(item);
  CHECK((*item)["kind"] == "alert");
  CHECK((*item)["category"] == "overseas_safety");
  CHECK((*item)["status"] == "exercise");
  CHECK((*item)["channels"] == json({"weibo", "webhook"}));
  CHECK((*item)["alert"]["areas"][1] == json({{"country", "MM"}, {"desc", "缅甸北部"}}));
  CHECK((*item)["alert"]["hotline"] == "12308");
  CHECK_FALSE(item->contains("body"));

  SECTION("a publication when no alert flag is given") {
    herald::ctl::SubmitOptions p;
    p.title = "t";
    p.channels = {"portal"};
    auto publication = herald::ctl::item_from_options(p);
    REQUIRE(publication);
    CHECK((*publication)["kind"] == "publication");
    CHECK_FALSE(publication->contains("alert"));
  }
  SECTION("flags override a file's fields and keep the rest") {
    const std::string path = make_temp_dir("heraldctl-item") + "/item.json";
    std::ofstream(path) << json{{"kind", "alert"},
                                {"title", "old"},
                                {"channels", {"weibo"}},
                                {"alert", {{"level", "caution"}, {"severity", "Severe"}}}}
                               .dump();
    herald::ctl::SubmitOptions f;
    f.file = path;
    f.channels = {"webhook"};
    f.level = "avoid";
    auto merged = herald::ctl::item_from_options(f);
    REQUIRE(merged);
    CHECK((*merged)["title"] == "old");
    CHECK((*merged)["channels"] == json({"webhook"}));
    CHECK((*merged)["alert"]["level"] == "avoid");
    CHECK((*merged)["alert"]["severity"] == "Severe");
  }
}

TEST_CASE("tables align Chinese text by display width", "[heraldctl]") {
  using herald::ctl::display_width;
  CHECK(display_width("abc") == 3);
  CHECK(display_width("泰国南部") == 8);
  CHECK(herald::ctl::truncate_to_width("提醒中国公民", 7) == "提醒中…");
  herald::ctl::Table table({"A", "B"});
  table.add_row({"泰国", "x"});
  table.add_row({"abcd", ""});
  std::ostringstream out;
  table.print(out);
  CHECK(out.str() == "A     B\n泰国  x\nabcd  -\n");
}

TEST_CASE("printable() makes every control character visible", "[heraldctl][text]") {
  using herald::ctl::printable;
  CHECK(printable("标题\x1b[2K\x1b[1G假标题") == "标题\\x1b[2K\\x1b[1G假标题");
  CHECK(printable("a\x07"
                  "b\x7f"
                  "c\x08") == "a\\x07b\\x7fc\\x08");
  CHECK(printable(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(printable("csi\xC2\x9B"
                  "31m nel\xC2\x85") == "csi\\u009b31m nel\\u0085");
  CHECK(printable("bad\xFF\x9B byte") == "bad\\xff\\x9b byte");
  CHECK(printable("over\xC0\x9B"
                  "long") == "over\\xc0\\x9blong");
  CHECK(printable("lone CR\rhere") == "lone CR\\x0dhere");
  // Text, tabs, line feeds and CSV's CR LF pass as they are.
  CHECK(printable("泰国南部\t😀 \xC2\xA0\r\nnext\n") == "泰国南部\t😀 \xC2\xA0\r\nnext\n");

  std::ostringstream target;
  {
    herald::ctl::PrintableBuf buf(target.rdbuf());
    std::ostream out(&buf);
    out << "line\x1b]0;pwned\x07\n"
        << "tail\x1b";
  }  // the tail is flushed when the buffer goes
  CHECK(target.str() == "line\\x1b]0;pwned\\x07\ntail\\x1b");
}

TEST_CASE("heraldctl never prints a control character from the server raw", "[heraldctl][text]") {
  const std::string id = "01jabcdefghjkmnpqrstvwxyz0";
  const std::string title =
      "真标题\x1b[2K\r\x1b[1G假标题\xC2\x9B"
      "2J";
  ScriptedHttpServer server([&](const ScriptedRequest& request) {
    ScriptedResponse r;
    r.headers = {{"Content-Type", "application/json"}};
    json item = {{"id", id},
                 {"kind", "publication"},
                 {"category", "work_news"},
                 {"title", title},
                 {"state", "pending_review"},
                 {"author", "drafter\x1b[8m"},
                 {"channels", {"webhook"}},
                 {"created_at", "2026-11-29T08:00:00+08:00"},
                 {"approvals", json::array()},
                 {"deliveries", json::array()}};
    if (request.target.rfind("/v1/items/" + id, 0) == 0) {
      r.body = item.dump();
    } else if (request.target.rfind("/v1/items", 0) == 0) {
      r.body = json{{"items", {item}}, {"next_cursor", nullptr}}.dump();
    } else {
      r.status = 422;
      r.body =
          json{{"error", {{"code", "validation_failed"}, {"message", "bad \x1b[31mred"}}}}.dump();
    }
    return r;
  });
  const std::map<std::string, std::string> env = {{"HERALD_URL", server.url()},
                                                  {"HERALD_TOKEN", "t"}};
  auto raw_control = [](const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) return true;
      if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
          static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
        return true;
      }
    }
    return false;
  };
  const CtlRun show = run_ctl({"show", id}, env);
  INFO(show.out << show.err);
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("真标题\\x1b[2K\\x0d\\x1b[1G假标题\\u009b2J") != std::string::npos);
  CHECK_FALSE(raw_control(show.out));
  const CtlRun list = run_ctl({"list"}, env);
  INFO(list.out << list.err);
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("\\x1b[2K") != std::string::npos);
  CHECK_FALSE(raw_control(list.out));
  const CtlRun dead = run_ctl({"dead"}, env);  // the server's error message goes to stderr
  INFO(dead.out << dead.err);
  CHECK(dead.err.find("\\x1b[31mred") != std::string::npos);
  CHECK_FALSE(raw_control(dead.err));
}

TEST_CASE("a duty officer drives an alert from submission to retraction with heraldctl alone",
          "[heraldctl][e2e]") {
  SimHandle sim = start_sim({"--portal-key", "ctl-portal-key"});
  json config = test_config(unique_key_prefix("ctl"), sim.url);
  config["queue"]["max_attempts"] = 2;
  config["channels"]["weibo"] = {{"api_base", sim.url},
                                 {"access_token", "weibo-sim-token"},
                                 {"safe_domain", "www.scfao.gov.cn"},
                                 {"rip", "127.0.0.1"}};
  config["channels"]["portal"] = {{"url", sim.url},
                                  {"hmac_key", "ctl-portal-key"},
                                  {"app_id", "herald-test"},
                                  {"org_code", "11510000MB0000000X"},
                                  {"column", "zwdt"}};
  const std::string dir = make_temp_dir("heraldctl-e2e");
  HeralddHandle daemon = start_heraldd(config, dir);
  INFO("heraldd log: " << daemon.log_path << "\nherald-sim log: " << sim.log_path);
  auto as = [&](const char* token) {
    return std::map<std::string, std::string>{{"HERALD_URL", daemon.url}, {"HERALD_TOKEN", token}};
  };

  // Submit from flags, as the duty officer.
  const CtlRun submitted = run_ctl({"submit",
                                    "--kind",
                                    "alert",
                                    "--title",
                                    "提醒中国公民近期谨慎前往泰国南部",
                                    "--summary",
                                    "泰国南部近期发生多起爆炸袭击事件。",
                                    "--body",
                                    "外交部和中国驻泰国使领馆提醒中国公民近期谨慎前往上述地区。",
                                    "--link",
                                    "https://www.scfao.gov.cn/alerts/th-south",
                                    "--channel",
                                    "weibo",
                                    "--channel",
                                    "portal,webhook",
                                    "--level",
                                    "reconsider",
                                    "--severity",
                                    "Severe",
                                    "--urgency",
                                    "Immediate",
                                    "--certainty",
                                    "Likely",
                                    "--area",
                                    "TH:泰国南部",
                                    "--hotline",
                                    "12308",
                                    "--idempotency-key",
                                    "ctl-e2e-1"},
                                   as(kDutyToken));
  INFO(describe(submitted));
  REQUIRE(submitted.exit_code == 0);
  const std::string id = first_word(submitted.out);
  CHECK(submitted.out.find("pending_review") != std::string::npos);
  INFO("item " << id);

  SECTION("a 4xx refusal exits 2 with the server's code and field") {
    const CtlRun self = run_ctl({"approve", id}, as(kDutyToken));  // the author may not approve
    CHECK(self.exit_code == 2);
    CHECK(self.err == "heraldctl: POST /v1/items/" + id +
                          "/approvals answered 409 self_approval: the author of an item may not "
                          "review it\n");
    const CtlRun missing = run_ctl({"show", "no-such-item"}, as(kDutyToken));
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("404 not_found") != std::string::npos);
    // Everything right but the channel, so the channel is what is refused.
    const CtlRun invalid = run_ctl({"submit", "--kind", "publication", "--category", "work_news",
                                    "--title", "t", "--body", "b", "--channel", "carrier-pigeon"},
                                   as(kDutyToken));
    CHECK(invalid.exit_code == 2);
    CHECK(invalid.err ==
          "heraldctl: POST /v1/items answered 422 validation_failed: unknown channel "
          "\"carrier-pigeon\" (known: portal, webhook, weibo) (field channels[0])\n");
    const CtlRun bad_token = run_ctl({"list"}, as("not-a-token"));
    CHECK(bad_token.exit_code == 2);
    CHECK(bad_token.err.find("401") != std::string::npos);
    CHECK(bad_token.err.find("not-a-token") == std::string::npos);
  }

  SECTION("two approvals, wait, show, list, audit, retract") {
    const CtlRun first = run_ctl({"approve", id, "--comment", "核实无误"}, as(kReviewerToken));
    REQUIRE(first.exit_code == 0);
    CHECK(first.out.find("(approvals 1/2)") != std::string::npos);
    const CtlRun second = run_ctl({"approve", id, "-m", "同意发布"}, as(kReviewer2Token));
    REQUIRE(second.exit_code == 0);
    CHECK(second.out.find("(approvals 2/2)") != std::string::npos);

    const CtlRun waited = run_ctl({"wait", id, "--timeout", "45"}, as(kDutyToken));
    REQUIRE(waited.exit_code == 0);
    CHECK(waited.out == id + " published\n");

    const CtlRun shown = run_ctl({"show", id, "--json"}, as(kDutyToken));
    REQUIRE(shown.exit_code == 0);
    const json item = json::parse(shown.out);
    std::map<std::string, std::string> remote_ids;
    for (const auto& d : item["deliveries"]) remote_ids[d["channel"]] = d["remote_id"];
    REQUIRE(remote_ids.size() == 3);
    const CtlRun table = run_ctl({"show", id}, as(kDutyToken));
    REQUIRE(table.exit_code == 0);
    for (const auto& [channel, remote_id] : remote_ids) {
      INFO(channel << "\n" << table.out);
      CHECK_FALSE(remote_id.empty());
      // The channel's row carries its remote id.
      const auto row = table.out.find("\n  " + channel + " ");
      REQUIRE(row != std::string::npos);
      const std::string line = table.out.substr(row + 1, table.out.find('\n', row + 1) - row - 1);
      CHECK(line.find("published") != std::string::npos);
      CHECK(line.find(remote_id) != std::string::npos);
    }
    CHECK(table.out.find("approve by rev via herald at") != std::string::npos);

    const CtlRun listed =
        run_ctl({"list", "--kind", "alert", "--limit", "1", "--all"}, as(kReviewerToken));
    REQUIRE(listed.exit_code == 0);
    CHECK(listed.out.find(id) != std::string::npos);
    const CtlRun listed_json = run_ctl({"list", "--state", "published", "--json"}, as(kAdminToken));
    REQUIRE(listed_json.exit_code == 0);
    CHECK(json::parse(listed_json.out)["items"][0]["id"] == id);

    const CtlRun audit = run_ctl({"audit", id}, as(kAdminToken));
    REQUIRE(audit.exit_code == 0);
    CHECK(audit.out.find("submitted") != std::string::npos);
    CHECK(audit.out.find("published") != std::string::npos);

    const CtlRun retracted =
        run_ctl({"retract", id, "--reason", "情况已变化，撤回提醒"}, as(kDutyToken));
    REQUIRE(retracted.exit_code == 0);
    CHECK(retracted.out.rfind(id + " retracted\n", 0) == 0);
    CHECK(retracted.out.find("recall") != std::string::npos);
    // Every channel's recall goes out: show lists them until each is done.
    json recalls;
    const bool recalled = wait_until(
        [&] {
          const CtlRun r = run_ctl({"show", id, "--json"}, as(kDutyToken));
          if (r.exit_code != 0) return false;
          recalls = json::parse(r.out)["recalls"];
          if (recalls.size() != 3) return false;
          for (const auto& d : recalls) {
            if (d["state"] != "published") return false;
          }
          return true;
        },
        std::chrono::seconds(45), std::chrono::milliseconds(100));
    INFO(recalls.dump(2));
    CHECK(recalled);
    CHECK(
        run_ctl({"wait", id, "--state", "retracted", "--timeout", "5"}, as(kDutyToken)).exit_code ==
        0);
    // Waiting for a state the item can no longer reach stops at once, exit 1.
    const CtlRun hopeless = run_ctl({"wait", id, "--timeout", "30"}, as(kDutyToken));
    CHECK(hopeless.exit_code == 1);
    CHECK(hopeless.err.find("retracted") != std::string::npos);
  }

  SECTION("a dead letter after a sim fault is listed and replayed") {
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "webhook:fail_next=2").status == 200);
    const CtlRun pub = run_ctl({"submit", "--title", "关于召开工作会议的通知", "--category",
                                "work_news", "--body", "正文", "--channel", "webhook", "-q"},
                               as(kDutyToken));
    REQUIRE(pub.exit_code == 0);
    const std::string pub_id = first_word(pub.out);
    REQUIRE(run_ctl({"approve", pub_id}, as(kReviewerToken)).exit_code == 0);
    REQUIRE(run_ctl({"approve", pub_id}, as(kReviewer2Token)).exit_code == 0);
    // max_attempts 2, two injected 503s: the delivery dies; waiting for published says so.
    const CtlRun failed = run_ctl({"wait", pub_id, "--timeout", "45"}, as(kDutyToken));
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find("failed") != std::string::npos);

    const CtlRun dead = run_ctl({"dead", "--channel", "webhook", "--json"}, as(kAdminToken));
    REQUIRE(dead.exit_code == 0);
    const json deliveries = json::parse(dead.out)["deliveries"];
    REQUIRE(deliveries.size() == 1);
    const std::string delivery_id = deliveries[0]["id"];
    CHECK(deliveries[0]["item_id"] == pub_id);
    const CtlRun dead_table = run_ctl({"dead"}, as(kDutyToken));
    REQUIRE(dead_table.exit_code == 0);
    CHECK(dead_table.out.find(delivery_id) != std::string::npos);
    CHECK(dead_table.out.find("503") != std::string::npos);

    const CtlRun replayed = run_ctl({"replay", delivery_id}, as(kDutyToken));
    REQUIRE(replayed.exit_code == 0);
    CHECK(replayed.out.find(delivery_id) != std::string::npos);
    CHECK(run_ctl({"wait", pub_id, "--timeout", "45"}, as(kDutyToken)).exit_code == 0);
    const CtlRun after = run_ctl({"dead", "--json"}, as(kAdminToken));
    REQUIRE(after.exit_code == 0);
    CHECK(json::parse(after.out)["deliveries"].empty());
    CHECK(run_ctl({"replay", delivery_id}, as(kDutyToken)).exit_code == 2);  // not dead any more
  }

  daemon.process.signal(SIGTERM);
  CHECK(daemon.process.wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("heraldctl takes its token from HERALD_TOKEN or --token-file, and warns about --token",
          "[heraldctl][secrets]") {
  ScriptedHttpServer server([](const ScriptedRequest&) {
    ScriptedResponse r;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = json{{"items", json::array()}, {"next_cursor", nullptr}}.dump();
    return r;
  });
  const std::string dir = make_temp_dir("ctl-token");
  const std::string token_file = dir + "/token";
  std::ofstream(token_file) << "file-token-value\n";
  auto last_authorization = [&] {
    const auto requests = server.requests();
    return requests.empty() ? std::string() : requests.back().header("authorization");
  };

  SECTION("HERALD_TOKEN") {
    const CtlRun r = run_ctl({"list"}, {{"HERALD_URL", server.url()}, {"HERALD_TOKEN", "env-t"}});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(last_authorization() == "Bearer env-t");
    CHECK(r.err.find("warning") == std::string::npos);
  }
  SECTION("--token-file, first line, over HERALD_TOKEN") {
    const CtlRun r = run_ctl({"list", "--token-file", token_file},
                             {{"HERALD_URL", server.url()}, {"HERALD_TOKEN", "env-t"}});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(last_authorization() == "Bearer file-token-value");
    CHECK(r.err.find("file-token-value") == std::string::npos);
  }
  SECTION("--token still works, with a warning that never shows the token") {
    const CtlRun r =
        run_ctl({"list", "--token", "flag-token-value"}, {{"HERALD_URL", server.url()}});
    CHECK(r.exit_code == 0);
    CHECK(last_authorization() == "Bearer flag-token-value");
    CHECK(r.err.find("warning: --token is visible to other users") != std::string::npos);
    CHECK(r.err.find("flag-token-value") == std::string::npos);
  }
  SECTION("an unreadable or empty token file is a usage error") {
    CHECK(run_ctl({"list", "--token-file", dir + "/missing"}, {{"HERALD_URL", server.url()}})
              .exit_code == 2);
    std::ofstream(dir + "/empty") << "\n";
    CHECK(run_ctl({"list", "--token-file", dir + "/empty"}, {{"HERALD_URL", server.url()}})
              .exit_code == 2);
    CHECK(server.requests().empty());
  }
}

TEST_CASE("submit --batch sends a file of items in one request and prints each item's answer",
          "[heraldctl][batch]") {
  SimHandle sim = start_sim();
  const std::string dir = make_temp_dir("heraldctl-batch");
  HeralddHandle daemon = start_heraldd(test_config(unique_key_prefix("ctlbatch"), sim.url), dir);
  const std::map<std::string, std::string> env = {{"HERALD_URL", daemon.url},
                                                  {"HERALD_TOKEN", kDutyToken}};
  auto publication = [](const std::string& title) {
    return json{{"kind", "publication"},   {"category", "work_news"},
                {"title", title},          {"body", "正文"},
                {"channels", {"webhook"}}, {"idempotency_key", "ctl-" + title}};
  };

  // NDJSON with one refused item: the others are stored, exit 2 names the refusal.
  const std::string ndjson = dir + "/items.ndjson";
  std::ofstream(ndjson) << publication("一").dump() << "\n"
                        << publication("").dump() << "\n"
                        << publication("三").dump() << "\n";
  const CtlRun mixed = run_ctl({"submit", "--batch", ndjson}, env);
  INFO(describe(mixed));
  CHECK(mixed.exit_code == 2);
  CHECK(mixed.out.find("validation_failed") != std::string::npos);
  CHECK(mixed.out.find("created 2, replayed 0, failed 1") != std::string::npos);

  // A JSON array, retried: the same ids, nothing stored twice.
  const std::string array = dir + "/items.json";
  std::ofstream(array) << json::array({publication("一"), publication("四")}).dump(2);
  const CtlRun quiet = run_ctl({"submit", "--batch", array, "-q"}, env);
  INFO(describe(quiet));
  CHECK(quiet.exit_code == 0);
  std::istringstream ids(quiet.out);
  std::string first, second;
  ids >> first >> second;
  CHECK(first.size() == 26);
  CHECK(second.size() == 26);
  const CtlRun again = run_ctl({"submit", "--batch", array, "--json"}, env);
  INFO(describe(again));
  CHECK(again.exit_code == 0);
  const json answer = json::parse(again.out);
  CHECK(answer.at("replayed") == 2);
  CHECK(answer["results"][0].at("id") == first);
  CHECK(run_ctl({"submit", "--batch", array, "--file", array}, env).exit_code == 2);
}
