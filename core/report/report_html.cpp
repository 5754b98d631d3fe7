// The HTML rendering: a printable page (A4) a compiler can paste into the report, with the tables
// and two charts drawn as inline SVG here (no script, no external resource). Written as
// XHTML-compatible markup (every element closed, only XML's own entities) so tests can parse it
// with an XML parser.
#include <algorithm>
#include <cstdio>

#include "core/report/report_render.h"

namespace herald::report {
namespace {

constexpr const char* kCurrentColour = "#1f4e79";
constexpr const char* kPreviousColour = "#a9c4de";

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The smallest 1/2/5 × 10^k at or above `max` (and at least 1), for the axis.
long long nice_ceiling(long long max) {
  long long step = 1;
  while (true) {
    for (long long m : {1LL, 2LL, 5LL}) {
      if (m * step >= max) return std::max(1LL, m * step);
    }
    step *= 10;
  }
}

std::string text_el(double x, double y, const std::string& anchor, const std::string& text,
                    const std::string& extra = "") {
  return "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + xml_escape(text) + "</text>";
}

std::string rect_el(double x, double y, double w, double h, const char* colour,
                    const std::string& title) {
  return "<rect x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(w) + "\" height=\"" +
         fmt(h) + "\" fill=\"" + colour + "\"><title>" + xml_escape(title) + "</title></rect>";
}

// A year without figures gets no bars and no legend entry: an empty bar would read as 0.
std::string legend(double x, double y, int year, bool with_previous) {
  std::string s;
  s += rect_el(x, y - 9, 10, 10, kCurrentColour, std::to_string(year) + "年");
  s += text_el(x + 14, y, "start", std::to_string(year) + "年");
  if (!with_previous) return s;
  s += rect_el(x + 70, y - 9, 10, 10, kPreviousColour, std::to_string(year - 1) + "年");
  s += text_el(x + 84, y, "start", std::to_string(year - 1) + "年");
  return s;
}

std::string svg_open(int width, int height, const std::string& label) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"" +
         xml_escape(label) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
         std::to_string(height) + "\" font-size=\"11\">";
}

// Items by month: the year's bars beside the year before's, with the year's figure on top.
std::string months_chart(const AnnualReport& r) {
  const int width = 660, height = 250;
  const double left = 44, right = 10, top = 28, bottom = 30;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  long long max = 0;
  for (int m = 0; m < 12; ++m) {
    max = std::max({max, r.current.items_by_month[m], r.previous.items_by_month[m]});
  }
  const long long axis = nice_ceiling(max);
  std::string s = svg_open(width, height, "各月主动公开信息数");
  const bool previous_months = r.previous.origin == YearFigures::Origin::herald;
  s += legend(left, 14, r.year, previous_months);
  for (int i = 0; i <= 4; ++i) {
    const double y = top + plot_h - plot_h * i / 4.0;
    s += "<line x1=\"" + fmt(left) + "\" y1=\"" + fmt(y) + "\" x2=\"" + fmt(width - right) +
         "\" y2=\"" + fmt(y) + "\" stroke=\"#dddddd\" stroke-width=\"1\"/>";
    const long long tick = axis * i / 4;
    if (axis % 4 == 0 || i == 0 || i == 4) s += text_el(left - 4, y + 4, "end", count_text(tick));
  }
  const double slot = plot_w / 12.0, bar = slot * 0.36;
  for (int m = 0; m < 12; ++m) {
    const double x0 = left + slot * m + slot * 0.12;
    const long long now = r.current.items_by_month[m], before = r.previous.items_by_month[m];
    const double h_now = plot_h * static_cast<double>(now) / static_cast<double>(axis);
    const double h_before = plot_h * static_cast<double>(before) / static_cast<double>(axis);
    s += rect_el(
        x0, top + plot_h - h_now, bar, h_now, kCurrentColour,
        std::to_string(m + 1) + "月 " + std::to_string(r.year) + "年：" + std::to_string(now));
    if (previous_months) {
      s += rect_el(x0 + bar, top + plot_h - h_before, bar, h_before, kPreviousColour,
                   std::to_string(m + 1) + "月 " + std::to_string(r.year - 1) + "年：" +
                       std::to_string(before));
    }
    s += text_el(x0 + bar / 2, top + plot_h - h_now - 3, "middle", count_text(now),
                 " font-size=\"9\"");
    s += text_el(left + slot * m + slot / 2, height - bottom + 16, "middle",
                 std::to_string(m + 1) + "月");
  }
  s += "<line x1=\"" + fmt(left) + "\" y1=\"" + fmt(top + plot_h) + "\" x2=\"" +
       fmt(width - right) + "\" y2=\"" + fmt(top + plot_h) +
       "\" stroke=\"#333333\" stroke-width=\"1\"/>";
  return s + "</svg>";
}

// Deliveries by channel: one horizontal bar per channel for each year, figures at the bar ends.
std::string channels_chart(const AnnualReport& r) {
  std::vector<std::string> channels;
  for (const auto& t : r.tables) {
    if (t.id != "deliveries_by_channel") continue;
    for (const auto& row : t.rows) {
      if (!row.is_total) channels.push_back(row.id);
    }
  }
  const int width = 660;
  const double label_w = 150, top = 28, row_h = 34, right = 60;
  const int height = static_cast<int>(top + row_h * std::max<std::size_t>(1, channels.size()) + 10);
  auto value = [](const std::map<std::string, long long>& m, const std::string& k) {
    const auto it = m.find(k);
    return it == m.end() ? 0LL : it->second;
  };
  long long max = 0;
  for (const auto& c : channels) {
    max = std::max({max, value(r.current.deliveries_by_channel, c),
                    value(r.previous.deliveries_by_channel, c)});
  }
  const long long axis = nice_ceiling(max);
  const double plot_w = width - label_w - right;
  std::string s = svg_open(width, height, "各渠道发布条次");
  s += legend(label_w, 14, r.year, r.previous.known());
  if (channels.empty()) s += text_el(label_w, top + 16, "start", "本年度无渠道发布记录");
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const std::string& c = channels[i];
    const double y = top + row_h * static_cast<double>(i);
    const long long now = value(r.current.deliveries_by_channel, c);
    const long long before = value(r.previous.deliveries_by_channel, c);
    const double w_now = plot_w * static_cast<double>(now) / static_cast<double>(axis);
    const double w_before = plot_w * static_cast<double>(before) / static_cast<double>(axis);
    s += text_el(label_w - 8, y + 17, "end", channel_label(c), " font-size=\"12\"");
    s += rect_el(label_w, y + 4, w_now, 13, kCurrentColour,
                 channel_label(c) + " " + std::to_string(r.year) + "年：" + std::to_string(now));
    s += text_el(label_w + w_now + 4, y + 15, "start", count_text(now));
    if (!r.previous.known()) continue;
    s += rect_el(
        label_w, y + 18, w_before, 9, kPreviousColour,
        channel_label(c) + " " + std::to_string(r.year - 1) + "年：" + std::to_string(before));
    s += text_el(label_w + w_before + 4, y + 27, "start", count_text(before), " font-size=\"9\"");
  }
  s += "<line x1=\"" + fmt(label_w) + "\" y1=\"" + fmt(top) + "\" x2=\"" + fmt(label_w) +
       "\" y2=\"" + fmt(height - 10) + "\" stroke=\"#333333\" stroke-width=\"1\"/>";
  return s + "</svg>";
}

