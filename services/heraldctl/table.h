// Plain-text tables for heraldctl's human output, aligned by display width so Chinese titles
// (two terminal columns per character) line up with ASCII ones.
#pragma once

#include <cstddef>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace herald::ctl {

// Terminal columns `text` takes: East Asian wide and fullwidth characters count 2, combining
// marks 0, everything else 1. Invalid UTF-8 bytes count 1 each.
std::size_t display_width(std::string_view text);

// `text` cut to at most `max_width` columns at a character boundary, ending in "…" when cut.
std::string truncate_to_width(std::string_view text, std::size_t max_width);

// `text` with every control character made visible, so that server text (a title, a comment, an
// error message) can never move the cursor, recolour or rewrite what a reviewer sees: C0 controls
// and DEL as "\x1b"-style escapes, C1 controls (U+0080..U+009F) as "\u009b"-style escapes, and each
// byte that is not part of well-formed UTF-8 as "\xff". Tab, line feed and a CR directly before a
// line feed (CSV line ends) pass unchanged. A backslash is not escaped: the escapes are for the
// eye, not to be parsed back.
std::string printable(std::string_view text);

// An output buffer that hands complete lines (and whatever is pending on a flush) to `target`
// through printable(). heraldctl's main puts one in front of std::cout and one in front of
// std::cerr, so no output path can print server text raw. Flushes what is pending when destroyed.
class PrintableBuf : public std::streambuf {
 public:
  explicit PrintableBuf(std::streambuf* target) : target_(target) {}
  ~PrintableBuf() override;
  PrintableBuf(const PrintableBuf&) = delete;
  PrintableBuf& operator=(const PrintableBuf&) = delete;

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  bool write_pending();

  std::streambuf* target_;
  std::string pending_;
};

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
