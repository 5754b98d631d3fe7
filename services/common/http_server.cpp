// The Beast side of HttpServer: a listener that accepts on its own strand and one session per
// connection on its own strand, reading with a deadline and handing each request to a worker pool.
#include "services/common/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/utf8.h"
#include "services/common/run_guarded.h"

namespace herald {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// A JSON string literal. Written out here rather than with nlohmann/json, which would add
// noticeably to the compile time of this already heavy translation unit.
std::string json_string(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Messages may quote a platform's answer; JSON must be UTF-8 whatever it sent.
  const std::string text = to_valid_utf8(raw);
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Bytes read while waiting for the first byte of a keep-alive request (see Session::await_request).
constexpr std::size_t kIdleReadChunk = 4096;
// After an answer that ends the connection, unread input is discarded for at most this long so the
// client reads our answer instead of a reset.
constexpr std::chrono::milliseconds kLingerTimeout{1000};
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// Refusals still writing their 503 or lingering, at most; beyond this a refused connection is
// closed at once, so a flood of reconnects cannot make the refusals themselves hold thousands of
// descriptors.
constexpr std::size_t kMaxLingeringRefusals = 256;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Malformed escapes are kept as they are: a handler sees them and can answer 400 or 404.
std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "host:port", "[v6]:port" or ":port" (all interfaces).
Result<tcp::endpoint> parse_listen(const std::string& listen) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Error::invalid("listen", "listen address '" + listen + "' is not host:port");
  }
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Error::invalid("listen", "listen address '" + listen + "' has a bad port");
  }
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    // A name (e.g. "localhost"): resolve it once, at start-up.
    asio::io_context resolver_context;
    tcp::resolver resolver(resolver_context);
    auto results = resolver.resolve(host, port_text, ec);
    if (ec || results.empty()) {
      return Error::invalid("listen", "cannot resolve listen host '" + host +
                                          "': " + (ec ? ec.message() : std::string("no address")));
    }
    return results.begin()->endpoint();
  }
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

class Session;

// What the listener, the sessions and the pool tasks share. Sessions hold it by shared_ptr so it
// outlives the last of them, wherever that one is destroyed.
struct ServerState {
  ServerState(HttpServerOptions opts, RequestHandler h)
      : options(std::move(opts)), handler(std::move(h)) {}

  HttpServerOptions options;
  RequestHandler handler;
  std::optional<asio::thread_pool::executor_type> pool;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> refusals{0};  // BusyRejection objects alive
  std::atomic<std::size_t> streams{0};   // streamed responses open (options.max_streams)

  // Open connections per client address, for max_connections_per_client. Taken by the acceptor
  // and given back by a session's destructor, on whichever thread that runs.
  std::mutex clients_mutex;
  std::unordered_map<std::string, std::size_t> per_client;

  // Counts a connection from `address`; false (nothing counted) when it already has its share.
  bool admit_client(const std::string& address) {
    if (options.max_connections_per_client == 0) return true;
    std::lock_guard lock(clients_mutex);
    std::size_t& open = per_client[address];
    if (open >= options.max_connections_per_client) return false;
    ++open;
    return true;
  }
  void release_client(const std::string& address) {
    if (options.max_connections_per_client == 0) return;
    std::lock_guard lock(clients_mutex);
    auto it = per_client.find(address);
    if (it != per_client.end() && --it->second == 0) per_client.erase(it);
  }

  std::mutex mutex;
  std::condition_variable drained;
  std::size_t in_flight = 0;  // requests handed to the pool whose answer is not written yet
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  // False once stop() began: the new session must close instead of serving.
  bool add_session(Session* session, std::weak_ptr<Session> weak) {
    std::lock_guard lock(mutex);
    if (stopping) return false;
    sessions.emplace(session, std::move(weak));
    return true;
  }
  void remove_session(Session* session) {
    std::lock_guard lock(mutex);
    sessions.erase(session);
  }
  void begin_request() {
    std::lock_guard lock(mutex);
    ++in_flight;
  }
  void end_request() {
    std::lock_guard lock(mutex);
    if (--in_flight == 0) drained.notify_all();
  }

