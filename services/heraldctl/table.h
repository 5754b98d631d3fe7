// Plain-text tables for heraldctl's human output, aligned by display width so Chinese titles
// (two terminal columns per character) line up with ASCII ones.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace herald::ctl {

// Terminal columns `text` takes: East Asian wide and fullwidth characters count 2, combining
// marks 0, everything else 1. Invalid UTF-8 bytes count 1 each.
std::size_t display_width(std::string_view text);

// `text` cut to at most `max_width` columns at a character boundary, ending in "…" when cut.
std::string truncate_to_width(std::string_view text, std::size_t max_width);

class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // A row with as many cells as headers (missing cells print empty, extra ones are dropped). An
  // empty cell prints as "-", so a column never looks shifted.
  void add_row(std::vector<std::string> cells);
  // Cells of column `index` longer than `max_width` columns are truncated (e.g. titles).
  void limit_width(std::size_t index, std::size_t max_width);
  bool empty() const { return rows_.empty(); }

  // Two spaces between columns, no trailing spaces, `indent` spaces before each line.
  void print(std::ostream& out, std::size_t indent = 0) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> max_widths_;  // 0 = unlimited
};

}  // namespace herald::ctl