std::string paragraphs(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    const std::string para = text.substr(start, end - start);
    if (!para.empty()) out += "<p>" + xml_escape(para) + "</p>\n";
    start = end + 2;
  }
  return out;
}

std::string table_html(const Table& t) {
  std::string s = "<table id=\"" + xml_escape(t.id) + "\">\n<caption>" + xml_escape(t.title);
  if (t.source == "supplied") s += "<span class=\"src\">（编制人提供）</span>";
  s += "</caption>\n<thead><tr><th scope=\"col\">项目</th>";
  for (const auto& c : t.columns) s += "<th scope=\"col\">" + xml_escape(c) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    s += row.is_total ? "<tr class=\"total\">" : "<tr>";
    s += "<th scope=\"row\">" + xml_escape(row.label) + "</th>";
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const Cell& c = row.cells[i];
      const bool blank = c.type == Cell::Type::blank;
      const bool words = i < t.column_ids.size() && t.column_ids[i] == "source";
      s += blank ? "<td class=\"blank\">" : words ? "<td class=\"words\">" : "<td>";
      s += xml_escape(c.display()) + "</td>";
    }
    s += "</tr>\n";
  }
  s += "</tbody>\n</table>\n";
  if (!t.notes.empty() || t.has_blank()) {
    s += "<ul class=\"notes\">";
    for (const auto& n : t.notes) s += "<li>" + xml_escape(n) + "</li>";
    if (t.has_blank()) s += "<li>" + xml_escape(kBlankLegend) + "</li>";
    s += "</ul>\n";
  }
  return s;
}

