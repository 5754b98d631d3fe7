// POST /v1/items before anything is stored: the body's UTF-8 and JSON checks, item validation and
// the content gate. An accepted item must read back whole from the JSON it is stored as, since
// every delivery and every later read starts from that JSON.
#include <set>
#include <string>

#include "core/content_gate.h"
#include "core/item.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

const std::set<std::string> kChannels = {"weibo", "wechat", "portal", "media", "webhook"};

const herald::ContentGate& gate() {
  static const herald::ContentGate gate = [] {
    auto made = herald::ContentGate::create({"法轮", "藏独", "内部资料"});
    if (!made) std::abort();  // no OpenCC data: nothing here could be tested
    return std::move(*made);
  }();
  return gate;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto body = herald::parse_json_body(herald::fuzz::as_text(data, size));
  if (!body) return 0;
  auto item = herald::item_from_json(*body, kChannels);
  if (!item) return 0;
  const herald::GateVerdict verdict = gate().check(*item);

  const nlohmann::json stored = herald::item_to_json(*item);
  const std::string text = stored.dump();  // what the item store keeps
  auto back = herald::item_from_json(nlohmann::json::parse(text), kChannels);
  HERALD_FUZZ_CHECK(back.ok(), back.error().message.c_str());
  HERALD_FUZZ_CHECK(herald::item_to_json(*back) == stored, "the item changed on its way back");
  // Deliveries carry the stored JSON: the gate must judge it as it judged the item.
  HERALD_FUZZ_CHECK(gate().check_json(stored).allowed == verdict.allowed,
                    "the gate judges the stored item otherwise");
  return 0;
}
