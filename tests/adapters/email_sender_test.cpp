// EmailSender against the real herald-sim SMTP sink: per-recipient outcomes with their retry
// class, whole-transaction failures, UTF-8 subjects, and the transport failures.
#include "adapters/media/email_sender.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/herald_processes.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using herald::EmailMessage;
using herald::EmailOutcome;
using herald::EmailSender;
using herald::ErrorKind;
using herald::SmtpOptions;
using herald::test::http;
using herald::test::sim_published;
using herald::test::start_sim_with_smtp;
using nlohmann::json;

namespace {

SmtpOptions sink_options(int port) {
  SmtpOptions options;
  options.url = "smtp://127.0.0.1:" + std::to_string(port);
  options.timeout = 5000ms;
  return options;
}

EmailMessage three_desks() {
  EmailMessage message;
  message.from = "alerts@herald.example";
  message.to = {"desk1@news.example", "desk2@refused.example", "desk3@tv.example"};
  message.subject = "Safety alert";
  message.text_body = "Stay indoors.\nMore at https://gov.example/a/1";
  message.message_id = "item-1.media@herald.example";
  return message;
}

std::vector<std::string> refused_addresses(const EmailOutcome& outcome) {
  std::vector<std::string> addresses;
  for (const auto& [address, error] : outcome.refused) addresses.push_back(address);
  return addresses;
}

void set_faults(const std::string& sim_url, const std::string& spec) {
  auto response = http("POST", sim_url + "/_sim/faults", "", spec);
  REQUIRE(response.status == 200);
}

}  // namespace

TEST_CASE("one refused recipient does not stop the message reaching the others",
          "[adapters][email]") {
  auto sim = start_sim_with_smtp({"--faults", "smtp:rcpt_550=*@refused.example"});
  EmailSender sender(sink_options(sim.smtp_port));

  auto sent = sender.send(three_desks());
  REQUIRE(sent.ok());
  CHECK(sent->accepted == std::vector<std::string>{"desk1@news.example", "desk3@tv.example"});
  REQUIRE(sent->refused.size() == 1);
  CHECK(sent->refused[0].first == "desk2@refused.example");
  CHECK(sent->refused[0].second.kind == ErrorKind::permanent);
  CHECK(sent->refused[0].second.code == "smtp_550");

  json published = sim_published(sim.url, "smtp");
  REQUIRE(published["count"] == 1);
  const json& mail = published["items"][0];
  CHECK(mail["envelope_from"] == "alerts@herald.example");
  CHECK(mail["recipients"] == json::array({"desk1@news.example", "desk3@tv.example"}));
  CHECK(mail["message_id"] == "<item-1.media@herald.example>");
  CHECK(mail["subject"] == "Safety alert");
  CHECK(mail["body"] == "Stay indoors.\nMore at https://gov.example/a/1");
  CHECK(mail["headers"]["content-type"] == "text/plain; charset=UTF-8");
  // Every header names all three desks, whatever the envelope refused.
  CHECK(mail["headers"]["to"].get<std::string>().find("desk2@refused.example") !=
        std::string::npos);
}

TEST_CASE("a 450 recipient refusal is retryable while the rest are delivered",
          "[adapters][email]") {
  auto sim = start_sim_with_smtp({"--faults", "smtp:rcpt_450=desk3@*"});
  EmailSender sender(sink_options(sim.smtp_port));

  auto sent = sender.send(three_desks());
  REQUIRE(sent.ok());
  CHECK(sent->accepted == std::vector<std::string>{"desk1@news.example", "desk2@refused.example"});
  REQUIRE(refused_addresses(*sent) == std::vector<std::string>{"desk3@tv.example"});
  CHECK(sent->refused[0].second.kind == ErrorKind::retryable);
  CHECK(sent->refused[0].second.code == "smtp_450");
  CHECK(sim_published(sim.url, "smtp")["count"] == 1);
}

TEST_CASE("when every recipient is refused the outcome says why for each and nothing is sent",
          "[adapters][email]") {
  auto sim = start_sim_with_smtp({"--faults", "smtp:rcpt_550=*@refused.example,rcpt_450=*"});
  EmailSender sender(sink_options(sim.smtp_port));

  auto sent = sender.send(three_desks());
  REQUIRE(sent.ok());
  CHECK(sent->accepted.empty());
  REQUIRE(sent->refused.size() == 3);
  CHECK(sent->refused[0].second.kind == ErrorKind::retryable);
  CHECK(sent->refused[1].second.kind == ErrorKind::permanent);
  CHECK(sent->refused[2].second.kind == ErrorKind::retryable);
  CHECK(sim_published(sim.url, "smtp")["count"] == 0);
}

