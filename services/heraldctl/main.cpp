// heraldctl: the command line over heraldd's REST API. Server and token come from --server/--token
// or HERALD_URL/HERALD_TOKEN. Exit codes: 0 ok, 1 the server refused or failed, 2 bad usage.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "adapters/http_client.h"

namespace {

using nlohmann::json;

struct Connection {
  std::string server = "http://127.0.0.1:8080";
  std::string token;
};

int call(const Connection& c, const std::string& method, const std::string& path,
         const std::string& body, json& out, const std::string& idempotency_key = "") {
  herald::HttpClient client;
  herald::HttpRequest request;
  request.method = method;
  request.url = c.server + path;
  request.body = body;
  request.headers = {{"Authorization", "Bearer " + c.token}, {"Accept", "application/json"}};
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  if (!idempotency_key.empty()) request.headers.emplace_back("Idempotency-Key", idempotency_key);
  auto response = client.send(request);
  if (!response) {
    std::cerr << "heraldctl: cannot reach " << c.server << ": " << response.error().message << "\n";
    return 1;
  }
  out = json::parse(response->body, nullptr, false);
  if (response->status >= 400) {
    std::cerr << "heraldctl: " << method << " " << path << " answered " << response->status;
    if (!out.is_discarded() && out.contains("error")) {
      const auto& e = out["error"];
      std::cerr << " " << e.value("code", "") << ": " << e.value("message", "");
      if (e.contains("field")) std::cerr << " (field " << e["field"].get<std::string>() << ")";
    }
    std::cerr << "\n";
    return 1;
  }
  return 0;
}

void print_item(const json& item) {
  std::cout << item.value("id", "") << "  " << item.value("kind", "") << "/"
            << item.value("category", "") << "  state: " << item.value("state", "") << "\n"
            << "  " << item.value("title", "") << "\n";
  if (!item.contains("deliveries")) return;
  std::printf("  %-10s %-12s %-8s %s\n", "CHANNEL", "STATE", "ATTEMPTS", "REMOTE ID / LAST ERROR");
  for (const auto& d : item["deliveries"]) {
    std::string detail = d.value("remote_id", "");
    if (detail.empty() && d.contains("last_error")) detail = d["last_error"].value("message", "");
    std::printf("  %-10s %-12s %-8d %s\n", d.value("channel", "").c_str(),
                d.value("state", "").c_str(), d.value("attempts", 0), detail.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"heraldctl: submit and follow Herald items from the command line"};
  app.require_subcommand(1);
  Connection conn;
  if (const char* url = std::getenv("HERALD_URL")) conn.server = url;
  if (const char* token = std::getenv("HERALD_TOKEN")) conn.token = token;
  app.add_option("--server", conn.server, "heraldd base URL (env HERALD_URL)");
  app.add_option("--token", conn.token, "bearer token (env HERALD_TOKEN)");
  bool as_json = false;
  app.add_flag("--json", as_json, "print the server's JSON instead of a table");

  auto* submit = app.add_subcommand("submit", "submit an item from a JSON file ('-' for stdin)");
  std::string file;
  std::string idempotency_key;
  submit->add_option("file", file, "item JSON")->required();
  submit->add_option("--idempotency-key", idempotency_key, "makes a retried submit safe");

  auto* show = app.add_subcommand("show", "show an item and its per-channel delivery status");
  std::string id;
  show->add_option("id", id, "item id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (conn.token.empty()) {
    std::cerr << "heraldctl: no token (use --token or HERALD_TOKEN)\n";
    return 2;
  }

  json out;
  if (*submit) {
    std::stringstream body;
    if (file == "-") {
      body << std::cin.rdbuf();
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << "heraldctl: cannot read " << file << "\n";
        return 2;
      }
      body << in.rdbuf();
    }
    int rc = call(conn, "POST", "/v1/items", body.str(), out, idempotency_key);
    if (rc != 0) return rc;
    if (as_json)
      std::cout << out.dump(2) << "\n";
    else
      std::cout << out.value("id", "") << " " << out.value("state", "") << "\n";
    return 0;
  }
  if (*show) {
    int rc = call(conn, "GET", "/v1/items/" + id, "", out);
    if (rc != 0) return rc;
    if (as_json)
      std::cout << out.dump(2) << "\n";
    else
      print_item(out);
    return 0;
  }
  return 2;
}
