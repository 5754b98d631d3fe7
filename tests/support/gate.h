// Holds fake work until the test opens it. The wait has a deadline, so a bug fails the test
// instead of hanging it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace herald::test {

class Gate {
 public:
  explicit Gate(std::chrono::milliseconds deadline = std::chrono::seconds(30))
      : deadline_(deadline) {}

  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  // True once open; false if the deadline passed first.
  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, deadline_, [&] { return open_; });
  }

 private:
  std::chrono::milliseconds deadline_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace herald::test