  ServerResponse run_handler(const ServerRequest& request) {
    try {
      return handler(request);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed on {} {}: {}", request.method, request.path, e.what());
    } catch (...) {
      spdlog::error("http: handler failed on {} {}: unknown exception", request.method,
                    request.path);
    }
    return ServerResponse::error(500, "internal", "internal error while handling the request");
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `client` is the remote address, already counted by state->admit_client().
  Session(tcp::socket socket, std::shared_ptr<ServerState> state, std::string client)
      : executor_(socket.get_executor()),
        stream_(std::move(socket)),
        timer_(executor_),
        state_(std::move(state)),
        remote_address_(std::move(client)) {
    ++state_->connections;
  }

  ~Session() {
    if (counted_) state_->end_request();
    if (streaming_) --state_->streams;
    state_->remove_session(this);
    state_->release_client(remote_address_);
    --state_->connections;
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    if (!state_->add_session(this, weak_from_this())) {
      beast::error_code ec;
      stream_.socket().close(ec);
      return;
    }
    asio::dispatch(executor_, [self = shared_from_this()] { self->read_header(); });
  }

  // From stop(): ends whatever the session waits for (read, timer, write).
  void force_close() {
    asio::post(executor_, [self = shared_from_this()] {
      self->closed_ = true;
      self->timer_.cancel();
      self->stream_.close();
    });
  }

 private:
  // Between keep-alive requests the connection may sit idle for idle_timeout; once the first byte
  // of a request is here, the whole request must arrive within read_timeout.
  void await_request() {
    if (closed_ || state_->stopping) return close_now();
    if (buffer_.size() > 0) return read_header();
    stream_.expires_after(state_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kIdleReadChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->close_now();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  // The body cap of a request for `target` (path and query, as sent).
  std::size_t body_limit_for(beast::string_view sent) const {
    const std::string_view target(sent.data(), sent.size());
    const std::string_view path = target.substr(0, target.find('?'));
    for (const auto& [route, limit] : state_->options.max_body_bytes_by_path) {
      if (path == route) return limit;
    }
    return state_->options.max_body_bytes;
  }

  void read_header() {
    parser_.emplace();
    // The largest cap until the path is known (on_header narrows it): the parser refuses a
    // Content-Length over its limit while it reads the headers.
    std::size_t largest = state_->options.max_body_bytes;
    for (const auto& route : state_->options.max_body_bytes_by_path) {
      largest = std::max(largest, route.second);
    }
    parser_->body_limit(largest);
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(state_->options.max_header_bytes, UINT32_MAX)));
    stream_.expires_after(state_->options.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& request = parser_->get();
    const std::size_t limit = body_limit_for(request.target());
    if (const auto length = parser_->content_length(); length && *length > limit) {
      return on_read_error(http::error::body_limit);
    }
    parser_->body_limit(limit);  // no body octet is parsed yet
    if (!parser_->is_done() && request.version() >= 11 &&
        beast::iequals(request[http::field::expect], "100-continue")) {
      // Clients such as curl wait for this before sending a larger body.
      continue_.emplace(http::status::continue_, request.version());
      http::async_write(stream_, *continue_,
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          if (write_ec) return self->close_now();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return on_request();
    stream_.expires_after(state_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->on_read_error(ec);
                       self->on_request();
                     });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return send_error(ServerResponse::error(
          413, "body_too_large",
          "request body exceeds " + std::to_string(body_limit_for(parser_->get().target())) +
              " bytes"));
    }
    if (ec == http::error::header_limit) {
      return send_error(ServerResponse::error(
          431, "headers_too_large",
          "request headers exceed " + std::to_string(state_->options.max_header_bytes) + " bytes"));
    }
    // Anything but a parse error (timeout, reset, end of stream) leaves nobody to answer.
    static const boost::system::error_category& kHttpErrors =
        http::make_error_code(http::error::bad_method).category();
    if (ec.category() != kHttpErrors || ec == http::error::end_of_stream ||
        ec == http::error::partial_message) {
      return close_now();
    }
    send_error(
        ServerResponse::error(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }

  void on_request() {
    http::request<http::string_body> request = parser_->release();
    parser_.reset();
    keep_alive_ = request.keep_alive();
    head_ = request.method() == http::verb::head;
    version_ = request.version();

    ServerRequest out;
    out.method = head_ ? std::string("GET") : std::string(request.method_string());
    out.target = std::string(request.target());
    std::string_view target = request.target();
    std::size_t question = target.find('?');
    out.path = percent_decode(target.substr(0, question), false);
    if (question != std::string_view::npos) out.query = parse_query(target.substr(question + 1));
    for (const auto& field : request) {
      out.headers.emplace_back(to_lower(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(request.body());
    out.remote_address = remote_address_;

    counted_ = true;
    state_->begin_request();
    asio::post(*state_->pool, [self = shared_from_this(), request = std::move(out)] {
      ServerResponse response = self->state_->run_handler(request);
      asio::post(self->executor_, [self, response = std::move(response)]() mutable {
        self->answer(std::move(response));
      });
    });
  }

  void answer(ServerResponse response) {
    if (closed_) return finish_request();
    if (response.delay.count() > 0) {
      std::chrono::milliseconds delay = response.delay;
      response.delay = std::chrono::milliseconds(0);
      if (response.close_without_response) finish_request();  // nothing to drain for
      timer_.expires_after(delay);
      timer_.async_wait([self = shared_from_this(),
                         response = std::move(response)](beast::error_code ec) mutable {
        if (ec) {
          self->finish_request();
          return self->close_now();
        }
        self->answer(std::move(response));
      });
      return;
    }
    if (response.close_without_response) {
      finish_request();
      return close_now();
    }
    if (response.stream) return start_stream(std::move(response));
    write(std::move(response), keep_alive_ && !state_->stopping);
  }

  // A streamed answer: the head without a length (the connection's close ends the body), then
  // what the source gives, one write at a time. Each write has read_timeout, as any answer does.
  void start_stream(ServerResponse response) {
    if (head_ || response.status != 200) {
      response.stream.reset();
      return write(std::move(response), false);
    }
    if (state_->streams.fetch_add(1) >= state_->options.max_streams) {
      --state_->streams;
      auto busy = ServerResponse::error(503, "busy_streams",
                                        "too many open streams; try again in a moment");
      busy.headers.emplace_back("Retry-After", "1");
      return write(std::move(busy), false);
    }
    streaming_ = true;
    stream_source_ = std::move(response.stream);
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: " + response.content_type +
                       "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
    for (const auto& [name, value] : response.headers) {
      if (beast::iequals(name, "content-length") || beast::iequals(name, "content-type") ||
          beast::iequals(name, "connection") || beast::iequals(name, "cache-control")) {
        continue;
      }
      head += name + ": " + value + "\r\n";
    }
    head += "\r\n";
    // Answered as far as stop() is concerned: it closes a stream rather than waiting for its end.
    finish_request();
    watch_for_hangup();
    send_stream_text(std::move(head), std::chrono::milliseconds(0));
  }

  // A stream's client sends nothing after its request: the socket turning readable means it
  // closed (or misbehaves), so the stream ends at once instead of at its next failed write.
  void watch_for_hangup() {
    stream_.socket().async_wait(tcp::socket::wait_read,
                                [self = shared_from_this()](beast::error_code) {
                                  if (!self->closed_) self->close_now();
                                });
  }

  void send_stream_text(std::string text, std::chrono::milliseconds then) {
    stream_text_ = std::move(text);
    stream_.expires_after(state_->options.read_timeout);
    asio::async_write(stream_, asio::buffer(stream_text_),
                      [self = shared_from_this(), then](beast::error_code ec, std::size_t) {
                        if (ec || self->closed_) return self->close_now();
                        self->wait_stream(then);
                      });
  }

  void wait_stream(std::chrono::milliseconds delay) {
    if (closed_ || state_->stopping) return close_now();
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_ || self->state_->stopping) return self->close_now();
      self->poll_stream();
    });
  }

  // next() may block (it reads storage): it runs on the handler pool, never on the I/O thread.
  void poll_stream() {
    asio::post(*state_->pool, [self = shared_from_this()] {
      std::optional<std::string> text;
      try {
        text = self->stream_source_->next();
      } catch (const std::exception& e) {
        spdlog::error("http: stream source failed: {}", e.what());
      }
      asio::post(self->executor_, [self, text = std::move(text)]() mutable {
        const auto interval = self->stream_source_->interval;
        if (!text || self->closed_) return self->close_now();
        if (text->empty()) return self->wait_stream(interval);
        self->send_stream_text(std::move(*text), interval);
      });
    });
  }

  // Answers a request the handler never saw; the connection ends after it.
  void send_error(ServerResponse response) {
    version_ = 11;
    head_ = false;
    write(std::move(response), false);
  }

  void write(ServerResponse response, bool keep_alive) {
    response_.emplace();
    auto& message = *response_;
    message.version(version_);
    bool valid_status = response.status >= 100 && response.status <= 599;
    if (!valid_status) spdlog::error("http: handler answered status {}", response.status);
    message.result(valid_status ? static_cast<unsigned>(response.status) : 500U);
    message.set(http::field::content_type, response.content_type.empty()
                                               ? std::string("application/octet-stream")
                                               : response.content_type);
    for (auto& [name, value] : response.headers) {
      if (beast::iequals(name, "content-length")) continue;
      if (beast::iequals(name, "content-type")) {
        message.set(http::field::content_type, value);
      } else {
        message.insert(name, value);
      }
    }
    std::size_t body_size = response.body.size();
    if (!head_) message.body() = std::move(response.body);
    message.keep_alive(keep_alive);
    message.content_length(body_size);  // HEAD: the size a GET would have sent, and no body
    stream_.expires_after(state_->options.read_timeout);
    http::async_write(stream_, message,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        self->response_.reset();
                        self->finish_request();
                        if (ec) return self->close_now();
                        if (!keep_alive) return self->linger_close();
                        self->await_request();
                      });
  }

  void finish_request() {
    if (!counted_) return;
    counted_ = false;
    state_->end_request();
  }

  // Half-close and discard what the client still sends, so it reads our answer, not a reset.
  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    stream_.expires_after(kLingerTimeout);
    discard_input();
  }

  void discard_input() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(kIdleReadChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec || self->closed_) return self->close_now();
                              self->discard_input();
                            });
  }

  void close_now() {
    closed_ = true;
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  asio::any_io_executor executor_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  std::shared_ptr<ResponseStream> stream_source_;
  std::string stream_text_;  // what the stream's write in progress sends
  std::string remote_address_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool counted_ = false;  // this session holds one of state_->in_flight
  bool closed_ = false;
  bool streaming_ = false;  // this session holds one of state_->streams
};

