// CMS approval records checked without a daemon: signatures bound to the approval and to the
// item's content, approvers that must be configured reviewers however they are spelt.
#include "services/heraldd/cms_approval.h"

#include <catch2/catch.hpp>

#include "core/digest.h"

using namespace herald;
using nlohmann::json;

namespace {

const CmsSource kCms{"trs", "cms-bot", "trs-signing-key"};
const std::vector<std::string> kReviewers = {"rev1", "rev2", "duty"};

json item() {
  return {{"kind", "publication"}, {"category", "work_news"}, {"title", "标题"}, {"body", "正文"}};
}

json signed_approval(const std::string& user, const json& content,
                     const std::string& key = kCms.hmac_key) {
  const std::string at = "2026-01-05T09:00:00+08:00";
  const std::string comment = "同意\n发布";
  return {{"user", user},
          {"decision", "approve"},
          {"at", at},
          {"comment", comment},
          {"signature", hmac_sha256_hex(key, cms_signing_message(cms_content_sha256(content), user,
                                                                 "approve", at, comment))}};
}

json record(json approvals) {
  return {{"system", "trs"}, {"reference", "WF-1"}, {"approvals", std::move(approvals)}};
}

Result<CmsApprovalRecord> check(const json& rec, const json& content = item()) {
  return parse_cms_approval_record(rec, CmsCheck{kCms, "cms-bot", 2, SystemClock().now(),
                                                 cms_content_sha256(content), kReviewers});
}

std::string refused_field(const json& rec, const json& content = item()) {
  auto r = check(rec, content);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == "invalid_approval_record");
  return r.error().field;
}

}  // namespace

TEST_CASE("a signed record from two configured reviewers is accepted, names canonical", "[cms]") {
  auto r = check(record({signed_approval(" REV1 ", item()), signed_approval("rev2", item())}));
  REQUIRE(r);
  REQUIRE(r->approvals.size() == 2);
  CHECK(r->approvals[0].user == "rev1");
  CHECK(r->approvals[0].via == "cms:trs");
  CHECK(r->approvals[1].user == "rev2");
  CHECK(r->approvals[0].comment == "同意\n发布");
}

TEST_CASE("CMS records whose signature does not verify are refused by their index", "[cms]") {
  const json good = signed_approval("rev1", item());
  SECTION("no signature") {
    json unsigned_one = signed_approval("rev2", item());
    unsigned_one.erase("signature");
    CHECK(refused_field(record({good, unsigned_one})) == "approval_record.approvals[1].signature");
  }
  SECTION("another CMS's key") {
    CHECK(refused_field(record({good, signed_approval("rev2", item(), "other-key")})) ==
          "approval_record.approvals[1].signature");
  }
  SECTION("signed for other content") {
    json other = item();
    other["title"] = "另一条";
    CHECK(refused_field(record({good, signed_approval("rev2", other)})) ==
          "approval_record.approvals[1].signature");
  }
  SECTION("the item changed after signing") {
    json changed = item();
    changed["body"] = "改过的正文";
    CHECK(refused_field(record({good, signed_approval("rev2", item())}), changed) ==
          "approval_record.approvals[0].signature");
  }
  SECTION("a signed field edited") {
    json edited = signed_approval("rev2", item());
    edited["comment"] = "不同意";
    CHECK(refused_field(record({good, edited})) == "approval_record.approvals[1].signature");
  }
}

TEST_CASE("CMS approvers must be distinct configured reviewers, never the submitter", "[cms]") {
  const json good = signed_approval("rev1", item());
  CHECK(refused_field(record({good, signed_approval("Rev1", item())})) ==
        "approval_record.approvals[1].user");
  CHECK(refused_field(record({good, signed_approval("rev1 ", item())})) ==
        "approval_record.approvals[1].user");
  CHECK(refused_field(record({good, signed_approval("王科长", item())})) ==
        "approval_record.approvals[1].user");
  CHECK(refused_field(record({good, signed_approval("CMS-BOT", item())})) ==
        "approval_record.approvals[1].user");
  CHECK(refused_field(record({good})) == "approval_record.approvals");
  json other_system = record({good, signed_approval("rev2", item())});
  other_system["system"] = "another-cms";
  CHECK(refused_field(other_system) == "approval_record.system");
}

TEST_CASE("normalise_user_name trims and folds ASCII case", "[cms]") {
  CHECK(normalise_user_name("  Rev1\t") == "rev1");
  CHECK(normalise_user_name("REV.2") == "rev.2");
  CHECK(normalise_user_name(" ") == "");
}
