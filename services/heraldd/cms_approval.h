// The approval record a publisher (an automated CMS) may attach to a submission when
// review.accept_cms_approvals is on: the CMS's own two-level review, checked against Herald's
// rules (两级审核) before the item is stored as approved.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "queue/item_store.h"

namespace herald {

// Clocks of a CMS and of heraldd differ a little; an approval time later than now by more than
// this is refused as "in the future".
inline constexpr std::chrono::seconds kCmsClockTolerance{60};

// Validates `record` ({"system", "reference", "approvals": [{"user", "decision", "at",
// "comment"?}, ...]}): every decision "approve", users distinct and none of them `submitter`, at
// least `required` of them, times RFC 3339 and not in the future (beyond kCmsClockTolerance).
// A failure is an invalid_input Error whose field is the path ("approval_record.approvals[1].user")
// and whose code is "invalid_approval_record".
Result<CmsApprovalRecord> parse_cms_approval_record(const nlohmann::json& record,
                                                    const std::string& submitter, int required,
                                                    TimePoint now);

}  // namespace herald
