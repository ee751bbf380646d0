// Aggregate metrics (issue 13): no metric can carry a value from a release, a parameter, a caller
// or a request; every label comes from a closed vocabulary; the endpoint is loopback-only and
// answers GET /metrics only.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <span>
#include <set>
#include <string>
#include <vector>

#include "enclave/core/observed_log.h"
#include "enclave/server/auth_failures.h"
#include "enclave/server/metrics.h"
#include "enclave/server/server.h"
#include "tests/server/observe_world.h"
#include "tests/testing/fake_query_log.h"

namespace enclave::server::observe_test {
namespace {

World& Shared() {
  static World world;
  return world;
}

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the text exposition strictly enough for the checks below; a line it cannot read fails
// the test.
std::vector<Sample> Parse(const std::string& text) {
  std::vector<Sample> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        REQUIRE_MESSAGE(eq != std::string::npos, line);
        const std::string key = line.substr(i, eq - i);
        REQUIRE_MESSAGE(line[eq + 1] == '"', line);
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        REQUIRE_MESSAGE(j < line.size(), line);
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      REQUIRE_MESSAGE(i < line.size(), line);
      ++i;
    }
    REQUIRE_MESSAGE((i < line.size() && line[i] == ' '), line);
    const std::string number = line.substr(i + 1);
    s.value = number == "+Inf" ? INFINITY : std::stod(number);
    out.push_back(std::move(s));
  }
  return out;
}

// The allowed label values, per label name. Anything else is a leak (or a new label that needs
// a decision and a place in this list).
std::map<std::string, std::set<std::string>> AllowedLabels(const std::string& version,
                                                           const std::set<std::string>& ledgers) {
  std::map<std::string, std::set<std::string>> allowed;
  allowed["template"] = {kTemplateId, "unknown", ""};
  for (std::string_view v : core::KnownRpcNames()) allowed["rpc"].insert(std::string(v));
  allowed["rpc"].insert("other");
  for (std::string_view v : core::KnownOutcomes()) allowed["outcome"].insert(std::string(v));
  for (std::string_view v : core::KnownStatusCodeNames()) allowed["code"].insert(std::string(v));
  allowed["code"].insert("other");
  for (auto t : {core::QueryLogEntry::Type::kAccepted, core::QueryLogEntry::Type::kResult,
                 core::QueryLogEntry::Type::kRefused, core::QueryLogEntry::Type::kAborted,
                 core::QueryLogEntry::Type::kServerStart, core::QueryLogEntry::Type::kServerStop,
                 core::QueryLogEntry::Type::kPolicyLoaded, core::QueryLogEntry::Type::kPolicyRefused,
                 core::QueryLogEntry::Type::kAuthFailureSummary, core::QueryLogEntry::Type::kBudget,
                 core::QueryLogEntry::Type::kDataLoad,
                 core::QueryLogEntry::Type::kDatasetRollback}) {
    allowed["type"].insert(core::QueryLogEntryTypeName(t));
  }
  allowed["method"] = {"Check", "Watch"};
  allowed["answer"] = {"SERVING",   "NOT_SERVING", "SERVICE_UNKNOWN", "PERMISSION_DENIED",
                       "NOT_FOUND", "UNAVAILABLE"};
  for (std::string_view r : HandshakeFailureReasons()) allowed["reason"].insert(std::string(r));
  allowed["ledger"] = ledgers;
  allowed["version"] = {version};
  return allowed;  // "le" (bucket bounds) is checked as numbers
}

