// herald-sim's SMTP sink spoken to over a raw socket: the command sequence rules, dot-unstuffing,
// bad and over-long commands, and the injected refusals.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tests/support/herald_processes.h"

using herald::test::http;
using herald::test::json_of;
using herald::test::sim_published;
using herald::test::start_sim_with_smtp;
using nlohmann::json;

namespace {

// A blocking SMTP client with a 5 s receive timeout on every read; enough for lock-step tests.
class SmtpClient {
 public:
  explicit SmtpClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~SmtpClient() { ::close(fd_); }
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  void send_raw(const std::string& text) {
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
  }

  // One whole reply (all its lines); "" if the server closed or said nothing within the timeout.
  std::string reply() {
    std::string text;
    while (true) {
      std::optional<std::string> line = read_line();
      if (!line) return text;
      text += *line + "\n";
      if (line->size() < 4 || (*line)[3] != '-') return text;
    }
  }

  // The reply code to `command`, or 0 if none came.
  int command(const std::string& command) {
    send_raw(command + "\r\n");
    last_ = reply();
    return last_.size() >= 3 ? std::stoi(last_.substr(0, 3)) : 0;
  }

  const std::string& last() const { return last_; }

  // True once the server has closed the connection (read returns 0).
  bool closed_by_server() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  std::optional<std::string> read_line() {
    while (true) {
      const std::size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return line;
      }
      char chunk[1024];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  int fd_ = -1;
  std::string buffer_;
  std::string last_;
};

}  // namespace

TEST_CASE("the SMTP sink records a message with dot-unstuffing and its envelope",
          "[herald_sim][smtp]") {
  auto sim = start_sim_with_smtp();
  SmtpClient client(sim.smtp_port);
  CHECK(client.reply().rfind("220 ", 0) == 0);
  REQUIRE(client.command("EHLO tester.example") == 250);
  CHECK(client.last().find("STARTTLS") == std::string::npos);  // deliberately not offered
  CHECK(client.last().find("AUTH") == std::string::npos);
  REQUIRE(client.command("MAIL FROM:<alerts@herald.example> SIZE=100") == 250);
  REQUIRE(client.command("RCPT TO:<desk1@news.example>") == 250);
  REQUIRE(client.command("rcpt to:<desk2@tv.example>") == 250);  // verbs are case-insensitive
  REQUIRE(client.command("DATA") == 354);
  const int code = client.command(
      "Subject: =?UTF-8?B?5a6J5YWo5o+Q6YaS?= =?UTF-8?B?77ya5Zyw6ZyH?=\r\n"
      "Message-ID: <m-1@herald>\r\n"
      "X-Folded: first\r\n"
      " second\r\n"
      "\r\n"
      "first line\r\n"
      "..stuffed line\r\n"
      "...\r\n"
      "last line\r\n"
      ".");
  REQUIRE(code == 250);
  REQUIRE(client.command("QUIT") == 221);
  CHECK(client.closed_by_server());

  json published = sim_published(sim.url, "smtp");
  CHECK(published["platform"] == "smtp");
  REQUIRE(published["count"] == 1);
  const json& mail = published["items"][0];
  CHECK(mail["envelope_from"] == "alerts@herald.example");
  CHECK(mail["recipients"] == json::array({"desk1@news.example", "desk2@tv.example"}));
  CHECK(mail["subject"] == "安全提醒：地震");  // adjacent encoded words joined without a space
  CHECK(mail["message_id"] == "<m-1@herald>");
  CHECK(mail["headers"]["x-folded"] == "first second");
  CHECK(mail["body"] == "first line\n.stuffed line\n..\nlast line\n");
}

TEST_CASE("the SMTP sink enforces the command order and refuses bad commands",
          "[herald_sim][smtp]") {
  auto sim = start_sim_with_smtp();
  SmtpClient client(sim.smtp_port);
  REQUIRE(client.reply().rfind("220 ", 0) == 0);

  SECTION("commands out of order") {
    CHECK(client.command("MAIL FROM:<a@b.example>") == 503);  // no EHLO yet
    REQUIRE(client.command("HELO tester") == 250);
    CHECK(client.command("RCPT TO:<c@d.example>") == 503);  // no MAIL yet
    CHECK(client.command("DATA") == 503);
    REQUIRE(client.command("MAIL FROM:<a@b.example>") == 250);
    CHECK(client.command("MAIL FROM:<a@b.example>") == 503);  // nested
    CHECK(client.command("DATA") == 503);                     // no RCPT yet
    REQUIRE(client.command("RCPT TO:<c@d.example>") == 250);
    CHECK(client.command("NOOP") == 250);
    CHECK(client.command("RSET") == 250);
    CHECK(client.command("DATA") == 503);          // RSET dropped the transaction
    CHECK(client.command("MAIL FROM:<>") == 250);  // the null sender is allowed
  }
  SECTION("bad syntax, unknown and unimplemented commands") {
    REQUIRE(client.command("EHLO tester") == 250);
    CHECK(client.command("EHLO") == 501);
    CHECK(client.command("MAIL FROM:a@b.example") == 501);
    CHECK(client.command("MAIL TO:<a@b.example>") == 501);
    CHECK(client.command("FROB") == 500);
    CHECK(client.command("") == 500);
    CHECK(client.command("STARTTLS") == 502);
    CHECK(client.command("AUTH PLAIN AGFiYwBzZWNyZXQ=") == 502);
    REQUIRE(client.command("MAIL FROM:<a@b.example>") == 250);
    CHECK(client.command("RCPT TO:c@d.example") == 501);
    CHECK(client.command("RCPT TO:<>") == 501);
  }
  SECTION("an over-long line is refused and the connection closed") {
    CHECK(client.command("EHLO " + std::string(5000, 'x')) == 500);
    CHECK(client.closed_by_server());
  }
  SECTION("too many bad commands close the connection") {
    for (int i = 0; i < 9; ++i) REQUIRE(client.command("FROB") == 500);
    client.send_raw("FROB\r\n");
    const std::string last = client.reply() + client.reply();
    CHECK(last.find("421") != std::string::npos);
    CHECK(client.closed_by_server());
  }
  CHECK(sim_published(sim.url, "smtp")["count"] == 0);
}

TEST_CASE("the SMTP sink refuses recipients and DATA as the fault spec says",
          "[herald_sim][smtp]") {
  auto sim = start_sim_with_smtp({"--faults", "smtp:rcpt_550=*@BAD.example,rcpt_450=slow@*"});
  SmtpClient client(sim.smtp_port);
  REQUIRE(client.reply().rfind("220 ", 0) == 0);
  REQUIRE(client.command("EHLO tester") == 250);
  REQUIRE(client.command("MAIL FROM:<a@herald.example>") == 250);
  CHECK(client.command("RCPT TO:<x@bad.example>") == 550);
  CHECK(client.command("RCPT TO:<slow@ok.example>") == 450);
  CHECK(client.command("DATA") == 554);  // recipients given, none valid
  REQUIRE(client.command("RCPT TO:<ok@ok.example>") == 250);

  auto faults = http("POST", sim.url + "/_sim/faults", "", "smtp:data_554=1");
  REQUIRE(faults.status == 200);
  REQUIRE(client.command("DATA") == 354);
  CHECK(client.command("Subject: x\r\n\r\nbody\r\n.") == 554);

  faults = http("POST", sim.url + "/_sim/faults", "", "smtp:data_451=1");
  REQUIRE(faults.status == 200);
  REQUIRE(client.command("MAIL FROM:<a@herald.example>") == 250);
  REQUIRE(client.command("RCPT TO:<ok@ok.example>") == 250);
  REQUIRE(client.command("DATA") == 354);
  CHECK(client.command("Subject: x\r\n\r\nbody\r\n.") == 451);

  json published = sim_published(sim.url, "smtp");
  CHECK(published["count"] == 0);
  CHECK(published["refused"].size() == 4);
}

TEST_CASE("SMTP fault keys belong to the smtp platform only", "[herald_sim][smtp]") {
  auto sim = start_sim_with_smtp();
  CHECK(http("POST", sim.url + "/_sim/faults", "", "smtp:5xx=0.5").status == 400);
  CHECK(http("POST", sim.url + "/_sim/faults", "", "webhook:rcpt_550=*").status == 400);
  CHECK(http("POST", sim.url + "/_sim/faults", "", "smtp:rcpt_550=").status == 400);
  CHECK(http("POST", sim.url + "/_sim/faults", "", "smtp:data_451=0.7,data_554=0.7").status == 400);
  auto accepted = http("POST", sim.url + "/_sim/faults", "", "smtp:rcpt_450=a*,data_451=0.5");
  REQUIRE(accepted.status == 200);
  CHECK(json_of(accepted)["faults"] == "smtp:rcpt_450=a*,data_451=0.5");
}
