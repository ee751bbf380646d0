// enclavectl serve end to end (issue 12): the real serve binary with analyst1's certificate against
// the real enclaved on the shared world, driven over HTTP with a Beast client.
#include <doctest/doctest.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "tests/client/web_http.h"
#include "tests/integration/process.h"
#include "tests/integration/serve_process.h"
#include "tests/integration/world.h"

namespace enclave::testing {
namespace {

namespace http = boost::beast::http;

struct World : TestWorld {
  std::string state;
  std::unique_ptr<ServerProcess> enclaved;
  std::unique_ptr<ServeProcess> serve;

  World() : TestWorld(kStandardData) {
    state = StateDir("state");
    enclaved = StartEnclaved(ShippedPolicies(), state);
    INFO(enclaved->stderr_text());
    REQUIRE(enclaved->port() > 0);
    std::vector<std::string> argv = EnclavectlArgv(enclaved->target(), "analyst1");
    argv.insert(argv.end(), {"serve", "--no-browser-hint"});
    serve = std::make_unique<ServeProcess>(argv, dir.path().string() + "/serve.stderr");
    INFO(serve->stderr_text());
    REQUIRE(serve->port() > 0);
  }

  WebReply Get(const std::string& target, bool with_token = true) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (with_token) headers.emplace_back("Cookie", "enclave_session_" + std::to_string(serve->port()) + "=" +
                                             serve->token());
    return WebFetch(serve->port(), http::verb::get, target, headers);
  }
  WebReply Post(const std::string& target, const std::string& body) const {
    return WebFetch(serve->port(), http::verb::post, target,
                    {{"Authorization", "Bearer " + serve->token()},
                     {"Content-Type", "application/json"},
                     {"Origin", "http://127.0.0.1:" + std::to_string(serve->port())}},
                    body);
  }
};

World& TheWorld() {
  static World world;
  return world;
}

std::string WithoutRequestId(const std::string& json) {
  return std::regex_replace(json, std::regex("\"request_id\":\"[^\"]*\""), "\"request_id\":\"\"");
}

}  // namespace

TEST_CASE("serve prints the URL line and refuses a request without the token") {
  World& w = TheWorld();
  CHECK(std::regex_match(w.serve->line(),
                         std::regex("open: http://127\\.0\\.0\\.1:[0-9]+/\\?token=[0-9a-f]{64}")));
  WebReply refused = w.Get("/api/templates", /*with_token=*/false);
  CHECK(refused.status == 401);
  CHECK(refused.Header("Content-Security-Policy").find("default-src 'none'") != std::string::npos);
  WebReply page = w.Get("/");
  CHECK(page.status == 200);
  CHECK(page.Header("Content-Type") == "text/html; charset=utf-8");
}

TEST_CASE("serve lists the templates the enclave offers analyst1") {
  World& w = TheWorld();
  auto client = w.Connect(w.enclaved->target(), "analyst1");
  auto templates = client->ListTemplates();
  REQUIRE(templates.ok());
  REQUIRE(templates->size() >= 7);
  WebReply list = w.Get("/api/templates");
  REQUIRE(list.status == 200);
  for (const auto& t : *templates) {
    CAPTURE(t.id);
    CHECK(list.body().find("{\"id\":\"" + t.id + "\"") != std::string::npos);
  }
  WebReply describe = w.Get("/api/templates/zzp_aantal_per_wijk");
  REQUIRE(describe.status == 200);
  CHECK(describe.body().find("\"name\":\"year\"") != std::string::npos);
  CHECK(describe.body().find("\"min\":2018") != std::string::npos);
  WebReply session = w.Get("/api/session");
  REQUIRE(session.status == 200);
  CHECK(session.body().find("\"role\":\"municipal_analyst\"") != std::string::npos);
  CHECK(session.body().find("/analyst1\"") != std::string::npos);
}

