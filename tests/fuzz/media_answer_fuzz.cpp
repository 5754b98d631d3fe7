// What the media channel's pushes answer: an SMTP server's replies as EmailSender reads them from
// libcurl's view of the conversation (lines starting with "> " are commands sent, the rest reply
// lines, handed over in chunks as libcurl does), and a WebSub hub's answer to a ping.
#include "adapters/media/email_sender.h"
#include "adapters/media/media_channel.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = herald::fuzz::as_text(data, size);
  herald::SmtpConversation talk;
  std::size_t start = 0;
  std::size_t received_from = std::string_view::npos;  // a run of reply lines not yet handed over
  auto hand_over = [&](std::size_t end) {
    if (received_from != std::string_view::npos) {
      herald::read_smtp_received(talk, input.substr(received_from, end - received_from));
      received_from = std::string_view::npos;
    }
  };
  while (start < input.size()) {
    std::size_t end = input.find('\n', start);
    end = end == std::string_view::npos ? input.size() : end + 1;
    const std::string_view line = input.substr(start, end - start);
    if (line.substr(0, 2) == "> ") {
      hand_over(start);
      herald::read_smtp_sent(talk, line.substr(2));
    } else if (received_from == std::string_view::npos) {
      received_from = start;
    }
    start = end;
  }
  hand_over(input.size());
  for (const auto& reply : talk.rcpt_replies) {
    HERALD_FUZZ_CHECK(reply.command == "RCPT", "a RCPT reply to another command");
    HERALD_FUZZ_CHECK(reply.code >= 0 && reply.code <= 999, "a reply code of more than 3 digits");
  }
  for (const long status : {200L, 202L, 204L, 400L, 408L, 429L, 500L}) {
    (void)herald::classify_websub_response(status, input);
  }
  return 0;
}
