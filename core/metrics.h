// Metrics: labelled counters and histograms owned by whoever owns the process's parts (heraldd's
// Daemon), and a writer for the Prometheus text exposition format 0.0.4 (also used for gauges
// computed at scrape time). Thread-safe; no global registry.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace herald {

// Builds an exposition text: each family's HELP and TYPE once, then its samples.
class MetricsWriter {
 public:
  // `type` is "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line; `labels` are (name, value) pairs, values escaped here.
  void sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
              double value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Content-Type of the text format.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label values must stay few: pass route patterns, channel names, status codes, never raw input.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  // `label_values` in the order of the label names.
  void add(const std::vector<std::string>& label_values, double amount = 1);
  double value(const std::vector<std::string>& label_values) const;
  void write(MetricsWriter& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, double> values_;
};

class HistogramFamily {
 public:
  // `bounds` are the upper bounds of the buckets, ascending (+Inf is added).
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void observe(const std::vector<std::string>& label_values, double value);
  void write(MetricsWriter& out) const;

 private:
  struct Series {
    std::vector<std::uint64_t> buckets;  // not cumulative; summed when written
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, Series> series_;
};

// The families a process registers at start-up, written in registration order.
class MetricsRegistry {
 public:
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> labels);
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> labels,
                             std::vector<double> bounds);
  void write(MetricsWriter& out) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
  std::vector<std::pair<bool, std::size_t>> order_;  // (is_histogram, index)
};

// A sample value as the format writes it: integers without a fraction, "+Inf", "NaN".
std::string format_metric_value(double value);

}  // namespace herald
