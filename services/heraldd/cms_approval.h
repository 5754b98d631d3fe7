// The approval record a publisher (an automated CMS) may attach to a submission when
// review.accept_cms_approvals is on: the CMS's own two-level review, checked against Herald's
// rules (两级审核) before the item is stored as approved.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "queue/item_store.h"

namespace herald {

// Clocks of a CMS and of heraldd differ a little; an approval time later than now by more than
// this is refused as "in the future".
inline constexpr std::chrono::seconds kCmsClockTolerance{60};

// A CMS Herald trusts (review.cms[i]): the user that submits for it and the key it signs with.
struct CmsSource {
  std::string name;
  std::string publisher_user;
  std::string hmac_key;
};

// The item's content hash a CMS signs: SHA-256 (lower-case hex) of the submitted item object
// without "approval_record", serialised as compact JSON with object keys sorted by their UTF-8
// bytes and strings in UTF-8 (only '"', '\\' and control characters escaped). README.md spells
// it out for CMS implementers.
std::string cms_content_sha256(const nlohmann::json& item_without_record);

// What approvals[i].signature is the HMAC-SHA256 (lower-case hex) of: the lines
// "herald-cms-approval-v1", content hash, user, decision, at (each exactly as submitted), then
// the comment ("" if absent) after the last '\n'. Only the comment may contain a newline, and it
// is last, so no two records share a message.
std::string cms_signing_message(std::string_view content_sha256, std::string_view user,
                                std::string_view decision, std::string_view at,
                                std::string_view comment);

// What a record is checked against.
struct CmsCheck {
  const CmsSource& source;  // the CMS of the submitting user
  std::string submitter;    // that user's name
  int required = 2;         // approvals the item's kind needs
  TimePoint now{};
  std::string content_sha256;                 // cms_content_sha256 of the submission
  const std::vector<std::string>& reviewers;  // configured users with the reviewer role
};

// Approver names compare after this: surrounding ASCII whitespace trimmed, ASCII lower-cased.
// Configured user names are ASCII only, so no other folding can make two of them equal.
std::string normalise_user_name(std::string_view name);

// Validates `record` ({"system", "reference", "approvals": [{"user", "decision", "at",
// "comment"?, "signature"}, ...]}): "system" is the CMS's configured name; every signature
// verifies with the CMS's key over the approval and the item's content hash; every decision
// "approve"; every user, after normalise_user_name, a configured reviewer, none twice and never
// the submitter; at least `required` of them; times RFC 3339 and not in the future (beyond
// kCmsClockTolerance). The approvals returned carry the configured user names and
// via "cms:<name>". A failure is an invalid_input Error whose field is the path
// ("approval_record.approvals[1].signature") and whose code is "invalid_approval_record".
Result<CmsApprovalRecord> parse_cms_approval_record(const nlohmann::json& record,
                                                    const CmsCheck& check);

}  // namespace herald