std::string busy_answer(std::string_view code, std::string_view message) {
  const std::string body = R"({"error":{"code":")" + std::string(code) + R"(","message":")" +
                           std::string(message) + R"("}})";
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Answers a connection beyond max_connections (or beyond its address's share) with 503 and closes
// it, so the client learns why instead of waiting or seeing a bare reset. Nothing of the request
// is parsed; input is drained for a moment after the answer (as Session::linger_close does) so the
// answer is read.
class BusyRejection : public std::enable_shared_from_this<BusyRejection> {
 public:
  BusyRejection(tcp::socket socket, std::shared_ptr<ServerState> state, bool per_client)
      : stream_(std::move(socket)), state_(std::move(state)), per_client_(per_client) {
    ++state_->refusals;
  }
  ~BusyRejection() { --state_->refusals; }
  BusyRejection(const BusyRejection&) = delete;
  BusyRejection& operator=(const BusyRejection&) = delete;

  void start() {
    static const std::string kBusy =
        busy_answer("busy", "too many open connections, try again shortly");
    static const std::string kBusyClient = busy_answer(
        "busy_client", "too many open connections from your address, try again shortly");
    stream_.expires_after(kLingerTimeout);
    asio::async_write(stream_, asio::buffer(per_client_ ? kBusyClient : kBusy),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        beast::error_code ignored;
                        if (ec) return self->stream_.socket().close(ignored);
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->stream_.expires_after(kLingerTimeout);
                        self->discard();
                      });
  }

 private:
  void discard() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) return self->discard();
                              beast::error_code ignored;
                              self->stream_.socket().close(ignored);
                            });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerState> state_;
  bool per_client_;
  std::array<char, 1024> scratch_{};
};

}  // namespace