constexpr const char* kStyle = R"(
@page { size: A4; margin: 18mm 16mm 20mm;
        @bottom-center { content: "第 " counter(page) " 页，共 " counter(pages) " 页"; font-size: 9pt; } }
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", "Songti SC", serif;
       color: #111; max-width: 180mm; margin: 0 auto; padding: 8mm 0; line-height: 1.7; font-size: 11pt; }
h1 { font-size: 15pt; text-align: center; margin: 0 0 1mm; }
.subtitle { text-align: center; font-size: 11pt; margin-bottom: 1mm; }
.meta { text-align: center; color: #555; font-size: 9pt; margin-bottom: 6mm; }
h2 { font-size: 13pt; border-bottom: 1px solid #1f4e79; padding-bottom: 1mm; margin-top: 7mm; }
p { text-indent: 2em; margin: 2mm 0; }
table { border-collapse: collapse; width: 100%; margin: 4mm 0 1mm; font-size: 9.5pt; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
caption { font-weight: bold; text-align: left; padding-bottom: 1.5mm; }
caption .src { font-weight: normal; color: #555; }
th, td { border: 1px solid #444; padding: 1mm 2mm; }
thead th { background: #eef3f8; font-weight: bold; text-align: center; }
tbody th { text-align: left; font-weight: normal; }
td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.blank { color: #888; text-align: center; }
td.words { text-align: left; white-space: normal; font-variant-numeric: normal; }
h3 { font-size: 12pt; margin: 4mm 0 1mm; }
.acknowledged { border: 1px solid #888; color: #333; padding: 2mm; }
tr.total th, tr.total td { font-weight: bold; background: #f6f6f6; }
ul.notes { font-size: 8.5pt; color: #444; margin: 0 0 3mm; padding-left: 5mm; }
ul.rules { font-size: 9.5pt; }
.warning { border: 1px solid #b00; color: #b00; padding: 2mm; }
figure { margin: 3mm 0; page-break-inside: avoid; }
figcaption { font-weight: bold; font-size: 10pt; }
svg text { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; fill: #222; }
@media print { body { padding: 0; max-width: none; } h2, h3, caption { page-break-after: avoid; break-after: avoid; } }
)";

}  // namespace

std::string render_html(const AnnualReport& r) {
  const std::string y = std::to_string(r.year);
  const std::string title = y + "年" + r.office + "政府信息公开工作年度报告";
  std::string h = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"zh-CN\">\n";
  h += "<head>\n<meta charset=\"UTF-8\"/>\n<title>" + xml_escape(title) + "</title>\n<style>" +
       kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>" + xml_escape(title) + "</h1>\n";
  h += "<div class=\"meta\">统计期限：" + y + "年1月1日至12月31日</div>\n";
  for (const auto& w : r.warnings) {
    h += "<p class=\"warning\">请核对：" + xml_escape(w) + "</p>\n";
  }
  auto tables_of = [&](const Section& s) {
    std::string out;
    for (const auto& id : s.tables) {
      for (const auto& t : r.tables) {
        if (t.id == id) out += table_html(t);
      }
    }
    return out;
  };
  for (const auto& s : r.sections) {
    const char* tag = s.level == 2 ? "h2" : "h3";
    h += std::string("<") + tag + " id=\"" + xml_escape(s.id) + "\">" + xml_escape(s.heading) +
         "</" + tag + ">\n";
    for (const auto& p : s.paragraphs) h += paragraphs(p);
    h += tables_of(s);
    if (s.id == "active") {
      h += "<figure>\n<figcaption>图1  各月主动公开信息数（条）</figcaption>\n" + months_chart(r) +
           "\n</figure>\n";
    }
    if (s.id == "forms") {
      h += "<figure>\n<figcaption>图2  各渠道发布情况（条次）</figcaption>\n" + channels_chart(r) +
           "\n</figure>\n";
    }
  }
  bool any_acknowledged = false;
  for (const auto& w : r.checks) any_acknowledged = any_acknowledged || w.acknowledged;
  if (any_acknowledged) {
    h += "<h2>数据核对说明</h2>\n";
    for (const auto& w : r.checks) {
      if (!w.acknowledged) continue;
      h += "<p class=\"acknowledged\">已核对：" + xml_escape(w.text) + "编制人说明：" +
           xml_escape(w.reason) + "</p>\n";
    }
  }
  h += "<h2>统计口径</h2>\n<ul class=\"rules\">";
  for (const auto& rule : r.counting_rules) h += "<li>" + xml_escape(rule) + "</li>";
  h += "</ul>\n</body>\n</html>\n";
  return h;
}

}  // namespace herald::report
