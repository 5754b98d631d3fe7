#include "services/heraldd/cms_approval.h"

#include <set>

#include "core/json_fields.h"

namespace herald {
namespace {

constexpr std::size_t kMaxSystemBytes = 64;
constexpr std::size_t kMaxReferenceBytes = 256;
constexpr std::size_t kMaxUserBytes = 128;
constexpr std::size_t kMaxCommentBytes = 2048;
constexpr std::size_t kMaxApprovals = 20;
constexpr const char* kPath = "approval_record";

}  // namespace

Result<CmsApprovalRecord> parse_cms_approval_record(const nlohmann::json& record,
                                                    const std::string& submitter, int required,
                                                    TimePoint now) {
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
  out.reference = bounded(r, "reference", kMaxReferenceBytes);
  std::vector<FieldReader> approvals = r.children("approvals");
  std::set<std::string> users;
  for (std::size_t i = 0; i < approvals.size() && r.ok(); ++i) {
    FieldReader& a = approvals[i];
    Approval approval;
    approval.user = bounded(a, "user", kMaxUserBytes);
    approval.decision = a.string("decision");
    if (a.ok() && approval.decision != "approve") {
      a.fail("decision", "every decision of an approval record must be \"approve\"");
    }
    const std::string at = a.string("at");
    if (a.ok() && !parse_rfc3339(at, approval.at)) {
      a.fail("at", "expected an RFC 3339 time, e.g. \"2026-11-29T08:00:00+08:00\"");
    }
    if (a.ok() && approval.at > now + kCmsClockTolerance) {
      a.fail("at", "an approval cannot be in the future");
    }
    approval.comment = a.optional_string("comment").value_or("");
    if (a.ok() && approval.comment.size() > kMaxCommentBytes) {
      a.fail("comment", "longer than " + std::to_string(kMaxCommentBytes) + " bytes");
    }
    if (a.ok() && approval.user == submitter) {
      a.fail("user", "the submitter (" + submitter + ") may not approve their own item");
    }
    if (a.ok() && !users.insert(approval.user).second) {
      a.fail("user", "approvals must come from distinct users; " + approval.user +
                         " appears more than once");
    }
    out.approvals.push_back(std::move(approval));
  }
  if (r.ok() && (record.find("approvals") == record.end() || approvals.size() > kMaxApprovals)) {
    r.fail("approvals", "must be an array of 1 to " + std::to_string(kMaxApprovals) + " approvals");
  }
  if (r.ok() && static_cast<int>(out.approvals.size()) < required) {
    r.fail("approvals", "this kind of item needs " + std::to_string(required) +
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