// Problems of an exposition: labels outside the vocabulary, or a sample value or label equal to
// one of the values that must never appear.
std::vector<std::string> Leaks(const std::vector<Sample>& samples,
                               const std::map<std::string, std::set<std::string>>& allowed,
                               const std::set<std::string>& forbidden_strings,
                               const std::set<double>& forbidden_values) {
  std::vector<std::string> problems;
  for (const Sample& s : samples) {
    for (const auto& [key, value] : s.labels) {
      if (forbidden_strings.count(value) != 0) {
        problems.push_back(s.name + ": label " + key + "=" + value + " is a forbidden value");
      }
      if (key == "le") continue;  // bucket bounds: checked as numbers below
      auto it = allowed.find(key);
      if (it == allowed.end()) {
        problems.push_back(s.name + ": label name '" + key + "' is not in the vocabulary");
      } else if (it->second.count(value) == 0) {
        problems.push_back(s.name + ": " + key + "=\"" + value + "\" is not in the vocabulary");
      }
    }
    if (forbidden_values.count(s.value) != 0) {
      problems.push_back(s.name + " has the value " + std::to_string(s.value) +
                         ", a released cell value");
    }
  }
  return problems;
}

std::set<double> BucketBounds() {
  std::set<double> out(core::kQueryDurationBuckets.begin(), core::kQueryDurationBuckets.end());
  out.insert(core::kLogAppendBuckets.begin(), core::kLogAppendBuckets.end());
  return out;
}

}  // namespace

