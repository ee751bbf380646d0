// enclavectl serve's HTTP layer (issue 12, docs/web-api.md) over a real loopback socket with fake
// enclave clients: every protection is shown refusing (the attack) next to the request it lets
// through (the negative control).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/cli/args.h"
#include "client/web/api.h"
#include "client/web/assets.h"
#include "client/web/identity.h"
#include "client/web/server.h"
#include "enclave/client/client.h"
#include "enclave/client/format.h"
#include "enclave/client/retry.h"
#include "enclave/v1/service.pb.h"
#include "tests/client/web_http.h"

namespace enclave::testing {
namespace {

namespace http = boost::beast::http;
using Params = std::vector<std::pair<std::string, std::string>>;

client::QueryResult SampleResult() {
  client::QueryResult r;
  r.template_id = "zzp_aantal_per_wijk";
  r.template_version = 3;
  r.template_sha256 = "ab12";
  r.rule_set = "cbs-default";
  r.data_version = "2026-11";
  r.request_id = "req-1";
  r.parameters = {{"geo", "wijk"}, {"year", "2023"}};
  r.notes = {{"Afgerond op 5", "Rounded to 5"}};
  client::Dimension geo{"geo", {"Wijk", "District"}, {}};
  geo.codes.push_back({"WK01", {"Wijk 01", "District 01"}, false});
  geo.codes.push_back({"WK02", {"Wijk 02", "District 02"}, false});
  geo.codes.push_back({"T", {"Totaal", "Total"}, true});
  r.dimensions.push_back(geo);
  r.statistics.push_back({"n_zzp", {"Aantal zzp'ers", "Self-employed"}, "count", 1});
  r.cells.push_back({{0}, 0, 125});
  r.cells.push_back({{1}, 0, std::nullopt});
  r.cells.push_back({{2}, 0, 140});
  return r;
}

class FakeEnclave final : public client::EnclaveClient {
 public:
  std::atomic<int> run_calls{0};
  std::atomic<int> busy_answers{0};  // RunQuery answers RESOURCE_EXHAUSTED with a hint this often
  absl::Status run_error;            // if set, RunQuery returns it (after the busy answers)
  Params last_params;
  std::string last_template;

  absl::StatusOr<std::vector<client::TemplateSummary>> ListTemplates() override {
    return std::vector<client::TemplateSummary>{
        {"zzp_aantal_per_wijk", 3, "zzp", {"Zzp'ers per wijk", "Self-employed per district"}}};
  }
  absl::StatusOr<client::TemplateInfo> DescribeTemplate(const std::string& id) override {
    if (id != "zzp_aantal_per_wijk") return absl::NotFoundError("no template '" + id + "'");
    client::TemplateInfo info;
    info.summary = {id, 3, "zzp", {"Zzp'ers per wijk", "Self-employed per district"}};
    client::ParameterInfo year;
    year.name = "year";
    year.type = "integer";
    year.min = 2018;
    year.max = 2024;
    year.default_value = "2023";
    info.parameters.push_back(year);
    info.unit = "person";
    info.rule_set = "cbs-default";
    return info;
  }
  absl::StatusOr<client::QueryResult> RunQuery(const std::string& id,
                                               const Params& params) override {
    ++run_calls;
    last_template = id;
    last_params = params;
    if (busy_answers > 0) {
      --busy_answers;
      return client::WithRetryAfter(absl::ResourceExhaustedError("busy; retry after 0 s"),
                                    std::chrono::milliseconds(5));
    }
    if (!run_error.ok()) return run_error;
    return SampleResult();
  }
};

class FakeAudit final : public client::AuditClient {
 public:
  absl::StatusOr<client::AuditCheckpoint> GetCheckpoint() override { return Unused(); }
  absl::StatusOr<client::AuditPage> ListEntries(std::uint64_t, std::uint64_t,
                                                const client::AuditFilter&, std::uint32_t,
                                                std::uint64_t) override {
    return Unused();
  }
  absl::StatusOr<client::AuditProofs> GetInclusionProof(std::uint64_t, std::uint64_t) override {
    return Unused();
  }
  absl::StatusOr<client::AuditProofs> GetRequestInclusionProofs(const std::string&,
                                                                std::uint64_t) override {
    return Unused();
  }
  absl::StatusOr<std::vector<std::string>> GetConsistencyProof(std::uint64_t,
                                                               std::uint64_t) override {
    return Unused();
  }
  absl::Status ExportBundle(std::uint64_t,
                            const std::function<absl::Status(std::string_view)>&) override {
    return Unused();
  }
  absl::StatusOr<client::AuditProofs> GetReceipt(const std::string&) override { return Unused(); }

