#include "core/report/supplied_figures.h"

#include <cmath>

#include "core/json_fields.h"

namespace herald::report {
namespace {

using nlohmann::json;

constexpr long long kMaxCount = 1000000000;

// Every row of table 2 in the 2021 format; ids are paths in the supplied JSON.
const std::vector<RequestRowSpec> kRequestRows = {
    {"new", "一、本年新收政府信息公开申请数量", 0},
    {"carried_in", "二、上年结转政府信息公开申请数量", 0},
    {"outcomes", "三、本年度办理结果", 0},
    {"outcomes.disclosed", "（一）予以公开", 1},
    {"outcomes.partly_disclosed", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", 1},
    {"outcomes.withheld", "（三）不予公开", 1},
    {"outcomes.withheld.state_secret", "1.属于国家秘密", 2},
    {"outcomes.withheld.prohibited_by_law", "2.其他法律行政法规禁止公开", 2},
    {"outcomes.withheld.three_safeties", "3.危及“三安全一稳定”", 2},
    {"outcomes.withheld.third_party", "4.保护第三方合法权益", 2},
    {"outcomes.withheld.internal_affairs", "5.属于三类内部事务信息", 2},
    {"outcomes.withheld.process_info", "6.属于四类过程性信息", 2},
    {"outcomes.withheld.enforcement_file", "7.属于行政执法案卷", 2},
    {"outcomes.withheld.query_matter", "8.属于行政查询事项", 2},
    {"outcomes.unable", "（四）无法提供", 1},
    {"outcomes.unable.not_held", "1.本机关不掌握相关政府信息", 2},
    {"outcomes.unable.needs_creation", "2.没有现成信息需要另行制作", 2},
    {"outcomes.unable.unclear", "3.补正后申请内容仍不明确", 2},
    {"outcomes.not_processed", "（五）不予处理", 1},
    {"outcomes.not_processed.petition", "1.信访举报投诉类申请", 2},
    {"outcomes.not_processed.duplicate", "2.重复申请", 2},
    {"outcomes.not_processed.publication", "3.要求提供公开出版物", 2},
    {"outcomes.not_processed.mass_repeated", "4.无正当理由大量反复申请", 2},
    {"outcomes.not_processed.confirmation", "5.要求行政机关确认或重新出具已获取信息", 2},
    {"outcomes.other", "（六）其他处理", 1},
    {"outcomes.other.overdue_correction",
     "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", 2},
    {"outcomes.other.unpaid_fee",
     "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", 2},
    {"outcomes.other.other", "3.其他", 2},
    {"outcomes.total", "（七）总计", 1},
    {"carried_over", "四、结转下年度继续办理", 0},
};

// The outcome leaves (rows that hold figures) under "outcomes": the rows whose sum is (七).
bool is_outcome_leaf(const std::string& id) {
  if (id.rfind("outcomes.", 0) != 0 || id == "outcomes.total") return false;
  for (const auto& spec : kRequestRows) {
    const std::string other = spec.id;
    if (other.size() > id.size() && other.rfind(id + ".", 0) == 0) return false;  // has children
  }
  return true;
}

// A count: an integer, or {"value": 160, "approx": "余"} for a figure the paper gives as a bound.
std::optional<Count> read_count(FieldReader& parent, const std::string& key) {
  const json* v = parent.value(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) return Count{parent.integer(key, 0, kMaxCount), ""};
  FieldReader r = parent.child(key);
  Count c;
  c.value = r.integer("value", 0, kMaxCount);
  c.approx = r.one_of("approx", {"", "余", "约", "近"}, "");
  return c;
}

// A row: an integer (total only) or an object of applicant columns.
void read_row(FieldReader& parent, const std::string& key, Requests& out, const std::string& id) {
  const json* v = parent.value(key);
  if (v == nullptr) return;
  RequestRow row;
  if (v->is_number_integer() || v->is_number_unsigned()) {
    row.total_only = parent.integer(key, 0, kMaxCount);
  } else if (v->is_object() && v->contains("value")) {
    const Count c = *read_count(parent, key);
    row.total_only = c.value;
    row.approx = c.approx;
  } else if (v->is_object()) {
    FieldReader r = parent.child(key);
    for (std::size_t i = 0; i < kApplicantKeys.size(); ++i) {
      if (r.has(kApplicantKeys[i]))
        row.by_applicant[i] = r.integer(kApplicantKeys[i], 0, kMaxCount);
    }
  } else {
    parent.fail(key, "expected an integer (total only) or an object of applicant columns (" +
                         std::string("natural_person, commercial, research, social_welfare, "
                                     "legal_service, other_org), got ") +
                         json_type_name(*v));
    return;
  }
  out.rows[id] = row;
}

// A group of rows, e.g. "withheld": an object of sub-rows.
void read_group(FieldReader& outcomes, const std::string& group, Requests& out) {
  if (!outcomes.has(group)) return;
  FieldReader g = outcomes.child(group);
  const std::string prefix = "outcomes." + group + ".";
  for (const auto& spec : kRequestRows) {
    const std::string id = spec.id;
    if (id.rfind(prefix, 0) == 0) read_row(g, id.substr(prefix.size()), out, id);
  }
}

std::string source_of(FieldReader& r, const std::string& fallback) {
  auto s = r.optional_string("source");
  return s && !s->empty() ? *s : fallback;
}

std::optional<long long> optional_count(FieldReader& r, const char* key) {
  if (!r.has(key)) return std::nullopt;
  return r.integer(key, 0, kMaxCount);
}

std::map<std::string, long long> count_map(FieldReader& parent, const char* key) {
  std::map<std::string, long long> out;
  const json* v = parent.object(key);
  if (v == nullptr) return out;
  FieldReader r = parent.child(key);
  for (const auto& [k, value] : v->items()) out[k] = r.integer(k, 0, kMaxCount);
  return out;
}

void read_years(FieldReader& root, SuppliedFigures& s) {
  const json* years = root.object("years");
  if (years == nullptr) return;
  FieldReader all = root.child("years");
  for (const auto& [key, value] : years->items()) {
    const bool four_digits =
        key.size() == 4 && key.find_first_not_of("0123456789") == std::string::npos;
    if (!four_digits) {
      all.fail(key, "a year's figures are keyed by the year (\"2012\")");
      continue;
    }
    FieldReader y = all.child(key);
    SuppliedYear out;
    out.source = source_of(y, s.source);
    out.items_by_category = count_map(y, "items_by_category");
    out.alerts = optional_count(y, "alerts");
    out.deliveries_by_channel = count_map(y, "deliveries_by_channel");
    s.years[std::stoi(key)] = std::move(out);
  }
}

const std::pair<NotePlacement, const char*> kPlacements[] = {
    {NotePlacement::overview, "overview"}, {NotePlacement::active, "active"},
    {NotePlacement::content, "content"},   {NotePlacement::forms, "forms"},
    {NotePlacement::requests, "requests"}, {NotePlacement::fees, "fees"},
    {NotePlacement::reviews, "reviews"},   {NotePlacement::improvements, "improvements"},
};

}  // namespace

std::string Count::text() const {
  const std::string n = std::to_string(value);
  if (approx == "约" || approx == "近") return approx + n;
  return n + approx;
}

std::optional<NotePlacement> note_placement_from_string(std::string_view text) {
  for (const auto& [p, name] : kPlacements) {
    if (text == name) return p;
  }
  return std::nullopt;
}

const char* to_string(NotePlacement p) {
  for (const auto& [q, name] : kPlacements) {
    if (q == p) return name;
  }
  return "";
}

bool RequestRow::present() const {
  if (total_only) return true;
  for (const auto& c : by_applicant) {
    if (c) return true;
  }
  return false;
}

long long RequestRow::total() const {
  if (total_only) return *total_only;
  long long sum = 0;
  for (const auto& c : by_applicant) sum += c.value_or(0);
  return sum;
}

const std::vector<RequestRowSpec>& request_row_specs() {
  return kRequestRows;
}

RequestRow Requests::outcomes_total() const {
  RequestRow total;
  bool any_total_only = false;
  for (const auto& [id, row] : rows) {
    if (is_outcome_leaf(id) && !row.split()) any_total_only = true;
  }
  if (any_total_only) {
    long long sum = 0;
    for (const auto& [id, row] : rows) {
      if (is_outcome_leaf(id)) sum += row.total();
    }
    total.total_only = sum;
    return total;
  }
  for (const auto& [id, row] : rows) {
    if (!is_outcome_leaf(id)) continue;
    for (std::size_t i = 0; i < kApplicantKeys.size(); ++i) {
      if (row.by_applicant[i])
        total.by_applicant[i] = total.by_applicant[i].value_or(0) + *row.by_applicant[i];
    }
  }
  return total;
}

Result<void> Requests::check() const {
  auto row = [&](const char* id) {
    const auto it = rows.find(id);
    return it == rows.end() ? RequestRow{} : it->second;
  };
  const RequestRow a = row("new"), b = row("carried_in"), d = row("carried_over");
  const RequestRow c = outcomes_total();
  auto fail = [](const std::string& column, long long x1, long long x2, long long y1,
                 long long y2) {
    Error e = Error::invalid(
        "requests", "table 2 does not add up (一 + 二 = 三(七) + 四) in column " + column + ": " +
                        std::to_string(x1) + " + " + std::to_string(x2) + " ≠ " +
                        std::to_string(y1) + " + " + std::to_string(y2));
    e.code = "check_failed";
    return e;
  };
  if (a.total() + b.total() != c.total() + d.total()) {
    return fail("总计", a.total(), b.total(), c.total(), d.total());
  }
  // Column by column only when every row involved is split by applicant.
  bool all_split = a.split() && b.split() && c.split() && d.split();
  for (const auto& [id, r] : rows) {
    if (!r.split()) all_split = false;
  }
  if (!all_split) return ok();
  for (std::size_t i = 0; i < kApplicantKeys.size(); ++i) {
    const long long x1 = a.by_applicant[i].value_or(0), x2 = b.by_applicant[i].value_or(0);
    const long long y1 = c.by_applicant[i].value_or(0), y2 = d.by_applicant[i].value_or(0);
    if (x1 + x2 != y1 + y2) return fail(kApplicantKeys[i], x1, x2, y1, y2);
  }
  return ok();
}

long long Reviews::group_total(int group) const {
  long long sum = 0;
  for (const auto& c : cells[group]) sum += c.value_or(0);
  return sum;
}

Table1Spec table1_spec(int year) {
  Table1Spec spec;
  if (year < 2019) return spec;
  if (year >= 2021) {
    spec.columns = {{"made", "本年制发件数"},
                    {"repealed", "本年废止件数"},
                    {"in_force", "现行有效件数"},
                    {"decisions", "本年处理决定数量"},
                    {"fee_amount", "本年收费金额（万元）"}};
    spec.rows = {{"regulations", "第二十条第（一）项 规章", {0, 1, 2}},
                 {"normative_documents", "第二十条第（一）项 行政规范性文件", {0, 1, 2}},
                 {"licensing", "第二十条第（五）项 行政许可", {3}},
                 {"penalty", "第二十条第（六）项 行政处罚", {3}},
                 {"enforcement", "第二十条第（六）项 行政强制", {3}},
                 {"admin_fees", "第二十条第（八）项 行政事业性收费", {4}}};
    return spec;
  }
  spec.columns = {{"new_made", "本年新制作数量"},
                  {"new_published", "本年新公开数量"},
                  {"total_published", "对外公开总数量"},
                  {"previous_items", "上一年项目数量"},
                  {"change", "本年增/减"},
                  {"decisions", "处理决定数量"},
                  {"procurement_items", "采购项目数量"},
                  {"procurement_amount", "采购总金额（万元）"}};
  spec.rows = {{"regulations", "第二十条第（一）项 规章", {0, 1, 2}},
               {"normative_documents", "第二十条第（一）项 规范性文件", {0, 1, 2}},
               {"licensing", "第二十条第（五）项 行政许可", {3, 4, 5}},
               {"other_services", "第二十条第（五）项 其他对外管理服务事项", {3, 4, 5}},
               {"penalty", "第二十条第（六）项 行政处罚", {3, 4, 5}},
               {"enforcement", "第二十条第（六）项 行政强制", {3, 4, 5}},
               {"admin_fees", "第二十条第（八）项 行政事业性收费", {3, 4}},
               {"procurement", "第二十条第（九）项 政府集中采购", {6, 7}}};
  return spec;
}

Result<SuppliedFigures> parse_supplied_figures(const json& j, int year) {
  SuppliedFigures s;
  FieldReader root(j, "");
  s.office = root.string("office", "");
  s.source = root.string("source", "编制人提供");
  if (s.source.empty()) s.source = "编制人提供";

  if (root.has("requests")) {
    FieldReader r = root.child("requests");
    Requests q;
    q.source = source_of(r, s.source);
    q.note = r.string("note", "");
    read_row(r, "new", q, "new");
    read_row(r, "carried_in", q, "carried_in");
    read_row(r, "carried_over", q, "carried_over");
    if (r.has("outcomes")) {
      FieldReader o = r.child("outcomes");
      read_row(o, "disclosed", q, "outcomes.disclosed");
      read_row(o, "partly_disclosed", q, "outcomes.partly_disclosed");
      for (const char* group : {"withheld", "unable", "not_processed", "other"}) {
        read_group(o, group, q);
      }
    }
    for (const char* required : {"new", "carried_in", "carried_over"}) {
      if (r.ok() && !r.has(required)) {
        r.fail(required, "is required when requests are given (the table's check needs it)");
      }
    }
    if (r.ok() && !r.has("outcomes")) {
      r.fail("outcomes", "is required when requests are given (the table's check needs it)");
    }
    if (r.ok()) {
      if (auto checked = q.check(); !checked) return checked.error();
    }
    s.requests = std::move(q);
  }
  if (root.has("fees")) {
    FieldReader f = root.child("fees");
    Fees fees;
    fees.source = source_of(f, s.source);
    const double yuan = f.number("amount_yuan", 0, 1e12, 0);
    const double fen = std::round(yuan * 100);
    if (std::fabs(fen - yuan * 100) > 1e-6) f.fail("amount_yuan", "has more than two decimals");
    fees.amount_fen = static_cast<long long>(fen);
    fees.note = f.string("note", "");
    s.fees = fees;
  }
  if (root.has("reviews")) {
    FieldReader r = root.child("reviews");
    Reviews rv;
    rv.source = source_of(r, s.source);
    for (std::size_t g = 0; g < kReviewGroupKeys.size(); ++g) {
      if (!r.has(kReviewGroupKeys[g])) continue;
      FieldReader group = r.child(kReviewGroupKeys[g]);
      for (std::size_t k = 0; k < kReviewOutcomeKeys.size(); ++k) {
        rv.cells[g][k] = optional_count(group, kReviewOutcomeKeys[k]);
      }
    }
    s.reviews = rv;
  }
  if (root.has("periodicals")) {
    FieldReader p = root.child("periodicals");
    Periodicals per;
    per.source = source_of(p, s.source);
    per.briefings = read_count(p, "briefings");
    per.magazines = read_count(p, "magazines");
    s.periodicals = per;
  }
  if (root.has("websites")) {
    FieldReader w = root.child("websites");
    Websites web;
    web.source = source_of(w, s.source);
    web.items = read_count(w, "items");
    web.photos = read_count(w, "photos");
    // The older form: one flag making both figures lower bounds ("1000余条，照片600余张").
    if (w.boolean("approximate", false)) {
      for (auto* c : {&web.items, &web.photos}) {
        if (*c && c->value().exact()) c->value().approx = "余";
      }
    }
    s.websites = web;
  }
  if (root.has("table1")) {
    FieldReader t = root.child("table1");
    const Table1Spec spec = table1_spec(year);
    if (spec.rows.empty()) {
      t.fail_at("table1", "the " + std::to_string(year) +
                              " report has no table 1 (the national format starts with 2019)");
    }
    s.table1_source = source_of(t, s.source);
    for (const auto& row : spec.rows) {
      if (!t.has(row.id)) continue;
      FieldReader cells = t.child(row.id);
      for (int col : row.columns) {
        const char* col_id = spec.columns[col].first;
        if (!cells.has(col_id)) continue;
        const std::string id = col_id;
        const bool money = id.find("amount") != std::string::npos;
        const double lo = id == "change" ? -1e9 : 0;
        const double v = cells.number(col_id, lo, 1e12, 0);
        if (!money && std::fabs(v - std::round(v)) > 1e-9)
          cells.fail(col_id, "must be a whole number");
        s.table1[row.id][id] = v;
      }
    }
  }
  s.overview = root.string("overview", "");
  s.improvements = root.string("improvements", "");
  for (FieldReader& n : root.children("notes")) {
    Note note;
    note.text = n.string("text");
    const std::string placement = n.one_of(
        "placement",
        {"overview", "active", "content", "forms", "requests", "fees", "reviews", "improvements"},
        "active");
    note.placement = note_placement_from_string(placement).value_or(NotePlacement::active);
    s.notes.push_back(std::move(note));
  }
  if (root.has("reconciliation")) {
    FieldReader r = root.child("reconciliation");
    Reconciliation rec;
    rec.reported_items = optional_count(r, "reported_items");
    rec.note = r.string("note", "");
    s.reconciliation = rec;
  }
  read_years(root, s);
  for (FieldReader& a : root.children("acknowledged")) {
    Acknowledgement ack;
    ack.warning = a.string("warning");
    ack.reason = a.string("reason");
    if (a.ok() && ack.reason.empty()) a.fail("reason", "must say why the warning is accepted");
    s.acknowledged.push_back(std::move(ack));
  }
  if (auto done = root.finish(); !done) return done.error();
  return s;
}

namespace {

json row_json(const RequestRow& row) {
  if (!row.split()) {
    json j = {{"total", row.total()}};
    if (!row.approx.empty()) j["approx"] = row.approx;
    return j;
  }
  json j = json::object();
  for (std::size_t i = 0; i < kApplicantKeys.size(); ++i) {
    if (row.by_applicant[i]) j[kApplicantKeys[i]] = *row.by_applicant[i];
  }
  j["total"] = row.total();
  return j;
}

json opt(const std::optional<long long>& v) {
  return v ? json(*v) : json(nullptr);
}

json count_json(const std::optional<Count>& c) {
  if (!c) return nullptr;
  if (c->exact()) return c->value;
  return json{{"value", c->value}, {"approx", c->approx}};
}

}  // namespace

json supplied_to_json(const SuppliedFigures& s) {
  json j = json::object();
  j["office"] = s.office;
  j["source"] = s.source;
  if (s.requests) {
    json rows = json::object();
    for (const auto& [id, row] : s.requests->rows) rows[id] = row_json(row);
    rows["outcomes.total"] = row_json(s.requests->outcomes_total());
    j["requests"] = {{"source", s.requests->source}, {"note", s.requests->note}, {"rows", rows}};
  }
  if (s.fees) {
    j["fees"] = {{"source", s.fees->source},
                 {"amount_yuan", static_cast<double>(s.fees->amount_fen) / 100.0},
                 {"note", s.fees->note}};
  }
  if (s.reviews) {
    json r = {{"source", s.reviews->source}};
    for (std::size_t g = 0; g < kReviewGroupKeys.size(); ++g) {
      json group = json::object();
      for (std::size_t k = 0; k < kReviewOutcomeKeys.size(); ++k) {
        group[kReviewOutcomeKeys[k]] = opt(s.reviews->cells[g][k]);
      }
      group["total"] = s.reviews->group_total(static_cast<int>(g));
      r[kReviewGroupKeys[g]] = group;
    }
    j["reviews"] = r;
  }
  if (s.periodicals) {
    j["periodicals"] = {{"source", s.periodicals->source},
                        {"briefings", count_json(s.periodicals->briefings)},
                        {"magazines", count_json(s.periodicals->magazines)}};
  }
  if (s.websites) {
    j["websites"] = {{"source", s.websites->source},
                     {"items", count_json(s.websites->items)},
                     {"photos", count_json(s.websites->photos)}};
  }
  j["overview"] = s.overview;
  j["improvements"] = s.improvements;
  j["notes"] = json::array();
  for (const auto& n : s.notes) {
    j["notes"].push_back({{"placement", to_string(n.placement)}, {"text", n.text}});
  }
  if (s.reconciliation) {
    j["reconciliation"] = {{"reported_items", opt(s.reconciliation->reported_items)},
                           {"note", s.reconciliation->note}};
  }
  json years = json::object();
  for (const auto& [year, y] : s.years) {
    years[std::to_string(year)] = {{"source", y.source},
                                   {"items_by_category", y.items_by_category},
                                   {"alerts", opt(y.alerts)},
                                   {"deliveries_by_channel", y.deliveries_by_channel}};
  }
  j["years"] = years;
  j["acknowledged"] = json::array();
  for (const auto& a : s.acknowledged) {
    j["acknowledged"].push_back({{"warning", a.warning}, {"reason", a.reason}});
  }
  if (!s.table1.empty()) {
    j["table1"] = s.table1;
    j["table1_source"] = s.table1_source;
  }
  return j;
}

}  // namespace herald::report
