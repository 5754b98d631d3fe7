#include "adapters/media/email_sender.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string_view>

#include "adapters/curl_handles.h"
#include "adapters/http_client.h"

namespace herald {
namespace {

// libcurl 7.88 only knows the misspelt name; 8.2 added the correct one and kept the old.
#if defined(CURLOPT_MAIL_RCPT_ALLOWFAILS) || LIBCURL_VERSION_NUM >= 0x080200
constexpr CURLoption kRcptAllowFails = CURLOPT_MAIL_RCPT_ALLOWFAILS;
#else
constexpr CURLoption kRcptAllowFails = CURLOPT_MAIL_RCPT_ALLLOWFAILS;
#endif

std::string command_verb(std::string_view line) {
  std::string verb;
  for (char c : line) {
    if (c == ' ' || c == ':' || c == '\r' || c == '\n') break;
    verb += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return verb;
}

void on_reply_line(SmtpConversation& talk, std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.size() < 3 ||
      !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; })) {
    return;
  }
  const std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (!talk.reply_text.empty()) talk.reply_text += ' ';
  talk.reply_text.append(text);
  if (line.size() > 3 && line[3] == '-') return;  // more lines of the same reply follow
  SmtpReply reply;
  reply.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  reply.text = std::move(talk.reply_text);
  reply.command = talk.last_command;
  talk.reply_text.clear();
  if (reply.command == "RCPT") talk.rcpt_replies.push_back(reply);
  talk.last_reply = std::move(reply);
}

int on_debug(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  auto* talk = static_cast<SmtpConversation*>(user);
  const std::string_view chunk(data, size);
  if (type == CURLINFO_HEADER_OUT) {
    read_smtp_sent(*talk, chunk);
  } else if (type == CURLINFO_HEADER_IN) {
    read_smtp_received(*talk, chunk);
  }
  return 0;
}

struct Upload {
  std::string_view text;
  std::size_t offset = 0;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->text.size() - upload->offset);
  std::copy_n(upload->text.data() + upload->offset, n, buffer);
  upload->offset += n;
  return n;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// RFC 2047 encoded-words of at most 75 characters: 12 of them are "=?UTF-8?B?" and "?=", which
