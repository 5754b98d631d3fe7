// Starts the real herald-sim and heraldd binaries for integration tests, with a config written to
// a temp dir, and offers small HTTP helpers to talk to them.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/http_client.h"
#include "tests/support/process.h"

namespace herald::test {

// Tokens of the users in test_config(); their sha256 is what the config holds.
inline constexpr const char* kDutyToken = "duty-token";            // duty_officer, drafter
inline constexpr const char* kReviewerToken = "reviewer-token";    // reviewer ("rev")
inline constexpr const char* kReviewer2Token = "reviewer2-token";  // reviewer ("rev2")
inline constexpr const char* kAdminToken = "admin-token";          // admin

struct SimHandle {
  ChildProcess process;
  std::string url;  // "http://127.0.0.1:PORT"
  std::string log_path;
  int smtp_port = 0;  // the SMTP sink's port; 0 unless started by start_sim_with_smtp()
};

// Starts herald-sim on a free port; `args` are extra command-line arguments (e.g. --faults ...).
SimHandle start_sim(const std::vector<std::string>& args = {});
// The same, with the SMTP sink on a kernel-chosen port (read from the sim's startup line).
SimHandle start_sim_with_smtp(const std::vector<std::string>& args = {});

struct HeralddHandle {
  ChildProcess process;
  std::string url;         // the API listener (http.listen): "http://127.0.0.1:PORT"
  std::string public_url;  // the public listener (http.public.listen), where the feeds are
  std::string config_path;
  std::string log_path;
};

// A config for heraldd against the test redis-server under `key_prefix`, with the webhook
// channel pointed at `sim_url`, the API and the public listener each on a free port, short leases,
// and the test users.
nlohmann::json test_config(const std::string& key_prefix, const std::string& sim_url);

// Writes `config` into `dir` and starts heraldd; waits until /healthz answers on both listeners
// (throws if not). A config without http.public.listen gets a free port for it (the default, 8081,
// would make tests collide).
HeralddHandle start_heraldd(const nlohmann::json& config, const std::string& dir,
                            const std::string& name = "heraldd");

// HTTP helpers over herald::HttpClient; the token is sent as a bearer token when not empty.
HttpResponse http(const std::string& method, const std::string& url, const std::string& token = "",
                  const std::string& body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {});
nlohmann::json json_of(const HttpResponse& response);

// A whole file as text ("" if it cannot be read): logs, for test failure messages.
std::string read_file(const std::string& path);

// config/sample-alert.json (the README's demo alert), sent to the webhook channel only, which is
// the channel test_config() configures.
nlohmann::json sample_alert();
// A work-news publication for the webhook channel, titled `title`.
nlohmann::json sample_publication(const std::string& title);

// What herald-sim received for a platform (GET /_sim/published?platform=...).
nlohmann::json sim_published(const std::string& sim_url, const std::string& platform);

// POST /v1/items/{id}/approvals with {"decision": decision, "comment": comment}.
HttpResponse review(const std::string& heraldd_url, const std::string& item_id,
                    const std::string& token, const std::string& decision = "approve",
                    const std::string& comment = "");
// The two approvals test_config() requires (by "rev" and "rev2"); throws if either is refused.
void approve_twice(const std::string& heraldd_url, const std::string& item_id);

}  // namespace herald::test