std::string ServerRequest::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

ServerResponse ServerResponse::error(int status, const std::string& code,
                                     const std::string& message, const std::string& field) {
  std::string body =
      R"({"error":{"code":)" + json_string(code) + R"(,"message":)" + json_string(message);
  if (!field.empty()) body += R"(,"field":)" + json_string(field);
  body += "}}";
  return json(status, body);
}

ServerResponse ServerResponse::json(int status, const std::string& json_text) {
  ServerResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = json_text;
  return response;
}

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions options, RequestHandler handler)
      : state(std::make_shared<ServerState>(std::move(options), std::move(handler))),
        acceptor(asio::make_strand(io)),
        accept_retry(acceptor.get_executor()) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || state->stopping) return;
        // Out of descriptors and the like: try again shortly instead of spinning.
        spdlog::warn("http: accept failed: {}", ec.message());
        accept_retry.expires_after(kAcceptRetryDelay);
        accept_retry.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && !state->stopping) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    beast::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (state->stopping || ec) {
      socket.close(ec);
      return;
    }
    std::string client = endpoint.address().to_string();
    const bool full = state->connections >= state->options.max_connections;
    if (!full && state->admit_client(client)) {
      std::make_shared<Session>(std::move(socket), state, std::move(client))->start();
    } else if (state->refusals >= kMaxLingeringRefusals) {
      socket.close(ec);  // the cheapest refusal of all, for a flood
    } else {
      std::make_shared<BusyRejection>(std::move(socket), state, !full)->start();
    }
  }

  // A handler that throws out of io.run() is logged and the loop run again at once: the other
  // connections' state lives in the io_context, which survives it.
  void run_io() {
    run_guarded(
        "http I/O", [this] { io.run(); }, [](const ThreadFailure&) { return AfterThrow::restart; });
  }

  std::shared_ptr<ServerState> state;
  asio::io_context io;  // declared before what uses it, so it is destroyed after them
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<asio::thread_pool> pool;
  std::vector<std::thread> io_threads;
  int port = 0;
  bool started = false;
  bool stopped = false;
};

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  stop();
}

