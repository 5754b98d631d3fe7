#include "services/herald-sim/smtp_sink.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

namespace herald::sim {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// RFC 5321 §4.5.3.1: command lines up to 512 octets, text lines up to 1000; we allow some slack
// but never an unbounded line.
constexpr std::size_t kMaxLine = 4096;
constexpr std::size_t kMaxMessageBytes = 10 * 1024 * 1024;
constexpr std::size_t kMaxRecipients = 100;
constexpr int kMaxBadCommands = 10;
constexpr std::size_t kMaxSessions = 64;
constexpr std::chrono::seconds kIdleTimeout{30};

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Skips whitespace and stops at '='; good enough for a receiver that reports what it got.
std::string base64_decode(std::string_view text) {
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    int value = base64_value(c);
    if (value < 0) continue;
    bits = (bits << 6) | static_cast<unsigned>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quoted-printable (RFC 2045 §6.7); `header` also turns '_' into a space (RFC 2047 "Q").
std::string qp_decode(std::string_view text, bool header) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else if (c == '=' && i + 1 < text.size() && (text[i + 1] == '\r' || text[i + 1] == '\n')) {
      i += text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n' ? 2 : 1;  // soft break
    } else if (header && c == '_') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// RFC 2047: "=?charset?B|Q?text?=" words decoded (the sink assumes the bytes are UTF-8 and keeps
// them), whitespace between two adjacent encoded words dropped (§6.2), other text kept.
std::string decode_header_value(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  bool last_was_word = false;
  std::string pending_space;
  while (i < value.size()) {
    if (value.compare(i, 2, "=?") == 0) {
      std::size_t q1 = value.find('?', i + 2);
      std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
      std::size_t end = q2 == std::string_view::npos ? q2 : value.find("?=", q2 + 1);
      if (end != std::string_view::npos && q2 == q1 + 2) {
        const char encoding =
            static_cast<char>(std::toupper(static_cast<unsigned char>(value[q1 + 1])));
        const std::string_view text = value.substr(q2 + 1, end - q2 - 1);
        if (encoding == 'B' || encoding == 'Q') {
          if (!last_was_word) out += pending_space;
          pending_space.clear();
          out += encoding == 'B' ? base64_decode(text) : qp_decode(text, true);
          last_was_word = true;
          i = end + 2;
          continue;
        }
      }
    }
    const char c = value[i++];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (c == ' ' || c == '\t') pending_space += c;
      continue;
    }
    out += pending_space;
    pending_space.clear();
    out += c;
    last_was_word = false;
  }
  return out;
}

std::string to_lf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

// Splits the received text into headers and body and decodes what tests want to compare.
SmtpSink::Message parse_message(const std::string& data) {
  SmtpSink::Message message;
  message.size = data.size();
  std::size_t split = data.find("\r\n\r\n");
  const std::size_t body_start = split == std::string::npos ? data.size() : split + 4;
  message.raw_headers = data.substr(0, split == std::string::npos ? data.size() : split + 2);
  std::string current;
  auto flush = [&] {
    const std::size_t colon = current.find(':');
    if (colon != std::string::npos) {
      message.headers.emplace_back(lower(trim(current.substr(0, colon))),
                                   std::string(trim(std::string_view(current).substr(colon + 1))));
    }
    current.clear();
  };
  std::size_t start = 0;
  while (start < message.raw_headers.size()) {
    std::size_t end = message.raw_headers.find("\r\n", start);
    if (end == std::string::npos) end = message.raw_headers.size();
    std::string_view line(message.raw_headers.data() + start, end - start);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      current += line;  // unfolding: the CRLF goes, the whitespace stays (RFC 5322 §2.2.3)
    } else {
      flush();
      current = std::string(line);
    }
    start = end + 2;
  }
  flush();
  std::string encoding;
  for (const auto& [header, value] : message.headers) {
    if (header == "subject" && message.subject.empty())
      message.subject = decode_header_value(value);
    if (header == "message-id" && message.message_id.empty()) message.message_id = value;
    if (header == "content-transfer-encoding" && encoding.empty()) encoding = lower(value);
  }
  const std::string_view body = std::string_view(data).substr(body_start);
  if (encoding == "base64") {
    message.body = to_lf(base64_decode(body));
  } else if (encoding == "quoted-printable") {
    message.body = to_lf(qp_decode(body, false));
  } else {
    message.body = to_lf(body);
  }
  return message;
}

