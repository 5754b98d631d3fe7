#include "services/heraldctl/client.h"

#include "adapters/url.h"

#include <cstdio>
#include <iostream>

namespace herald::ctl {
namespace {

using nlohmann::json;

// "word 'x' in body at 12; ..." from a gate refusal's details, so the drafter sees what to change.
std::string describe_details(const json& details) {
  std::string out;
  for (const auto& d : details) {
    if (!d.is_object()) continue;
    out += "\n  ";
    if (d.contains("word")) {
      out += "'" + d.value("word", "") + "'";
      if (d.contains("field")) out += " in " + d.value("field", "");
      if (d.contains("position") && d["position"].is_number()) {
        out += " at " + std::to_string(d["position"].get<long long>());
      }
    } else if (d.contains("message")) {
      // Import problems: {"row", "line", "column", "message"}.
      if (d.contains("row")) out += "row " + d["row"].dump();
      if (d.contains("column") && d["column"].is_string() &&
          !d["column"].get<std::string>().empty()) {
        out += ", column " + d["column"].get<std::string>();
      }
      if (d.contains("row")) out += ": ";
      out += d.value("message", "");
    } else {
      out += d.dump();
    }
  }
  return out;
}

Error server_error(const std::string& what, const ApiReply& reply) {
  const long status = reply.status;
  ErrorKind kind = ErrorKind::invalid_input;
  if (status >= 500 || status == 408 || status == 429) {
    kind = ErrorKind::retryable;
  } else if (status == 401 || status == 403) {
    kind = ErrorKind::credentials;
  }
  std::string message = what + " answered " + std::to_string(status);
  std::string code;
  std::string field;
  const json& j = reply.json;
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    code = e.value("code", "");
    field = e.value("field", "");
    if (!code.empty()) message += " " + code;
    message += ": " + e.value("message", std::string("(no message)"));
    if (!field.empty()) message += " (field " + field + ")";
    if (e.contains("details") && e["details"].is_array()) {
      const std::string details = describe_details(e["details"]);  // a line per detail
      message += details;
    }
  } else if (!reply.body.empty()) {
    message += ": " + body_excerpt(reply.body);
  }
  Error error(kind, std::move(message), std::move(field));
  error.code = std::move(code);
  return error;
}

}  // namespace

int exit_code_for(const Error& error) {
  switch (error.kind) {
    case ErrorKind::retryable:
    case ErrorKind::ambiguous:
    case ErrorKind::deferred:
      return kExitRuntime;
    case ErrorKind::credentials:
    case ErrorKind::permanent:
    case ErrorKind::invalid_input:
      return kExitUsage;
  }
  return kExitRuntime;
}

int report_failure(const Error& error) {
  std::cerr << "heraldctl: " << error.message << "\n";
  return exit_code_for(error);
}

Error usage_error(std::string message, std::string field) {
  Error error(ErrorKind::invalid_input, std::move(message), std::move(field));
  error.code = "usage";
  return error;
}

std::string query_string(const Query& query) {
  std::string out;
  for (const auto& [name, value] : query) {
    if (value.empty()) continue;
    out += out.empty() ? "?" : "&";
    out += form_escape(name) + "=" + form_escape(value);
  }
  return out;
}

ApiClient::ApiClient(ConnectionOptions options) : options_(std::move(options)) {
  while (!options_.server.empty() && options_.server.back() == '/') options_.server.pop_back();
}

Result<ApiReply> ApiClient::call(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& content_type,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpRequest request;
  request.method = method;
  request.url = options_.server + path;
  request.body = body;
  request.total_timeout = options_.timeout;
  request.connect_timeout = std::min(options_.timeout, std::chrono::milliseconds(5000));
  request.headers = {{"Authorization", "Bearer " + options_.token}, {"Accept", "application/json"}};
  if (!body.empty()) request.headers.emplace_back("Content-Type", content_type);
  for (const auto& header : headers) request.headers.push_back(header);

  // Path without the query: short enough for a message, and never carries the token.
  const std::string what = method + " " + path.substr(0, path.find('?'));
  auto response = http_.send(request);
  if (!response) {
    // HttpClient says retryable for DNS, connect and timeouts, permanent for a malformed URL.
    Error error = response.error();
    error.message =
        "cannot reach heraldd at " + options_.server + " (" + what + "): " + error.message;
    return error;
  }
  ApiReply reply;
  reply.status = response->status;
  reply.body = std::move(response->body);
  reply.content_type = response->header("content-type");
  if (!reply.body.empty()) {
    reply.json = json::parse(reply.body, nullptr, false);
    if (reply.json.is_discarded()) reply.json = nullptr;
  }
  if (reply.status < 200 || reply.status > 299) return server_error(what, reply);
  return reply;
}

Result<json> ApiClient::call_json(const std::string& method, const std::string& path,
                                  const json* body,
                                  const std::vector<std::pair<std::string, std::string>>& headers) {
  auto reply = call(method, path, body ? body->dump() : std::string(), "application/json", headers);
  if (!reply) return reply.error();
  if (!reply->json.is_object()) {
    return Error::retryable(method + " " + path.substr(0, path.find('?')) + " answered " +
                            std::to_string(reply->status) +
                            " without a JSON object: " + body_excerpt(reply->body));
  }
  return std::move(reply->json);
}

Result<json> ApiClient::get_pages(const std::string& path, Query query, const std::string& list_key,
                                  bool all, const std::string& first_cursor) {
  json collected = json::array();
  json cursor = nullptr;
  query.emplace_back("cursor", first_cursor);
  for (;;) {
    auto page = call_json("GET", path + query_string(query));
    if (!page) return page.error();
    if (!page->contains(list_key) || !(*page)[list_key].is_array()) {
      return Error::retryable("GET " + path + " answered without a \"" + list_key + "\" array");
    }
    for (auto& element : (*page)[list_key]) collected.push_back(std::move(element));
    cursor = page->value("next_cursor", json(nullptr));
    if (!all || !cursor.is_string() || cursor.get<std::string>().empty()) break;
    query.back().second = cursor.get<std::string>();
  }
  if (cursor.is_string() && cursor.get<std::string>().empty()) cursor = nullptr;
  return json{{list_key, std::move(collected)}, {"next_cursor", cursor}};
}

}  // namespace herald::ctl
