// HttpServer: a small HTTP/1.1 server (Boost.Beast, kept in http_server.cpp alone so Beast is
// compiled once) that hands each request to a handler on a worker pool, never on the I/O thread.
// Used by heraldd (one server for the API, another for the public feeds) and herald-sim (the
// platforms).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace herald {

struct ServerRequest {
  std::string method;  // "GET", "POST", ...; a HEAD request arrives as "GET" (the body is dropped)
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded path without the query
  std::map<std::string, std::string> query;  // percent-decoded, '+' as space; first of repeats
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;

  // First header with this lower-case name, or "".
  std::string header(const std::string& lower_name) const;
};

// The source of a response that stays open and sends text as it comes (server-sent events). The
// server calls next() on the handler pool every `interval` (the first time at once): it answers
// the text to send now ("" for nothing this time) or nullopt to end the response. next() must
// bound its own blocking, as a handler does.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual std::optional<std::string> next() = 0;
  std::chrono::milliseconds interval{1000};
};

struct ServerResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For simulators: wait this long (on a timer, no thread is held) before answering, and/or close
  // the connection instead of answering, as a platform that stalls or drops a request would.
  std::chrono::milliseconds delay{0};
  bool close_without_response = false;
  // Set: `body` is ignored and the answer is streamed from here, without a length, until the
  // source ends, the client goes away or the server stops; the connection closes after it.
  std::shared_ptr<ResponseStream> stream;

  // {"error": {"code": code, "message": message, "field": field?}} with the given status.
  static ServerResponse error(int status, const std::string& code, const std::string& message,
                              const std::string& field = "");
  static ServerResponse json(int status, const std::string& json_text);
};

using RequestHandler = std::function<ServerResponse(const ServerRequest&)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";        // host:port; port 0 picks a free one (see port())
  std::size_t max_body_bytes = 1024 * 1024;  // larger → 413 before the handler runs
  // Paths (exactly as sent, without the query) whose bodies have their own cap instead of
  // max_body_bytes, e.g. a bulk route; checked once the headers are in, before any body is read.
  std::vector<std::pair<std::string, std::size_t>> max_body_bytes_by_path;
  std::size_t max_header_bytes = 16 * 1024;
  // The request line and headers must arrive within header_timeout of their first byte (of the
  // connection, for its first request), so a client trickling headers (slowloris) is dropped
  // early; the body then has read_timeout, which also bounds writing the answer.
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};  // keep-alive connection with no request
  // Connections beyond this get a 503 {"error":{"code":"busy"}} with Retry-After and are closed
  // (after a short linger so the client reads it), never left hanging. The refusal is written by
  // the I/O thread: no handler thread is spent on it.
  std::size_t max_connections = 256;
  // At most this many open connections from one client address (0: no limit), so that one address
  // cannot take all of max_connections; beyond it the same 503 (code "busy_client").
  std::size_t max_connections_per_client = 0;
  // Streamed responses open at once: each holds a connection and polls on the handler pool, so
  // they are capped apart; beyond it the same 503 (code "busy_streams").
  std::size_t max_streams = 64;
  int io_threads = 1;
  int handler_threads = 4;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler);
  ~HttpServer();  // stops if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. Error if the address is bad or taken.
  Result<void> start();
  int port() const;  // the bound port (useful with port 0)
  // Stops accepting, lets in-flight handlers finish and their answers go out (up to `drain`),
  // closes connections and joins the threads. A handler still running after `drain` is waited for
  // (a thread cannot be cancelled) but its answer is dropped. Idempotent; the destructor calls it.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(5000));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
