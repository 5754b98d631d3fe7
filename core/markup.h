// Escaping text for XML and HTML documents (feeds, CAP, the report's HTML, WeChat article HTML).
#pragma once

#include <string>
#include <string_view>

namespace herald {

// Escapes & < > " ' for element text and attribute values alike, and drops the control characters
// XML 1.0 cannot carry (below U+0020 except tab, line feed and carriage return). The apostrophe
// becomes &#39;, which XML and every HTML version read.
std::string xml_escape(std::string_view text);

}  // namespace herald
