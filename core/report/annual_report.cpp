#include "core/report/annual_report.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "core/item.h"

namespace herald::report {
namespace {

const std::vector<std::pair<std::string, std::string>> kCategoryLabels = {
    {"regulation", "法规公文类"}, {"work_news", "工作动态类"},         {"personnel", "人事信息类"},
    {"finance", "财政信息类"},    {"overseas_safety", "海外安全提醒"},
};

const std::vector<std::pair<std::string, std::string>> kChannelLabels = {
    {"portal", "政府门户网站"}, {"website", "本单位网站"}, {"weibo", "政务微博"},
    {"wechat", "政务微信"},     {"media", "新闻媒体"},     {"webhook", "媒体接口（webhook）"},
};

const char* kLevels[] = {"caution", "reconsider", "avoid"};

long long value_or_zero(const std::map<std::string, long long>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

template <class Map>
long long sum_values(const Map& m) {
  long long sum = 0;
  for (const auto& [k, v] : m) sum += v;
  return sum;
}

std::string offset_text(int minutes) {
  const char sign = minutes < 0 ? '-' : '+';
  const int m = std::abs(minutes);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, m / 60, m % 60);
  return buf;
}

// Channels in a fixed order (the labelled ones first), then any other the counters know.
std::vector<std::string> ordered_channels(const YearFigures& a, const YearFigures& b) {
  std::vector<std::string> out;
  auto known = [&](const std::string& c) {
    return a.deliveries_by_channel.count(c) > 0 || b.deliveries_by_channel.count(c) > 0;
  };
  for (const auto& [id, label] : kChannelLabels) {
    if (known(id)) out.push_back(id);
  }
  for (const auto* m : {&a.deliveries_by_channel, &b.deliveries_by_channel}) {
    for (const auto& [id, n] : *m) {
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
  }
  return out;
}

std::string level_label(const std::string& level) {
  const char* label = alert_level_label(level);
  return *label != '\0' ? label : (level.empty() ? "未标级别" : level);
}

// "2012年（条）", "2012年（条，编制人提供）" for a supplied year.
std::string year_header(const YearFigures& y, const std::string& unit) {
  return std::to_string(y.year) + "年（" + unit +
         (y.origin == YearFigures::Origin::supplied ? "，编制人提供" : "") + "）";
}

Cell known_cell(const YearFigures& y, long long n) {
  return y.known() ? Cell::of(n) : Cell::blank();
}
Cell change_cell(const YearFigures& now, const YearFigures& before, long long a, long long b) {
  return now.known() && before.known() ? Cell::of(a - b) : Cell::blank();
}

// Why a year's column is blank, for the notes under its tables.
std::string unknown_note(const YearFigures& y) {
  return std::to_string(y.year) +
         "年无数据：本系统当年没有发布记录（尚未启用），编制人也未提供该年数字，故以“—”表示，"
         "不是0。";
}

void add_origin_notes(Table& t, const AnnualReport& r) {
  for (const YearFigures* y : {&r.current, &r.previous}) {
    if (!y->known()) t.notes.push_back(unknown_note(*y));
    if (y->origin == YearFigures::Origin::supplied) {
      t.notes.push_back(std::to_string(y->year) + "年数字由编制人提供（" + y->source +
                        "），非本系统统计。");
    }
  }
}

Table items_table(const AnnualReport& r) {
  Table t;
  t.id = "items_by_category";
  t.title = "主动公开政府信息（按类别）";
  t.source = r.previous.origin == YearFigures::Origin::supplied ? "herald+supplied" : "herald";
  t.column_ids = {"items", "share", "previous_items", "change"};
  t.columns = {year_header(r.current, "条"), "占比", year_header(r.previous, "条"), "增减（条）"};
  const long long total = r.current.items();
  for (const auto& c : ordered_categories(r.current, r.previous)) {
    const long long now = value_or_zero(r.current.items_by_category, c);
    const long long before = value_or_zero(r.previous.items_by_category, c);
    t.rows.push_back(
        {c,
         category_label(c),
         {known_cell(r.current, now), Cell::of_text(share_text(now, total)),
          known_cell(r.previous, before), change_cell(r.current, r.previous, now, before)},
         false});
  }
  t.rows.push_back({"total",
                    "合计",
                    {known_cell(r.current, total), Cell::of_text(share_text(total, total)),
                     known_cell(r.previous, r.previous.items()),
                     change_cell(r.current, r.previous, total, r.previous.items())},
                    true});
  t.rows.push_back({"alerts",
                    "其中：海外安全提醒（已计入上列类别）",
                    {known_cell(r.current, r.current.alerts()),
                     Cell::of_text(share_text(r.current.alerts(), total)),
                     known_cell(r.previous, r.previous.alerts()),
                     change_cell(r.current, r.previous, r.current.alerts(), r.previous.alerts())},
                    false});
  for (const char* level : kLevels) {
    const long long now = value_or_zero(r.current.alerts_by_level, level);
    const long long before = value_or_zero(r.previous.alerts_by_level, level);
    if (now == 0 && before == 0) continue;
    t.rows.push_back({std::string("alerts.") + level,
                      std::string("　　") + level_label(level),
                      {known_cell(r.current, now), Cell::blank(), known_cell(r.previous, before),
                       change_cell(r.current, r.previous, now, before)},
                      false});
  }
  t.notes.push_back(
      "合计＝各类别之和：每条信息只属于一个类别，无论在几个渠道发布只计一次，按首次成功发布日期归年"
      "。");
  t.notes.push_back(
      "占比为该类别条数占合计的百分比，保留一位小数（四舍五入，各项分别舍入，相加可能与100%相差0."
      "1）。");
  t.notes.push_back("海外安全提醒按其所属类别计入上列各类，“其中”一行不再加入合计。");
  add_origin_notes(t, r);
  return t;
}

Table channels_table(const AnnualReport& r) {
  Table t;
  t.id = "deliveries_by_channel";
  t.title = "各渠道发布情况";
  t.source = r.previous.origin == YearFigures::Origin::supplied ? "herald+supplied" : "herald";
  t.column_ids = {"deliveries", "previous_deliveries", "change"};
  t.columns = {year_header(r.current, "条次"), year_header(r.previous, "条次"), "增减（条次）"};
  for (const auto& c : ordered_channels(r.current, r.previous)) {
    const long long now = value_or_zero(r.current.deliveries_by_channel, c);
    const long long before = value_or_zero(r.previous.deliveries_by_channel, c);
    t.rows.push_back({c,
                      channel_label(c),
                      {known_cell(r.current, now), known_cell(r.previous, before),
                       change_cell(r.current, r.previous, now, before)},
                      false});
  }
  const long long now = r.current.deliveries(), before = r.previous.deliveries();
  t.rows.push_back({"total",
                    "合计",
                    {known_cell(r.current, now), known_cell(r.previous, before),
                     change_cell(r.current, r.previous, now, before)},
                    true});
  t.notes.push_back(
      "合计＝各渠道之和：一条信息在N个渠道成功发布计N条次；更正、撤回另计，不计入本表。");
  add_origin_notes(t, r);
  return t;
}

Table months_table(const AnnualReport& r) {
  Table t;
  t.id = "items_by_month";
  t.title = "各月主动公开信息数";
  t.source = "herald";
  t.column_ids = {"items", "previous_items"};
  t.columns = {year_header(r.current, "条"), year_header(r.previous, "条")};
  // A supplied year has no months: its column is blank like an unknown year's.
  auto month_cell = [](const YearFigures& y, long long n) {
    return y.origin == YearFigures::Origin::herald ? Cell::of(n) : Cell::blank();
  };
  for (int m = 0; m < 12; ++m) {
    t.rows.push_back({std::to_string(m + 1),
                      std::to_string(m + 1) + "月",
                      {month_cell(r.current, r.current.items_by_month[m]),
                       month_cell(r.previous, r.previous.items_by_month[m])},
                      false});
  }
  t.rows.push_back({"total",
                    "合计",
                    {month_cell(r.current, r.current.items_by_month_sum()),
                     month_cell(r.previous, r.previous.items_by_month_sum())},
                    true});
  t.notes.push_back(
      "按首次成功发布的日期（办公地时区）归月；合计＝各月之和，与按类别的合计为同一批信息。");
  for (const YearFigures* y : {&r.current, &r.previous}) {
    if (!y->known()) t.notes.push_back(unknown_note(*y));
    if (y->origin == YearFigures::Origin::supplied) {
      t.notes.push_back(std::to_string(y->year) + "年的数字由编制人按年提供，没有分月数字。");
    }
  }
  return t;
}

Table other_counts_table(const AnnualReport& r) {
  Table t;
  t.id = "corrections_retractions";
  t.title = "更正、撤回与发布失败（另计，不增加信息数）";
  t.source = "herald";
  t.column_ids = {"current", "previous"};
  t.columns = {std::to_string(r.year) + "年", std::to_string(r.year - 1) + "年"};
  // Only Herald's own counters know these; a supplied year has none of them.
  auto cell = [](const YearFigures& y, long long n) {
    return y.origin == YearFigures::Origin::herald ? Cell::of(n) : Cell::blank();
  };
  auto items_cell = [](const YearFigures& y, const std::optional<long long>& n) {
    return y.origin == YearFigures::Origin::herald ? Cell::of(n) : Cell::blank();
  };
  t.rows.push_back({"corrected_items",
                    "更正（条）",
                    {items_cell(r.current, r.current.corrected_items),
                     items_cell(r.previous, r.previous.corrected_items)},
                    false});
  t.rows.push_back({"corrected",
                    "更正（条次）",
                    {cell(r.current, r.current.corrected), cell(r.previous, r.previous.corrected)},
                    false});
  t.rows.push_back({"retracted_items",
                    "撤回（条）",
                    {items_cell(r.current, r.current.retracted_items),
                     items_cell(r.previous, r.previous.retracted_items)},
                    false});
  t.rows.push_back({"retracted",
                    "撤回（条次）",
                    {cell(r.current, r.current.retracted), cell(r.previous, r.previous.retracted)},
                    false});
  t.rows.push_back({"failed",
                    "发布失败（条次）",
                    {cell(r.current, r.current.failed), cell(r.previous, r.previous.failed)},
                    false});
  t.notes.push_back(
      "条：涉及的信息条数，一条信息无论在几个渠道更正或撤回只计一次；条次：每个渠道的每次更正或"
      "撤回计一条次。例如一条提醒在四个渠道撤回，计撤回1条、4条次。");
  if (!r.current.retracted_items || !r.current.corrected_items) {
    t.notes.push_back("系统计数器按渠道计更正、撤回的条次；未单列条数的以“—”表示。");
  }
  for (const YearFigures* y : {&r.current, &r.previous}) {
    if (y->origin != YearFigures::Origin::herald) {
      t.notes.push_back(std::to_string(y->year) + "年：本系统当年未统计更正、撤回，以“—”表示。");
    }
  }
  return t;
}

std::string source_note(const std::string& source) {
  return "来源：编制人提供（" + source + "），本系统未核对。";
}

// An exact count as a number, an approximate one as its text ("1000余").
Cell count_cell(const std::optional<Count>& c) {
  if (!c) return Cell::blank();
  return c->exact() ? Cell::of(c->value) : Cell::of_text(c->text());
}

// Approximate when any row it is computed from is.
bool any_approx(const Requests& q) {
  for (const auto& [id, row] : q.rows) {
    if (!row.approx.empty()) return true;
  }
  return false;
}

std::string approx_of(const Requests& q) {
  for (const auto& [id, row] : q.rows) {
    if (!row.approx.empty()) return row.approx;
  }
  return "";
}

Cell requests_handled_cell(const Requests& q) {
  const long long n = q.outcomes_total().total();
  return any_approx(q) ? Cell::of_text(Count{n, approx_of(q)}.text()) : Cell::of(n);
}

// The free-form (≤2018) report's hand-entered figures, one row each.
Table supplied_summary_table(const AnnualReport& r) {
  Table t;
  t.id = "supplied";
  t.title = "编制人提供的数据";
  t.source = "supplied";
  t.column_ids = {"value", "source"};
  t.columns = {"数值", "来源"};
  const SuppliedFigures* s = r.supplied ? &*r.supplied : nullptr;
  auto add = [&](std::string id, std::string label, Cell value, std::string source) {
    t.rows.push_back({std::move(id),
                      std::move(label),
                      {std::move(value), source.empty() ? Cell::blank() : Cell::of_text(source)},
                      false});
  };
  if (s && s->requests) {
    const auto& q = *s->requests;
    auto row = [&](const char* id) {
      const auto it = q.rows.find(id);
      if (it == q.rows.end()) return Cell::blank();
      if (it->second.approx.empty()) return Cell::of(it->second.total());
      return Cell::of_text(Count{it->second.total(), it->second.approx}.text());
    };
    add("requests.new", "依申请公开：本年新收申请（件）", row("new"), q.source);
    add("requests.carried_in", "依申请公开：上年结转（件）", row("carried_in"), q.source);
    add("requests.handled", "依申请公开：本年办结（件）", requests_handled_cell(q), q.source);
    add("requests.carried_over", "依申请公开：结转下年（件）", row("carried_over"), q.source);
  } else {
    add("requests.new", "依申请公开：本年新收申请（件）", Cell::blank(), "");
  }
  if (s && s->fees) {
    add("fees", "信息公开收费（元）",
        Cell::of_text(std::to_string(s->fees->amount_fen / 100) + "." +
                      (s->fees->amount_fen % 100 < 10 ? "0" : "") +
                      std::to_string(s->fees->amount_fen % 100)),
        s->fees->source);
  } else {
    add("fees", "信息公开收费（元）", Cell::blank(), "");
  }
  if (s && s->reviews) {
    add("reviews.reconsideration", "行政复议（件）", Cell::of(s->reviews->group_total(0)),
        s->reviews->source);
    add("reviews.litigation", "行政诉讼（件）",
        Cell::of(s->reviews->group_total(1) + s->reviews->group_total(2)), s->reviews->source);
  } else {
    add("reviews.reconsideration", "行政复议（件）", Cell::blank(), "");
    add("reviews.litigation", "行政诉讼（件）", Cell::blank(), "");
  }
  const auto* p = s && s->periodicals ? &*s->periodicals : nullptr;
  add("periodicals.briefings", "简报（期）", p ? count_cell(p->briefings) : Cell::blank(),
      p ? p->source : "");
  add("periodicals.magazines", "杂志（期）", p ? count_cell(p->magazines) : Cell::blank(),
      p ? p->source : "");
  const auto* w = s && s->websites ? &*s->websites : nullptr;
  add("websites.items", "本单位网站发布信息（条）", w ? count_cell(w->items) : Cell::blank(),
      w ? w->source : "");
  add("websites.photos", "本单位网站发布照片（张）", w ? count_cell(w->photos) : Cell::blank(),
      w ? w->source : "");
  t.notes.push_back("本表数据不由本系统统计，按编制人提供的文件原样列出，并注明来源。");
  return t;
}

std::string number_text(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<long long>(v))) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

Table table1(const AnnualReport& r) {
  const Table1Spec spec = table1_spec(r.year);
  Table t;
  t.id = "table1";
  t.title = "表一  主动公开政府信息情况（第二十条）";
  t.source = "supplied";
  for (const auto& [id, header] : spec.columns) {
    t.column_ids.push_back(id);
    t.columns.push_back(header);
  }
  const Table1Cells empty;
  const Table1Cells& cells = r.supplied ? r.supplied->table1 : empty;
  for (const auto& row : spec.rows) {
    TableRow out{row.id, row.label, {}, false};
    for (std::size_t c = 0; c < spec.columns.size(); ++c) {
      const bool applies = std::find(row.columns.begin(), row.columns.end(), static_cast<int>(c)) !=
                           row.columns.end();
      if (!applies) {
        out.cells.push_back(Cell::of_text("/"));
        continue;
      }
      std::optional<double> value;
      if (const auto rit = cells.find(row.id); rit != cells.end()) {
        const auto cit = rit->second.find(spec.columns[c].first);
        if (cit != rit->second.end()) value = cit->second;
      }
      out.cells.push_back(value ? Cell::of_text(number_text(*value)) : Cell::blank());
    }
    t.rows.push_back(std::move(out));
  }
  t.notes.push_back("“/”表示该项在本表格式中不适用。");
  t.notes.push_back(r.supplied && !r.supplied->table1.empty()
                        ? source_note(r.supplied->table1_source)
                        : "本系统不登记规章、规范性文件和行政许可等事项；编制人未提供本表数据。");
  return t;
}

Table table2(const AnnualReport& r) {
  Table t;
  t.id = "table2";
  t.title = "表二  收到和处理政府信息公开申请情况";
  t.source = "supplied";
  t.column_ids = {"natural_person", "commercial", "research", "social_welfare",
                  "legal_service",  "other_org",  "total"};
  t.columns = {
      "自然人", "法人或其他组织：商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他",
      "总计"};
  const Requests* q = r.supplied && r.supplied->requests ? &*r.supplied->requests : nullptr;
  const bool trial = r.format == ReportTemplate::trial_2019;
  for (const auto& spec : request_row_specs()) {
    const std::string id = spec.id;
    // The 2019 trial prints (六)其他处理 as one row.
    if (trial && id.rfind("outcomes.other.", 0) == 0) continue;
    TableRow row{id, spec.label, {}, id == "outcomes.total"};
    const bool heading = id == "outcomes" || id == "outcomes.withheld" || id == "outcomes.unable" ||
                         id == "outcomes.not_processed" || (id == "outcomes.other" && !trial);
    if (heading) {
      t.rows.push_back(std::move(row));
      t.rows.back().cells.assign(7, Cell::of_text(""));
      continue;
    }
    std::optional<RequestRow> data;
    if (q) {
      if (id == "outcomes.total") {
        data = q->outcomes_total();
      } else if (id == "outcomes.other" && trial) {
        RequestRow sum;
        bool any = false, split = true;
        for (const auto& [rid, rr] : q->rows) {
          if (rid.rfind("outcomes.other.", 0) != 0) continue;
          any = true;
          if (!rr.split()) split = false;
        }
        if (any) {
          if (!split) {
            long long n = 0;
            for (const auto& [rid, rr] : q->rows) {
              if (rid.rfind("outcomes.other.", 0) == 0) n += rr.total();
            }
            sum.total_only = n;
          } else {
            for (const auto& [rid, rr] : q->rows) {
              if (rid.rfind("outcomes.other.", 0) != 0) continue;
              for (int i = 0; i < 6; ++i) {
                if (rr.by_applicant[i])
                  sum.by_applicant[i] = sum.by_applicant[i].value_or(0) + *rr.by_applicant[i];
              }
            }
          }
          data = sum;
        }
      } else if (auto it = q->rows.find(id); it != q->rows.end()) {
        data = it->second;
      }
    }
    for (int i = 0; i < 6; ++i) {
      row.cells.push_back(data && data->split() ? Cell::of(data->by_applicant[i]) : Cell::blank());
    }
    row.cells.push_back(data ? Cell::of(data->total()) : Cell::blank());
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back(
      "总计列为各申请人列之和（只给总数、未分申请人类型的行，申请人各列为空）；（七）总计为各办理结"
      "果之和。");
  t.notes.push_back("本表核对：一＋二＝三（七）＋四，编制人提供的数据已通过此核对。");
  t.notes.push_back(q ? source_note(q->source) : "编制人未提供依申请公开数据。");
  return t;
}

Table table3(const AnnualReport& r) {
  Table t;
  t.id = "table3";
  t.title = "表三  政府信息公开行政复议、行政诉讼情况";
  t.source = "supplied";
  const char* groups[] = {"行政复议", "行政诉讼（未经复议直接起诉）", "行政诉讼（复议后起诉）"};
  const char* outcomes[] = {"结果维持", "结果纠正", "其他结果", "尚未审结", "总计"};
  const Reviews* rv = r.supplied && r.supplied->reviews ? &*r.supplied->reviews : nullptr;
  t.column_ids = {"upheld", "corrected", "other", "pending", "total"};
  for (const char* o : outcomes) t.columns.push_back(o);
  for (int g = 0; g < 3; ++g) {
    TableRow row{kReviewGroupKeys[g], groups[g], {}, false};
    for (int k = 0; k < 4; ++k) row.cells.push_back(rv ? Cell::of(rv->cells[g][k]) : Cell::blank());
    row.cells.push_back(rv ? Cell::of(rv->group_total(g)) : Cell::blank());
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("总计为前四项之和；只计本机关作为原行政行为机关的案件。");
  t.notes.push_back(rv ? source_note(rv->source) : "编制人未提供行政复议、行政诉讼数据。");
  return t;
}

std::string alerts_phrase(const YearFigures& y) {
  std::string text = "全年发布海外安全提醒" + count_text(y.alerts()) + "条";
  std::vector<std::string> parts;
  for (const char* level : kLevels) {
    const long long n = value_or_zero(y.alerts_by_level, level);
    if (n > 0) parts.push_back(level_label(level) + count_text(n) + "条");
  }
  if (!parts.empty()) {
    text += "（";
    for (std::size_t i = 0; i < parts.size(); ++i) text += (i ? "，" : "") + parts[i];
    text += "）";
  }
  return text;
}

// "上年（2012年）…" for a known year, the reason for an unknown one.
std::string previous_year_sentence(const AnnualReport& r) {
  const YearFigures& p = r.previous;
  const std::string y = std::to_string(p.year);
  if (!p.known()) {
    return "上年（" + y + "年）无可比数据：本系统当年没有发布记录，编制人也未提供" + y +
           "年的数字，故不作同比。";
  }
  const std::string origin =
      p.origin == YearFigures::Origin::supplied ? "，编制人提供（" + p.source + "）" : "";
  return "上年（" + y + "年" + origin + "）主动公开政府信息" + count_text(p.items()) +
         "条，本年比上年" + change_text(r.current.items(), p.items(), "条") + "。";
}

std::string active_text(const AnnualReport& r) {
  const YearFigures& y = r.current;
  const long long total = y.items();
  if (!y.known()) {
    return std::to_string(r.year) +
           "年无主动公开数据：本系统当年没有发布记录，编制人也未提供该年数字。";
  }
  std::string t =
      std::to_string(r.year) + "年累计主动公开政府信息" + count_text(total) + "条，其中，";
  const auto categories = ordered_categories(r.current, r.previous);
  bool first = true;
  for (const auto& c : categories) {
    const long long n = value_or_zero(y.items_by_category, c);
    if (n == 0) continue;
    t += (first ? "" : "；") + category_label(c) + count_text(n) + "条，占" + share_text(n, total);
    first = false;
  }
  if (first) t += "无";
  t += "。";
  if (y.origin == YearFigures::Origin::supplied)
    t += "（以上数字由编制人提供：" + y.source + "。）";
  return t + previous_year_sentence(r);
}

std::string reconciliation_text(const AnnualReport& r) {
  if (!r.supplied || !r.supplied->reconciliation) return "";
  const Reconciliation& rec = *r.supplied->reconciliation;
  std::string t = "数据核对说明：";
  if (rec.reported_items) {
    const long long sum = r.current.items();
    t += "原报告所列主动公开信息总数为" + count_text(*rec.reported_items) + "条，各类别之和为" +
         count_text(sum) + "条";
    if (*rec.reported_items != sum) {
      const long long diff =
          *rec.reported_items > sum ? *rec.reported_items - sum : sum - *rec.reported_items;
      t += "，相差" + count_text(diff) + "条；本报告的合计取各类别之和" + count_text(sum) + "条";
    }
    t += "。";
  }
  if (!rec.note.empty()) t += rec.note;
  return t;
}

std::string content_text(const AnnualReport& r) {
  const YearFigures& y = r.current;
  if (!y.known()) return "";
  std::string t = alerts_phrase(y) + "，已计入上述类别。";
  const long long regulations = value_or_zero(y.items_by_category, "regulation");
  if (regulations > 0) t += "全年新增和变更政策法规信息" + count_text(regulations) + "条。";
  if (y.origin != YearFigures::Origin::herald) return t;
  if (y.corrected > 0 || y.retracted > 0) {
    auto items = [](const std::optional<long long>& n) {
      return n ? count_text(*n) + "条、" : std::string();
    };
    t += "另有更正" + items(y.corrected_items) + count_text(y.corrected) + "条次，撤回" +
         items(y.retracted_items) + count_text(y.retracted) +
         "条次（条次按渠道计：一条信息在几个渠道撤回计几条次），另行统计，不计入上述信息数。";
  }
  return t;
}

std::string channels_text(const AnnualReport& r) {
  const YearFigures& y = r.current;
  const auto channels = ordered_channels(r.current, r.previous);
  if (channels.empty() || !y.known()) return "";
  std::string t = "分渠道：";
  bool first_channel = true;
  for (const auto& c : channels) {
    const long long n = value_or_zero(y.deliveries_by_channel, c);
    const long long before = value_or_zero(r.previous.deliveries_by_channel, c);
    t += (first_channel ? "" : "；") + channel_label(c) + "发布信息" + count_text(n) + "条次";
    if (r.previous.known()) {
      t += "（上年" + count_text(before) + "条次，" + change_text(n, before, "条次") + "）";
    }
    first_channel = false;
  }
  t += "；各渠道合计" + count_text(y.deliveries()) + "条次。";
  if (!r.previous.known()) t += "上年无可比数据（见上）。";
  return t;
}

std::string count_or_blank(const std::optional<Count>& c) {
  return c ? c->text() : std::string(kBlankMark);
}

std::string websites_text(const SuppliedFigures& s) {
  if (!s.websites) return "";
  const auto& w = *s.websites;
  return "本单位网站共发布信息" + count_or_blank(w.items) + "条，照片" + count_or_blank(w.photos) +
         "张（编制人提供：" + w.source + "）。";
}

std::string periodicals_text(const SuppliedFigures& s) {
  if (!s.periodicals) return "";
  const auto& p = *s.periodicals;
  return "全年印发简报" + count_or_blank(p.briefings) + "期，杂志" + count_or_blank(p.magazines) +
         "期（编制人提供：" + p.source + "）。";
}

std::string requests_text(const SuppliedFigures& s) {
  if (!s.requests) return "";
  const auto& q = *s.requests;
  auto figure = [&](const char* id) {
    const auto it = q.rows.find(id);
    if (it == q.rows.end()) return std::string("0");
    return Count{it->second.total(), it->second.approx}.text();
  };
  auto total = [&](const char* id) {
    const auto it = q.rows.find(id);
    return it == q.rows.end() ? 0LL : it->second.total();
  };
  const long long received = total("new") + total("carried_in");
  const long long handled = q.outcomes_total().total();
  const std::string handled_text =
      any_approx(q) ? Count{handled, approx_of(q)}.text() : count_text(handled);
  return (q.note.empty() ? "" : q.note + "，") + std::string("全年新收政府信息公开申请") +
         figure("new") + "件，上年结转" + figure("carried_in") + "件，本年办结" + handled_text +
         "件，结转下年" + figure("carried_over") + "件，办结率" +
         (received > 0 ? share_text(handled, received) : std::string(kBlankMark)) +
         "（编制人提供：" + q.source + "）。";
}

std::string fees_text(const SuppliedFigures& s) {
  if (!s.fees) return "";
  const Fees& f = *s.fees;
  // The compiler's note says it in the office's words; the default sentence only stands in
  // for a missing note, so the sentence is never said twice.
  std::string t;
  if (f.amount_fen == 0) {
    t = f.note.empty() ? std::string("政府信息公开事项均未收费") : f.note;
  } else {
    t = "收取信息处理费" + std::to_string(f.amount_fen / 100) + "." +
        (f.amount_fen % 100 < 10 ? "0" : "") + std::to_string(f.amount_fen % 100) + "元" +
        (f.note.empty() ? "" : "，" + f.note);
  }
  while (!t.empty() && (t.back() == '.' || t.compare(t.size() - 3, 3, "。") == 0)) {
    t.erase(t.back() == '.' ? t.size() - 1 : t.size() - 3);
  }
  return t + "（编制人提供：" + f.source + "）。";
}

std::string reviews_text(const SuppliedFigures& s) {
  if (!s.reviews) return "";
  const long long rec = s.reviews->group_total(0);
  const long long lit = s.reviews->group_total(1) + s.reviews->group_total(2);
  return "全年因政府信息公开被申请行政复议" + count_text(rec) + "件，被提起行政诉讼" +
         count_text(lit) + "件（编制人提供：" + s.reviews->source + "）。";
}

std::vector<std::string> split_paragraphs(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

void add_paragraph(Section& s, std::string text) {
  if (!text.empty()) s.paragraphs.push_back(std::move(text));
}

constexpr const char* kNotSupplied = "编制人未提供本节内容。";

// The seed's headings in the seed's order; the tables go under the heading they belong to.
std::vector<Section> build_sections(const AnnualReport& r) {
  const SuppliedFigures empty;
  const SuppliedFigures& s = r.supplied ? *r.supplied : empty;
  const bool national = r.format != ReportTemplate::freeform_2008;
  std::vector<Section> out;
  Section overview{"overview", "一、概述", 2, split_paragraphs(s.overview), {}};
  Section active{"active", "二、主动公开政府信息情况", 2, {active_text(r)}, {"items_by_category"}};
  add_paragraph(active, reconciliation_text(r));
  if (national) active.tables.push_back("table1");
  Section content{"content", "（一）公开内容", 3, {}, {"corrections_retractions"}};
  add_paragraph(content, content_text(r));
  Section forms{"forms", "（二）公开形式", 3, {}, {"deliveries_by_channel"}};
  add_paragraph(forms, channels_text(r));
  add_paragraph(forms, websites_text(s));
  add_paragraph(forms, periodicals_text(s));
  Section requests{"requests", "三、政府信息依申请公开情况", 2, {}, {}};
  add_paragraph(requests, requests_text(s));
  if (national) requests.tables.push_back("table2");
  Section fees{"fees", "四、政府信息公开收费及减免情况", 2, {}, {}};
  add_paragraph(fees, fees_text(s));
  Section reviews{"reviews", "五、公开申请行政复议、提起行政诉讼的情况", 2, {}, {}};
  add_paragraph(reviews, reviews_text(s));
  if (national) reviews.tables.push_back("table3");
  Section improvements{
      "improvements", "六、存在的主要问题和改进措施", 2, split_paragraphs(s.improvements), {}};
  Section annex{"annex", "附：统计表", 2, {}, {"items_by_month"}};
  if (!national) annex.tables.push_back("supplied");
  out = {overview, active, content, forms, requests, fees, reviews, improvements, annex};
  for (const Note& n : s.notes) {
    for (auto& section : out) {
      if (section.id == to_string(n.placement)) section.paragraphs.push_back(n.text);
    }
  }
  for (auto& section : out) {
    if (section.paragraphs.empty() && section.tables.empty()) {
      section.paragraphs.push_back(kNotSupplied);
    }
  }
  return out;
}

std::string joined(const std::vector<Section>& sections, std::initializer_list<const char*> ids) {
  std::string out;
  for (const char* id : ids) {
    for (const auto& s : sections) {
      if (s.id != id) continue;
      for (const auto& p : s.paragraphs) {
        if (p == kNotSupplied) continue;
        out += (out.empty() ? "" : "\n\n") + p;
      }
    }
  }
  return out;
}

// A supplied year replaces a year Herald counted nothing for; the figures it gives are summed, so
// they are exact.
YearFigures from_supplied(int year, const SuppliedYear& s) {
  YearFigures y;
  y.year = year;
  y.origin = YearFigures::Origin::supplied;
  y.source = s.source;
  y.items_by_category = s.items_by_category;
  if (s.alerts) y.alerts_by_level[""] = *s.alerts;
  y.deliveries_by_channel = s.deliveries_by_channel;
  return y;
}

// Herald's categories folded into the report's; a supplied year is already in the report's.
void map_categories(YearFigures& y, const CategoryMap& map) {
  if (y.origin != YearFigures::Origin::herald) return;
  std::map<std::string, long long> mapped;
  for (const auto& [c, n] : y.items_by_category) mapped[map.report_category(c)] += n;
  y.items_by_category = std::move(mapped);
}

std::string map_note(const CategoryMap& map) {
  std::string t;
  for (const auto& [report, herald] : map.includes) {
    std::vector<std::string> others;
    for (const auto& h : herald) {
      if (h != report) others.push_back(category_label(h));
    }
    if (others.empty()) continue;
    t += (t.empty() ? "" : "；") + category_label(report) + "含";
    for (std::size_t i = 0; i < others.size(); ++i) t += (i ? "、" : "") + others[i];
  }
  return t.empty() ? "" : "类别按本单位历年报告的口径归并：" + t + "，以便逐年比较。";
}

void add_check(AnnualReport& r, std::string id, std::string text) {
  ReportWarning w{std::move(id), std::move(text), false, ""};
  if (r.supplied) {
    for (const auto& a : r.supplied->acknowledged) {
      if (a.warning == w.id) {
        w.acknowledged = true;
        w.reason = a.reason;
      }
    }
  }
  if (!w.acknowledged) r.warnings.push_back(w.text);
  r.checks.push_back(std::move(w));
}

// Two figures for the same thing, one supplied and one counted, that do not say the same.
void check_websites(AnnualReport& r) {
  if (!r.supplied || !r.supplied->websites || !r.supplied->websites->items) return;
  if (r.current.origin != YearFigures::Origin::herald) return;
  const auto it = r.current.deliveries_by_channel.find("website");
  if (it == r.current.deliveries_by_channel.end()) return;
  const Count& supplied = *r.supplied->websites->items;
  if (supplied.exact() && supplied.value == it->second) return;
  add_check(r, "websites.items",
            "本单位网站发布信息有两个不同的数字：编制人提供" + supplied.text() +
                "条，本系统统计本单位网站渠道发布" + count_text(it->second) +
                "条次。两者口径不同（本系统只计经本系统发布的条次），请核对，并在提供的数据中确认"
                "采用哪一个及理由。");
}

}  // namespace

ReportTemplate template_for_year(int year) {
  if (year <= 2018) return ReportTemplate::freeform_2008;
  if (year <= 2020) return ReportTemplate::trial_2019;
  return ReportTemplate::national_2021;
}

const char* to_string(ReportTemplate t) {
  switch (t) {
    case ReportTemplate::freeform_2008:
      return "2008-freeform";
    case ReportTemplate::trial_2019:
      return "2019-trial";
    case ReportTemplate::national_2021:
      return "2021";
  }
  return "";
}

bool YearFigures::counted_nothing() const {
  return items() == 0 && deliveries() == 0 && failed == 0 && retracted == 0 && corrected == 0;
}

std::string CategoryMap::report_category(const std::string& herald_category) const {
  for (const auto& [report, herald] : includes) {
    if (std::find(herald.begin(), herald.end(), herald_category) != herald.end()) return report;
  }
  return herald_category;
}

CategoryMap default_category_map() {
  return {{{"regulation", {"regulation"}},
           {"work_news", {"work_news", "overseas_safety"}},
           {"personnel", {"personnel"}},
           {"finance", {"finance"}}}};
}

long long YearFigures::items() const {
  return sum_values(items_by_category);
}
long long YearFigures::alerts() const {
  return sum_values(alerts_by_level);
}
long long YearFigures::deliveries() const {
  return sum_values(deliveries_by_channel);
}
long long YearFigures::items_by_month_sum() const {
  return std::accumulate(items_by_month.begin(), items_by_month.end(), 0LL);
}

std::string Cell::display() const {
  switch (type) {
    case Type::number:
      return count_text(number);
    case Type::text:
      return text;
    case Type::blank:
      break;
  }
  return kBlankMark;
}

bool Table::has_blank() const {
  for (const auto& row : rows) {
    for (const auto& c : row.cells) {
      if (c.type == Cell::Type::blank) return true;
    }
  }
  return false;
}

std::string category_label(const std::string& category) {
  for (const auto& [id, label] : kCategoryLabels) {
    if (id == category) return label;
  }
  return category;
}

std::string channel_label(const std::string& channel) {
  for (const auto& [id, label] : kChannelLabels) {
    if (id == channel) return label;
  }
  return channel;
}

std::vector<std::string> ordered_categories(const YearFigures& a, const YearFigures& b) {
  std::vector<std::string> out;
  // The seed's four are always printed (a zero is a figure); overseas_safety and unknown ones
  // only when either year has some.
  for (const auto& [id, label] : kCategoryLabels) {
    if (id != "overseas_safety" || value_or_zero(a.items_by_category, id) > 0 ||
        value_or_zero(b.items_by_category, id) > 0) {
      out.push_back(id);
    }
  }
  for (const auto* m : {&a.items_by_category, &b.items_by_category}) {
    for (const auto& [id, n] : *m) {
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
  }
  return out;
}

std::string share_text(long long part, long long whole) {
  if (whole <= 0) return kBlankMark;
  // Per-mille rounded half up, in integers: 1074/1090 → 985 → "98.5%".
  const long long permille = (part * 2000 + whole) / (2 * whole);
  return std::to_string(permille / 10) + "." + std::to_string(permille % 10) + "%";
}

std::string change_text(long long now, long long before, const std::string& unit) {
  if (now == before) return "持平";
  const long long diff = now > before ? now - before : before - now;
  std::string t = (now > before ? "增加" : "减少") + count_text(diff) + unit;
  if (before == 0) return t;  // no rate against nothing
  return t + "（" + (now > before ? "增长" : "下降") + share_text(diff, before) + "）";
}

std::string count_text(long long n) {
  // Chinese reports write counts without digit grouping ("1094条"), and so does every format here.
  return std::to_string(n);
}

AnnualReport build_annual_report(int year, YearFigures current, YearFigures previous,
                                 std::optional<SuppliedFigures> supplied, std::string office,
                                 int utc_offset_minutes, std::string generated_at,
                                 std::string platforms_reconciled_on,
                                 const CategoryMap& categories) {
  AnnualReport r;
  r.year = year;
  r.format = template_for_year(year);
  r.current = std::move(current);
  r.previous = std::move(previous);
  r.current.year = year;
  r.previous.year = year - 1;
  r.supplied = std::move(supplied);
  for (YearFigures* f : {&r.current, &r.previous}) {
    if (f->origin == YearFigures::Origin::herald && f->counted_nothing()) {
      f->origin = YearFigures::Origin::none;
    }
    if (f->known() || !r.supplied) continue;
    const auto it = r.supplied->years.find(f->year);
    if (it != r.supplied->years.end()) *f = from_supplied(f->year, it->second);
  }
  map_categories(r.current, categories);
  map_categories(r.previous, categories);
  r.office = r.supplied && !r.supplied->office.empty() ? r.supplied->office : std::move(office);
  r.time_zone = offset_text(utc_offset_minutes);
  r.generated_at = std::move(generated_at);
  const std::string y = std::to_string(year);
  r.counting_rules = {
      "统计期限自" + y + "年1月1日起至12月31日止，按北京时间（UTC" + r.time_zone + "）的日历日计。",
      "主动公开信息数（条）：每条信息只计一次，无论在几个渠道发布，按首次成功发布的日期归年；合计为"
      "各类别之和。",
      "各渠道发布数（条次）：每个渠道的每次成功发布计一条次；合计为各渠道之和。",
      "更正和撤回另行统计，不增加信息数；演练和测试信息不计入任何数字。",
      "海外安全提醒按其所属类别计入各类，单列的是“其中”数。",
      "依申请公开、收费、行政复议和诉讼、刊物、本单位网站的数字不由本系统统计，按编制人提供的数据"
      "列出并注明来源。",
      "“—”表示无此项数据，不是0；无数据的原因在表下注明。",
  };
  if (const std::string note = map_note(categories); !note.empty()) {
    r.counting_rules.push_back(note);
  }
  r.platforms_reconciled_on = std::move(platforms_reconciled_on);
  r.counting_rules.push_back(r.platforms_reconciled_on.empty()
                                 ? "发布记录尚未与各平台回读核对一致。"
                                 : "最近一次发布记录与各平台回读核对一致的日期：" +
                                       r.platforms_reconciled_on + "。");
  for (const YearFigures* f : {&r.current, &r.previous}) {
    if (f->origin != YearFigures::Origin::herald) continue;
    if (f->items_by_month_sum() != f->items()) {
      add_check(r, "months." + std::to_string(f->year),
                std::to_string(f->year) + "年各月信息数之和（" +
                    std::to_string(f->items_by_month_sum()) + "）与各类别之和（" +
                    std::to_string(f->items()) + "）不一致：计数器需要核对。");
    }
  }
  check_websites(r);
  r.tables.push_back(items_table(r));
  r.tables.push_back(channels_table(r));
  r.tables.push_back(months_table(r));
  r.tables.push_back(other_counts_table(r));
  if (r.format == ReportTemplate::freeform_2008) {
    r.tables.push_back(supplied_summary_table(r));
  } else {
    r.tables.push_back(table1(r));
    r.tables.push_back(table2(r));
    r.tables.push_back(table3(r));
  }
  r.sections = build_sections(r);
  r.active_disclosure_text = joined(r.sections, {"active", "content", "forms"});
  r.requests_text = joined(r.sections, {"requests", "fees", "reviews"});
  return r;
}

}  // namespace herald::report