 private:
  static absl::Status Unused() { return absl::PermissionDeniedError("officers only"); }
};

// A running server on 127.0.0.1:0 over the fakes.
struct Served {
  FakeEnclave enclave;
  FakeAudit audit;
  web::WebServer server;
  std::unique_ptr<web::Api> api;
  std::thread thread;
  int port = 0;
  std::string token;

  Served() {
    auto bound = server.Listen(0);
    REQUIRE(bound.ok());
    port = *bound;
    auto made = web::NewSessionToken();
    REQUIRE(made.ok());
    token = *made;
    web::ApiConfig config;
    config.token = token;
    config.port = static_cast<std::uint16_t>(port);
    config.caller = "spiffe://udc-lv.local/municipal_analyst/analyst1";
    config.target = "127.0.0.1:7443";
    config.lang = client::Language::kNl;
    config.version = "0.1.0";
    config.retry.initial_backoff = std::chrono::milliseconds(1);
    config.retry.max_backoff = std::chrono::milliseconds(5);
    api = std::make_unique<web::Api>(config, enclave, audit);
    thread = std::thread([this] { server.Run(*api); });
  }
  ~Served() {
    server.Stop();
    thread.join();
  }
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;

  std::string Cookie() const { return "enclave_session_" + std::to_string(port) + "=" + token; }
  std::string Origin() const { return "http://127.0.0.1:" + std::to_string(port); }

