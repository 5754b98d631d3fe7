// The figures of the annual report that do not come from Herald (依申请公开 requests and their
// outcomes, fees, reconsideration and litigation, periodicals, the office's own websites), read
// from the JSON file a compiler supplies and checked the way the national tables check them.
// The format is documented in docs/annual-report.md.
#pragma once

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::report {

// A supplied count, exact or approximate: {"value": 160, "approx": "余"} is printed "160余件".
// The paper reports give lower bounds this way; an approximate figure is never summed.
struct Count {
  long long value = 0;
  std::string approx;  // "" (exact), "余", "约" or "近"

  bool exact() const { return approx.empty(); }
  // "160余", "约160", "近160", "160".
  std::string text() const;
};

// Applicant columns of table 2: 自然人, then 法人或其他组织 {商业企业, 科研机构, 社会公益组织,
// 法律服务机构, 其他}. The 总计 column is always computed.
inline constexpr std::array<const char*, 6> kApplicantKeys = {
    "natural_person", "commercial", "research", "social_welfare", "legal_service", "other_org"};

// One row of table 2: either split by applicant (each column optional) or given as a total only
// (the old free-form reports had no split: "160余件").
struct RequestRow {
  std::array<std::optional<long long>, 6> by_applicant{};
  std::optional<long long> total_only;
  std::string approx;  // of total_only: "余" for "160余件"

  bool present() const;
  long long total() const;  // the sum of the columns (blank = 0), or total_only
  bool split() const { return !total_only.has_value(); }
};

// A row of table 2 with its place: "outcomes.withheld.state_secret" etc.
struct RequestRowSpec {
  const char* id;
  const char* label;
  int depth;  // 0 for 一/二/三/四, 1 for (一)…(七), 2 for 1. 2. 3.
};
// Every row the 2021 format prints, in order (the 2019 trial prints (六) as one row).
const std::vector<RequestRowSpec>& request_row_specs();

struct Requests {
  std::string source;
  std::string note;                        // e.g. "据不完全统计"
  std::map<std::string, RequestRow> rows;  // by RequestRowSpec::id; absent rows are blank
  // Row "outcomes.total" (三(七)) is never supplied: it is the sum of the outcome rows.
  RequestRow outcomes_total() const;
  // The printed check 一 + 二 = 三(七) + 四 for the 总计 column and for every applicant column.
  Result<void> check() const;
};

struct Fees {
  std::string source;
  long long amount_fen = 0;  // 信息处理费 in fen (hundredths of a yuan), to keep money exact
  std::string note;
};

// Table 3: 行政复议 and 行政诉讼 (未经复议直接起诉, 复议后起诉), each {维持, 纠正, 其他, 尚未审结}
// and a computed 总计: 15 printed numbers from 12 supplied ones.
inline constexpr std::array<const char*, 4> kReviewOutcomeKeys = {"upheld", "corrected", "other",
                                                                  "pending"};
inline constexpr std::array<const char*, 3> kReviewGroupKeys = {
    "reconsideration", "litigation_direct", "litigation_after_reconsideration"};
struct Reviews {
  std::string source;
  // [group][outcome]; blank when not supplied.
  std::array<std::array<std::optional<long long>, 4>, 3> cells{};
  long long group_total(int group) const;
};

struct Periodicals {
  std::string source;
  std::optional<Count> briefings;  // 简报 (期)
  std::optional<Count> magazines;  // 杂志 (期)
};

struct Websites {
  std::string source;
  std::optional<Count> items;   // 信息 (条) on the office's own websites
  std::optional<Count> photos;  // 照片 (张)
};

// Table 1 cells (第二十条 items) are supplied by row and column id as the template defines them
// (see table1_spec()); Herald keeps no register of 规章 or 行政许可.
using Table1Cells = std::map<std::string, std::map<std::string, double>>;

// Where a note is printed: after the text of that section.
enum class NotePlacement {
  overview,
  active,
  content,
  forms,
  requests,
  fees,
  reviews,
  improvements
};
std::optional<NotePlacement> note_placement_from_string(std::string_view text);
const char* to_string(NotePlacement p);

struct Note {
  NotePlacement placement = NotePlacement::active;
  std::string text;
};

// The original report's own total, when it differs from the sum of its categories (the seed says
// 1094 while its categories add up to 1090).
struct Reconciliation {
  std::optional<long long> reported_items;
  std::string note;
};

// A year's publication figures that Herald never counted (a year before it was installed),
// supplied from the paper report so that the year-on-year columns have something to compare.
// Exact integers only: they are summed and compared.
struct SuppliedYear {
  std::string source;
  std::map<std::string, long long> items_by_category;
  std::optional<long long> alerts;
  std::map<std::string, long long> deliveries_by_channel;
};

// A warning the compiler has read and accepts, with the reason printed beside it.
struct Acknowledgement {
  std::string warning;  // a warning id, e.g. "websites.items"
  std::string reason;
};

struct SuppliedFigures {
  std::string office;
  std::string overview;      // 概述, paragraphs separated by blank lines
  std::string improvements;  // 存在的主要问题和改进措施
  std::vector<Note> notes;
  std::optional<Reconciliation> reconciliation;
  std::map<int, SuppliedYear> years;
  std::vector<Acknowledgement> acknowledged;
  std::string source;  // the default source for blocks that name none
  std::optional<Requests> requests;
  std::optional<Fees> fees;
  std::optional<Reviews> reviews;
  std::optional<Periodicals> periodicals;
  std::optional<Websites> websites;
  Table1Cells table1;
  std::string table1_source;
};

// Parses and validates: unknown keys are refused with their path ("requests.outcomes.withheld.
// secret"), numbers must be non-negative integers (money: at most two decimals), and table 2 must
// satisfy 一 + 二 = 三(七) + 四 (code "check_failed", field "requests"). Table 1 cells are checked
// against the rows and columns of `year`'s format.
Result<SuppliedFigures> parse_supplied_figures(const nlohmann::json& j, int year);

nlohmann::json supplied_to_json(const SuppliedFigures& s);

// Table 1's rows and columns for a year's format (empty before 2019).
struct Table1Spec {
  struct Row {
    const char* id;
    const char* label;
    std::vector<int>
        columns;  // indexes into `columns` this row has; others print as not applicable
  };
  std::vector<std::pair<const char*, const char*>> columns;  // id, header
  std::vector<Row> rows;
};
Table1Spec table1_spec(int year);

}  // namespace herald::report
