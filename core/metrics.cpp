#include "core/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace herald {
namespace {

std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> zip(const std::vector<std::string>& names,
                                                     const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out.emplace_back(names[i], values[i]);
  }
  return out;
}

void check_arity(const std::vector<std::string>& names, const std::vector<std::string>& values,
                 const std::string& family) {
  // A programmer error: the call site and the registration disagree.
  if (names.size() != values.size()) {
    throw std::invalid_argument("metric " + family + ": expected " + std::to_string(names.size()) +
                                " label value(s)");
  }
}

}  // namespace

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  return buf;
}

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += escape(help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void MetricsWriter::sample(std::string_view name,
                           const std::vector<std::pair<std::string, std::string>>& labels,
                           double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      if (!first) text_ += ',';
      first = false;
      text_ += label;
      text_ += "=\"";
      text_ += escape(label_value, true);
      text_ += '"';
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += format_metric_value(value);
  text_ += '\n';
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void CounterFamily::add(const std::vector<std::string>& label_values, double amount) {
  check_arity(label_names_, label_values, name_);
  std::lock_guard lock(mutex_);
  values_[label_values] += amount;
}

double CounterFamily::value(const std::vector<std::string>& label_values) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(label_values);
  return it == values_.end() ? 0 : it->second;
}

void CounterFamily::write(MetricsWriter& out) const {
  out.family(name_, "counter", help_);
  std::lock_guard lock(mutex_);
  for (const auto& [values, value] : values_) out.sample(name_, zip(label_names_, values), value);
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

void HistogramFamily::observe(const std::vector<std::string>& label_values, double value) {
  check_arity(label_names_, label_values, name_);
  std::lock_guard lock(mutex_);
  Series& s = series_[label_values];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size(), 0);
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++s.buckets[i];
      break;
    }
  }
  ++s.count;
  s.sum += value;
}

void HistogramFamily::write(MetricsWriter& out) const {
  out.family(name_, "histogram", help_);
  std::lock_guard lock(mutex_);
  for (const auto& [values, s] : series_) {
    auto labels = zip(label_names_, values);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      auto with_le = labels;
      with_le.emplace_back("le", format_metric_value(bounds_[i]));
      out.sample(name_ + "_bucket", with_le, static_cast<double>(cumulative));
    }
    auto with_inf = labels;
    with_inf.emplace_back("le", "+Inf");
    out.sample(name_ + "_bucket", with_inf, static_cast<double>(s.count));
    out.sample(name_ + "_sum", labels, s.sum);
    out.sample(name_ + "_count", labels, static_cast<double>(s.count));
  }
}

CounterFamily& MetricsRegistry::counter(std::string name, std::string help,
                                        std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  counters_.push_back(
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labels)));
  order_.emplace_back(false, counters_.size() - 1);
  return *counters_.back();
}

HistogramFamily& MetricsRegistry::histogram(std::string name, std::string help,
                                            std::vector<std::string> labels,
                                            std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  histograms_.push_back(std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                                          std::move(labels), std::move(bounds)));
  order_.emplace_back(true, histograms_.size() - 1);
  return *histograms_.back();
}

void MetricsRegistry::write(MetricsWriter& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [is_histogram, index] : order_) {
    if (is_histogram) {
      histograms_[index]->write(out);
    } else {
      counters_[index]->write(out);
    }
  }
}

}  // namespace herald