  WebReply Get(const std::string& target,
               std::vector<std::pair<std::string, std::string>> headers = {}) const {
    return WebFetch(port, http::verb::get, target, headers);
  }
  WebReply Authed(http::verb method, const std::string& target,
                  std::vector<std::pair<std::string, std::string>> headers = {},
                  const std::string& body = "") const {
    headers.emplace_back("Cookie", Cookie());
    return WebFetch(port, method, target, headers, body);
  }
  WebReply Run(const std::string& body,
               std::vector<std::pair<std::string, std::string>> headers = {
                   {"Content-Type", "application/json"}}) const {
    return Authed(http::verb::post, "/api/run", headers, body);
  }
};

void CheckSecurityHeaders(const WebReply& r) {
  CAPTURE(r.status);
  CHECK(r.Header("Content-Security-Policy") ==
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'");
  CHECK(r.Header("X-Content-Type-Options") == "nosniff");
  CHECK(r.Header("Referrer-Policy") == "no-referrer");
  CHECK(r.Header("Cache-Control") == "no-store");
  CHECK(r.Header("Cross-Origin-Opener-Policy") == "same-origin");
  CHECK(r.Header("Cross-Origin-Resource-Policy") == "same-origin");
  CHECK(r.Header("X-Frame-Options") == "DENY");
}

}  // namespace

TEST_CASE("web: the token is 64 hex digits from the OS and compared in full") {
  auto a = web::NewSessionToken();
  auto b = web::NewSessionToken();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->size() == 64);
  CHECK(a->find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(*a != *b);
  CHECK(web::ConstantTimeEquals(*a, *a));
  CHECK_FALSE(web::ConstantTimeEquals(*a, *b));
  CHECK_FALSE(web::ConstantTimeEquals(*a, a->substr(0, 63)));
  CHECK_FALSE(web::ConstantTimeEquals(*a, ""));
  CHECK(web::RoleOfUri("spiffe://udc-lv.local/municipal_analyst/analyst1") == "municipal_analyst");
  CHECK(web::RoleOfUri("spiffe://udc-lv.local") == "");
  CHECK(web::RoleOfUri("") == "");
}

TEST_CASE("web: no token, a wrong token: 401 with the security headers") {
  Served s;
  WebReply none = s.Get("/");
  CHECK(none.status == 401);
  CheckSecurityHeaders(none);
  CHECK(none.Header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(none.body().find("enclavectl serve") != std::string::npos);
  CHECK(none.body().find("Geen toegang") != std::string::npos);
  CHECK(s.Get("/api/templates").status == 401);
  std::string wrong = s.token;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  CHECK(s.Get("/?token=" + wrong).status == 401);
  CHECK(s.Get("/?token=").status == 401);
  CHECK(s.Get("/?token=" + s.token.substr(0, 63)).status == 401);
  const std::string cookie_name = "enclave_session_" + std::to_string(s.port);
  CHECK(s.Get("/api/templates", {{"Cookie", cookie_name + "=" + wrong}}).status == 401);
  // Another port's session cookie (another serve on this host) is not this session's.
  CHECK(s.Get("/api/templates", {{"Cookie", "enclave_session_1=" + s.token}}).status == 401);
  CHECK(s.Get("/api/templates", {{"Authorization", "Bearer " + wrong}}).status == 401);
  CHECK(s.Get("/api/templates", {{"Cookie", "other=" + s.token}}).status == 401);
  // The token in the query string is only exchanged for the cookie at "/", not accepted elsewhere.
  CHECK(s.Get("/api/templates?token=" + s.token).status == 401);
  // Negative controls: the right token passes both ways.
  WebReply cookie = s.Get("/api/templates", {{"Cookie", "a=b; " + s.Cookie() + "; c=d"}});
  CHECK(cookie.status == 200);
  CheckSecurityHeaders(cookie);
  CHECK(s.Get("/api/templates", {{"Authorization", "Bearer " + s.token}}).status == 200);
}

TEST_CASE("web: /?token= answers 303 to / with an HttpOnly SameSite=Strict cookie") {
  Served s;
  WebReply r = s.Get("/?token=" + s.token);
  CHECK(r.status == 303);
  CheckSecurityHeaders(r);
  CHECK(r.Header("Location") == "/");
  CHECK(r.Header("Set-Cookie") ==
        "enclave_session_" + std::to_string(s.port) + "=" + s.token +
            "; HttpOnly; SameSite=Strict; Path=/");
  WebReply page = s.Get("/", {{"Cookie", s.Cookie()}});
  CHECK(page.status == 200);
  CHECK(page.Header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body().find("<html") != std::string::npos);
}

TEST_CASE("web: a request for another host name is refused (DNS rebinding)") {
  Served s;
  const std::string port = std::to_string(s.port);
  const std::vector<std::string> hosts = {"evil.example:" + port, "127.0.0.1", "127.0.0.1:1",
                                          "localhost", "0.0.0.0:" + port, "[::1]:" + port};
  for (const std::string& host : hosts) {
    CAPTURE(host);
    WebReply r = s.Get("/api/templates", {{"Host", host}, {"Cookie", s.Cookie()}});
    CHECK(r.status == 403);
    CheckSecurityHeaders(r);
    // Even the token exchange.
    CHECK(s.Get("/?token=" + s.token, {{"Host", host}}).status == 403);
  }
  // Negative controls.
  CHECK(s.Get("/api/templates", {{"Host", "127.0.0.1:" + port}, {"Cookie", s.Cookie()}}).status ==
        200);
  CHECK(s.Get("/api/templates", {{"Host", "localhost:" + port}, {"Cookie", s.Cookie()}}).status ==
        200);
}

TEST_CASE("web: a POST from another origin or without a JSON content type is refused") {
  Served s;
  const std::string body = R"({"template":"zzp_aantal_per_wijk","parameters":{"year":"2023"}})";
  const std::vector<std::string> origins = {"http://evil.example", "null",
                                            "http://127.0.0.1:" + std::to_string(s.port + 1),
                                            "https://127.0.0.1:" + std::to_string(s.port)};
  for (const std::string& origin : origins) {
    CAPTURE(origin);
    WebReply r = s.Run(body, {{"Content-Type", "application/json"}, {"Origin", origin}});
    CHECK(r.status == 403);
    CheckSecurityHeaders(r);
  }
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", ""}) {
    CAPTURE(type);
    std::vector<std::pair<std::string, std::string>> headers;
    if (*type != '\0') headers.emplace_back("Content-Type", type);
    CHECK(s.Run(body, headers).status == 403);
  }
  CHECK(s.enclave.run_calls == 0);  // nothing refused reached the enclave
  // Negative controls: our own origin, localhost, no Origin at all; a charset parameter.
  CHECK(s.Run(body, {{"Content-Type", "application/json"}, {"Origin", s.Origin()}}).status == 200);
  CHECK(s.Run(body, {{"Content-Type", "application/json; charset=utf-8"},
                     {"Origin", "http://localhost:" + std::to_string(s.port)}})
            .status == 200);
  CHECK(s.Run(body).status == 200);
}

TEST_CASE("web: a body over 64 KiB is refused with 413") {
  Served s;
  const std::string big = "{\"template\":\"" + std::string(65 * 1024, 'x') + "\"}";
  WebReply r = s.Run(big);
  CHECK(r.status == 413);
  CheckSecurityHeaders(r);
  CHECK(s.enclave.run_calls == 0);
  // Negative control: just under the limit is read (and refused by the enclave's own checks).
  const std::string fits = R"({"template":"zzp_aantal_per_wijk","parameters":{"year":")" +
                           std::string(60 * 1024, '1') + "\"}}";
  WebReply ok = s.Run(fits);
  CHECK(ok.status == 200);
  CHECK(s.enclave.run_calls == 1);
}

TEST_CASE("web: unknown paths 404, wrong methods 405") {
  Served s;
  WebReply missing = s.Authed(http::verb::get, "/nope.html");
  CHECK(missing.status == 404);
  CheckSecurityHeaders(missing);
  CHECK(s.Authed(http::verb::get, "/api/nope").status == 404);
  CHECK(s.Authed(http::verb::get, "/../index.html").status == 404);
  CHECK(s.Authed(http::verb::get, "/api/templates/nope").status == 404);  // the enclave's NOT_FOUND
  WebReply wrong = s.Authed(http::verb::get, "/api/run");
  CHECK(wrong.status == 405);
  CheckSecurityHeaders(wrong);
  CHECK(wrong.Header("Allow") == "POST");
  CHECK(s.Authed(http::verb::post, "/api/templates", {{"Content-Type", "application/json"}}, "{}")
            .status == 405);
  CHECK(s.Authed(http::verb::delete_, "/api/session").status == 405);
  CHECK(s.Authed(http::verb::put, "/index.html").status == 405);
}

TEST_CASE("web: every embedded asset is served with the content type of its extension") {
  Served s;
  const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},                {".json", "application/json; charset=utf-8"},
      {".woff2", "font/woff2"},                 {".png", "image/png"},
      {".txt", "text/plain; charset=utf-8"}};
  REQUIRE(!web::Assets().empty());
  bool index = false;
  for (const web::Asset& asset : web::Assets()) {
    const std::string path = asset.path;
    CAPTURE(path);
    index = index || path == "/index.html";
    WebReply r = s.Authed(http::verb::get, path);
    CHECK(r.status == 200);
    CheckSecurityHeaders(r);
    const std::size_t dot = path.rfind('.');
    const auto type = types.find(dot == std::string::npos ? "" : path.substr(dot));
    CHECK(r.Header("Content-Type") ==
          (type == types.end() ? "application/octet-stream" : type->second));
    CHECK(r.body() == std::string(reinterpret_cast<const char*>(asset.data), asset.size));
  }
  CHECK(index);
}

