// POST /v1/imports on any body: RFC 4180 reading, then the import's row checks. What the CSV
// reader reads, the CSV writer must write back to the same fields, but for the apostrophe that
// keeps a formula-like cell text (the stats and report CSVs are written with it and read back).
#include <set>
#include <string>

#include "core/csv.h"
#include "services/heraldd/stats_routes.h"
#include "tests/fuzz/fuzz_check.h"

namespace {
const std::set<std::string> kChannels = {"weibo", "wechat", "portal", "media", "website"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(herald::fuzz::as_text(data, size));
  auto table = herald::parse_csv(text);
  if (table) {
    std::string written;
    bool writable = true;
    for (const auto& record : *table) {
      // A record of one empty field is an empty line, which the reader refuses by design.
      writable = writable && !(record.fields.size() == 1 && record.fields[0].empty());
      written += herald::csv_line(record.fields);
    }
    if (writable) {
      auto again = herald::parse_csv(written);
      HERALD_FUZZ_CHECK(again.ok(), again.error().message.c_str());
      HERALD_FUZZ_CHECK(again->size() == table->size(), "record count changed");
      for (std::size_t i = 0; i < table->size(); ++i) {
        const auto& read = (*table)[i].fields;
        const auto& reread = (*again)[i].fields;
        HERALD_FUZZ_CHECK(reread.size() == read.size(), "field count changed");
        for (std::size_t f = 0; f < read.size(); ++f) {
          // A cell a spreadsheet would run as a formula is written as text, behind an apostrophe.
          HERALD_FUZZ_CHECK(reread[f] == read[f] || reread[f] == "'" + read[f], "field changed");
        }
      }
    }
  }
  const herald::ParsedImport parsed =
      herald::parse_import_csv(text, 480, herald::fuzz::fixed_now(), kChannels);
  HERALD_FUZZ_CHECK(parsed.records.empty() || parsed.problems.empty(),
                    "records and problems together");
  return 0;
}
