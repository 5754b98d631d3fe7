#include "core/csv.h"

#include "core/item.h"

namespace herald {
namespace {

Error csv_error(int line, int column, const std::string& problem,
                const char* code = "invalid_csv") {
  const std::string where = "line " + std::to_string(line) + ", column " + std::to_string(column);
  Error e = Error::invalid(where, where + ": " + problem);
  e.code = code;
  return e;
}

}  // namespace

Result<std::vector<CsvRecord>> parse_csv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRecord> records;
  std::size_t i = 0;
  int line = 1;
  const std::size_t n = text.size();
  while (i < n) {
    CsvRecord record;
    record.line = line;
    const bool empty_line = text[i] == '\n' || text[i] == '\r';
    // Blank lines at the very end are what editors leave behind: ignored.
    if (empty_line && text.find_first_not_of("\r\n", i) == std::string_view::npos) break;
    // One record: fields until a line break or the end.
    while (true) {
      const int column = static_cast<int>(record.fields.size()) + 1;
      const int field_line = line;
      std::string field;
      if (i < n && text[i] == '"') {
        ++i;
        while (true) {
          if (i >= n) return csv_error(field_line, column, "a quoted field is never closed");
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          return csv_error(line, column, "unexpected text after a closing quote");
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          if (text[i] == '"') {
            return csv_error(line, column,
                             "a quote inside an unquoted field (quote the field and double it)");
          }
          field += text[i];
          ++i;
        }
      }
      if (!is_valid_utf8(field)) {
        return csv_error(field_line, column, "the field is not valid UTF-8", "invalid_utf8");
      }
      record.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    // The record's end: CRLF, LF, or the end of the text.
    if (i < n && text[i] == '\r') {
      if (i + 1 >= n || text[i + 1] != '\n') {
        return csv_error(line, static_cast<int>(record.fields.size()),
                         "a carriage return not followed by a line feed");
      }
      ++i;
    }
    if (i < n && text[i] == '\n') {
      ++i;
      ++line;
    }
    if (empty_line) return csv_error(record.line, 1, "an empty line");
    records.push_back(std::move(record));
  }
  return records;
}

namespace {

bool is_plain_number(std::string_view value) {
  std::size_t i = (value.front() == '-' || value.front() == '+') ? 1 : 0;
  bool digits = false, point = false;
  for (; i < value.size(); ++i) {
    if (value[i] >= '0' && value[i] <= '9') {
      digits = true;
    } else if (value[i] == '.' && !point) {
      point = true;
    } else {
      return false;
    }
  }
  return digits;
}

// Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
bool starts_like_formula(std::string_view value) {
  return !value.empty() &&
         std::string_view("=+-@\t\r").find(value.front()) != std::string_view::npos &&
         !is_plain_number(value);
}

}  // namespace

std::string csv_field(std::string_view value) {
  if (starts_like_formula(value)) {
    // A leading apostrophe makes the spreadsheet show the text as typed instead of running it.
    return csv_field("'" + std::string(value));
  }
  // A byte order mark leading the file's first field would be taken for the file's own and
  // dropped by a reader (this one too): quoted, it is the field's.
  if (value.find_first_of(",\"\r\n") == std::string_view::npos &&
      value.substr(0, 3) != "\xEF\xBB\xBF") {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  out += "\r\n";
  return out;
}

}  // namespace herald