Result<void> HttpServer::start() {
  Impl& impl = *impl_;
  if (impl.started) return Error::permanent("http server already started");
  const HttpServerOptions& options = impl.state->options;
  Result<tcp::endpoint> endpoint = parse_listen(options.listen);
  if (!endpoint) return endpoint.error();

  beast::error_code ec;
  impl.acceptor.open(endpoint->protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(*endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Error error = Error::permanent("cannot listen on " + options.listen + ": " + ec.message());
    error.field = "listen";
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    return error;
  }
  impl.port = impl.acceptor.local_endpoint().port();
  impl.started = true;

  impl.pool.emplace(static_cast<std::size_t>(std::max(1, options.handler_threads)));
  impl.state->pool = impl.pool->get_executor();
  impl.work.emplace(impl.io.get_executor());
  asio::dispatch(impl.acceptor.get_executor(), [&impl] { impl.accept(); });
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    impl.io_threads.emplace_back([&impl] { impl.run_io(); });
  }
  return ok();
}

int HttpServer::port() const {
  return impl_->port;
}

void HttpServer::stop(std::chrono::milliseconds drain) {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  ServerState& state = *impl.state;
  {
    std::lock_guard lock(state.mutex);
    state.stopping = true;
  }
  asio::post(impl.acceptor.get_executor(), [&impl] {
    beast::error_code ec;
    impl.acceptor.close(ec);
    impl.accept_retry.cancel();
  });

  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::unique_lock lock(state.mutex);
    state.drained.wait_for(lock, drain, [&state] { return state.in_flight == 0; });
    for (auto& [raw, weak] : state.sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  for (auto& session : sessions) session->force_close();
  sessions.clear();

  // With the acceptor and every socket closed the I/O threads run out of work and return.
  impl.work.reset();
  for (auto& thread : impl.io_threads) thread.join();
  impl.io_threads.clear();
  // Handlers not started yet are dropped; one still running is waited for.
  impl.pool->stop();
  impl.pool->join();
}

}  // namespace herald