// "<address>" possibly followed by ESMTP parameters; nullopt when there are no angle brackets.
std::optional<std::string> path_address(std::string_view argument) {
  argument = trim(argument);
  if (argument.empty() || argument.front() != '<') return std::nullopt;
  const std::size_t close = argument.find('>');
  if (close == std::string_view::npos) return std::nullopt;
  std::string address(argument.substr(1, close - 1));
  if (address.find_first_of(" \t<") != std::string::npos) return std::nullopt;
  return address;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, SmtpSink& sink, std::atomic<std::size_t>& sessions)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        sink_(sink),
        sessions_(sessions) {
    ++sessions_;
  }
  ~Session() { --sessions_; }

  void start(bool busy) {
    if (busy) {
      reply("421 4.3.2 herald-sim too busy, try later");
      closing_ = true;
    } else {
      reply("220 herald-sim ESMTP sink ready (no STARTTLS, no AUTH)");
    }
    flush();
  }

 private:
  void reply(const std::string& line) { out_ += line + "\r\n"; }

  // Sends what the handled lines answered, then reads on (or closes).
  void flush() {
    if (out_.empty()) {
      read();
      return;
    }
    writing_ = std::move(out_);
    out_.clear();
    arm_timer();
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        if (self->closing_) return self->close();
                        self->process();
                      });
  }

  void read() {
    arm_timer();
    socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                      boost::system::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->in_.append(self->chunk_.data(), n);
      self->process();
    });
  }

  void arm_timer() {
    timer_.expires_after(kIdleTimeout);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;  // re-armed or cancelled
      if (auto self = weak.lock()) {
        // Best effort: the client is idle, so a short blocking write cannot stall the loop long.
        boost::system::error_code ignored;
        asio::write(self->socket_, asio::buffer(std::string("421 4.4.2 idle timeout\r\n")),
                    ignored);
        self->close();
      }
    });
  }

  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // Handles every complete line in the buffer; answers are sent together afterwards (a client
  // that pipelines anyway gets its answers in order).
  void process() {
    if (closing_) return;
    while (!closing_) {
      const std::size_t end = in_.find('\n');
      if (end == std::string::npos) break;
      std::string line = in_.substr(0, end);
      in_.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() > kMaxLine) {
        reply("500 5.5.2 line too long");
        closing_ = true;
        break;
      }
      if (in_data_) {
        data_line(line);
      } else {
        command(line);
      }
    }
    if (!closing_ && in_.size() > kMaxLine) {
      reply("500 5.5.2 line too long");
      closing_ = true;
    }
    flush();
  }

  void reset_transaction() {
    mail_from_.reset();
    recipients_.clear();
    rcpt_seen_ = false;
    in_data_ = false;
    data_.clear();
    too_big_ = false;
  }

  void bad_command(const std::string& answer) {
    reply(answer);
    if (++bad_commands_ >= kMaxBadCommands) {
      reply("421 4.7.0 too many errors, closing");
      closing_ = true;
    }
  }

  void command(const std::string& line) {
    const std::size_t space = line.find(' ');
    const std::string verb = upper(line.substr(0, space));
    const std::string argument = space == std::string::npos ? "" : line.substr(space + 1);
    if (verb == "EHLO" || verb == "HELO") {
      if (trim(argument).empty()) return bad_command("501 5.5.4 give your host name");
      reset_transaction();
      greeted_ = true;
      if (verb == "HELO") return reply("250 herald-sim");
      reply("250-herald-sim greets " + std::string(trim(argument)));
      reply("250-8BITMIME");
      reply("250 SIZE " + std::to_string(kMaxMessageBytes));
      return;
    }
    if (verb == "NOOP") return reply("250 2.0.0 OK");
    if (verb == "RSET") {
      reset_transaction();
      return reply("250 2.0.0 OK");
    }
    if (verb == "QUIT") {
      reply("221 2.0.0 bye");
      closing_ = true;
      return;
    }
    if (verb == "MAIL") {
      if (!greeted_) return bad_command("503 5.5.1 send EHLO or HELO first");
      if (mail_from_) return bad_command("503 5.5.1 nested MAIL command");
      if (upper(argument.substr(0, 5)) != "FROM:")
        return bad_command("501 5.5.4 MAIL FROM:<address>");
      auto address = path_address(std::string_view(argument).substr(5));
      if (!address) return bad_command("501 5.1.7 bad sender address syntax");
      mail_from_ = *address;
      return reply("250 2.1.0 sender OK");
    }
    if (verb == "RCPT") {
      if (!mail_from_) return bad_command("503 5.5.1 need MAIL before RCPT");
      if (upper(argument.substr(0, 3)) != "TO:") return bad_command("501 5.5.4 RCPT TO:<address>");
      auto address = path_address(std::string_view(argument).substr(3));
      if (!address || address->empty())
        return bad_command("501 5.1.3 bad recipient address syntax");
      rcpt_seen_ = true;
      if (recipients_.size() >= kMaxRecipients) return reply("452 4.5.3 too many recipients");
      const int refused = sink_.faults().smtp_rcpt_reply(*address);
      if (refused != 0) {
        sink_.record_refusal({*address, refused});
        return reply(refused == 550 ? "550 5.1.1 mailbox unavailable (injected)"
                                    : "450 4.2.1 mailbox busy, try later (injected)");
      }
      recipients_.push_back(*address);
      return reply("250 2.1.5 recipient OK");
    }
    if (verb == "DATA") {
      if (!mail_from_) return bad_command("503 5.5.1 need MAIL before DATA");
      if (recipients_.empty()) {
        return bad_command(rcpt_seen_ ? "554 5.5.1 no valid recipients"
                                      : "503 5.5.1 need RCPT before DATA");
      }
      in_data_ = true;
      return reply("354 end data with <CR><LF>.<CR><LF>");
    }
    if (verb == "STARTTLS" || verb == "AUTH" || verb == "VRFY" || verb == "EXPN" ||
        verb == "HELP" || verb == "TURN" || verb == "BDAT") {
      return bad_command("502 5.5.1 " + verb + " not implemented");
    }
    bad_command("500 5.5.2 command not recognized");
  }

  void data_line(const std::string& line) {
    if (line == ".") return end_of_data();
    // Dot-unstuffing (RFC 5321 §4.5.2): a leading dot was doubled by the sender.
    const std::string_view text = !line.empty() && line.front() == '.'
                                      ? std::string_view(line).substr(1)
                                      : std::string_view(line);
    if (data_.size() + text.size() + 2 > kMaxMessageBytes) {
      too_big_ = true;  // keep reading to the final dot, then refuse
      return;
    }
    data_.append(text);
    data_ += "\r\n";
  }

  void end_of_data() {
    if (too_big_) {
      reply("552 5.3.4 message too big");
    } else if (const int refused = sink_.faults().smtp_data_reply(); refused != 0) {
      sink_.record_refusal({"", refused});
      reply(refused == 451 ? "451 4.3.0 local error, try later (injected)"
                           : "554 5.6.0 transaction failed (injected)");
    } else {
      SmtpSink::Message message = parse_message(data_);
      message.envelope_from = *mail_from_;
      message.recipients = recipients_;
      sink_.record(std::move(message));
      reply("250 2.0.0 OK message accepted");
    }
    reset_transaction();
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  SmtpSink& sink_;
  std::atomic<std::size_t>& sessions_;
  std::array<char, 4096> chunk_{};
  std::string in_;
  std::string out_;
  std::string writing_;
  bool closing_ = false;
  bool greeted_ = false;
  int bad_commands_ = 0;
  std::optional<std::string> mail_from_;
  std::vector<std::string> recipients_;
  bool rcpt_seen_ = false;
  bool in_data_ = false;
  bool too_big_ = false;
  std::string data_;
};

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Error::invalid("smtp_listen", "'" + listen + "' is not HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return Error::invalid("smtp_listen", "'" + listen + "' has a bad port");
  }
  boost::system::error_code ec;
  asio::io_context context;
  tcp::resolver resolver(context);
  auto results = resolver.resolve(host, port_text, ec);
  if (ec || results.empty()) {
    return Error::invalid("smtp_listen", "cannot resolve '" + host + "'");
  }
  return results.begin()->endpoint();
}

}  // namespace