// leaves 63, i.e. 45 input bytes; words are split on UTF-8 character boundaries (§5: an
// encoded-word must hold whole characters) and folded onto continuation lines.
std::string encode_header_text(std::string_view text) {
  constexpr std::size_t kMaxBytes = 45;
  if (text.empty()) return {};
  std::string out;
  std::size_t start = 0;
  do {
    std::size_t end = std::min(text.size(), start + kMaxBytes);
    while (end < text.size() && end > start &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;  // do not cut a multi-byte character
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(text.substr(start, end - start)) + "?=";
    start = end;
  } while (start < text.size());
  return out;
}

// text/plain in canonical form has CRLF line ends, whatever the caller used.
std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string rfc5322_date_beijing(std::chrono::system_clock::time_point now) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(now + std::chrono::hours(8));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0800", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

bool has_line_break(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

std::string message_id_header(std::string id) {
  if (!id.empty() && id.front() == '<') return id;
  if (id.find('@') == std::string::npos) id += "@herald";  // msg-id needs "left@right"
  return "<" + id + ">";
}

// The Error for a reply that ended the whole transaction (RFC 5321 §4.2.1: 4yz transient, 5yz
// permanent).
Error smtp_error(const SmtpReply& reply) {
  std::string message = "SMTP " + (reply.command.empty() ? std::string("server") : reply.command) +
                        " refused: " + std::to_string(reply.code) + " " + reply.text;
  Error error = reply.code >= 400 && reply.code < 500 ? Error::retryable(std::move(message))
                                                      : Error::permanent(std::move(message));
  error.code = "smtp_" + std::to_string(reply.code);
  return error;
}

Error transport_error(CURLcode code, const char* detail) {
  std::string message = "smtp: ";
  message += detail[0] != '\0' ? detail : curl_easy_strerror(code);
  Error error = Error::retryable(std::move(message));
  switch (code) {
    case CURLE_LOGIN_DENIED:
      error.kind = ErrorKind::credentials;
      break;
    case CURLE_USE_SSL_FAILED:  // STARTTLS required but not offered: a setup problem, not luck
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
      error.kind = ErrorKind::permanent;
      break;
    default:
      break;
  }
  error.code = "curl_" + std::to_string(static_cast<int>(code));
  return error;
}

}  // namespace

void read_smtp_sent(SmtpConversation& talk, std::string_view command) {
  talk.last_command = command_verb(command);
}

void read_smtp_received(SmtpConversation& talk, std::string_view lines) {
  std::size_t start = 0;
  while (start < lines.size()) {
    std::size_t end = lines.find('\n', start);
    if (end == std::string_view::npos) end = lines.size();
    on_reply_line(talk, lines.substr(start, end - start));
    start = end + 1;
  }
}

EmailSender::EmailSender(SmtpOptions options) : options_(std::move(options)) {
  init_http_client_library();
}

std::string EmailSender::render(const EmailMessage& message, const std::string& date) {
  std::string to;
  for (const auto& address : message.to) {
    if (!to.empty()) to += ",\r\n ";
    to += address;
  }
  std::string text = "Date: " + date + "\r\n";
  text += "From: " + message.from + "\r\n";
  text += "To: " + to + "\r\n";
  text += "Message-ID: " + message_id_header(message.message_id) + "\r\n";
  text += "Subject: " + encode_header_text(message.subject) + "\r\n";
  text += "MIME-Version: 1.0\r\n";
  text += "Content-Type: text/plain; charset=UTF-8\r\n";
  text += "Content-Transfer-Encoding: base64\r\n";
  text += "\r\n";
  const std::string encoded = base64(to_crlf(message.text_body));
  for (std::size_t i = 0; i < encoded.size(); i += 76) {
    text += encoded.substr(i, 76) + "\r\n";
  }
  return text;
}

Result<EmailOutcome> EmailSender::send(const EmailMessage& message) {
  if (message.from.empty() || has_line_break(message.from)) {
    return Error::invalid("from", "sender address is empty or has a line break");
  }
  if (message.to.empty()) return Error::invalid("to", "no recipients");
  for (const auto& address : message.to) {
    if (address.empty() || has_line_break(address) || address.find(',') != std::string::npos) {
      return Error::invalid("to", "bad recipient address: " + address);
    }
  }
  if (has_line_break(message.message_id)) {
    return Error::invalid("message_id", "message id has a line break");
  }

  const std::string text = render(message, rfc5322_date_beijing(std::chrono::system_clock::now()));
  CurlEasy curl(curl_easy_init());
  if (!curl) return Error::retryable("curl_easy_init failed");
  CurlSlist recipients;
  for (const auto& address : message.to) {
    curl_slist* next = curl_slist_append(recipients.get(), address.c_str());
    if (next == nullptr) return Error::retryable("out of memory building recipient list");
    recipients.release();
    recipients.reset(next);
  }
  SmtpConversation talk;
  Upload upload{text, 0};
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  if (options_.starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, message.from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(h, kRcptAllowFails, 1L);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(text.size()));
  // The debug callback only runs with VERBOSE on; it replaces curl's own stderr output.
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &talk);
  const CURLcode code = curl_easy_perform(h);

  const bool every_rcpt_answered = talk.rcpt_replies.size() == message.to.size();
  EmailOutcome outcome;
  if (every_rcpt_answered) {
    for (std::size_t i = 0; i < message.to.size(); ++i) {
      const SmtpReply& reply = talk.rcpt_replies[i];
      if (reply.code >= 200 && reply.code < 300) {
        outcome.accepted.push_back(message.to[i]);
      } else {
        outcome.refused.emplace_back(message.to[i], smtp_error(reply));
      }
    }
  }
  if (code == CURLE_OK) {
    if (!every_rcpt_answered) {
      // Cannot happen with a conforming libcurl; refuse to guess who got the message.
      return Error::retryable("smtp: could not match RCPT replies to recipients");
    }
    return outcome;
  }
  // Every recipient refused: libcurl stops before DATA, and the outcome says why for each.
  if (every_rcpt_answered && outcome.accepted.empty()) return outcome;
  if (talk.last_reply && talk.last_reply->code >= 400 &&
      (talk.last_reply->command == "MAIL" || talk.last_reply->command == "DATA" ||
       talk.last_reply->command == "RCPT")) {
    return smtp_error(*talk.last_reply);
  }
  return transport_error(code, error_buffer);
}

}  // namespace herald
