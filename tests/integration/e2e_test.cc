// End-to-end: the real enclaved process on 127.0.0.1:0 with test-made certificates and a generated
// database, driven by the real enclavectl binary and the real client library.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <numeric>
#include <string>
#include <vector>

#include "enclave/adapters/policy_files/loader.h"
#include "enclave/client/client.h"
#include "enclave/disclosure/threshold.h"
#include "enclave/templates/binding.h"
#include "enclave/v1/service.grpc.pb.h"
#include "tests/integration/process.h"
#include "tests/integration/sqlite_truth.h"

namespace enclave::testing {
namespace {

const std::string kSourceDir = ENCLAVE_SOURCE_DIR;

// One generated world per test binary: PKI, database, and a running server.
struct World {
  TempDir dir;
  std::string pki;
  std::string db;
  std::string state;
  std::unique_ptr<ServerProcess> server;

  World() {
    pki = dir.path().string() + "/pki";
    db = dir.path().string() + "/microdata.db";
    state = dir.path().string() + "/state";
    std::filesystem::create_directories(state);
    ProcessResult p = RunProcess({"/bin/bash", kSourceDir + "/deploy/dev-pki.sh", pki});
    INFO(p.err);
    REQUIRE(p.exit_code == 0);
    ProcessResult g = RunProcess(
        {ENCLAVE_DATAGEN_PATH, "--out", db, "--seed", "7", "--persons", "20000"},
        std::chrono::seconds(300));
    INFO(g.err);
    REQUIRE(g.exit_code == 0);
    server = StartServer(state);
    INFO(server->stderr_text());
    REQUIRE(server->port() > 0);
  }

  std::unique_ptr<ServerProcess> StartServer(const std::string& state_dir) const {
    return std::make_unique<ServerProcess>(
        ENCLAVED_PATH,
        std::vector<std::string>{"--database", db, "--policies", kSourceDir + "/policies",
                                 "--state-dir", state_dir, "--client-ca", pki + "/ca.pem",
                                 "--cert", pki + "/server.pem", "--key", pki + "/server.key"},
        state_dir);
  }

