// core/metrics: what the text format says a counter and a histogram look like.
#include "core/metrics.h"

#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>

using namespace herald;

TEST_CASE("counters and histograms render as the Prometheus text format 0.0.4", "[metrics]") {
  MetricsRegistry registry;
  CounterFamily& requests =
      registry.counter("t_requests_total", "Requests.\nSecond line \\ here.", {"route", "status"});
  HistogramFamily& latency =
      registry.histogram("t_latency_seconds", "Latency.", {"route"}, {0.1, 1});

  SECTION("a family without samples still says what it is") {
    MetricsWriter out;
    registry.write(out);
    CHECK(out.text() ==
          "# HELP t_requests_total Requests.\\nSecond line \\\\ here.\n"
          "# TYPE t_requests_total counter\n"
          "# HELP t_latency_seconds Latency.\n"
          "# TYPE t_latency_seconds histogram\n");
  }

  SECTION("samples carry escaped labels; histogram buckets are cumulative") {
    requests.add({"/v1/items", "200"});
    requests.add({"/v1/items", "200"}, 2);
    requests.add({"say \"hi\"\n", "500"});
    latency.observe({"/v1/items"}, 0.05);
    latency.observe({"/v1/items"}, 0.5);
    latency.observe({"/v1/items"}, 3);
    CHECK(requests.value({"/v1/items", "200"}) == 3);
    MetricsWriter out;
    registry.write(out);
    CHECK(out.text() ==
          "# HELP t_requests_total Requests.\\nSecond line \\\\ here.\n"
          "# TYPE t_requests_total counter\n"
          "t_requests_total{route=\"/v1/items\",status=\"200\"} 3\n"
          "t_requests_total{route=\"say \\\"hi\\\"\\n\",status=\"500\"} 1\n"
          "# HELP t_latency_seconds Latency.\n"
          "# TYPE t_latency_seconds histogram\n"
          "t_latency_seconds_bucket{route=\"/v1/items\",le=\"0.1\"} 1\n"
          "t_latency_seconds_bucket{route=\"/v1/items\",le=\"1\"} 2\n"
          "t_latency_seconds_bucket{route=\"/v1/items\",le=\"+Inf\"} 3\n"
          "t_latency_seconds_sum{route=\"/v1/items\"} 3.55\n"
          "t_latency_seconds_count{route=\"/v1/items\"} 3\n");
  }

  SECTION("a call with the wrong number of label values is a programmer error") {
    CHECK_THROWS_AS(requests.add({"/v1/items"}), std::invalid_argument);
  }
}

TEST_CASE("metric values are written as the format expects", "[metrics]") {
  CHECK(format_metric_value(0) == "0");
  CHECK(format_metric_value(42) == "42");
  CHECK(format_metric_value(0.25) == "0.25");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_metric_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_metric_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}
