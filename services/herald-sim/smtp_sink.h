// SmtpSink: herald-sim's mail server for the media channel's e-mail (channel-apis.md §4.5), on its
// own port: it speaks enough SMTP for libcurl, records each message, and refuses on fault spec.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/herald-sim/faults.h"
#include "services/herald-sim/platform_sim.h"

namespace herald::sim {

// EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. STARTTLS and AUTH are deliberately not offered
// (no certificate to serve; the sink is local): a sender that insists on STARTTLS must fail, which
// is the one STARTTLS behaviour the sink can test. Listed under /_sim/published?platform=smtp; its
// faults (rcpt_550, rcpt_450, data_451, data_554) come from the simulator's FaultInjector.
class SmtpSink : public PlatformSim {
 public:
  // A recorded message, as /_sim/published shows it.
  struct Message {
    std::string id;
    std::string envelope_from;
    std::vector<std::string> recipients;  // the accepted RCPT TO addresses
    std::string raw_headers;              // as received (CRLF, folded lines kept)
    std::vector<std::pair<std::string, std::string>> headers;  // unfolded, names lower-cased
    std::string message_id;
    std::string subject;  // RFC 2047 decoded
    std::string body;     // transfer-decoded, line ends as "\n"
    std::size_t size = 0;
    std::string received_at;
  };
  struct Refusal {
    std::string address;  // empty for a refused DATA
    int code = 0;
  };

  explicit SmtpSink(FaultInjector& faults);
  ~SmtpSink() override;

  std::string name() const override { return kSmtpPlatform; }
  bool owns(const std::string& /*path*/) const override { return false; }  // no HTTP paths
  SimReply handle(const ServerRequest& request) override;
  nlohmann::json published(const ServerRequest& request) const override;
  void reset() override;

  // Binds "HOST:PORT" (port 0 picks a free one) and serves on its own thread.
  Result<void> start(const std::string& listen);
  int port() const;
  // Closes every connection and joins the thread. Idempotent; the destructor calls it.
  void stop();

  // Called from the sink's thread.
  void record(Message message);
  void record_refusal(Refusal refusal);
  FaultInjector& faults() { return faults_; }

 private:
  struct Server;

  FaultInjector& faults_;
  std::unique_ptr<Server> server_;
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
  std::vector<Refusal> refusals_;
  std::uint64_t next_id_ = 1;  // not reset: an id never names two messages in one process
};

}  // namespace herald::sim