  // enclavectl as `who` (a certificate name from dev-pki.sh) with the given arguments.
  ProcessResult Ctl(const std::string& who, std::vector<std::string> args) const {
    std::vector<std::string> argv = {ENCLAVECTL_PATH,  "--target", server->target(),
                                     "--ca",           pki + "/ca.pem",
                                     "--cert",         pki + "/" + who + ".pem",
                                     "--key",          pki + "/" + who + ".key"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  std::unique_ptr<client::EnclaveClient> Client(const std::string& who) const {
    client::ConnectOptions o;
    o.target = server->target();
    o.ca_file = pki + "/ca.pem";
    o.cert_file = pki + "/" + who + ".pem";
    o.key_file = pki + "/" + who + ".key";
    auto c = client::Connect(o);
    REQUIRE(c.ok());
    return std::move(*c);
  }
};

World& TheWorld() {
  static World world;
  return world;
}

std::vector<std::string> ShippedTemplateIds() {
  auto loaded = adapters::policy_files::LoadPolicies(kSourceDir + "/policies", nullptr);
  REQUIRE(loaded.ok());
  std::vector<std::string> ids;
  for (const auto& t : loaded->catalog->templates) {
    // Researcher-only (differentially private) templates are not the analyst's: core_dp tests them.
    if (t.AllowsRole(templates::Role::kMunicipalAnalyst)) ids.push_back(t.id);
  }
  return ids;
}

}  // namespace

TEST_CASE("every shipped template runs through enclavectl with its defaults") {
  World& w = TheWorld();
  const auto ids = ShippedTemplateIds();
  REQUIRE(ids.size() >= 7);
  for (const auto& id : ids) {
    CAPTURE(id);
    ProcessResult table = w.Ctl("analyst1", {"run", id});
    INFO(table.err);
    CHECK(table.exit_code == 0);
    CHECK(table.out.find(id) != std::string::npos);
    CHECK(table.out.find("confidential") != std::string::npos);  // the legend
    ProcessResult csv = w.Ctl("analyst1", {"run", id, "--format", "csv"});
    CHECK(csv.exit_code == 0);
    ProcessResult json = w.Ctl("analyst1", {"run", id, "--format", "json"});
    CHECK(json.exit_code == 0);
    CHECK(json.out.find("\"cells\"") != std::string::npos);
  }
}

TEST_CASE("templates and describe show what an analyst may ask") {
  World& w = TheWorld();
  ProcessResult list = w.Ctl("analyst1", {"templates"});
  INFO(list.err);
  REQUIRE(list.exit_code == 0);
  for (const auto& id : ShippedTemplateIds()) CHECK(list.out.find(id) != std::string::npos);
  ProcessResult describe = w.Ctl("analyst1", {"describe", "zzp_aantal_per_wijk"});
  REQUIRE(describe.exit_code == 0);
  CHECK(describe.out.find("year") != std::string::npos);
  CHECK(describe.out.find("2018") != std::string::npos);
}

TEST_CASE("cells below the threshold are suppressed, checked against counts computed from the data") {
  World& w = TheWorld();
  auto loaded = adapters::policy_files::LoadPolicies(kSourceDir + "/policies", nullptr);
  REQUIRE(loaded.ok());
  auto client = w.Client("analyst1");
  std::int64_t suppressed = 0;
  std::int64_t released = 0;
  for (const auto& tmpl : loaded->catalog->templates) {
    CAPTURE(tmpl.id);
    if (!tmpl.AllowsRole(templates::Role::kMunicipalAnalyst)) continue;  // researcher-only (DP)
    auto bound = templates::Bind(tmpl, {});
    REQUIRE(bound.ok());
    auto result = client->RunQuery(tmpl.id, {});
    REQUIRE(result.ok());
    for (std::uint32_t s = 0; s < tmpl.statistics.size(); ++s) {
      const auto& stat = tmpl.statistics[s];
      if (stat.kind != templates::StatisticKind::kCount) continue;
      auto truth = IndependentCounts(TheWorld().db, *bound, stat.flag);
      REQUIRE(truth.ok());
      for (const auto& cell : result->cells) {
        if (cell.statistic != s) continue;
        auto it = truth->find(cell.coordinates);
        const std::int64_t n = it == truth->end() ? 0 : it->second;
        CAPTURE(n);
        if (n < tmpl.disclosure.min_units) {
          CHECK_FALSE(cell.value.has_value());
          ++suppressed;
        } else if (cell.value.has_value()) {
          // Counts are randomly rounded by cell key (cbs-default: base 5, or the template's
          // coarser precision): a multiple of the base, less than one base from the truth.
          const std::int64_t base = std::lcm(std::int64_t{5}, std::max<std::int64_t>(stat.precision, 1));
          CHECK(*cell.value % base == 0);
          CHECK(*cell.value - n < base);
          CHECK(n - *cell.value < base);
          ++released;
        }  // else: a complementary (secondary) suppression
      }
    }
  }
  // The comparison is only meaningful if the data has cells on both sides of the threshold.
  CHECK(suppressed > 0);
  CHECK(released > 0);
}

// T10 v3 (issue 10 §4): every cell and margin counts the fixed panel of its winkelgebied and
// sector group, and the index follows the PIN sums computed with plain SQL (EventImpactTruth: its
// own date arithmetic, not the template's SQL). R5's threshold applies to the vestigingen with PIN
// turnover in each part; released counts are within one rounding base of the panel, released
// indices within the magnitude noise of 100 * window / baseline.
TEST_CASE("T10: each cell counts the fixed panel and the index follows plain SQL") {
  World& w = TheWorld();
  auto client = w.Client("analyst1");
  struct Combo {
    std::string event, window, baseline, measure;
  };
  const std::vector<Combo> combos = {
      {"EV2023-001", "event_days", "same_weekdays_prev_4_weeks", "omzet"},
      {"EV2023-001", "event_week", "same_week_prev_year", "omzet"},
      {"EV2022-010", "week_after", "same_weekdays_prev_4_weeks", "transacties"},
      {"EV2024-020", "event_days", "same_week_prev_year", "transacties"}};
  std::int64_t released_index = 0;
  std::int64_t released_panel = 0;
  std::int64_t withheld_index = 0;
  for (const Combo& c : combos) {
    CAPTURE(c.event);
    CAPTURE(c.window);
    CAPTURE(c.baseline);
    auto result = client->RunQuery("event_impact_pin", {{"event_id", c.event},
                                                        {"window", c.window},
                                                        {"baseline", c.baseline},
                                                        {"measure", c.measure}});
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    CHECK(result->template_version == 3);
    auto truth = EventImpactTruth(w.db, c.event, c.window, c.baseline, c.measure);
    REQUIRE(truth.ok());
    REQUIRE(result->dimensions.size() == 2);
    std::uint32_t index_stat = 99, panel_stat = 99;
    for (std::uint32_t s = 0; s < result->statistics.size(); ++s) {
      if (result->statistics[s].name == "index") index_stat = s;
      if (result->statistics[s].name == "n_vestigingen") panel_stat = s;
    }
    REQUIRE(index_stat != 99);
    REQUIRE(panel_stat != 99);
    for (const auto& cell : result->cells) {
      const client::Code& area = result->dimensions[0].codes.at(cell.coordinates.at(0));
      const client::Code& sector = result->dimensions[1].codes.at(cell.coordinates.at(1));
      CAPTURE(area.code);
      CAPTURE(sector.code);
      PinCellTruth t;  // the cell's truth: the sum over the panel cells below it
      for (const auto& [key, v] : *truth) {
        if ((area.is_total || key.first == area.code) && (sector.is_total || key.second == sector.code)) {
          t.panel += v.panel;
          t.window_units += v.window_units;
          t.baseline_units += v.baseline_units;
          t.window_sum += v.window_sum;
          t.baseline_sum += v.baseline_sum;
        }
      }
      if (cell.statistic == panel_stat) {
        if (t.panel < 10) CHECK_FALSE(cell.value.has_value());
        if (cell.value.has_value()) {
          CHECK(*cell.value % 5 == 0);
          CHECK(std::abs(*cell.value - t.panel) < 5);
          ++released_panel;
        }
      } else if (cell.statistic == index_stat) {
        if (t.window_units < 10 || t.baseline_units < 10 || t.baseline_sum == 0) {
          CHECK_FALSE(cell.value.has_value());
        }
        if (cell.value.has_value()) {
          const double truth_index = 100.0 * static_cast<double>(t.window_sum) /
                                     static_cast<double>(t.baseline_sum);
          CAPTURE(truth_index);
          CHECK(std::abs(static_cast<double>(*cell.value) - truth_index) <=
                std::max(3.0, 0.3 * truth_index));
          ++released_index;
        } else {
          ++withheld_index;
        }
      }
    }
  }
  MESSAGE("T10 truth: " << released_index << " index cells released, " << withheld_index
                        << " withheld; " << released_panel << " panel counts released");
  CHECK(released_index > 0);
  CHECK(withheld_index > 0);
  CHECK(released_panel > 0);
}

TEST_CASE("bad input is refused with a message naming the parameter and what is allowed") {
  World& w = TheWorld();
  SUBCASE("unknown template") {
    ProcessResult r = w.Ctl("analyst1", {"run", "no_such_template"});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("no_such_template") != std::string::npos);
  }
  SUBCASE("unknown parameter") {
    ProcessResult r = w.Ctl("analyst1", {"run", "zzp_aantal_per_wijk", "--param", "colour=red"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("colour") != std::string::npos);
  }
  SUBCASE("value outside its range") {
    ProcessResult r = w.Ctl("analyst1", {"run", "zzp_aantal_per_wijk", "--param", "year=2031"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("year") != std::string::npos);
    CHECK(r.err.find("2018") != std::string::npos);
  }
  SUBCASE("wrong type") {
    ProcessResult r = w.Ctl("analyst1", {"run", "zzp_aantal_per_wijk", "--param", "year=20x4"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("year") != std::string::npos);
    CHECK(r.err.find("integer") != std::string::npos);
  }
  SUBCASE("a code that is not allowed, shaped as SQL") {
    ProcessResult r = w.Ctl("analyst1", {"run", "zzp_aantal_per_wijk", "--param",
                                         "geo=wijk' OR 1=1 --"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("geo") != std::string::npos);
    CHECK(r.err.find("wijkcluster") != std::string::npos);  // names what is allowed
  }
  SUBCASE("the same parameter twice") {
    ProcessResult r = w.Ctl("analyst1", {"run", "zzp_aantal_per_wijk", "--param", "year=2020",
                                         "--param", "year=2021"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("year") != std::string::npos);
  }
}

TEST_CASE("mutual TLS refuses callers without a valid certificate from the enclave's CA") {
  World& w = TheWorld();
  SUBCASE("no client certificate") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadFile(w.pki + "/ca.pem");
    auto channel = grpc::CreateChannel(w.server->target(), grpc::SslCredentials(o));
    auto stub = v1::QueryService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListTemplatesResponse resp;
    grpc::Status s = stub->ListTemplates(&ctx, v1::ListTemplatesRequest{}, &resp);
    CHECK_FALSE(s.ok());
    CHECK(resp.templates_size() == 0);
  }
  SUBCASE("certificate from another CA") {
    ProcessResult r = w.Ctl("rogue1", {"templates"});
    CHECK(r.exit_code == 5);
    CHECK(r.out.empty());
  }
  SUBCASE("valid certificate of an unknown principal") {
    ProcessResult r = w.Ctl("unknown1", {"templates"});
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
  }
  SUBCASE("roles that may not run queries") {
    for (const char* who : {"officer1", "steward1", "operator1"}) {
      CAPTURE(who);
      ProcessResult r = w.Ctl(who, {"run", "zzp_aantal_per_wijk"});
      CHECK(r.exit_code == 3);
      CHECK(r.out.empty());
    }
  }
}

TEST_CASE("a request larger than the receive limit is refused before any handler runs") {
  World& w = TheWorld();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFile(w.pki + "/ca.pem");
  o.pem_cert_chain = ReadFile(w.pki + "/analyst1.pem");
  o.pem_private_key = ReadFile(w.pki + "/analyst1.key");
  auto channel = grpc::CreateChannel(w.server->target(), grpc::SslCredentials(o));
  auto stub = v1::QueryService::NewStub(channel);
  auto run = [&](std::size_t value_size) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::RunQueryRequest req;
    req.set_template_id("zzp_aantal_per_wijk");
    auto* p = req.add_parameters();
    p->set_name("sex");
    p->set_value(std::string(value_size, 'x'));
    v1::RunQueryResponse resp;
    return stub->RunQuery(&ctx, req, &resp).error_code();
  };
  // Under the 64 KiB default the request reaches the handler and is refused as a bad value.
  CHECK(run(1000) == grpc::StatusCode::INVALID_ARGUMENT);
  // Over it, gRPC refuses the message itself.
  CHECK(run(100 * 1024) == grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_CASE("a deadline shorter than the query ends it with DEADLINE_EXCEEDED") {
  World& w = TheWorld();
  ProcessResult r = w.Ctl("analyst1", {"--timeout", "0.001", "run", "zzp_inkomen_verdeling"});
  CHECK(r.exit_code == 7);
  CHECK(r.out.empty());
}

TEST_CASE("no person key reaches the query log or the server's log lines") {
  World& w = TheWorld();
  // Queries, allowed and refused, have run above; add one of each here too.
  CHECK(w.Ctl("analyst1", {"run", "bijstand_stand"}).exit_code == 0);
  CHECK(w.Ctl("analyst1", {"run", "bijstand_stand", "--param", "year=1"}).exit_code == 2);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(w.db.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT rinpersoon FROM gbapersoontab LIMIT 2000", -1, &stmt,
                             nullptr) == SQLITE_OK);
  std::vector<std::string> keys;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    keys.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  REQUIRE(keys.size() == 2000);
  std::string log_bytes;
  for (const auto& e : std::filesystem::directory_iterator(w.state)) {
    log_bytes += ReadFile(e.path().string());
  }
  REQUIRE(log_bytes.find("zzp_aantal_per_wijk") != std::string::npos);  // the log is there
  const std::string stderr_text = w.server->stderr_text();
  for (const auto& k : keys) {
    CHECK(log_bytes.find(k) == std::string::npos);
    CHECK(stderr_text.find(k) == std::string::npos);
  }
}

TEST_CASE("SIGTERM stops the server gracefully and a second instance cannot share its state") {
  World& w = TheWorld();
  // A second server on the same state directory is refused (lock file), and exits non-zero.
  auto second = w.StartServer(w.state);
  CHECK(second->port() == 0);
  CHECK_FALSE(second->Running());
  // The shared server stops cleanly on SIGTERM, with exit code 0.
  CHECK(w.server->Stop() == 0);
  CHECK_FALSE(w.server->Running());
}

}  // namespace enclave::testing