struct SmtpSink::Server {
  // Declared first so it outlives the sessions the io_context destroys with its handlers.
  std::atomic<std::size_t> sessions{0};
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;

  void accept(SmtpSink& sink) {
    acceptor.async_accept([this, &sink](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        const bool busy = sessions.load() >= kMaxSessions;
        std::make_shared<Session>(std::move(socket), sink, sessions)->start(busy);
      }
      accept(sink);
    });
  }
};

SmtpSink::SmtpSink(FaultInjector& faults) : faults_(faults) {}

SmtpSink::~SmtpSink() {
  stop();
}

SimReply SmtpSink::handle(const ServerRequest& /*request*/) {
  return {ServerResponse::error(404, "not_found", "the SMTP sink has no HTTP paths")};
}

Result<void> SmtpSink::start(const std::string& listen) {
  if (server_) return Error::permanent("smtp sink already started");
  Result<tcp::endpoint> endpoint = parse_listen(listen);
  if (!endpoint) return endpoint.error();
  auto server = std::make_unique<Server>();
  boost::system::error_code ec;
  server->acceptor.open(endpoint->protocol(), ec);
  if (!ec) server->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server->acceptor.bind(*endpoint, ec);
  if (!ec) server->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Error error = Error::permanent("cannot listen on " + listen + " (SMTP): " + ec.message());
    error.field = "smtp_listen";
    return error;
  }
  server->port = server->acceptor.local_endpoint().port();
  server->accept(*this);
  Server* raw = server.get();
  server->thread = std::thread([raw] { raw->io.run(); });
  server_ = std::move(server);
  return ok();
}

