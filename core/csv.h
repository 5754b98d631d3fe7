// A small RFC 4180 CSV reader and writer: imports of historic records read it, the stats and
// report CSV outputs are written with it (and tests parse those back with it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald {

struct CsvRecord {
  std::vector<std::string> fields;
  int line = 0;  // 1-based line of the file the record starts on (a quoted field may span lines)
};

// Parses RFC 4180 text: fields separated by ',', records by CRLF (a lone LF is accepted too),
// fields quoted with '"' when they hold ',', '"' (doubled) or a line break. A leading UTF-8 byte
// order mark is skipped and a line break after the last record is optional (blank lines at the
// very end are ignored); any other empty line is an error (it would be a record of one empty
// field, which is surely not what the writer meant). Errors are invalid_input with code
// "invalid_csv" (or "invalid_utf8" for a field that is not UTF-8) and `field` "line L, column C"
// (C counts fields from 1), and the message says the same.
Result<std::vector<CsvRecord>> parse_csv(std::string_view text);

// One field as RFC 4180 writes it: quoted only when it has to be. Text that a spreadsheet would
// run as a formula (a leading =, +, -, @, tab or CR, other than a plain number such as -3) gets a
// leading apostrophe, so supplied text cannot become a formula on a compiler's machine.
std::string csv_field(std::string_view value);
// One record with its CRLF.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace herald