TEST_CASE("POST /api/run releases what enclavectl run --format json prints") {
  World& w = TheWorld();
  WebReply run = w.Post("/api/run",
                        R"({"template":"zzp_aantal_per_wijk",)"
                        R"("parameters":{"year":"2023","geo":"wijk","breakdown":"geslacht"}})");
  INFO(run.body());
  REQUIRE(run.status == 200);
  CHECK(run.Header("Content-Type") == "application/json; charset=utf-8");
  CHECK(run.body().find("\"status\":\"confidential\",\"value\":null") != std::string::npos);
  CHECK(run.body().find("\"status\":\"released\"") != std::string::npos);
  ProcessResult cli = w.Enclavectl(w.enclaved->target(), "analyst1",
                                   {"run", "zzp_aantal_per_wijk", "-p", "year=2023", "-p",
                                    "geo=wijk", "-p", "breakdown=geslacht", "--format", "json"});
  INFO(cli.err);
  REQUIRE(cli.exit_code == 0);
  CHECK(WithoutRequestId(run.body()) == WithoutRequestId(cli.out));

  // A refusal keeps the enclave's code and message (an unknown value: INVALID_ARGUMENT).
  WebReply bad = w.Post("/api/run", R"({"template":"zzp_aantal_per_wijk","parameters":{"year":"1850"}})");
  CHECK(bad.status == 400);
  CHECK(bad.body().find("\"code\":\"INVALID_ARGUMENT\"") != std::string::npos);
  // The analyst sees no log entry (no pinned key here: nothing shown; with one, the enclave's 403).
  WebReply audit = w.Get("/api/audit/entries");
  INFO(audit.body());
  CHECK((audit.status >= 400 || audit.body().find("\"ok\":false") != std::string::npos));
  CHECK(audit.body().find("\"sequence\"") == std::string::npos);
}

TEST_CASE("the officer's serve finds the analyst's run in the verified log and exports the log") {
  World& w = TheWorld();
  WebReply run = w.Post("/api/run",
                        R"({"template":"zzp_aantal_per_wijk",)"
                        R"("parameters":{"year":"2022","geo":"wijk","breakdown":"geslacht"}})");
  REQUIRE(run.status == 200);
  std::smatch id;
  REQUIRE(std::regex_search(run.body(), id, std::regex("\"request_id\":\"([^\"]+)\"")));
  const std::string request_id = id[1];

  const std::string log_key = ReadFile(w.state + "/log_verifier.key");
  std::vector<std::string> argv = w.EnclavectlArgv(w.enclaved->target(), "officer1");
  argv.insert(argv.end(), {"serve", "--no-browser-hint", "--log-key",
                           log_key.substr(0, log_key.find_last_not_of("\n ") + 1), "--origin",
                           adapters::sqlite::kDefaultLogOrigin});
  ServeProcess officer(argv, w.dir.path().string() + "/serve-officer.stderr");
  INFO(officer.stderr_text());
  REQUIRE(officer.port() > 0);
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Cookie", "enclave_session_" + std::to_string(officer.port()) + "=" +
                     officer.token()}};
  WebReply entries = WebFetch(officer.port(), http::verb::get,
                              "/api/audit/entries?template=zzp_aantal_per_wijk"
                              "&param=year%3D2022&param=breakdown%3Dgeslacht&limit=50",
                              auth);
  INFO(entries.body().substr(0, 2000));
  REQUIRE(entries.status == 200);
  CHECK(entries.body().find("\"verification\":{\"ok\":true") != std::string::npos);
  CHECK(entries.body().find(request_id) != std::string::npos);
  // Negative control: another year's filter does not find it.
  WebReply other = WebFetch(officer.port(), http::verb::get,
                            "/api/audit/entries?template=zzp_aantal_per_wijk&param=year%3D2019",
                            auth);
  REQUIRE(other.status == 200);
  CHECK(other.body().find(request_id) == std::string::npos);

  WebReply bundle = WebFetch(officer.port(), http::verb::get, "/api/audit/export", auth);
  REQUIRE(bundle.status == 200);
  CHECK(bundle.Header("Content-Type") == "application/octet-stream");
  CHECK(bundle.Header("Content-Disposition").starts_with("attachment; filename=\"query-log-"));
  CHECK(bundle.body().size() > 1000);
  CHECK(officer.Stop() == 0);
}

TEST_CASE("serve exits 0 on SIGTERM") {
  World& w = TheWorld();
  INFO(w.serve->stderr_text());
  CHECK(w.serve->Stop() == 0);
  // Nothing from a release in its log: only route and status lines.
  const std::string log = w.serve->stderr_text();
  CHECK(log.find("POST /api/run -> 400") != std::string::npos);  // the refused run is logged
  CHECK(log.find("1850") == std::string::npos);                  // without its value
  CHECK(log.find("2023") == std::string::npos);
  CHECK(log.find("geslacht") == std::string::npos);
  CHECK(log.find("confidential") == std::string::npos);
}

}  // namespace enclave::testing