int SmtpSink::port() const {
  return server_ ? server_->port : 0;
}

void SmtpSink::stop() {
  if (!server_) return;
  server_->io.stop();
  if (server_->thread.joinable()) server_->thread.join();
  server_.reset();  // closes the acceptor; the io_context destroys the sessions with its handlers
}

void SmtpSink::record(Message message) {
  std::lock_guard lock(mutex_);
  message.id = "smtp-" + std::to_string(next_id_++);
  message.received_at = utc_now_iso8601();
  spdlog::debug("herald-sim: smtp message {} to {} recipient(s)", message.id,
                message.recipients.size());
  messages_.push_back(std::move(message));
}

void SmtpSink::record_refusal(Refusal refusal) {
  std::lock_guard lock(mutex_);
  refusals_.push_back(std::move(refusal));
}

nlohmann::json SmtpSink::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  std::set<std::string> message_ids;
  std::size_t duplicates = 0;
  for (const auto& message : messages_) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [header, value] : message.headers) {
      if (!headers.contains(header)) headers[header] = value;
    }
    if (!message.message_id.empty() && !message_ids.insert(message.message_id).second) {
      ++duplicates;
    }
    items.push_back({{"id", message.id},
                     {"envelope_from", message.envelope_from},
                     {"recipients", message.recipients},
                     {"message_id", message.message_id},
                     {"subject", message.subject},
                     {"body", message.body},
                     {"headers", std::move(headers)},
                     {"raw_headers", message.raw_headers},
                     {"size", message.size},
                     {"received_at", message.received_at}});
  }
  nlohmann::json refused = nlohmann::json::array();
  for (const auto& refusal : refusals_) {
    refused.push_back({{"address", refusal.address}, {"code", refusal.code}});
  }
  return {{"platform", name()},
          {"count", messages_.size()},
          {"unique_message_ids", message_ids.size()},
          {"duplicates", duplicates},
          {"items", std::move(items)},
          {"refused", std::move(refused)}};
}

void SmtpSink::reset() {
  std::lock_guard lock(mutex_);
  messages_.clear();
  refusals_.clear();
}

}  // namespace herald::sim
