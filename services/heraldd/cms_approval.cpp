#include "services/heraldd/cms_approval.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/digest.h"
#include "core/json_fields.h"

namespace herald {
namespace {

constexpr std::size_t kMaxSystemBytes = 64;
constexpr std::size_t kMaxReferenceBytes = 256;
constexpr std::size_t kMaxUserBytes = 128;
constexpr std::size_t kMaxCommentBytes = 2048;
constexpr std::size_t kMaxApprovals = 20;
constexpr const char* kPath = "approval_record";

bool is_hex_sha256(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string cms_content_sha256(const nlohmann::json& item_without_record) {
  // nlohmann's objects are ordered maps and dump() without an indent adds no whitespace, which is
  // the canonical form README.md describes.
  return sha256_hex(item_without_record.dump());
}

std::string cms_signing_message(std::string_view content_sha256, std::string_view user,
                                std::string_view decision, std::string_view at,
                                std::string_view comment) {
  std::string message = "herald-cms-approval-v1\n";
  for (std::string_view line : {content_sha256, user, decision, at}) {
    message.append(line);
    message += '\n';
  }
  message.append(comment);
  return message;
}

std::string normalise_user_name(std::string_view name) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const auto first = name.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = name.find_last_not_of(kSpace);
  return lower(std::string(name.substr(first, last - first + 1)));
}

Result<CmsApprovalRecord> parse_cms_approval_record(const nlohmann::json& record,
                                                    const CmsCheck& check) {
  CmsApprovalRecord out;
  FieldReader r(record, kPath);
  auto bounded = [&](FieldReader& reader, const char* key, std::size_t max) {
    std::string value = reader.string(key);
    if (reader.ok() && (value.empty() || value.size() > max)) {
      reader.fail(key, "must be 1 to " + std::to_string(max) + " bytes");
    }
    return value;
  };
  out.system = bounded(r, "system", kMaxSystemBytes);
  if (r.ok() && out.system != check.source.name) {
    r.fail("system", "user " + check.submitter + " submits for the CMS \"" + check.source.name +
                         "\" (review.cms), not for \"" + out.system + "\"");
  }
  out.reference = bounded(r, "reference", kMaxReferenceBytes);
  std::vector<FieldReader> approvals = r.children("approvals");
  const std::string submitter = normalise_user_name(check.submitter);
  std::set<std::string> users;
  for (std::size_t i = 0; i < approvals.size() && r.ok(); ++i) {
    FieldReader& a = approvals[i];
    Approval approval;
    const std::string user = bounded(a, "user", kMaxUserBytes);
    approval.decision = a.string("decision");
    const std::string at = a.string("at");
    approval.comment = a.optional_string("comment").value_or("");
    const std::string signature = a.string("signature");
    // The signature first: nothing else a record says is worth reading if its CMS did not say it.
    if (a.ok() &&
        (!is_hex_sha256(signature) ||
         !constant_time_equal(
             lower(signature),
             hmac_sha256_hex(check.source.hmac_key,
                             cms_signing_message(check.content_sha256, user, approval.decision, at,
                                                 approval.comment))))) {
      a.fail("signature",
             "does not verify: expected the HMAC-SHA256 (64 hex digits), with the "
             "key of CMS \"" +
                 check.source.name +
                 "\", of this approval and the item's content hash (README.md, "
                 "\"CMS approval records\")");
    }
    if (a.ok() && approval.decision != "approve") {
      a.fail("decision", "every decision of an approval record must be \"approve\"");
    }
    if (a.ok() && !parse_rfc3339(at, approval.at)) {
      a.fail("at", "expected an RFC 3339 time, e.g. \"2026-11-29T08:00:00+08:00\"");
    }
    if (a.ok() && approval.at > check.now + kCmsClockTolerance) {
      a.fail("at", "an approval cannot be in the future");
    }
    if (a.ok() && approval.comment.size() > kMaxCommentBytes) {
      a.fail("comment", "longer than " + std::to_string(kMaxCommentBytes) + " bytes");
    }
    const std::string normalised = normalise_user_name(user);
    if (a.ok() && normalised == submitter) {
      a.fail("user", "the submitter (" + check.submitter + ") may not approve their own item");
    }
    const auto reviewer = std::find_if(
        check.reviewers.begin(), check.reviewers.end(),
        [&](const std::string& name) { return normalise_user_name(name) == normalised; });
    if (a.ok() && reviewer == check.reviewers.end()) {
      a.fail("user", "\"" + user + "\" is not a user with the reviewer role in auth.users");
    }
    if (a.ok() && !users.insert(normalised).second) {
      a.fail("user",
             "approvals must come from distinct users; " + *reviewer + " appears more than once");
    }
    if (a.ok()) approval.user = *reviewer;
    approval.via = "cms:" + check.source.name;
    out.approvals.push_back(std::move(approval));
  }
  if (r.ok() && (record.find("approvals") == record.end() || approvals.size() > kMaxApprovals)) {
    r.fail("approvals", "must be an array of 1 to " + std::to_string(kMaxApprovals) + " approvals");
  }
  if (r.ok() && static_cast<int>(out.approvals.size()) < check.required) {
    r.fail("approvals", "this kind of item needs " + std::to_string(check.required) +
                            " approvals from distinct users; the record has " +
                            std::to_string(out.approvals.size()));
  }
  if (auto done = r.finish(); !done) {
    Error e = done.error();
    e.code = "invalid_approval_record";
    return e;
  }
  out.json = record.dump();
  return out;
}

}  // namespace herald
