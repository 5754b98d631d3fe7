#include "services/herald-sim/wechat_sim.h"

#include <algorithm>
#include <chrono>
#include <regex>

namespace herald::sim {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/cgi-bin/";
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kBeijingMs = 8LL * 3600 * 1000;  // quotas count Beijing days
constexpr std::int64_t kForceGapMs = 30 * 1000;         // §2.2: force_refresh ≥30 s apart
constexpr int kForcesPerDay = 20;                       // §2.2: max 20 a day
constexpr std::size_t kMaxClientMsgId = 64;
constexpr std::size_t kImageBytes = 10 << 20;  // §2.3
constexpr std::size_t kThumbBytes = 64 << 10;
constexpr std::size_t kUploadImgBytes = 1 << 20;  // media/uploadimg: under 1 MB

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t beijing_day(std::int64_t ms) {
  return (ms + kBeijingMs) / kDayMs;
}

std::size_t code_points(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

std::string text_of(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// publish_id and msg_id may come as numbers or as strings (§2.5); 0 if neither.
std::int64_t id_of(const json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end()) return 0;
  if (found->is_number_integer()) return found->get<std::int64_t>();
  if (found->is_string()) {
    const std::string text = found->get<std::string>();
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return 0;
    }
    return std::stoll(text);
  }
  return 0;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The value of `name="..."` in a Content-Disposition line, or "".
std::string disposition_param(const std::string& headers, const std::string& name) {
  const std::string needle = name + "=\"";
  const std::size_t at = lower(headers).find(needle);
  if (at == std::string::npos) return "";
  const std::size_t start = at + needle.size();
  const std::size_t end = headers.find('"', start);
  return end == std::string::npos ? "" : headers.substr(start, end - start);
}

struct Part {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string data;
};

// multipart/form-data as RFC 7578 has it; parts without a name are skipped.
std::vector<Part> parse_multipart(const std::string& content_type, const std::string& body) {
  std::vector<Part> parts;
  const std::size_t at = lower(content_type).find("boundary=");
  if (at == std::string::npos) return parts;
  std::string boundary = content_type.substr(at + 9);
  boundary = boundary.substr(0, boundary.find(';'));
  if (boundary.size() >= 2 && boundary.front() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  const std::string delimiter = "--" + boundary;
  std::size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    std::size_t start = pos + delimiter.size();
    if (body.compare(start, 2, "--") == 0) break;
    if (body.compare(start, 2, "\r\n") == 0) start += 2;
    const std::size_t next = body.find("\r\n" + delimiter, start);
    if (next == std::string::npos) break;
    const std::string part = body.substr(start, next - start);
    const std::size_t split = part.find("\r\n\r\n");
    if (split != std::string::npos) {
      const std::string headers = part.substr(0, split);
      Part p;
      p.name = disposition_param(headers, "name");
      p.filename = disposition_param(headers, "filename");
      const std::size_t type_at = lower(headers).find("content-type:");
      if (type_at != std::string::npos) {
        std::string type = headers.substr(type_at + 13);
        type = type.substr(0, type.find("\r\n"));
        type.erase(0, type.find_first_not_of(' '));
        p.content_type = lower(type);
      }
      p.data = part.substr(split + 4);
      if (!p.name.empty()) parts.push_back(std::move(p));
    }
    pos = next + 2;
  }
  return parts;
}

bool is_image(const std::string& data) {
  return data.rfind("\x89PNG\r\n\x1a\n", 0) == 0 || data.rfind("\xff\xd8\xff", 0) == 0 ||
         data.rfind("GIF8", 0) == 0 || data.rfind("BM", 0) == 0;
}

bool is_jpeg(const std::string& data) {
  return data.rfind("\xff\xd8\xff", 0) == 0;
}

SimReply ok_json(const json& body) {
  return {ServerResponse::json(200, body.dump())};
}

Result<std::deque<long>> errcode_list(const std::string& key, const json& value) {
  if (!value.is_array()) return Error::invalid(key, key + " must be [errcode, ...]");
  std::deque<long> codes;
  for (const json& code : value) {
    if (!code.is_number_integer()) return Error::invalid(key, key + " must hold integer errcodes");
    codes.push_back(code.get<long>());
  }
  return codes;
}

// §2.3: article content may only show images uploaded through media/uploadimg (or the material
// library); WeChat strips <img> tags pointing anywhere else, silently.
std::string strip_foreign_images(const std::string& content) {
  static const std::regex kImage(R"(<img\b[^>]*>)", std::regex::icase);
  static const std::regex kWechatSource(R"(src\s*=\s*["']?https?://mmbiz\.qpic\.cn/)",
                                        std::regex::icase);
  std::string out;
  auto last = content.cbegin();
  for (std::sregex_iterator it(content.begin(), content.end(), kImage), end; it != end; ++it) {
    out.append(last, content.cbegin() + it->position());
    if (std::regex_search(it->str(), kWechatSource)) out += it->str();
    last = content.cbegin() + it->position() + it->length();
  }
  out.append(last, content.cend());
  return out;
}

std::string article_url(const std::string& article_id, std::size_t idx) {
  return "https://mp.weixin.qq.com/s/" + article_id + "?idx=" + std::to_string(idx);
}

}  // namespace

WechatSim::WechatSim(std::string appid, std::string secret)
    : rng_(std::random_device{}()), appid_(std::move(appid)), secret_(std::move(secret)) {
  // §2.5 and the API call limits page: submit 100, get 100, delete 10, draft/add 1000 a day;
  // the old API mass-send cap 100.
  // /cgi-bin/token: 2000 a day (§2.2).
  daily_quota_ = {{"token", 2000},          {"freepublish/submit", 100},
                  {"freepublish/get", 100}, {"freepublish/delete", 10},
                  {"draft/add", 1000},      {"message/mass/sendall", 100}};
}

bool WechatSim::owns(const std::string& path) const {
  return path.compare(0, kPrefix.size(), kPrefix) == 0;
}

std::string WechatSim::random_hex(std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  while (out.size() < digits) {
    std::uint64_t bits = rng_();
    for (int i = 0; i < 16 && out.size() < digits; ++i, bits >>= 4) out += kHex[bits & 0xF];
  }
  return out;
}

SimReply WechatSim::error(long errcode, const std::string& errmsg) {
  // Real errmsgs carry a request id (§2.1), so a client matching on errmsg breaks here too.
  const json body = {{"errcode", errcode},
                     {"errmsg", errmsg + " rid: " + random_hex(8) + "-" + random_hex(8)}};
  return {ServerResponse::json(200, body.dump())};
}

WechatSim::Token WechatSim::mint() {
  Token token;
  // Real tokens are opaque and long (store ≥512 chars, §2.2): 136 characters here.
  token.value = std::to_string(next_id_++) + "_" + random_hex(130);
  token.expires_at = now_ms() + token_ttl_ms_;
  issued_.push_back(token.value);
  return token;
}

long WechatSim::token_error(const std::string& token) const {
  if (token.empty()) return 41001;
  const std::int64_t now = now_ms();
  for (const Token* current : {&current_, &plain_}) {
    if (!current->value.empty() && token == current->value) {
      return now < current->expires_at ? 0 : 42001;
    }
  }
  for (const Token& old : retired_) {
    if (old.value != token) continue;
    if (now < old.valid_until) return 0;
    return old.rotated ? 40001 : 42001;
  }
  return 40014;
}

// The current token of a lineage is replaced by a new one; the old one works `valid_for_ms` more
// (never beyond its own expiry), then answers 40001.
void WechatSim::retire(Token& current, std::int64_t valid_for_ms) {
  if (!current.value.empty()) {
    Token old = current;
    old.rotated = true;
    old.valid_until = std::min(old.expires_at, now_ms() + valid_for_ms);
    retired_.push_back(old);
  }
  current = mint();
}

void WechatSim::advance() {
  std::lock_guard lock(mutex_);
  settle_jobs();
}

SimReply WechatSim::handle(const ServerRequest& request) {
  std::lock_guard lock(mutex_);
  settle_jobs();
  ++requests_;
  const std::string api_name = request.path.substr(kPrefix.size());
  ++calls_[api_name];
  if (api_name == "token") {
    if (request.method != "GET") return error(43001, "require GET method");
    return plain_token(request);
  }
  if (request.method != "POST") return error(43002, "require POST method");
  if (api_name == "stable_token") return stable_token(request);
  return api(api_name, request);
}

// GET /cgi-bin/token (§2.2): every call mints a new token; the previous one keeps working for the
// overlap (wechat_grace_ms, 300 s), then answers 40001.
SimReply WechatSim::plain_token(const ServerRequest& request) {
  if (!token_next_errors_.empty()) {
    const long code = token_next_errors_.front();
    token_next_errors_.pop_front();
    return error(code, "injected error");
  }
  auto query = [&](const char* key) {
    const auto found = request.query.find(key);
    return found == request.query.end() ? std::string() : found->second;
  };
  if (query("grant_type") != "client_credential") return error(40002, "invalid grant_type");
  if (query("appid") != appid_) return error(40013, "invalid appid");
  if (query("secret") != secret_) {
    return error(40001,
                 "invalid credential, access_token is invalid or not latest, could get "
                 "access_token by getStableAccessToken");
  }
  long quota_code = 0;
  if (over_quota("token", quota_code)) return error(45009, "reach max api daily quota limit");
  const std::int64_t now = now_ms();
  const bool live = !plain_.value.empty() && now < plain_.expires_at;
  if (live) {
    retire(plain_, grace_ms_);
  } else {
    if (!plain_.value.empty()) retired_.push_back(plain_);  // expired: 42001 from now on
    plain_ = mint();
  }
  ++token_fetches_;
  const std::int64_t left_s = std::max<std::int64_t>(1, (plain_.expires_at - now) / 1000);
  return ok_json({{"access_token", plain_.value}, {"expires_in", left_s}});
}

SimReply WechatSim::stable_token(const ServerRequest& request) {
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return error(47001, "data format error");
  if (!token_next_errors_.empty()) {
    const long code = token_next_errors_.front();
    token_next_errors_.pop_front();
    return error(code, "injected error");
  }
  if (text_of(body, "grant_type") != "client_credential") {
    return error(40002, "invalid grant_type");
  }
  if (text_of(body, "appid") != appid_) return error(40013, "invalid appid");
  if (text_of(body, "secret") != secret_) return error(40125, "invalid appsecret");
  const auto force = body.find("force_refresh");
  const bool forced = force != body.end() && force->is_boolean() && force->get<bool>();
  const std::int64_t now = now_ms();
  const bool current_valid = !current_.value.empty() && now < current_.expires_at;
  if (forced && current_valid && now - last_force_ms_ >= kForceGapMs) {
    int& forces = forces_per_day_[beijing_day(now)];
    if (forces >= kForcesPerDay) return error(45009, "reach max api daily quota limit");
    ++forces;
    ++forced_refreshes_;
    last_force_ms_ = now;
    retire(current_, grace_ms_);
  } else if (!current_valid) {
    // Normal mode hands out the same token while it is valid (forced within 30 s of the last
    // force: also the same, "否则不会刷新"); an expired one is replaced.
    if (!current_.value.empty()) {
      Token old = current_;
      old.valid_until = old.expires_at;
      retired_.push_back(old);
    }
    current_ = mint();
  }
  ++token_fetches_;
  // Rounded down: mint() read the clock after `now`, and a token must never look longer-lived
  // than the platform's 7200 s.
  const std::int64_t left_s = std::max<std::int64_t>(1, (current_.expires_at - now) / 1000);
  return ok_json({{"access_token", current_.value}, {"expires_in", left_s}});
}

bool WechatSim::over_quota(const std::string& api_name, long& errcode) {
  const std::int64_t now = now_ms();
  const auto limit = daily_quota_.find(api_name);
  if (limit != daily_quota_.end()) {
    int& used = per_day_[{api_name, beijing_day(now)}];
    if (used >= limit->second) {
      errcode = 45009;
      return true;
    }
    ++used;
  }
  if (minute_limit_ > 0) {
    int& used = per_minute_[{api_name, now / 60000}];
    if (used >= minute_limit_) {
      errcode = 45011;
      return true;
    }
    ++used;
  }
  return false;
}

SimReply WechatSim::api(const std::string& api_name, const ServerRequest& request) {
  const auto token = request.query.find("access_token");
  const long bad_token = token_error(token == request.query.end() ? "" : token->second);
  switch (bad_token) {
    case 0:
      break;
    case 41001:
      return error(41001, "access_token missing");
    case 42001:
      return error(42001, "access_token expired");
    case 40001:
      return error(40001, "invalid credential, access_token is invalid or not latest");
    default:
      return error(40014, "invalid access_token");
  }
  if (!next_errors_.empty()) {
    const long code = next_errors_.front();
    next_errors_.pop_front();
    return error(code, "injected error");
  }
  long quota_code = 0;
  if (over_quota(api_name, quota_code)) {
    return quota_code == 45009
               ? error(45009, "reach max api daily quota limit")
               : error(45011, "api minute-quota reach limit  mustslower  retry next minute");
  }
  if (api_name == "material/add_material") return add_material(request);
  if (api_name == "media/uploadimg") return upload_image(request);
  if (request.body.empty()) return error(44002, "empty post data");
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return error(47001, "data format error");
  return json_api(api_name, body);
}

SimReply WechatSim::json_api(const std::string& api_name, const json& body) {
  using Handler = SimReply (WechatSim::*)(const json&);
  static const std::map<std::string, Handler> kHandlers = {
      {"draft/add", &WechatSim::draft_add},
      {"draft/batchget", &WechatSim::draft_batchget},
      {"freepublish/submit", &WechatSim::submit},
      {"freepublish/get", &WechatSim::get_status},
      {"freepublish/batchget", &WechatSim::publish_batchget},
      {"freepublish/getarticle", &WechatSim::get_article},
      {"freepublish/delete", &WechatSim::delete_article},
      {"message/mass/sendall", &WechatSim::sendall},
      {"message/mass/get", &WechatSim::mass_get},
      {"message/mass/delete", &WechatSim::delete_mass}};
  const auto handler = kHandlers.find(api_name);
  if (handler == kHandlers.end()) return error(48001, "api unauthorized");
  return (this->*handler->second)(body);
}

SimReply WechatSim::add_material(const ServerRequest& request) {
  const auto type = request.query.find("type");
  const std::string kind = type == request.query.end() ? "" : type->second;
  if (kind != "image" && kind != "thumb" && kind != "voice" && kind != "video") {
    return error(40004, "invalid media type");
  }
  const std::vector<Part> parts = parse_multipart(request.header("content-type"), request.body);
  const auto media =
      std::find_if(parts.begin(), parts.end(), [](const Part& p) { return p.name == "media"; });
  if (media == parts.end() || media->data.empty() || media->filename.empty()) {
    return error(41005, "media data missing");
  }
  if (kind == "image" && (!is_image(media->data) || media->data.size() > kImageBytes)) {
    return error(media->data.size() > kImageBytes ? 40009 : 40005,
                 media->data.size() > kImageBytes ? "invalid image size" : "invalid file type");
  }
  if (kind == "thumb" && (!is_jpeg(media->data) || media->data.size() > kThumbBytes)) {
    return error(40005, "invalid file type");
  }
  Material material;
  material.media_id = "sim-media-" + std::to_string(next_id_++) + "-" + random_hex(16);
  material.type = kind;
  material.filename = media->filename;
  material.content_type = media->content_type;
  material.size = media->data.size();
  json answer = {{"media_id", material.media_id}};
  if (kind == "image") answer["url"] = "http://mmbiz.qpic.cn/sim/" + material.media_id + "/0";
  materials_[material.media_id] = material;
  SimReply reply = ok_json(answer);
  reply.recorded = true;
  return reply;
}

// §2.3: an image for article content, jpg/png under 1 MB, not kept in the material library.
SimReply WechatSim::upload_image(const ServerRequest& request) {
  const std::vector<Part> parts = parse_multipart(request.header("content-type"), request.body);
  const auto media =
      std::find_if(parts.begin(), parts.end(), [](const Part& p) { return p.name == "media"; });
  if (media == parts.end() || media->data.empty() || media->filename.empty()) {
    return error(41005, "media data missing");
  }
  const bool png = media->data.rfind("\x89PNG\r\n\x1a\n", 0) == 0;
  if (!png && !is_jpeg(media->data)) return error(40005, "invalid file type");
  if (media->data.size() >= kUploadImgBytes) return error(40009, "invalid image size");
  SimReply reply = ok_json({{"url", std::string("http://mmbiz.qpic.cn/mmbiz_") +
                                        (png ? "png/" : "jpg/") + random_hex(32) + "/0"}});
  reply.recorded = true;
  return reply;
}

SimReply WechatSim::draft_add(const json& body) {
  const auto articles = body.find("articles");
  if (articles == body.end() || !articles->is_array() || articles->empty() ||
      articles->size() > 8) {
    return error(47001, "data format error");
  }
  for (const json& article : *articles) {
    if (!article.is_object()) return error(47001, "data format error");
    const std::string title = text_of(article, "title");
    if (title.empty()) return error(47001, "data format error: title missing");
    if (code_points(title) > 32) return error(45003, "title size out of limit");
    if (code_points(text_of(article, "author")) > 16)
      return error(45110, "author size out of limit");
    if (code_points(text_of(article, "digest")) > 128) {
      return error(45004, "description size out of limit");
    }
    const std::string content = text_of(article, "content");
    if (content.empty() || code_points(content) >= 20000 || content.size() >= (1 << 20)) {
      return error(45002, "content size out of limit");
    }
    const std::string thumb = text_of(article, "thumb_media_id");
    if (materials_.count(thumb) == 0) return error(40007, "invalid media_id");
  }
  Draft draft;
  draft.media_id = "sim-draft-" + std::to_string(next_id_++) + "-" + random_hex(16);
  draft.articles = *articles;
  for (json& article : draft.articles) {
    article["content"] = strip_foreign_images(article["content"].get<std::string>());
  }
  draft.update_time = now_ms() / 1000;
  drafts_[draft.media_id] = draft;
  SimReply reply = ok_json({{"media_id", draft.media_id}});
  reply.recorded = true;
  return reply;
}

json WechatSim::news_items(const json& articles, const std::string& article_id, bool deleted,
                           bool with_content) const {
  json items = json::array();
  for (std::size_t i = 0; i < articles.size(); ++i) {
    const json& article = articles[i];
    json item = {{"title", text_of(article, "title")},
                 {"author", text_of(article, "author")},
                 {"digest", text_of(article, "digest")},
                 {"content_source_url", text_of(article, "content_source_url")},
                 {"thumb_media_id", text_of(article, "thumb_media_id")},
                 {"thumb_url", "http://mmbiz.qpic.cn/sim/" + text_of(article, "thumb_media_id")},
                 {"need_open_comment", article.value("need_open_comment", 0)},
                 {"only_fans_can_comment", article.value("only_fans_can_comment", 0)},
                 {"url", article_id.empty() ? std::string() : article_url(article_id, i + 1)},
                 {"is_deleted", deleted}};
    if (with_content) item["content"] = text_of(article, "content");
    items.push_back(std::move(item));
  }
  return items;
}

namespace {

// offset ≥ 0 and count 1..20 (§5A); false if the body says otherwise.
bool page_of(const json& body, std::size_t& offset, std::size_t& count, bool& with_content) {
  const auto off = body.find("offset");
  const auto cnt = body.find("count");
  if (off == body.end() || cnt == body.end() || !off->is_number_integer() ||
      !cnt->is_number_integer() || off->get<long long>() < 0 || cnt->get<long long>() < 1 ||
      cnt->get<long long>() > 20) {
    return false;
  }
  offset = off->get<std::size_t>();
  count = cnt->get<std::size_t>();
  const auto no_content = body.find("no_content");
  with_content =
      no_content == body.end() || !no_content->is_number_integer() || no_content->get<int>() == 0;
  return true;
}

}  // namespace

// The draft box, newest first (§5A); a draft consumed by freepublish/submit or mpnews is gone.
SimReply WechatSim::draft_batchget(const json& body) {
  std::size_t offset = 0, count = 0;
  bool with_content = true;
  if (!page_of(body, offset, count, with_content)) return error(40097, "invalid args");
  std::vector<const Draft*> newest_first;
  for (const auto& [id, draft] : drafts_) newest_first.push_back(&draft);
  std::sort(newest_first.begin(), newest_first.end(), [](const Draft* a, const Draft* b) {
    return a->update_time != b->update_time ? a->update_time > b->update_time
                                            : a->media_id > b->media_id;
  });
  json items = json::array();
  for (std::size_t i = offset; i < newest_first.size() && i < offset + count; ++i) {
    const Draft& draft = *newest_first[i];
    items.push_back({{"media_id", draft.media_id},
                     {"content",
                      {{"news_item", news_items(draft.articles, "", false, with_content)},
                       {"create_time", draft.update_time},
                       {"update_time", draft.update_time}}},
                     {"update_time", draft.update_time}});
  }
  return ok_json({{"total_count", newest_first.size()},
                  {"item_count", items.size()},
                  {"item", std::move(items)}});
}

SimReply WechatSim::submit(const json& body) {
  const auto draft = drafts_.find(text_of(body, "media_id"));
  // A draft leaves the box once submitted (§2.4, §5A), so a second submit names nothing.
  if (draft == drafts_.end()) return error(40007, "invalid media_id");
  Job job;
  job.publish_id = 2247483647 + next_id_++;  // real ones exceed 2^31 (§2.5)
  job.articles = draft->second.articles;
  job.due_ms = now_ms() + publish_delay_ms_;
  job.ends_in = static_cast<PublishStatus>(publish_fail_next_);
  publish_fail_next_ = 0;
  drafts_.erase(draft);
  jobs_[job.publish_id] = job;
  SimReply reply = ok_json({{"errcode", 0},
                            {"errmsg", "ok"},
                            {"publish_id", job.publish_id},
                            {"msg_data_id", job.publish_id + 1000}});
  reply.recorded = true;
  return reply;
}

void WechatSim::settle_jobs() {
  const std::int64_t now = now_ms();
  std::vector<Job*> due;
  for (auto& [id, job] : jobs_) {
    if (job.status == PublishStatus::publishing && job.due_ms <= now) due.push_back(&job);
  }
  std::sort(due.begin(), due.end(), [](const Job* a, const Job* b) {
    return a->due_ms != b->due_ms ? a->due_ms < b->due_ms : a->publish_id < b->publish_id;
  });
  for (Job* job : due) finish_job(*job);
}

void WechatSim::finish_job(Job& job) {
  job.status = job.ends_in;
  if (job.status != PublishStatus::published) return;
  job.article_id = "sim-article-" + std::to_string(next_id_++) + "-" + random_hex(12);
  Item item;
  item.kind = ItemKind::article;
  item.id = job.article_id;
  item.articles = job.articles;
  item.update_time = job.due_ms / 1000;
  item.detail = {{"article_id", job.article_id},
                 {"publish_id", std::to_string(job.publish_id)},
                 {"url", article_url(job.article_id, 1)},
                 {"articles", job.articles}};
  if (!job.articles.empty()) {
    for (const char* key :
         {"title", "author", "digest", "content", "content_source_url", "thumb_media_id"}) {
      item.detail[key] = text_of(job.articles[0], key);
    }
  }
  item.received_at = utc_now_iso8601();
  items_.push_back(std::move(item));
}

SimReply WechatSim::get_status(const json& body) {
  const auto found = jobs_.find(id_of(body, "publish_id"));
  if (found == jobs_.end()) return error(53502, "invalid publish_id");
  const Job& job = found->second;
  const std::string publish_id = std::to_string(job.publish_id);
  if (job.status != PublishStatus::published) {
    const int status = static_cast<int>(job.status);
    json answer = {{"publish_id", publish_id}, {"publish_status", status}};
    answer["fail_idx"] = status == 2 || status == 4 ? json::array({1}) : json::array();
    return ok_json(answer);
  }
  json detail_items = json::array();
  for (std::size_t i = 0; i < job.articles.size(); ++i) {
    detail_items.push_back({{"idx", i + 1}, {"article_url", article_url(job.article_id, i + 1)}});
  }
  return ok_json({{"publish_id", publish_id},
                  {"publish_status", 0},
                  {"article_id", job.article_id},
                  {"article_detail", {{"count", job.articles.size()}, {"item", detail_items}}},
                  {"fail_idx", json::array()}});
}

// The successfully published articles, newest first (§5A); deleted ones stay with is_deleted.
SimReply WechatSim::publish_batchget(const json& body) {
  std::size_t offset = 0, count = 0;
  bool with_content = true;
  if (!page_of(body, offset, count, with_content)) return error(40097, "invalid args");
  std::vector<const Item*> articles;
  for (auto item = items_.rbegin(); item != items_.rend(); ++item) {
    if (item->kind == ItemKind::article) articles.push_back(&*item);
  }
  json items = json::array();
  for (std::size_t i = offset; i < articles.size() && i < offset + count; ++i) {
    const Item& article = *articles[i];
    items.push_back(
        {{"article_id", article.id},
         {"content",
          {{"news_item", news_items(article.articles, article.id, article.deleted, with_content)},
           {"create_time", article.update_time},
           {"update_time", article.update_time}}},
         {"update_time", article.update_time}});
  }
  return ok_json(
      {{"total_count", articles.size()}, {"item_count", items.size()}, {"item", std::move(items)}});
}

SimReply WechatSim::get_article(const json& body) {
  const Item* article = find_item(ItemKind::article, text_of(body, "article_id"));
  if (article == nullptr) return error(53600, "Article ID 无效");
  return ok_json({{"news_item", news_items(article->articles, article->id, article->deleted, true)},
                  {"create_time", article->update_time},
                  {"update_time", article->update_time}});
}

WechatSim::Item* WechatSim::find_item(ItemKind kind, const std::string& id) {
  for (Item& item : items_) {
    if (item.kind == kind && item.id == id) return &item;
  }
  return nullptr;
}

SimReply WechatSim::delete_article(const json& body) {
  Item* article = find_item(ItemKind::article, text_of(body, "article_id"));
  if (article == nullptr || article->deleted) return error(53600, "Article ID 无效");
  article->deleted = true;
  article->detail["deleted_at"] = utc_now_iso8601();
  return ok_json({{"errcode", 0}, {"errmsg", "ok"}});
}

SimReply WechatSim::sendall(const json& body) {
  const auto filter = body.find("filter");
  if (filter == body.end() || !filter->is_object() || !filter->contains("is_to_all") ||
      !(*filter)["is_to_all"].is_boolean()) {
    return error(47001, "data format error: filter.is_to_all");
  }
  const std::string msgtype = text_of(body, "msgtype");
  std::string content;
  std::string media_id;
  if (msgtype == "text") {
    const auto text = body.find("text");
    if (text == body.end() || !text->is_object()) return error(47001, "data format error");
    content = text_of(*text, "content");
    if (content.empty()) return error(44003, "empty news data");
    if (code_points(content) > mass_max_chars_) return error(45002, "content size out of limit");
  } else if (msgtype == "mpnews") {
    const auto news = body.find("mpnews");
    if (news == body.end() || !news->is_object() ||
        drafts_.count(text_of(*news, "media_id")) == 0) {
      return error(40007, "invalid media_id");
    }
    media_id = text_of(*news, "media_id");
  } else {
    return error(40008, "invalid message type");
  }
  const std::string client_msg_id = text_of(body, "clientmsgid");
  if (client_msg_id.size() > kMaxClientMsgId) return error(45067, "clientmsgid size out of limit");
  const std::int64_t now = now_ms();
  if (!client_msg_id.empty()) {
    const auto seen = client_msg_ids_.find(client_msg_id);
    // §5A: the same clientmsgid within 24 h is refused with the first send's msg_id.
    if (seen != client_msg_ids_.end() && now - seen->second.sent_ms < kDayMs) {
      SimReply reply = error(45065, "clientmsgid exist");
      json answer = json::parse(reply.response.body);
      answer["msg_id"] = seen->second.msg_id;
      reply.response.body = answer.dump();
      return reply;
    }
  }
  int& sent_today = mass_per_day_[beijing_day(now)];
  if (sent_today >= mass_quota_) return error(45028, "has no masssend quota");
  ++sent_today;
  const std::int64_t msg_id = 1000000000 + next_id_++;
  if (!client_msg_id.empty()) client_msg_ids_[client_msg_id] = {msg_id, now};
  Item item;
  item.kind = ItemKind::mass;
  item.id = std::to_string(msg_id);
  item.update_time = now / 1000;
  item.detail = {{"msg_id", msg_id},
                 {"msgtype", msgtype},
                 {"content", content},
                 {"clientmsgid", client_msg_id},
                 {"filter", *filter}};
  if (!media_id.empty()) {
    // The mass-sent draft leaves the box, as a published one does (§2.4).
    const json& articles = drafts_.at(media_id).articles;
    item.detail["media_id"] = media_id;
    item.detail["articles"] = articles;
    item.detail["title"] = articles.empty() ? "" : text_of(articles[0], "title");
    drafts_.erase(media_id);
  }
  item.received_at = utc_now_iso8601();
  items_.push_back(std::move(item));
  SimReply reply = ok_json({{"errcode", 0},
                            {"errmsg", "send job submission success"},
                            {"msg_id", msg_id},
                            {"msg_data_id", msg_id + 5000}});
  reply.recorded = true;
  return reply;
}

// §2.6: the send job's state. A simulated send finishes at once (SEND_SUCCESS); a deleted one
// reads DELETE.
SimReply WechatSim::mass_get(const json& body) {
  const Item* sent = find_item(ItemKind::mass, std::to_string(id_of(body, "msg_id")));
  // The reference names no code for an unknown msg_id; a malformed request is the closest.
  if (sent == nullptr) return error(47001, "data format error: unknown msg_id");
  return ok_json({{"msg_id", id_of(body, "msg_id")},
                  {"msg_status", sent->deleted ? "DELETE" : "SEND_SUCCESS"}});
}

SimReply WechatSim::delete_mass(const json& body) {
  Item* sent = find_item(ItemKind::mass, std::to_string(id_of(body, "msg_id")));
  // The reference names no code for an unknown msg_id; a malformed request is the closest.
  if (sent == nullptr) return error(47001, "data format error: unknown msg_id");
  // Deleting twice is answered ok as well (unverified: the reference lists no code for it).
  if (!sent->deleted) sent->detail["deleted_at"] = utc_now_iso8601();
  sent->deleted = true;
  return ok_json({{"errcode", 0}, {"errmsg", "ok"}});
}

json WechatSim::published(const ServerRequest& /*request*/) const {
  std::lock_guard lock(mutex_);
  json items = json::array();
  std::size_t deleted = 0;
  for (const Item& item : items_) {
    json entry = item.detail;
    entry["kind"] = item.kind == ItemKind::article ? "article" : "mass";
    entry["id"] = item.id;
    entry["update_time"] = item.update_time;
    entry["received_at"] = item.received_at;
    entry["deleted"] = item.deleted;
    deleted += item.deleted ? 1 : 0;
    items.push_back(std::move(entry));
  }
  json jobs = json::array();
  for (const auto& [id, job] : jobs_) {
    jobs.push_back({{"publish_id", std::to_string(id)},
                    {"publish_status", static_cast<int>(job.status)},
                    {"article_id", job.article_id}});
  }
  json materials = json::array();
  for (const auto& [id, material] : materials_) {
    materials.push_back({{"media_id", id},
                         {"type", material.type},
                         {"filename", material.filename},
                         {"content_type", material.content_type},
                         {"size", material.size}});
  }
  return {{"platform", name()},
          {"count", items_.size()},
          {"live", items_.size() - deleted},
          {"deleted", deleted},
          {"requests", requests_},
          {"token_fetches", token_fetches_},
          {"issued_tokens", issued_},
          {"forced_refreshes", forced_refreshes_},
          {"calls", calls_},
          {"materials", materials},
          {"drafts", drafts_.size()},
          {"jobs", jobs},
          {"items", items}};
}

void WechatSim::reset() {
  std::lock_guard lock(mutex_);
  next_errors_.clear();
  token_next_errors_.clear();
  publish_fail_next_ = 0;
  current_ = Token{};
  plain_ = Token{};
  retired_.clear();
  issued_.clear();
  last_force_ms_ = 0;
  forces_per_day_.clear();
  calls_.clear();
  per_day_.clear();
  per_minute_.clear();
  mass_per_day_.clear();
  requests_ = 0;
  token_fetches_ = 0;
  forced_refreshes_ = 0;
  materials_.clear();
  drafts_.clear();
  jobs_.clear();
  client_msg_ids_.clear();
  items_.clear();
}

std::vector<std::string> WechatSim::config_keys() const {
  return {"wechat_appid",
          "wechat_secret",
          "wechat_token_ttl_ms",
          "wechat_grace_ms",
          "wechat_expire_tokens",
          "wechat_revoke_token",
          "wechat_next_errors",
          "wechat_token_next_errors",
          "wechat_daily_quota",
          "wechat_minute_limit",
          "wechat_mass_quota",
          "wechat_mass_max_chars",
          "wechat_publish_delay_ms",
          "wechat_publish_fail_next"};
}

Result<void> WechatSim::configure(const std::string& key, const json& value) {
  std::lock_guard lock(mutex_);
  auto integer = [&](long long min, long long max) -> Result<long long> {
    if (!value.is_number_integer() || value.get<long long>() < min ||
        value.get<long long>() > max) {
      return Error::invalid(key, key + " must be an integer between " + std::to_string(min) +
                                     " and " + std::to_string(max));
    }
    return value.get<long long>();
  };
  if (key == "wechat_appid" || key == "wechat_secret") {
    if (!value.is_string() || value.get<std::string>().empty()) {
      return Error::invalid(key, key + " must be a non-empty string");
    }
    (key == "wechat_appid" ? appid_ : secret_) = value.get<std::string>();
    return ok();
  }
  if (key == "wechat_token_ttl_ms" || key == "wechat_grace_ms") {
    auto ms = integer(1, 7LL * 24 * 3600 * 1000);
    if (!ms) return ms.error();
    (key == "wechat_token_ttl_ms" ? token_ttl_ms_ : grace_ms_) = *ms;
    return ok();
  }
  if (key == "wechat_expire_tokens" || key == "wechat_revoke_token") {
    if (!value.is_boolean()) return Error::invalid(key, key + " must be true or false");
    if (!value.get<bool>()) return ok();
    const std::int64_t now = now_ms();
    if (key == "wechat_expire_tokens") {
      for (Token* current : {&current_, &plain_}) {
        if (!current->value.empty()) current->expires_at = std::min(current->expires_at, now);
      }
      for (Token& old : retired_) {
        old.valid_until = std::min(old.valid_until, now);
        old.rotated = false;
      }
    } else {
      // As if someone else had fetched a new token and the overlap had already run out.
      for (Token* current : {&current_, &plain_}) {
        if (!current->value.empty()) retire(*current, 0);
      }
    }
    return ok();
  }
  if (key == "wechat_next_errors" || key == "wechat_token_next_errors") {
    auto codes = errcode_list(key, value);
    if (!codes) return codes.error();
    (key == "wechat_next_errors" ? next_errors_ : token_next_errors_) = std::move(*codes);
    return ok();
  }
  if (key == "wechat_daily_quota") {
    if (!value.is_object()) return Error::invalid(key, key + " must be {\"api\": calls, ...}");
    for (const auto& [api_name, limit] : value.items()) {
      if (!limit.is_number_integer() || limit.get<long long>() < 0) {
        return Error::invalid(key, key + "." + api_name + " must be a non-negative integer");
      }
    }
    for (const auto& [api_name, limit] : value.items()) daily_quota_[api_name] = limit.get<int>();
    return ok();
  }
  if (key == "wechat_minute_limit" || key == "wechat_mass_quota") {
    auto count = integer(0, 1000000);
    if (!count) return count.error();
    (key == "wechat_minute_limit" ? minute_limit_ : mass_quota_) = static_cast<int>(*count);
    return ok();
  }
  if (key == "wechat_publish_delay_ms") {
    auto ms = integer(0, 7LL * 24 * 3600 * 1000);
    if (!ms) return ms.error();
    publish_delay_ms_ = *ms;
    return ok();
  }
  if (key == "wechat_mass_max_chars") {
    auto count = integer(1, 1000000);
    if (!count) return count.error();
    mass_max_chars_ = static_cast<std::size_t>(*count);
    return ok();
  }
  if (key == "wechat_publish_fail_next") {
    auto status = integer(0, 6);
    if (!status) return status.error();
    if (*status == 1) return Error::invalid(key, key + " must be 0 or a final status 2..6");
    publish_fail_next_ = static_cast<int>(*status);
    return ok();
  }
  return PlatformSim::configure(key, value);
}

json WechatSim::config() const {
  std::lock_guard lock(mutex_);
  return {{"wechat_appid", appid_},
          {"wechat_secret_set", !secret_.empty()},
          {"wechat_token_ttl_ms", token_ttl_ms_},
          {"wechat_grace_ms", grace_ms_},
          {"wechat_daily_quota", daily_quota_},
          {"wechat_minute_limit", minute_limit_},
          {"wechat_mass_quota", mass_quota_},
          {"wechat_mass_max_chars", mass_max_chars_},
          {"wechat_publish_delay_ms", publish_delay_ms_},
          {"wechat_publish_fail_next", publish_fail_next_},
          {"wechat_next_errors", next_errors_},
          {"wechat_token_next_errors", token_next_errors_}};
}

ServerResponse WechatSim::injected_error(int status, const std::string& message) const {
  const json body =
      status == 429
          ? json{{"errcode", 45011}, {"errmsg", "api minute-quota reach limit (" + message + ")"}}
          : json{{"errcode", -1}, {"errmsg", "system error (" + message + ")"}};
  return ServerResponse::json(200, body.dump());
}

ServerResponse WechatSim::quota_error(int variant, int /*retry_after_s*/) const {
  // WeChat has no Retry-After: 45009 waits for the next (Beijing) day, 45011 for the next minute.
  const json body =
      variant == 0
          ? json{{"errcode", 45009}, {"errmsg", "reach max api daily quota limit (injected)"}}
          : json{{"errcode", 45011},
                 {"errmsg", "api minute-quota reach limit  mustslower  retry next minute"}};
  return ServerResponse::json(200, body.dump());
}

}  // namespace herald::sim
