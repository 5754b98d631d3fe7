// EmailSender: sends one plain-text e-mail to media desks through libcurl SMTP and reports, per
// recipient, who accepted it and who refused it (4xx → retryable, 5xx → permanent).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace herald {

struct EmailMessage {
  std::string from;
  std::vector<std::string> to;
  std::string subject;     // UTF-8; sent RFC 2047-encoded
  std::string text_body;   // UTF-8; sent base64-encoded with CRLF line ends
  std::string message_id;  // stable dedupe key; "<…>" added when missing
};

struct EmailOutcome {
  std::vector<std::string> accepted;
  // Error kind retryable for a 4xx reply (or a connection failure), permanent for 5xx.
  std::vector<std::pair<std::string, Error>> refused;
};

struct SmtpOptions {
  std::string url;  // smtp://host:port (STARTTLS optional) or smtps://host:port
  bool starttls = false;
  std::string username, password;
  std::chrono::milliseconds timeout{10000};
};

struct SmtpReply {
  int code = 0;
  std::string text;
  std::string command;  // verb of the command this answers ("MAIL", "RCPT", "DATA", …)
};

// Why read the conversation: libcurl reports only the last SMTP reply of a transaction, and with
// MAIL_RCPT_ALLOWFAILS it silently drops refused recipients. Sending one transaction per
// recipient would give exact answers but deliver N separate copies (N DATA phases, each of which
// can fail on its own), so instead we watch the conversation libcurl hands to
// CURLOPT_DEBUGFUNCTION: every command it sends (CURLINFO_HEADER_OUT) and every reply line
// (CURLINFO_HEADER_IN). libcurl never pipelines SMTP commands, so the conversation is strictly
// lock-step: the n-th final reply that follows a "RCPT" command is the answer to the n-th recipient
// of CURLOPT_MAIL_RCPT, which libcurl sends in list order.
struct SmtpConversation {
  std::string last_command;
  std::string reply_text;  // multi-line reply being collected
  std::vector<SmtpReply> rcpt_replies;
  std::optional<SmtpReply> last_reply;
};
// A command libcurl sent (its verb is what the next reply answers).
void read_smtp_sent(SmtpConversation& talk, std::string_view command);
// Reply lines libcurl received, one or more ("250-…" continues a reply, "250 …" ends it).
void read_smtp_received(SmtpConversation& talk, std::string_view lines);

class EmailSender {
 public:
  explicit EmailSender(SmtpOptions options);

  // Sends `message` to every recipient of message.to. Ok when the transaction ran, even if some
  // (or all) recipients were refused: the outcome says who. An Error means nobody got it and no
  // per-recipient answer exists (connection failure, refused MAIL FROM or DATA, bad input).
  Result<EmailOutcome> send(const EmailMessage& message);

  // The RFC 5322 text send() transmits (CRLF line ends); public so tests can check headers.
  // `date` is the Date header's value.
  static std::string render(const EmailMessage& message, const std::string& date);

 private:
  SmtpOptions options_;
};

}  // namespace herald
