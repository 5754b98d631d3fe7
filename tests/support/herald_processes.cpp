#include "tests/support/herald_processes.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/digest.h"
#include "tests/support/redis_server.h"

namespace herald::test {
std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SimHandle start_sim(const std::vector<std::string>& args) {
  SimHandle sim;
  const int port = free_tcp_port();
  const std::string dir = make_temp_dir("sim");
  sim.log_path = dir + "/herald-sim.log";
  std::vector<std::string> argv = {HERALD_SIM_PATH, "--listen",
                                   "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  sim.process = ChildProcess::spawn(argv, {}, sim.log_path);
  sim.url = "http://127.0.0.1:" + std::to_string(port);
  const bool up = wait_until(
      [&] {
        HttpClient client;
        auto r = client.send({"GET",
                              sim.url + "/_sim/health",
                              {},
                              "",
                              std::chrono::milliseconds(200),
                              std::chrono::milliseconds(500)});
        return r && r->status == 200;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(20));
  if (!up) throw std::runtime_error("herald-sim did not start: " + read_file(sim.log_path));
  return sim;
}

SimHandle start_sim_with_smtp(const std::vector<std::string>& args) {
  std::vector<std::string> with_smtp = {"--smtp-listen", "127.0.0.1:0"};
  with_smtp.insert(with_smtp.end(), args.begin(), args.end());
  SimHandle sim = start_sim(with_smtp);
  // The sink's line is printed before the HTTP one, which may still be on its way to the log.
  const std::regex line(R"(smtp sink listening on smtp://127\.0\.0\.1:(\d+)\n)");
  std::smatch match;
  std::string log;
  const bool found = wait_until(
      [&] {
        log = read_file(sim.log_path);
        return std::regex_search(log, match, line);
      },
      std::chrono::seconds(10), std::chrono::milliseconds(20));
  if (!found) throw std::runtime_error("herald-sim printed no SMTP port: " + log);
  sim.smtp_port = std::stoi(match[1].str());
  return sim;
}

nlohmann::json test_config(const std::string& key_prefix, const std::string& sim_url) {
  using nlohmann::json;
  return json{
      {"http",
       {{"listen", "127.0.0.1:" + std::to_string(free_tcp_port())},
        {"public", {{"listen", "127.0.0.1:" + std::to_string(free_tcp_port())}}}}},
      {"redis", {{"url", test_redis_url()}, {"key_prefix", key_prefix}}},
      {"auth",
       {{"users",
         json::array({
             {{"name", "duty"},
              {"roles", {"duty_officer", "drafter"}},
              {"token_sha256", sha256_hex(kDutyToken)}},
             {{"name", "rev"},
              {"roles", {"reviewer"}},
              {"token_sha256", sha256_hex(kReviewerToken)}},
             {{"name", "rev2"},
              {"roles", {"reviewer"}},
              {"token_sha256", sha256_hex(kReviewer2Token)}},
             {{"name", "admin"}, {"roles", {"admin"}}, {"token_sha256", sha256_hex(kAdminToken)}},
         })}}},
      {"queue",
       {{"lease_ms", 1000}, {"retry_base_ms", 50}, {"retry_max_ms", 500}, {"idle_block_ms", 1000}}},
      {"channels",
       {{"webhook",
         {{"url", sim_url + "/hooks/media-desk"}, {"secret", "test-secret"}, {"concurrency", 8}}}}},
      {"log", {{"level", "info"}}},
  };
}

HeralddHandle start_heraldd(const nlohmann::json& config, const std::string& dir,
                            const std::string& name) {
  HeralddHandle h;
  h.config_path = dir + "/" + name + ".json";
  h.log_path = dir + "/" + name + ".log";
  nlohmann::json written = config;
  if (!written["http"]["public"].contains("listen")) {
    written["http"]["public"]["listen"] = "127.0.0.1:" + std::to_string(free_tcp_port());
  }
  std::ofstream(h.config_path) << written.dump(2);
  const std::string listen = written["http"]["listen"];
  const std::string public_listen = written["http"]["public"]["listen"];
  h.url = "http://" + listen;
  h.public_url = "http://" + public_listen;
  h.process = ChildProcess::spawn({HERALDD_PATH, "--config", h.config_path}, {}, h.log_path);
  const bool up = wait_until(
      [&] {
        if (!h.process.running()) return false;
        for (const std::string& base : {h.url, h.public_url}) {
          HttpClient client;
          auto r = client.send({"GET",
                                base + "/healthz",
                                {},
                                "",
                                std::chrono::milliseconds(200),
                                std::chrono::milliseconds(500)});
          if (!r || r->status != 200) return false;
        }
        return true;
      },
      std::chrono::seconds(15), std::chrono::milliseconds(20));
  if (!up) throw std::runtime_error("heraldd did not start: " + read_file(h.log_path));
  return h;
}

HttpResponse http(const std::string& method, const std::string& url, const std::string& token,
                  const std::string& body,
                  std::vector<std::pair<std::string, std::string>> headers) {
  HttpClient client;
  HttpRequest request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.headers = std::move(headers);
  if (!token.empty()) request.headers.emplace_back("Authorization", std::string("Bearer ") + token);
  auto response = client.send(request);
  if (!response) throw std::runtime_error(method + " " + url + ": " + response.error().message);
  return *response;
}

nlohmann::json json_of(const HttpResponse& response) {
  auto j = nlohmann::json::parse(response.body, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("not JSON: " + response.body);
  return j;
}

nlohmann::json sample_publication(const std::string& title) {
  return {{"kind", "publication"},
          {"category", "work_news"},
          {"title", title},
          {"body", "正文"},
          {"channels", {"webhook"}}};
}

nlohmann::json sample_alert() {
  std::ifstream in(std::string(HERALD_SOURCE_DIR) + "/config/sample-alert.json");
  nlohmann::json alert = nlohmann::json::parse(in);
  alert["channels"] = {"webhook"};
  return alert;
}

nlohmann::json sim_published(const std::string& sim_url, const std::string& platform) {
  return json_of(http("GET", sim_url + "/_sim/published?platform=" + platform));
}

HttpResponse review(const std::string& heraldd_url, const std::string& item_id,
                    const std::string& token, const std::string& decision,
                    const std::string& comment) {
  const nlohmann::json body = {{"decision", decision}, {"comment", comment}};
  return http("POST", heraldd_url + "/v1/items/" + item_id + "/approvals", token, body.dump(),
              {{"Content-Type", "application/json"}});
}

void approve_twice(const std::string& heraldd_url, const std::string& item_id) {
  for (const char* token : {kReviewerToken, kReviewer2Token}) {
    auto r = review(heraldd_url, item_id, token, "approve", "ok");
    if (r.status != 201) throw std::runtime_error("approval refused: " + r.body);
  }
}

}  // namespace herald::test