TEST_CASE("a refused DATA fails the whole message: 451 retryable, 554 permanent",
          "[adapters][email]") {
  auto sim = start_sim_with_smtp();
  EmailSender sender(sink_options(sim.smtp_port));

  SECTION("451") {
    set_faults(sim.url, "smtp:data_451=1");
    auto sent = sender.send(three_desks());
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().kind == ErrorKind::retryable);
    CHECK(sent.error().code == "smtp_451");
  }
  SECTION("554") {
    set_faults(sim.url, "smtp:data_554=1");
    auto sent = sender.send(three_desks());
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().kind == ErrorKind::permanent);
    CHECK(sent.error().code == "smtp_554");
  }
  CHECK(sim_published(sim.url, "smtp")["count"] == 0);

  // The same sender works again once the fault is gone.
  set_faults(sim.url, "");
  auto sent = sender.send(three_desks());
  REQUIRE(sent.ok());
  CHECK(sent->accepted.size() == 3);
  CHECK(sim_published(sim.url, "smtp")["count"] == 1);
}

TEST_CASE("a UTF-8 subject and body arrive intact, long subjects included", "[adapters][email]") {
  auto sim = start_sim_with_smtp();
  EmailSender sender(sink_options(sim.smtp_port));
  EmailMessage message = three_desks();
  message.to = {"desk@news.example"};
  // 40 CJK characters (120 bytes): several encoded words, each split on a character boundary.
  message.subject =
      "【安全提醒】某国发生强烈地震，请在当地的中国公民注意安全并与使馆保持联系，谢谢配合！";
  message.text_body = "驻外使馆提醒：\r\n.a line that starts with a dot\n..two dots\n请保持联系。";

  auto sent = sender.send(message);
  REQUIRE(sent.ok());
  REQUIRE(sent->accepted.size() == 1);

  json published = sim_published(sim.url, "smtp");
  REQUIRE(published["count"] == 1);
  const json& mail = published["items"][0];
  CHECK(mail["subject"] == message.subject);
  CHECK(mail["body"] == "驻外使馆提醒：\n.a line that starts with a dot\n..two dots\n请保持联系。");
  // The raw header is pure ASCII: the subject travelled as RFC 2047 encoded words.
  const std::string raw = mail["raw_headers"];
  CHECK(raw.find("Subject: =?UTF-8?B?") != std::string::npos);
  CHECK(std::all_of(raw.begin(), raw.end(), [](char c) { return (c & 0x80) == 0; }));
}

TEST_CASE("render writes RFC 5322 headers with CRLF line ends only", "[adapters][email]") {
  EmailMessage message = three_desks();
  message.message_id = "delivery-42";
  const std::string text = EmailSender::render(message, "Sun, 29 Nov 2026 16:00:00 +0800");
  CHECK(text.rfind("Date: Sun, 29 Nov 2026 16:00:00 +0800\r\n", 0) == 0);
  CHECK(text.find("\r\nMessage-ID: <delivery-42@herald>\r\n") != std::string::npos);
  CHECK(text.find("\r\nFrom: alerts@herald.example\r\n") != std::string::npos);
  CHECK(text.find(
            "\r\nTo: desk1@news.example,\r\n desk2@refused.example,\r\n desk3@tv.example\r\n") !=
        std::string::npos);
  CHECK(text.find("\r\nSubject: =?UTF-8?B?U2FmZXR5IGFsZXJ0?=\r\n") != std::string::npos);
  CHECK(text.find("\r\nContent-Transfer-Encoding: base64\r\n\r\n") != std::string::npos);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      INFO("at offset " << i);
      REQUIRE(i > 0);
      CHECK(text[i - 1] == '\r');
    }
  }
}

TEST_CASE("transport failures and bad messages are classified", "[adapters][email]") {
  SECTION("connection refused is retryable") {
    const int port = herald::test::free_tcp_port();  // nothing listens there
    EmailSender sender(sink_options(port));
    auto sent = sender.send(three_desks());
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().kind == ErrorKind::retryable);
  }
  SECTION("STARTTLS required but not offered by the server is permanent") {
    auto sim = start_sim_with_smtp();
    SmtpOptions options = sink_options(sim.smtp_port);
    options.starttls = true;
    EmailSender sender(options);
    auto sent = sender.send(three_desks());
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().kind == ErrorKind::permanent);
    CHECK(sim_published(sim.url, "smtp")["count"] == 0);
  }
  SECTION("a header injection attempt is refused before connecting") {
    EmailSender sender(sink_options(1));
    EmailMessage message = three_desks();
    message.to.push_back("x@example.org\r\nBcc: victim@example.org");
    auto sent = sender.send(message);
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().kind == ErrorKind::invalid_input);
    CHECK(sent.error().field == "to");
  }
  SECTION("no recipients is invalid input") {
    EmailSender sender(sink_options(1));
    EmailMessage message = three_desks();
    message.to.clear();
    auto sent = sender.send(message);
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().kind == ErrorKind::invalid_input);
  }
}
