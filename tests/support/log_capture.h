// LogCapture: while alive, spdlog's default logger also keeps its last lines in memory, so a test
// can check what was logged (a thread's failure, say) without reading a process's log file.
#pragma once

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

namespace herald::test {

class LogCapture {
 public:
  explicit LogCapture(std::size_t lines = 1000)
      : previous_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(lines)) {
    std::vector<spdlog::sink_ptr> sinks = previous_->sinks();
    sinks.push_back(sink_);
    auto logger = std::make_shared<spdlog::logger>("capture", sinks.begin(), sinks.end());
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The captured lines ("[level] message" and the rest of the default pattern) that contain
  // every one of `parts`.
  std::vector<std::string> lines_with(const std::vector<std::string>& parts) const {
    std::vector<std::string> out;
    for (const std::string& line : sink_->last_formatted()) {
      bool all = true;
      for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
      if (all) out.push_back(line);
    }
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

}  // namespace herald::test