TEST_CASE("web: /api/run answers exactly FormatJson of the release") {
  Served s;
  WebReply r = s.Run(R"({"template":"zzp_aantal_per_wijk","parameters":{"year":2023,"geo":"wijk"}})");
  REQUIRE(r.status == 200);
  CheckSecurityHeaders(r);
  CHECK(r.Header("Content-Type") == "application/json; charset=utf-8");
  CHECK(r.body() == client::FormatJson(SampleResult()));
  CHECK(r.body().find("\"status\":\"confidential\",\"value\":null") != std::string::npos);
  CHECK(s.enclave.last_template == "zzp_aantal_per_wijk");
  CHECK(s.enclave.last_params == Params{{"geo", "wijk"}, {"year", "2023"}});
  // Malformed bodies: 400 before the enclave is asked.
  const int calls = s.enclave.run_calls;
  for (const char* bad : {"", "[]", "{", R"({"parameters":{}})", R"({"template":1})",
                                R"({"template":"t","parameters":[]})",
                                R"({"template":"t","parameters":{"a":true}})",
                                R"({"template":"t","parameters":{"a":1.5}})",
                                R"({"template":"t","extra":1})"}) {
    CAPTURE(bad);
    WebReply refused = s.Run(bad);
    CHECK(refused.status == 400);
    CHECK(refused.body().find("\"code\":\"INVALID_ARGUMENT\"") != std::string::npos);
  }
  CHECK(s.enclave.run_calls == calls);
}

