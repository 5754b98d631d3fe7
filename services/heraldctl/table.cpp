#include "services/heraldctl/table.h"

#include <algorithm>
#include <cstdint>

namespace herald::ctl {
namespace {

// One UTF-8 character at `pos`: its code point and length; an invalid byte is (0xFFFD, 1).
std::pair<char32_t, std::size_t> decode(std::string_view s, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  std::size_t len = 0;
  char32_t cp = 0;
  if (b0 < 0x80) return {b0, 1};
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return {0xFFFD, 1};
  }
  if (pos + len > s.size()) return {0xFFFD, 1};
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return {0xFFFD, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, len};
}

std::size_t char_width(char32_t cp) {
  if (cp == 0x200B || (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0xFE00 && cp <= 0xFE0F)) return 0;
  const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
                    (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
                    (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
                    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
                    (cp >= 0x20000 && cp <= 0x3FFFD);
  return wide ? 2 : 1;
}

// Newlines and tabs would break a row apart.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text;
}

void append_escape(std::string& out, const char* prefix, unsigned value, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += prefix;
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) out += kDigits[(value >> shift) & 15];
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const auto b = static_cast<unsigned char>(text[pos]);
    if (b < 0x80) {
      const bool crlf = b == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n';
      if ((b < 0x20 && b != '\t' && b != '\n' && !crlf) || b == 0x7F) {
        append_escape(out, "\\x", b, 2);
      } else {
        out += static_cast<char>(b);
      }
      ++pos;
      continue;
    }
    const auto [cp, len] = decode(text, pos);
    if (len == 1 || cp < 0x80) {
      // Not UTF-8 (or an overlong form of ASCII): a terminal in another mode might act on it.
      for (std::size_t i = 0; i < len; ++i) {
        append_escape(out, "\\x", static_cast<unsigned char>(text[pos + i]), 2);
      }
    } else if (cp <= 0x9F) {
      append_escape(out, "\\u", static_cast<unsigned>(cp), 4);
    } else {
      out.append(text.substr(pos, len));
    }
    pos += len;
  }
  return out;
}

PrintableBuf::~PrintableBuf() {
  write_pending();
}

PrintableBuf::int_type PrintableBuf::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) {
    return sync() == 0 ? traits_type::not_eof(ch) : traits_type::eof();
  }
  pending_.push_back(traits_type::to_char_type(ch));
  // A line feed is never inside a UTF-8 sequence, so a line is escaped whole.
  if (traits_type::to_char_type(ch) == '\n' && !write_pending()) return traits_type::eof();
  return ch;
}

std::streamsize PrintableBuf::xsputn(const char* s, std::streamsize n) {
  for (std::streamsize i = 0; i < n; ++i) {
    if (traits_type::eq_int_type(overflow(traits_type::to_int_type(s[i])), traits_type::eof())) {
      return i;
    }
  }
  return n;
}

int PrintableBuf::sync() {
  if (!write_pending()) return -1;
  return target_->pubsync();
}

bool PrintableBuf::write_pending() {
  if (pending_.empty()) return true;
  const std::string text = printable(pending_);
  pending_.clear();
  const auto size = static_cast<std::streamsize>(text.size());
  return target_->sputn(text.data(), size) == size;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto [cp, len] = decode(text, pos);
    width += char_width(cp);
    pos += len;
  }
  return width;
}

std::string truncate_to_width(std::string_view text, std::size_t max_width) {
  if (display_width(text) <= max_width) return std::string(text);
  if (max_width == 0) return {};
  std::size_t width = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto [cp, len] = decode(text, pos);
    const std::size_t w = char_width(cp);
    if (width + w > max_width - 1) break;  // keep one column for the ellipsis
    width += w;
    pos += len;
  }
  return std::string(text.substr(0, pos)) + "…";
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), max_widths_(headers_.size(), 0) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells) cell = cell.empty() ? "-" : one_line(std::move(cell));
  rows_.push_back(std::move(cells));
}

void Table::limit_width(std::size_t index, std::size_t max_width) {
  if (index < max_widths_.size()) max_widths_[index] = max_width;
}

void Table::print(std::ostream& out, std::size_t indent) const {
  std::vector<std::vector<std::string>> lines;
  lines.push_back(headers_);
  for (const auto& row : rows_) {
    std::vector<std::string> cells = row;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (max_widths_[i] > 0) cells[i] = truncate_to_width(cells[i], max_widths_[i]);
    }
    lines.push_back(std::move(cells));
  }
  std::vector<std::size_t> widths(headers_.size(), 0);
  for (const auto& line : lines) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(line[i]));
    }
  }
  for (const auto& line : lines) {
    std::string text(indent, ' ');
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(widths[i] - display_width(line[i]) + 2, ' ');
    }
    out << text << "\n";
  }
}

}  // namespace herald::ctl
