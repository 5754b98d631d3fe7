// EmailSender: sends one plain-text e-mail to media desks through libcurl SMTP and reports, per
// recipient, who accepted it and who refused it (4xx → retryable, 5xx → permanent).
#pragma once

#include <chrono>
#include <string>
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