TEST_CASE("web: a busy enclave is asked again as the CLI does") {
  Served s;
  s.enclave.busy_answers = 2;
  WebReply r = s.Run(R"({"template":"zzp_aantal_per_wijk"})");
  CHECK(r.status == 200);
  CHECK(s.enclave.run_calls == 3);
}

TEST_CASE("web: the enclave's refusals map to HTTP codes, FAILED_PRECONDITION with suggestions") {
  Served s;
  v1::RefusalDetails details;
  v1::Suggestion* suggestion = details.add_suggestions();
  suggestion->set_kind(v1::Suggestion::COARSER_GEOGRAPHY);
  v1::Parameter* change = suggestion->add_changes();
  change->set_name("geo");
  change->set_value("wijkcluster");
  absl::Status refused = absl::FailedPreconditionError("every cell would be withheld");
  refused.SetPayload("type.googleapis.com/enclave.v1.RefusalDetails",
                     absl::Cord(details.SerializeAsString()));
  s.enclave.run_error = refused;
  WebReply r = s.Run(R"({"template":"zzp_aantal_per_wijk"})");
  CHECK(r.status == 409);
  CheckSecurityHeaders(r);
  CHECK(r.body() ==
        R"({"error":{"code":"FAILED_PRECONDITION","message":"every cell would be withheld",)"
        R"("suggestions":[{"kind":"coarser_geography","changes":[{"name":"geo","value":"wijkcluster"}]}]}})");
  const std::vector<std::pair<absl::Status, int>> cases = {
      {absl::InvalidArgumentError("x"), 400},   {absl::PermissionDeniedError("x"), 403},
      {absl::NotFoundError("x"), 404},          {absl::ResourceExhaustedError("x"), 429},
      {absl::UnavailableError("x"), 503},       {absl::DeadlineExceededError("x"), 504},
      {absl::InternalError("x"), 500},          {absl::DataLossError("x"), 500}};
  for (const auto& [status, code] : cases) {
    CAPTURE(status.ToString());
    s.enclave.run_error = status;
    WebReply e = s.Run(R"({"template":"zzp_aantal_per_wijk"})");
    CHECK(e.status == code);
    CHECK(e.body().find("\"suggestions\"") == std::string::npos);
  }
}