TEST_SUITE("metrics") {
  TEST_CASE("no metric carries a parameter, cell value, caller or request id, and labels are a "
            "closed vocabulary") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-metrics").string();
    c.metrics_listen = "127.0.0.1:0";
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();
    const int metrics_port = (*server)->metrics_port();
    REQUIRE(metrics_port > 0);

    auto analyst = client::Connect(w.Connect(port, "analyst1"));
    REQUIRE(analyst.ok());
    std::set<std::string> forbidden_strings = {
        "2087", "2088", "2099", "7777", "zz_geheim_4471", "WK01", "WK02",
        "spiffe://udc-lv.local/municipal_analyst/analyst1", "analyst1", "observe-test-v1"};
    std::set<double> released;
    int released_queries = 0;
    for (const std::string jaar : {"2087", "2088", "2087"}) {
      auto result = (*analyst)->RunQuery(kTemplateId, {{"jaar", jaar}});
      REQUIRE_MESSAGE(result.ok(), result.status().ToString());
      ++released_queries;
      forbidden_strings.insert(result->request_id);
      // The distinctive ones (the 2087 counts, 510 and more): small counts could equal a
      // counter by chance.
      for (const client::Cell& cell : result->cells) {
        if (cell.value.has_value() && *cell.value >= 500) {
          released.insert(static_cast<double>(*cell.value));
        }
      }
    }
    // Distinctive released values (1235-ish, 510-ish): the check below is meaningful.
    REQUIRE(released.size() >= 2);
    // Refusals with distinctive values: out of range, unknown template, unknown parameter.
    CHECK((*analyst)->RunQuery(kTemplateId, {{"jaar", "7777"}}).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK((*analyst)->RunQuery("zz_geheim_4471", {{"jaar", "2099"}}).status().code() ==
          absl::StatusCode::kNotFound);
    CHECK((*analyst)->DescribeTemplate("zz_geheim_4471").status().code() ==
          absl::StatusCode::kNotFound);
    // Health checks are counted, a failed handshake too.
    REQUIRE(client::CheckHealth(w.Connect(port, "operator1")).ok());
    CHECK_FALSE(client::CheckHealth(w.Connect(port, "analyst1")).ok());
    {
      client::ConnectOptions no_cert = w.Connect(port, "rogue1");
      CHECK_FALSE(client::CheckHealth(no_cert).ok());
    }

    const std::string text = ScrapeMetrics(metrics_port);
    const std::vector<Sample> samples = Parse(text);
    REQUIRE(!samples.empty());
    // Whole-text search as well: no forbidden string anywhere outside the sample values (which
    // are compared as numbers: a file size or a timestamp may contain "2087" by chance).
    {
      std::string words;
      std::size_t pos = 0;
      while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line[0] != '#') line = line.substr(0, line.rfind(' '));
        words += line + "\n";
      }
      for (const std::string& f : forbidden_strings) {
        CHECK_MESSAGE(words.find(f) == std::string::npos, f);
      }
    }
    for (double v : {2087.0, 2088.0, 7777.0}) released.insert(v);
    std::set<double> bounds = BucketBounds();
    for (const Sample& s : samples) {
      if (s.labels.count("le") != 0 && s.labels.at("le") != "+Inf") {
        CHECK_MESSAGE(bounds.count(std::stod(s.labels.at("le"))) == 1, s.name);
      }
    }
    const auto allowed = AllowedLabels(ENCLAVE_TEST_VERSION, {});
    const std::vector<std::string> problems = Leaks(samples, allowed, forbidden_strings, released);
    for (const std::string& p : problems) FAIL_CHECK(p);

    // The counts are right.
    auto value = [&](const std::string& name, std::map<std::string, std::string> labels) {
      for (const Sample& s : samples) {
        if (s.name == name && s.labels == labels) return s.value;
      }
      return -1.0;
    };
    CHECK(value("enclave_requests_total", {{"rpc", "RunQuery"}, {"template", kTemplateId},
                                           {"outcome", "released"}, {"code", "OK"}}) ==
          released_queries);
    CHECK(value("enclave_requests_total", {{"rpc", "RunQuery"}, {"template", kTemplateId},
                                           {"outcome", "refused"}, {"code", "INVALID_ARGUMENT"}}) ==
          1);
    CHECK(value("enclave_requests_total", {{"rpc", "RunQuery"}, {"template", "unknown"},
                                           {"outcome", "refused"}, {"code", "NOT_FOUND"}}) == 1);
    CHECK(value("enclave_requests_total", {{"rpc", "DescribeTemplate"}, {"template", "unknown"},
                                           {"outcome", "refused"}, {"code", "NOT_FOUND"}}) == 1);
    CHECK(value("enclave_requests_total", {{"rpc", "Health/Check"}, {"template", ""},
                                           {"outcome", "refused"},
                                           {"code", "PERMISSION_DENIED"}}) == 1);
    CHECK(value("enclave_query_duration_seconds_count",
                {{"template", kTemplateId}, {"outcome", "released"}}) == released_queries);
    CHECK(value("enclave_health_checks_total", {{"method", "Check"}, {"answer", "SERVING"}}) == 1);
    CHECK(value("enclave_serving", {}) == 1);
    CHECK(value("enclave_tls_handshake_failures_total",
                {{"reason", "certificate-not-trusted"}}) >= 1);
    CHECK(value("enclave_query_log_size_entries", {}) >= 8);
    CHECK(value("enclave_query_log_checkpoint_age_seconds", {}) >= 0);
    CHECK(value("enclave_query_log_append_failures_total", {}) == 0);
    // The admission queue: nothing waits or runs once the calls have returned; none was shed.
    CHECK(value("enclave_admission_running", {}) == 0);
    CHECK(value("enclave_admission_waiting", {}) == 0);
    CHECK(value("enclave_admission_shed_queue_full_total", {}) == 0);
    CHECK(value("enclave_admission_shed_timeout_total", {}) == 0);
    CHECK(value("enclave_admission_queued_total", {}) >= 0);
    (*server)->Shutdown();
  }

  TEST_CASE("the leak check finds a parameter value, a released value and an unknown label") {
    // Negative control for the test above: what a leaking metric would look like is caught.
    const auto allowed = AllowedLabels("1.0", {});
    const std::vector<Sample> leaking = Parse(
        "enclave_requests_total{rpc=\"RunQuery\",template=\"zz_geheim_4471\",outcome=\"refused\","
        "code=\"NOT_FOUND\"} 1\n"
        "enclave_x{jaar=\"2087\"} 1\n"
        "enclave_cells 1235\n");
    const auto problems = Leaks(leaking, allowed, {"2087", "zz_geheim_4471"}, {1235});
    CHECK(problems.size() == 5);
  }

  TEST_CASE("an unknown template id becomes 'unknown', unknown rpc and codes 'other'") {
    core::QueryLogMetrics metrics({kTemplateId});
    core::QueryLogEntry e;
    e.type = core::QueryLogEntry::Type::kRefused;
    e.rpc = "RunQuery";
    e.template_id = "zz_geheim_4471";
    e.decision = "NOT_FOUND";
    e.canonical_params = "jaar=7777";
    metrics.OnAppended(e, std::chrono::microseconds(100));
    e.rpc = "Something=2087";
    e.template_id = kTemplateId;
    e.decision = "secret 1235";
    metrics.OnAppended(e, std::chrono::microseconds(100));
    const auto snap = metrics.Take();
    REQUIRE(snap.requests.size() == 2);
    std::set<std::string> labels;
    for (const auto& [key, n] : snap.requests) {
      labels.insert({key.rpc, key.template_id, key.outcome, key.code});
    }
    CHECK(labels == std::set<std::string>{"RunQuery", "unknown", "refused", "NOT_FOUND", "other",
                                          kTemplateId});
  }

  TEST_CASE("query durations pair accepted and result entries by request id") {
    auto now = std::chrono::steady_clock::time_point();
    core::QueryLogMetrics metrics({kTemplateId}, [&] { return now; });
    core::QueryLogEntry e;
    e.rpc = "RunQuery";
    e.template_id = kTemplateId;
    e.request_id = "q-1";
    e.type = core::QueryLogEntry::Type::kAccepted;
    metrics.OnAppended(e, {});
    now += std::chrono::milliseconds(300);
    e.type = core::QueryLogEntry::Type::kResult;
    metrics.OnAppended(e, {});
    const auto snap = metrics.Take();
    const core::Histogram& h = snap.query_seconds.at({kTemplateId, "released"});
    CHECK(h.count == 1);
    CHECK(h.sum == doctest::Approx(0.3));
    // 0.3 s falls in the 0.5 s bucket (index 6), not below.
    CHECK(h.counts[5] == 0);
    CHECK(h.counts[6] == 1);
  }

  TEST_CASE("budget per ledger: only the policy's ledgers become labels, amounts in micro-epsilon") {
    // A ledger store that also answers for a ledger the policy does not name (as a store shared
    // with another configuration might): it must not become a label.
    struct Ledger final : core::BudgetLedger {
      absl::StatusOr<std::int64_t> Reserve(std::span<const core::LedgerLimit>, std::int64_t,
                                           std::string_view) override {
        return absl::UnimplementedError("");
      }
      absl::Status Charge(std::int64_t, std::string_view, std::string_view) override {
        return absl::UnimplementedError("");
      }
      absl::Status Refund(std::int64_t) override { return absl::UnimplementedError(""); }
      absl::StatusOr<std::optional<std::string>> FindAnswer(std::string_view) override {
        return std::optional<std::string>();
      }
      absl::StatusOr<std::vector<core::LedgerBalance>> Balances(
          std::span<const core::LedgerLimit> limits) override {
        std::vector<core::LedgerBalance> out;
        for (const core::LedgerLimit& l : limits) {
          out.push_back({l.ledger, l.cap_micro, 250000, 50000});
        }
        out.push_back({"agreement:someone-else", 1, 2, 3});
        return out;
      }
    };
    MetricsSources sources;
    sources.ledger = std::make_shared<Ledger>();
    sources.ledgers = {{"agreement:a1", 3000000}, {"project:p1", 6000000},
                       {"data-version:v1", 12000000}, {"project:p1", 6000000}};
    sources.version = "1.0";
    const std::vector<Sample> samples = Parse(RenderMetrics(sources));
    std::set<std::string> ledgers;
    for (const Sample& s : samples) {
      if (s.name.rfind("enclave_budget_", 0) != 0 || s.labels.empty()) continue;
      ledgers.insert(s.labels.at("ledger"));
      if (s.name == "enclave_budget_spent_micro_epsilon") CHECK(s.value == 250000);
      if (s.name == "enclave_budget_reserved_micro_epsilon") CHECK(s.value == 50000);
    }
    CHECK(ledgers == std::set<std::string>{"agreement:a1", "project:p1", "data-version:v1"});
    const auto problems =
        Leaks(samples, AllowedLabels("1.0", {"agreement:a1", "project:p1", "data-version:v1"}),
              {"agreement:someone-else"}, {});
    CHECK(problems.empty());
  }

  TEST_CASE("the endpoint answers GET /metrics only, with the exposition content type") {
    auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", [] { return "enclave_up 1\n"; });
    REQUIRE_MESSAGE(endpoint.ok(), endpoint.status().ToString());
    const int port = (*endpoint)->port();
    const std::string ok = HttpExchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
    CHECK(ok.find("\r\n\r\nenclave_up 1\n") != std::string::npos);
    CHECK(HttpExchange(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
    CHECK(HttpExchange(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
    CHECK(HttpExchange(port, "GET /debug HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
    CHECK(HttpExchange(port, "hello\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
    CHECK(HttpExchange(port, "GET /metrics HTTP/1.1\r\n" + std::string(9000, 'a'))
              .rfind("HTTP/1.1 431", 0) == 0);
    (*endpoint)->Stop();
    CHECK(HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n").empty());
  }

  TEST_CASE("the endpoint on a Unix socket (mode 0660), removed at stop") {
    testing::TempDir dir;
    const std::string path = (dir.path() / "metrics.sock").string();
    auto endpoint = MetricsEndpoint::Start("unix:" + path, [] { return "enclave_up 1\n"; });
    REQUIRE_MESSAGE(endpoint.ok(), endpoint.status().ToString());
    CHECK((*endpoint)->port() == 0);
    CHECK((fs::status(path).permissions() & fs::perms::others_all) == fs::perms::none);
    const std::string ok = HttpExchange(0, "GET /metrics HTTP/1.1\r\n\r\n", path);
    CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    (*endpoint)->Stop();
    CHECK_FALSE(fs::exists(path));
  }

  TEST_CASE("metrics.listen must be loopback or a Unix socket") {
    for (const std::string good : {"", "127.0.0.1:9464", "127.0.0.2:0", "[::1]:9464",
                                   "unix:/run/enclaved/metrics.sock"}) {
      CAPTURE(good);
      CHECK(ValidateMetricsListen(good).ok());
    }
    for (const std::string bad : {"0.0.0.0:9464", "10.20.30.1:9464", "[::]:9464", "localhost:9464",
                                  "127.0.0.1", "127.0.0.1:99999", "unix:relative.sock", "unix:",
                                  "::1:9464", "192.168.1.1:80"}) {
      CAPTURE(bad);
      const absl::Status s = ValidateMetricsListen(bad);
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK(s.message().find("metrics.listen") != std::string::npos);
    }
    Config c;
    c.metrics_listen = "0.0.0.0:9464";
    CHECK(ValidateConfig(c).message().find("metrics.listen") != std::string::npos);
    // In the file, with its location.
    testing::TempDir dir;
    const fs::path file = dir.path() / "enclaved.textproto";
    Put(file, "state_dir: \"s\"\nmetrics {\n  listen: \"0.0.0.0:9464\"\n}\n");
    auto loaded = LoadConfigFile(file.string());
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.status().message().find(file.string() + ":3:") != std::string::npos);
    CHECK(loaded.status().message().find("never reachable from the network") != std::string::npos);
    fs::remove(file);
    Put(file, "metrics { listen: \"[::1]:9464\" }\n");
    loaded = LoadConfigFile(file.string());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
    CHECK(loaded->metrics_listen == "[::1]:9464");
  }
}

}  // namespace enclave::server::observe_test