TEST_CASE("web: session, templates, describe and the officer view's stub") {
  Served s;
  WebReply session = s.Authed(http::verb::get, "/api/session");
  CHECK(session.body() ==
        R"({"caller":"spiffe://udc-lv.local/municipal_analyst/analyst1","role":"municipal_analyst",)"
        R"("target":"127.0.0.1:7443","lang":"nl","version":"0.1.0"})");
  WebReply list = s.Authed(http::verb::get, "/api/templates");
  CHECK(list.body() ==
        R"({"templates":[{"id":"zzp_aantal_per_wijk","version":3,"theme":"zzp",)"
        R"("title":{"nl":"Zzp'ers per wijk","en":"Self-employed per district"}}]})");
  WebReply describe = s.Authed(http::verb::get, "/api/templates/zzp_aantal_per_wijk");
  CHECK(describe.status == 200);
  CHECK(describe.body().find(R"("parameters":[{"name":"year","type":"integer",)") !=
        std::string::npos);
  CHECK(describe.body().find(R"("min":2018,"max":2024,"allowed_values":[],"default":"2023"})") !=
        std::string::npos);
  CHECK(describe.body().find(R"("dp":null)") != std::string::npos);
  // A malformed filter is refused before the log is read.
  CHECK(s.Authed(http::verb::get, "/api/audit/entries?limit=0").status == 400);
  CHECK(s.Authed(http::verb::get, "/api/audit/entries?limit=1001").status == 400);
  CHECK(s.Authed(http::verb::get, "/api/audit/entries?from=yesterday").status == 400);
  CHECK(s.Authed(http::verb::get, "/api/audit/entries?param=geo").status == 400);
  CHECK(s.Authed(http::verb::get, "/api/audit/entries?bogus=1").status == 400);
  // The officer's export needs the pinned key.
  WebReply exported = s.Authed(http::verb::get, "/api/audit/export");
  CHECK(exported.status == 409);
  CHECK(exported.body().find("log_key") != std::string::npos);
}

}  // namespace enclave::testing

namespace enclave::testing {

TEST_CASE("web: enclavectl serve's command line") {
  namespace cli = client::cli;
  auto plain = cli::ParseArgs({"serve"});
  REQUIRE(plain.ok());
  CHECK(plain->command == cli::Command::kServe);
  CHECK_FALSE(plain->port.has_value());
  CHECK_FALSE(plain->no_browser_hint);
  auto flags = cli::ParseArgs({"--lang", "nl", "serve", "--port", "8080", "--no-browser-hint",
                               "--log-key", "k+1+AA", "--origin", "o"});
  REQUIRE(flags.ok());
  CHECK(flags->port == "8080");
  CHECK(flags->no_browser_hint);
  CHECK(flags->audit.log_key == "k+1+AA");
  CHECK(cli::ParsePort("0").value_or(1) == 0);
  CHECK(cli::ParsePort("65535").value_or(0) == 65535);
  for (const char* bad : {"65536", "-1", "80x", "", "0x50"}) {
    CAPTURE(bad);
    CHECK(cli::ParsePort(bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(cli::ParseArgs({"serve", "--port", "99999"}).ok());
  CHECK_FALSE(cli::ParseArgs({"serve", "extra"}).ok());
  CHECK_FALSE(cli::ParseArgs({"serve", "--param", "a=b"}).ok());
  CHECK_FALSE(cli::ParseArgs({"serve", "--caller", "x"}).ok());
  CHECK_FALSE(cli::ParseArgs({"run", "t", "--port", "1"}).ok());
  CHECK_FALSE(cli::ParseArgs({"templates", "--no-browser-hint"}).ok());
  CHECK_FALSE(cli::ParseArgs({"templates", "--log-key", "k"}).ok());
  CHECK_FALSE(cli::ParseArgs({"audit", "log", "--port", "1"}).ok());
  auto help = cli::HelpText("serve");
  REQUIRE(help.ok());
  CHECK(help->find("open: http://127.0.0.1:PORT/?token=TOKEN") != std::string::npos);
  CHECK(cli::HelpText("").value_or("").find("serve") != std::string::npos);
}

}  // namespace enclave::testing
