#include "enclave/core/query_service.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "enclave/base/retry_hint.h"
#include "enclave/core/alternatives.h"
#include "enclave/disclosure/rule_set.h"
#include "enclave/templates/hints.h"
#include "tests/core/fixtures.h"
#include "tests/testing/fake_disclosure.h"
#include "tests/testing/fake_query_log.h"

namespace enclave::core {
namespace {

using Type = QueryLogEntry::Type;
using templates::Role;
using templates::StatisticKind;
using testing::FakeQueryLog;
using testing::FakeRow;
using testing::FakeSourceState;

constexpr char kAnalyst[] = "spiffe://lv/analyst";
constexpr char kResearcher[] = "spiffe://lv/researcher";
constexpr char kOfficer[] = "spiffe://cbs/officer";
constexpr char kSteward[] = "spiffe://cbs/steward";
constexpr char kOperator[] = "spiffe://cbs/operator";

std::string FakeDigest(std::string_view bytes) {
  return "digest-" + std::to_string(std::hash<std::string_view>{}(bytes));
}

templates::Template MainTemplate() {
  templates::Template t = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount),
       test::MakeStatistic("income", StatisticKind::kSum, "", 1000)});
  t.id = "main_template";
  templates::ParamSpec year;
  year.name = "year";
  year.type = templates::ParamType::kInteger;
  year.min = 2020;
  year.max = 2024;
  year.default_value = "2023";
  t.params = {year};
  return t;
}

struct Env {
  std::shared_ptr<TemplateCatalog> catalog = std::make_shared<TemplateCatalog>();
  std::shared_ptr<FakeSourceState> state = std::make_shared<FakeSourceState>();
  std::shared_ptr<FakeQueryLog> log = std::make_shared<FakeQueryLog>();
  std::shared_ptr<testing::FakeDisclosure> disclosure = std::make_shared<testing::FakeDisclosure>();
  std::unique_ptr<QueryService> service;

  // The wall clock the agreements are judged against, and the researcher's certificate expiry.
  absl::Time now = absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone());
  absl::Time not_after = absl::FromCivil(absl::CivilDay(2026, 7, 1), absl::UTCTimeZone());
  std::shared_ptr<const policy::AgreementBook> agreements;
  std::shared_ptr<policy::RevocationSource> revocations;
  std::function<std::chrono::steady_clock::time_point()> steady_now;
  std::shared_ptr<DpReleaser> dp_releaser;

  static std::shared_ptr<const policy::AgreementBook> Book(std::vector<policy::Agreement> list) {
    auto book = policy::AgreementBook::Create(std::move(list), {{"P1", 5'000'000}},
                                              policy::kDefaultDataVersionCapMicro);
    REQUIRE(book.ok());
    return std::make_shared<const policy::AgreementBook>(*std::move(book));
  }
  static policy::Agreement DefaultAgreement() {
    policy::Agreement a;
    a.id = "A1";
    a.organisation = "Universiteit Leiden";
    a.project = "P1";
    a.valid_from = absl::CivilDay(2026, 1, 1);
    a.valid_until = absl::CivilDay(2026, 12, 31);
    a.templates = {"main_template", "researcher_only"};
    a.budget_micro = 1'000'000;
    return a;
  }

  explicit Env(int max_concurrent = 8,
               std::function<void(std::vector<policy::Principal>&)> edit_people = nullptr) {
    templates::Template main = MainTemplate();
    templates::Template researcher_only = MainTemplate();
    researcher_only.id = "researcher_only";
    researcher_only.roles = {Role::kResearcher};
    catalog->templates = {main, researcher_only};  // sorted by id
    catalog->rule_sets["cbs-default"] = disclosure::RuleSetParams{};
    std::vector<policy::Principal> people;
    auto add = [&](const char* id, Role role) {
      policy::Principal p;
      p.id = id;
      p.role = role;
      people.push_back(p);
    };
    add(kAnalyst, Role::kMunicipalAnalyst);
    add(kResearcher, Role::kResearcher);
    add(kOfficer, Role::kPrivacyOfficer);
    add(kSteward, Role::kDataSteward);
    add(kOperator, Role::kOperator);
    people[1].organisation = "Universiteit Leiden";
    people[1].projects = {"P1"};
    if (edit_people) edit_people(people);
    agreements = Book({DefaultAgreement()});
    auto dir = policy::PrincipalDirectory::Create(people);
    REQUIRE(dir.ok());
    // Ten units in W1/M (released), three in W2/V (confidential).
    test::AddUnits(state->rows, "a", 10, "W1", "M", 1000);
    test::AddUnits(state->rows, "b", 3, "W2", "V", 2000);
    Start(std::make_shared<policy::PrincipalDirectory>(*std::move(dir)), max_concurrent);
  }

  std::shared_ptr<const policy::PrincipalDirectory> directory;
  int concurrency = 8;
  // The admission queue (set, then Restart()).
  int max_queued = 64;
  std::chrono::milliseconds max_queue_wait{10000};
  // Rebuilds the service after a change of agreements, revocations or clocks.
  void Restart() { Start(directory, concurrency); }

  void Start(std::shared_ptr<const policy::PrincipalDirectory> principals, int max_concurrent) {
    directory = principals;
    concurrency = max_concurrent;
    QueryServiceOptions options;
    options.max_concurrent_queries = max_concurrent;
    options.max_queued_queries = max_queued;
    options.max_queue_wait = max_queue_wait;
    options.sha256_hex = FakeDigest;
    testing::FakeDisclosure::Configure(disclosure, options);
    options.agreements = agreements;
    options.revocations = revocations;
    options.now = [this] { return now; };
    options.steady_now = steady_now;
    options.dp_releaser = dp_releaser;
    service = std::make_unique<QueryService>(catalog, std::move(principals),
                                             testing::FakeSourceFactory(state), log, options);
  }

  // What the rpc layer would extract from the caller's certificate.
  policy::CallerIdentity Id(const std::string& caller) const {
    policy::CallerIdentity id = policy::CallerIdentity::FromUri(caller);
    id.cert_sha256 = "c0ffee" + std::to_string(caller.size());
    id.serial_hex = "1a" + std::to_string(caller.size());
    id.not_after = not_after;
    return id;
  }

  absl::StatusOr<RunResult> Run(const std::string& caller, const std::string& tmpl = "main_template",
                                std::vector<std::pair<std::string, std::string>> params = {},
                                Cancellation cancel = {}) {
    return service->RunQuery(Id(caller), tmpl, params, cancel);
  }
};

// Every field of an entry, for "appears nowhere" checks.
std::string AllFields(const QueryLogEntry& e) {
  return e.request_id + "|" + e.caller + "|" + e.role + "|" + e.rpc + "|" + e.template_id + "|" +
         std::to_string(e.template_version) + "|" + e.template_sha256 + "|" + e.canonical_params +
         "|" + e.decision + "|" + e.reason + "|" + e.rule_set + "|" + e.data_version + "|" +
         std::to_string(e.cells_released) + "|" + std::to_string(e.cells_confidential) + "|" +
         e.cell_rules + "|" + e.result_sha256;
}

// A refusal: the status, one kRefused entry carrying it, and no scan.
void CheckRefused(const Env& env, const absl::Status& status, absl::StatusCode code) {
  CHECK(status.code() == code);
  const std::vector<QueryLogEntry> entries = env.log->entries();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].type == Type::kRefused);
  CHECK(entries[0].decision == absl::StatusCodeToString(code));
  CHECK(entries[0].reason == std::string(status.message()));
  CHECK(entries[0].rpc == "RunQuery");
  CHECK(env.state->scans.load() == 0);
}

TEST_CASE("an allowed query logs accepted and result entries and returns the release") {
  Env env;
  auto result = env.Run(kAnalyst, "main_template", {{"year", "2022"}});
  REQUIRE(result.ok());
  const Release& r = result->release;
  CHECK(r.cells.size() == 3 * 3 * 2);
  CHECK(r.data_version == "fake-data-v1");
  const std::vector<QueryLogEntry> entries = env.log->entries();
  REQUIRE(entries.size() == 2);
  const QueryLogEntry& accepted = entries[0];
  const QueryLogEntry& done = entries[1];
  CHECK(accepted.type == Type::kAccepted);
  CHECK(accepted.caller == kAnalyst);
  CHECK(accepted.role == "municipal_analyst");
  CHECK(accepted.template_id == "main_template");
  CHECK(accepted.template_version == 3);
  CHECK(accepted.template_sha256 == std::string(64, 'a'));
  CHECK(accepted.canonical_params == "year=2022");
  CHECK(accepted.decision == "allowed");
  CHECK(done.type == Type::kResult);
  CHECK(done.request_id == accepted.request_id);
  CHECK(done.request_id == result->request_id);
  CHECK(result->request_id.rfind("q-", 0) == 0);
  CHECK(done.rule_set == "cbs-default@1");
  CHECK(done.data_version == "fake-data-v1");
  CHECK(done.cells_released == r.CountReleased());
  CHECK(done.cells_confidential == r.CountConfidential());
  CHECK(done.cells_released + done.cells_confidential == 18);
  CHECK(done.result_sha256 == FakeDigest(CanonicalReleaseText(r)));
  // Provenance for the officer: every rule-set parameter, key and ptable versions, then per cell
  // the rule that decided with its parameters.
  std::string expected_cells;
  for (const CellProvenance& p : r.provenance) {
    if (!expected_cells.empty()) expected_cells += ',';
    expected_cells += p.rule;
    if (!p.params.empty()) expected_cells += "[" + p.params + "]";
  }
  CHECK(done.cell_rules == "rules{" + disclosure::CanonicalText(disclosure::RuleSetParams{}) +
                               "} record_key{rk-test} counts{round-5@1} cells{" + expected_cells +
                               "}");
  CHECK(done.cell_rules.find("threshold[T=10]") != std::string::npos);
  CHECK(done.cell_rules.find("secondary[") != std::string::npos);
  CHECK(r.treatment == "ROUNDED_5");
  CHECK(r.record_key_version == "rk-test");
  // A growing (first-seen) unit index has no stable basis: its populations stay in memory.
  CHECK(env.disclosure->history->appended() == 0);
  CHECK(env.disclosure->guard->RecordedCount(
            disclosure::GuardKey{"fake-data-v1", "person"}) > 0);
}

TEST_CASE("the accepted entry is written before the source is scanned") {
  Env env;
  bool checked = false;
  env.state->before_scan = [&]() {
    checked = true;
    CHECK(env.log->OfType(Type::kAccepted).size() == 1);
    CHECK(env.log->OfType(Type::kResult).empty());
    return absl::OkStatus();
  };
  REQUIRE(env.Run(kResearcher).ok());
  CHECK(checked);
}

TEST_CASE("an unknown caller is refused and logged") {
  Env env;
  auto result = env.Run("spiffe://elsewhere/mallory");
  CheckRefused(env, result.status(), absl::StatusCode::kPermissionDenied);
  CHECK(result.status().message() == "caller is not a registered principal");
  CHECK(env.log->entries()[0].caller == "spiffe://elsewhere/mallory");
}

TEST_CASE("officers, stewards and operators may not run queries and are logged") {
  for (const char* caller : {kOfficer, kSteward, kOperator}) {
    Env env;
    auto result = env.Run(caller);
    CheckRefused(env, result.status(), absl::StatusCode::kPermissionDenied);
    CHECK(std::string(result.status().message()).find("may not run queries") != std::string::npos);
  }
  Env env;
  auto result = env.Run(kOfficer);
  CHECK(std::string(result.status().message()).find("privacy_officer") != std::string::npos);
}

TEST_CASE("an unknown template and one the role may not run give the same refusal") {
  Env env;
  auto unknown = env.Run(kAnalyst, "no_such_template");
  CheckRefused(env, unknown.status(), absl::StatusCode::kNotFound);
  CHECK(unknown.status().message() ==
        "unknown template 'no_such_template'; use ListTemplates to see the templates you may run");

  Env env2;
  auto hidden = env2.Run(kAnalyst, "researcher_only");
  CheckRefused(env2, hidden.status(), absl::StatusCode::kNotFound);
  CHECK(hidden.status().message() ==
        "unknown template 'researcher_only'; use ListTemplates to see the templates you may run");

  Env env3;
  CHECK(env3.Run(kResearcher, "researcher_only").ok());
}

TEST_CASE("bad parameters are refused with the binder's message and logged") {
  Env env;
  auto result = env.Run(kAnalyst, "main_template", {{"year", "1999"}});
  CheckRefused(env, result.status(), absl::StatusCode::kInvalidArgument);
  CHECK(std::string(result.status().message()).find("year") != std::string::npos);
  CHECK(env.log->entries()[0].template_id == "main_template");
}

TEST_CASE("a refusal whose log write fails is unavailable") {
  Env env;
  env.log->FailAll(true);
  auto result = env.Run("spiffe://elsewhere/mallory");
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  CHECK(env.log->failed_appends() == 1);
}

TEST_CASE("when the accepted entry cannot be written nothing runs") {
  Env env;
  env.log->FailOn(Type::kAccepted);
  auto result = env.Run(kAnalyst);
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  CHECK(env.state->scans.load() == 0);
  CHECK(env.state->sources_made.load() == 0);
  CHECK(env.log->size() == 0);
}

TEST_CASE("when the result entry cannot be written no release is returned") {
  Env env;
  env.log->FailOn(Type::kResult);
  auto result = env.Run(kAnalyst);
  CHECK_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  CHECK(env.state->scans.load() == 1);
  CHECK(env.log->OfType(Type::kAccepted).size() == 1);
}

TEST_CASE("a deadline from the source is returned as such and logged as aborted") {
  Env env;
  env.state->scan_failure = absl::DeadlineExceededError("store: interrupted");
  env.state->fail_after_rows = 5;
  auto result = env.Run(kAnalyst);
  CHECK(result.status().code() == absl::StatusCode::kDeadlineExceeded);
  const std::vector<QueryLogEntry> entries = env.log->entries();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].type == Type::kAccepted);
  CHECK(entries[1].type == Type::kAborted);
  CHECK(entries[1].decision == "DEADLINE_EXCEEDED");
  CHECK(entries[1].request_id == entries[0].request_id);
}

TEST_CASE("an expired deadline stops the query before any result") {
  Env env;
  Cancellation cancel;
  cancel.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto result = env.Run(kAnalyst, "main_template", {}, cancel);
  CHECK(result.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(env.log->OfType(Type::kAborted).size() == 1);
  CHECK(env.log->OfType(Type::kResult).empty());
}

TEST_CASE("a failing source factory aborts the query") {
  Env env;
  env.state->factory_failure = absl::UnavailableError("store offline");
  auto result = env.Run(kAnalyst);
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  CHECK(env.log->OfType(Type::kAborted).size() == 1);
}

TEST_CASE("beyond the concurrency limit without a queue a query is refused with a retry hint") {
  Env env(1);
  env.max_queued = 0;
  env.Restart();
  std::mutex mu;
  std::condition_variable cv;
  bool scanning = false;
  bool release_scan = false;
  env.state->before_scan = [&]() {
    std::unique_lock<std::mutex> lock(mu);
    scanning = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release_scan; });
    return absl::OkStatus();
  };
  absl::StatusOr<RunResult> first = absl::UnknownError("not run");
  std::thread runner([&] { first = env.Run(kAnalyst); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return scanning; });
  }
  auto second = env.Run(kResearcher);
  CHECK(second.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(second.status().message() ==
        "the enclave is running its maximum of 1 queries; retry after 1 s");
  CHECK(base::RetryAfterOf(second.status()) == std::chrono::milliseconds(1000));
  CHECK(env.log->OfType(Type::kRefused).size() == 1);
  {
    std::lock_guard<std::mutex> lock(mu);
    release_scan = true;
  }
  cv.notify_all();
  runner.join();
  CHECK(first.ok());
  env.state->before_scan = nullptr;
  CHECK(env.Run(kResearcher).ok());  // the slot is free again
}

TEST_CASE("beyond the concurrency limit a query waits for a slot and runs when one frees") {
  Env env(1);
  std::mutex mu;
  std::condition_variable cv;
  bool scanning = false;
  bool release_scan = false;
  env.state->before_scan = [&]() {
    std::unique_lock<std::mutex> lock(mu);
    if (scanning) return absl::OkStatus();  // the second query runs straight through
    scanning = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release_scan; });
    return absl::OkStatus();
  };
  absl::StatusOr<RunResult> first = absl::UnknownError("not run");
  std::thread runner([&] { first = env.Run(kAnalyst); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return scanning; });
  }
  std::atomic<bool> second_done{false};
  absl::StatusOr<RunResult> second = absl::UnknownError("not run");
  std::thread waiter([&] {
    second = env.Run(kResearcher);
    second_done = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.service->admission_stats().waiting == 0 && !second_done.load()) {
    REQUIRE(std::chrono::steady_clock::now() < give_up);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(second_done.load());  // waiting, not refused
  CHECK(env.log->OfType(Type::kRefused).empty());
  CHECK(env.log->OfType(Type::kAccepted).size() == 1);  // only the running query is accepted yet
  {
    std::lock_guard<std::mutex> lock(mu);
    release_scan = true;
  }
  cv.notify_all();
  runner.join();
  waiter.join();
  CHECK(first.ok());
  CHECK(second.ok());
  CHECK(env.log->OfType(Type::kRefused).empty());
  CHECK(env.log->OfType(Type::kAccepted).size() == 2);
  CHECK(env.log->OfType(Type::kResult).size() == 2);
  const AdmissionStats stats = env.service->admission_stats();
  CHECK(stats.queued == 1);
  CHECK(stats.admitted == 2);
  CHECK(stats.running == 0);
}

TEST_CASE("a query that finds no slot within the queue wait is refused, logged, with the hint") {
  Env env(1);
  env.max_queue_wait = std::chrono::milliseconds(150);
  env.Restart();
  std::mutex mu;
  std::condition_variable cv;
  bool scanning = false;
  bool release_scan = false;
  env.state->before_scan = [&]() {
    std::unique_lock<std::mutex> lock(mu);
    scanning = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release_scan; });
    return absl::OkStatus();
  };
  absl::StatusOr<RunResult> first = absl::UnknownError("not run");
  std::thread runner([&] { first = env.Run(kAnalyst); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return scanning; });
  }
  auto second = env.Run(kResearcher);
  CHECK(second.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(second.status().message()).find("without a free slot; retry after 1 s") !=
        std::string::npos);
  CHECK(base::RetryAfterOf(second.status()) == std::chrono::milliseconds(1000));
  // Every request is logged, a shed one too: refused, with the message the caller got.
  const std::vector<QueryLogEntry> refused = env.log->OfType(Type::kRefused);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].caller == kResearcher);
  CHECK(refused[0].decision == "RESOURCE_EXHAUSTED");
  CHECK(refused[0].reason == std::string(second.status().message()));
  {
    std::lock_guard<std::mutex> lock(mu);
    release_scan = true;
  }
  cv.notify_all();
  runner.join();
  CHECK(first.ok());
  CHECK(env.state->scans.load() == 1);  // the refused query read nothing
  CHECK(env.service->admission_stats().shed_timeout == 1);
}

TEST_CASE("sources are reused between queries") {
  Env env;
  REQUIRE(env.Run(kAnalyst).ok());
  REQUIRE(env.Run(kAnalyst).ok());
  CHECK(env.state->sources_made.load() == 1);
  CHECK(env.state->scans.load() == 2);
}

TEST_CASE("request ids are unique") {
  Env env;
  auto a = env.Run(kAnalyst);
  auto b = env.Run(kAnalyst);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->request_id != b->request_id);
}

TEST_CASE("the template's minimum raises the rule set's") {
  Env env;
  env.catalog->templates[0].disclosure.min_units = 15;
  env.state->rows.clear();
  test::AddUnits(env.state->rows, "a", 12, "W1", "M", 1000);
  auto result = env.Run(kAnalyst);
  REQUIRE(result.ok());
  CHECK(result->release.provenance[0].rule == "threshold");
  CHECK_FALSE(result->release.cells[0].value.has_value());
}

TEST_CASE("the rule set's minimum is kept when the template's is lower") {
  Env env;
  env.catalog->rule_sets["cbs-default"].min_units = 20;
  env.state->rows.clear();
  test::AddUnits(env.state->rows, "a", 12, "W1", "M", 1000);
  auto result = env.Run(kAnalyst);
  REQUIRE(result.ok());
  CHECK(result->release.provenance[0].rule == "threshold");
}

TEST_CASE("a template naming an unloaded rule set runs nothing") {
  Env env;
  env.catalog->templates[0].disclosure.rule_set = "missing";
  auto result = env.Run(kAnalyst);
  CheckRefused(env, result.status(), absl::StatusCode::kInternal);
}

TEST_CASE("a canary in a suppressed cell appears in no message, log entry or released value") {
  constexpr std::int64_t kCanary = 987654321;
  const std::string canary = "987654321";
  Env env;
  env.state->rows.clear();
  test::AddUnits(env.state->rows, "a", 10, "W1", "M", 1000);
  // Large contributions elsewhere, so that the canary's cell can be protected (a lone dominant
  // value larger than the rest of the table together could not be, and would refuse the table).
  test::AddUnits(env.state->rows, "b", 20, "W1", "V", kCanary);
  test::AddUnits(env.state->rows, "d", 20, "W2", "M", kCanary);
  test::AddUnits(env.state->rows, "c", 2, "W2", "V", 1000);
  env.state->rows.push_back({"canary-unit-7f3a", {"W2", "V"}, kCanary, {0, 0}});
  auto result = env.Run(kAnalyst);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const Release& r = result->release;
  for (std::size_t i = 0; i < r.cells.size(); ++i) {
    const ReleasedCell& c = r.cells[i];
    if (c.coordinates == std::vector<std::uint32_t>{1, 1}) {
      CHECK(c.status == disclosure::CellStatus::kConfidential);
      CHECK_FALSE(c.value.has_value());
    }
    if (c.value.has_value()) CHECK(std::to_string(*c.value).find(canary) == std::string::npos);
  }
  CHECK(CanonicalReleaseText(r).find(canary) == std::string::npos);

  // A failing row carrying the canary as a code and as the unit key.
  env.state->rows.push_back({"canary-unit-7f3a", {"W1", canary}, kCanary, {0, 0}});
  auto failed = env.Run(kAnalyst);
  CHECK(failed.status().code() == absl::StatusCode::kInternal);
  CHECK(std::string(failed.status().message()).find(canary) == std::string::npos);
  CHECK(std::string(failed.status().message()).find("canary-unit") == std::string::npos);

  for (const QueryLogEntry& e : env.log->entries()) {
    CHECK(AllFields(e).find(canary) == std::string::npos);
    CHECK(AllFields(e).find("canary-unit") == std::string::npos);
  }
  CHECK(env.log->OfType(Type::kAborted).size() == 1);
}

TEST_CASE("listing shows each role its templates and officers all of them") {
  Env env;
  auto analyst = env.service->ListTemplates(kAnalyst);
  REQUIRE(analyst.ok());
  REQUIRE(analyst->size() == 1);
  CHECK((*analyst)[0]->id == "main_template");
  auto researcher = env.service->ListTemplates(kResearcher);
  REQUIRE(researcher.ok());
  CHECK(researcher->size() == 2);
  auto officer = env.service->ListTemplates(kOfficer);
  REQUIRE(officer.ok());
  CHECK(officer->size() == 2);
  CHECK(env.log->size() == 0);  // successful listings are not logged
}

TEST_CASE("operators and unknown callers may not list templates and are logged") {
  Env env;
  auto op = env.service->ListTemplates(kOperator);
  CHECK(op.status().code() == absl::StatusCode::kPermissionDenied);
  auto unknown = env.service->ListTemplates("spiffe://elsewhere/mallory");
  CHECK(unknown.status().code() == absl::StatusCode::kPermissionDenied);
  const std::vector<QueryLogEntry> entries = env.log->entries();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].type == Type::kRefused);
  CHECK(entries[0].rpc == "ListTemplates");
  CHECK(entries[0].role == "operator");
  CHECK(entries[1].type == Type::kRefused);
  CHECK(entries[1].decision == "PERMISSION_DENIED");
}

TEST_CASE("describing a template the role may not see is the same not found as an unknown one") {
  Env env;
  auto ok = env.service->DescribeTemplate(kAnalyst, "main_template");
  REQUIRE(ok.ok());
  CHECK((*ok)->id == "main_template");
  auto hidden = env.service->DescribeTemplate(kAnalyst, "researcher_only");
  auto unknown = env.service->DescribeTemplate(kAnalyst, "nope");
  CHECK(hidden.status().code() == absl::StatusCode::kNotFound);
  CHECK(unknown.status().code() == absl::StatusCode::kNotFound);
  CHECK(hidden.status().message() ==
        "unknown template 'researcher_only'; use ListTemplates to see the templates you may run");
  CHECK(env.service->DescribeTemplate(kOfficer, "researcher_only").ok());
  CHECK(env.service->DescribeTemplate(kOperator, "main_template").status().code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(env.log->OfType(Type::kRefused).size() == 3);
  env.log->FailAll(true);
  CHECK(env.service->DescribeTemplate(kAnalyst, "nope").status().code() ==
        absl::StatusCode::kUnavailable);
}


TEST_CASE("DescribeLayout: the release's layout from the template and parameters, same rules as DescribeTemplate") {
  Env env;
  auto result = env.Run(kAnalyst, "main_template", {{"year", "2022"}});
  REQUIRE(result.ok());
  const int scans = env.state->scans.load();
  // The officer (who may describe every template) gets exactly the release's dimensions.
  auto layout = env.service->DescribeLayout(env.Id(kOfficer), "main_template", {{"year", "2022"}});
  REQUIRE_MESSAGE(layout.ok(), layout.status().message());
  CHECK(layout->tmpl == result->release.tmpl);
  REQUIRE(layout->dimensions.size() == result->release.dimensions.size());
  for (std::size_t d = 0; d < layout->dimensions.size(); ++d) {
    const ReleasedDimension& a = layout->dimensions[d];
    const ReleasedDimension& b = result->release.dimensions[d];
    CHECK(a.name == b.name);
    REQUIRE(a.codes.size() == b.codes.size());
    for (std::size_t c = 0; c < a.codes.size(); ++c) {
      CHECK(a.codes[c].code == b.codes[c].code);
      CHECK(a.codes[c].is_total == b.codes[c].is_total);
    }
  }
  CHECK(layout->params.size() == result->release.params.size());
  CHECK(env.state->scans.load() == scans);  // from the template only: no data read
  // Analysts may too; the same not-found for a template the role may not see; operators refused.
  CHECK(env.service->DescribeLayout(env.Id(kAnalyst), "main_template", {{"year", "2022"}}).ok());
  CHECK(env.service->DescribeLayout(env.Id(kAnalyst), "researcher_only", {{"year", "2022"}})
            .status()
            .code() == absl::StatusCode::kNotFound);
  CHECK(env.service->DescribeLayout(env.Id(kOperator), "main_template", {{"year", "2022"}})
            .status()
            .code() == absl::StatusCode::kPermissionDenied);
  const std::size_t refused = env.log->OfType(Type::kRefused).size();
  CHECK(refused == 2);
  // Parameters the template refuses are refused as RunQuery refuses them, and logged.
  auto bad = env.service->DescribeLayout(env.Id(kOfficer), "main_template", {{"year", "1999"}});
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  const std::vector<QueryLogEntry> refusals = env.log->OfType(Type::kRefused);
  REQUIRE(refusals.size() == refused + 1);
  CHECK(refusals.back().rpc == "DescribeTemplate");
  CHECK(refusals.back().role == "privacy_officer");
  CHECK(refusals.back().decision == "INVALID_ARGUMENT");
}

// --- Access policy (issue 5): certificate identity, agreements, revocation, limits -------------

TEST_CASE("every entry carries the caller's certificate digest and project") {
  Env env(8, [](std::vector<policy::Principal>& people) { people[0].projects = {"udc-monitor"}; });
  REQUIRE(env.Run(kAnalyst).ok());
  REQUIRE(env.Run(kResearcher).ok());
  CHECK_FALSE(env.Run(kOfficer).ok());
  CHECK_FALSE(env.service->ListTemplates(env.Id(kOperator)).ok());
  const std::vector<QueryLogEntry> entries = env.log->entries();
  REQUIRE(entries.size() == 6);
  for (const QueryLogEntry& e : entries) {
    CHECK(e.caller_cert_sha256 == env.Id(e.caller).cert_sha256);
    CHECK_FALSE(e.caller_cert_sha256.empty());
  }
  CHECK(entries[0].project == "udc-monitor");
  CHECK(entries[1].project == "udc-monitor");
  CHECK(entries[2].project == "P1/A1");  // researcher: project and agreement
  CHECK(entries[3].project == "P1/A1");
}

TEST_CASE("a researcher runs only under an agreement in force that covers the template") {
  Env env;
  auto refused_with = [&](const std::string& needle) {
    auto result = env.Run(kResearcher);
    CHECK(result.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(std::string(result.status().message()).find(needle) != std::string::npos);
    const std::vector<QueryLogEntry> refused = env.log->OfType(Type::kRefused);
    REQUIRE_FALSE(refused.empty());
    CHECK(refused.back().reason == std::string(result.status().message()));
    CHECK(env.state->scans.load() == 0);
  };
  SUBCASE("before the first day") {
    env.now = absl::FromCivil(absl::CivilSecond(2025, 12, 31, 23, 59, 59), absl::UTCTimeZone());
    refused_with("agreement A1 is valid from 2026-01-01");
  }
  SUBCASE("on the first and the last day") {
    env.now = absl::FromCivil(absl::CivilDay(2026, 1, 1), absl::UTCTimeZone());
    CHECK(env.Run(kResearcher).ok());
    env.now = absl::FromCivil(absl::CivilSecond(2026, 12, 31, 23, 59, 59), absl::UTCTimeZone());
    env.not_after = env.now;
    CHECK(env.Run(kResearcher).ok());
  }
  SUBCASE("after the last day") {
    env.now = absl::FromCivil(absl::CivilDay(2027, 1, 1), absl::UTCTimeZone());
    env.not_after = env.now;
    refused_with("agreement A1 ended on 2026-12-31");
  }
  SUBCASE("a template outside the agreement") {
    policy::Agreement a = Env::DefaultAgreement();
    a.templates = {"researcher_only"};
    env.agreements = Env::Book({a});
    env.Restart();
    refused_with("'main_template' is outside the scope of your agreement(s) A1");
    CHECK(env.Run(kResearcher, "researcher_only").ok());
  }
  SUBCASE("a suspended agreement") {
    policy::Agreement a = Env::DefaultAgreement();
    a.suspended = true;
    a.suspension_reason = "audit pending";
    env.agreements = Env::Book({a});
    env.Restart();
    refused_with("agreement A1 is suspended (audit pending)");
  }
  SUBCASE("a certificate that outlives its agreement") {
    env.not_after = absl::FromCivil(absl::CivilSecond(2027, 1, 1, 0, 0, 1), absl::UTCTimeZone());
    refused_with("certificates are issued no longer than their agreement");
    env.not_after = absl::FromCivil(absl::CivilDay(2027, 1, 1), absl::UTCTimeZone());
    CHECK(env.Run(kResearcher).ok());  // exactly the agreement's end
  }
  SUBCASE("a certificate of unknown expiry (a URI alone)") {
    auto result = env.service->RunQuery(std::string(kResearcher), "main_template", {}, {});
    CHECK(result.status().code() == absl::StatusCode::kPermissionDenied);
  }
  SUBCASE("another organisation's agreement for the same project grants nothing") {
    policy::Agreement a = Env::DefaultAgreement();
    a.organisation = "Another University";
    env.agreements = Env::Book({a});
    env.Restart();
    refused_with("no researcher agreement covers your organisation and project");
  }
  SUBCASE("no agreements loaded at all") {
    env.agreements = nullptr;
    env.Restart();
    refused_with("no researcher agreements are loaded");
    CHECK(env.Run(kAnalyst).ok());  // analysts need no agreement
  }
  SUBCASE("a data version outside the agreement stops before any row is read") {
    policy::Agreement a = Env::DefaultAgreement();
    a.datasets = {"other-version"};
    env.agreements = Env::Book({a});
    env.Restart();
    auto result = env.Run(kResearcher);
    CHECK(result.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(env.state->scans.load() == 0);
    CHECK(env.log->OfType(Type::kAborted).size() == 1);
    CHECK(env.log->OfType(Type::kResult).empty());
  }
}

TEST_CASE("agreement books refuse inconsistent agreements") {
  policy::Agreement a = Env::DefaultAgreement();
  CHECK(policy::AgreementBook::Create({a, a}, {{"P1", 1}}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(policy::AgreementBook::Create({a}, {}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);  // project without a cap
  CHECK(policy::AgreementBook::Create({a}, {{"P1", 1}}, 0).status().code() ==
        absl::StatusCode::kInvalidArgument);
  policy::Agreement backwards = a;
  backwards.valid_until = absl::CivilDay(2025, 1, 1);
  CHECK(policy::AgreementBook::Create({backwards}, {{"P1", 1}}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
  policy::Agreement no_budget = a;
  no_budget.budget_micro = 0;
  CHECK(policy::AgreementBook::Create({no_budget}, {{"P1", 1}}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(policy::AgreementBook::Create({a}, {{"P1", 1}}, 1).ok());
}

class FakeRevocations final : public policy::RevocationSource {
 public:
  absl::StatusOr<std::shared_ptr<const policy::RevocationList>> Current() override {
    std::lock_guard<std::mutex> lock(mu);
    if (!status.ok()) return status;
    return std::make_shared<const policy::RevocationList>(list);
  }
  std::mutex mu;
  policy::RevocationList list;
  absl::Status status;
};

TEST_CASE("the deny-list is asked on every call and a broken one refuses everything") {
  Env env;
  auto revocations = std::make_shared<FakeRevocations>();
  env.revocations = revocations;
  env.Restart();
  REQUIRE(env.Run(kAnalyst).ok());
  SUBCASE("by serial") { revocations->list.serials.insert(env.Id(kAnalyst).serial_hex); }
  SUBCASE("by fingerprint") { revocations->list.cert_sha256.insert(env.Id(kAnalyst).cert_sha256); }
  SUBCASE("by principal") { revocations->list.principals.insert(kAnalyst); }
  SUBCASE("unreadable") { revocations->status = absl::InvalidArgumentError("line 3: bad"); }
  auto result = env.Run(kAnalyst);
  CHECK(result.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(env.log->OfType(Type::kRefused).size() == 1);
  CHECK(env.service->ListTemplates(env.Id(kAnalyst)).status().code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(env.service->DescribeTemplate(env.Id(kAnalyst), "main_template").status().code() ==
        absl::StatusCode::kPermissionDenied);
  // Others are unaffected unless the list itself is unreadable.
  const bool broken = !revocations->status.ok();
  CHECK(env.Run(kResearcher).ok() == !broken);
}

TEST_CASE("per-principal rate limit: a token bucket answers with the seconds to wait") {
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  Env env(8, [](std::vector<policy::Principal>& people) {
    people[0].limits.queries_per_minute = 2;
  });
  env.steady_now = [&t] { return t; };
  env.Restart();
  CHECK(env.Run(kAnalyst).ok());
  CHECK(env.Run(kAnalyst).ok());
  auto third = env.Run(kAnalyst);
  CHECK(third.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(third.status().message() ==
        "you have used your limit of 2 queries per minute; retry after 30 s");
  CHECK(env.log->OfType(Type::kRefused).size() == 1);
  CHECK(env.Run(kResearcher).ok());  // limits are per principal
  t += std::chrono::seconds(29);
  auto early = env.Run(kAnalyst);
  CHECK(early.status().message() ==
        "you have used your limit of 2 queries per minute; retry after 1 s");
  t += std::chrono::seconds(1);
  CHECK(env.Run(kAnalyst).ok());
}

TEST_CASE("per-principal concurrency limit") {
  Env env(8, [](std::vector<policy::Principal>& people) { people[0].limits.max_concurrent = 1; });
  std::mutex mu;
  std::condition_variable cv;
  bool scanning = false;
  bool release_scan = false;
  int scans = 0;
  env.state->before_scan = [&]() {
    std::unique_lock<std::mutex> lock(mu);
    if (++scans > 1) return absl::OkStatus();
    scanning = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release_scan; });
    return absl::OkStatus();
  };
  absl::StatusOr<RunResult> first = absl::UnknownError("not run");
  std::thread runner([&] { first = env.Run(kAnalyst); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return scanning; });
  }
  auto second = env.Run(kAnalyst);
  CHECK(second.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(second.status().message()).find("retry after 1 s") != std::string::npos);
  CHECK(env.Run(kResearcher).ok());  // another principal still runs
  {
    std::lock_guard<std::mutex> lock(mu);
    release_scan = true;
  }
  cv.notify_all();
  runner.join();
  CHECK(first.ok());
  CHECK(env.Run(kAnalyst).ok());  // the slot was released
}


// --- Differentially private templates through the DpReleaser (issue 5 item 7) -----------------

// An in-memory ledger: enough of BudgetLedger's contract for the dispatch.
class MiniLedger final : public BudgetLedger {
 public:
  absl::StatusOr<std::int64_t> Reserve(std::span<const LedgerLimit> limits, std::int64_t charge,
                                       std::string_view) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const LedgerLimit& l : limits) {
      if (spent[l.ledger] + reserved[l.ledger] + charge > l.cap_micro) {
        return absl::ResourceExhaustedError("privacy budget exhausted: ledger " + l.ledger);
      }
    }
    for (const LedgerLimit& l : limits) reserved[l.ledger] += charge;
    open[next] = {charge, std::vector<LedgerLimit>(limits.begin(), limits.end())};
    return next++;
  }
  absl::Status Charge(std::int64_t id, std::string_view key, std::string_view answer) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = open.find(id);
    if (it == open.end()) return absl::NotFoundError("no reservation");
    for (const LedgerLimit& l : it->second.second) {
      reserved[l.ledger] -= it->second.first;
      spent[l.ledger] += it->second.first;
    }
    answers[std::string(key)] = std::string(answer);
    open.erase(it);
    return absl::OkStatus();
  }
  absl::Status Refund(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = open.find(id);
    if (it == open.end()) return absl::NotFoundError("no reservation");
    for (const LedgerLimit& l : it->second.second) reserved[l.ledger] -= it->second.first;
    open.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> FindAnswer(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = answers.find(std::string(key));
    if (it == answers.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<std::vector<LedgerBalance>> Balances(
      std::span<const LedgerLimit> limits) override {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<LedgerBalance> out;
    for (const LedgerLimit& l : limits) {
      out.push_back({l.ledger, l.cap_micro, spent[l.ledger], reserved[l.ledger]});
    }
    return out;
  }
  std::mutex mu;
  std::map<std::string, std::int64_t> spent, reserved;
  std::map<std::int64_t, std::pair<std::int64_t, std::vector<LedgerLimit>>> open;
  std::map<std::string, std::string> answers;
  std::int64_t next = 1;
};

// Deterministic bytes; the dispatch, not the noise, is under test here.
class CounterRandom final : public dp::RandomSource {
 public:
  absl::Status Fill(std::span<std::uint8_t> out) override {
    for (std::uint8_t& b : out) b = static_cast<std::uint8_t>((state = state * 1103515245u + 12345u) >> 16);
    return absl::OkStatus();
  }
  std::uint32_t state = 7;
};

struct DpEnv {
  Env env;
  std::shared_ptr<MiniLedger> ledger = std::make_shared<MiniLedger>();

  explicit DpEnv(std::int64_t agreement_budget = 1'000'000, bool with_releaser = true,
                 std::vector<Role> roles = {Role::kResearcher}) {
    templates::Template t = MainTemplate();
    t.id = "dp_template";
    t.statistics = {test::MakeStatistic("n", StatisticKind::kCount)};
    t.roles = std::move(roles);
    templates::DpSettings dp;
    dp.epsilon_micro = 250'000;
    t.dp = dp;
    env.catalog->templates.push_back(t);
    policy::Agreement a = Env::DefaultAgreement();
    a.templates.push_back("dp_template");
    a.budget_micro = agreement_budget;
    env.agreements = Env::Book({a});
    if (with_releaser) {
      env.dp_releaser =
          std::make_shared<DpReleaser>(ledger, std::make_shared<CounterRandom>(), env.log);
    }
    env.Restart();
  }
  absl::StatusOr<RunResult> Run(const char* who, const std::string& year) {
    return env.Run(who, "dp_template", {{"year", year}});
  }
};

TEST_CASE("a DP template runs through the DpReleaser and charges every ledger") {
  DpEnv dp;
  auto first = dp.Run(kResearcher, "2022");
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK_FALSE(first->release.cells.empty());
  CHECK(dp.ledger->spent["agreement:A1"] == 250'000);
  CHECK(dp.ledger->spent["project:P1"] == 250'000);
  CHECK(dp.ledger->spent["data-version:fake-data-v1"] == 250'000);
  const std::vector<QueryLogEntry> results = dp.env.log->OfType(Type::kResult);
  REQUIRE(results.size() == 1);
  CHECK(results[0].detail == "dp charged_micro=250000 repeat=0 agreement=A1");
  CHECK(results[0].project == "P1/A1");
  CHECK_FALSE(dp.env.log->OfType(Type::kBudget).empty());
  // The cell key pipeline did not run: no guard history for this query.
  CHECK(dp.env.disclosure->guard->RecordedCount(
            disclosure::GuardKey{"fake-data-v1", "person"}) == 0);

  // An identical repeat is served free.
  auto repeat = dp.Run(kResearcher, "2022");
  REQUIRE(repeat.ok());
  CHECK(dp.ledger->spent["agreement:A1"] == 250'000);
  CHECK(dp.env.log->OfType(Type::kResult).back().detail ==
        "dp charged_micro=0 repeat=1 agreement=A1");

  // GetBudget: the researcher's ledgers; other roles refused.
  auto budget = dp.env.service->GetBudget(dp.env.Id(kResearcher));
  REQUIRE(budget.ok());
  REQUIRE(budget->size() == 3);
  CHECK((*budget)[0].ledger == "agreement:A1");
  CHECK((*budget)[0].cap_micro == 1'000'000);
  CHECK((*budget)[0].spent_micro == 250'000);
  CHECK((*budget)[0].remaining_micro() == 750'000);
  CHECK((*budget)[1].ledger == "project:P1");
  CHECK((*budget)[1].cap_micro == 5'000'000);
  CHECK((*budget)[2].ledger == "data-version:fake-data-v1");
  CHECK((*budget)[2].cap_micro == policy::kDefaultDataVersionCapMicro);
  for (const char* who : {kAnalyst, kOfficer, kSteward, kOperator}) {
    CAPTURE(who);
    CHECK(dp.env.service->GetBudget(dp.env.Id(who)).status().code() ==
          absl::StatusCode::kPermissionDenied);
  }
  CHECK(dp.env.log->OfType(Type::kRefused).back().rpc == "GetBudget");
}

TEST_CASE("a DP release is refused when the budget is spent, exactly at the boundary") {
  DpEnv dp(500'000);
  CHECK(dp.Run(kResearcher, "2021").ok());
  CHECK(dp.Run(kResearcher, "2022").ok());  // spent == cap
  auto third = dp.Run(kResearcher, "2023");
  CHECK(third.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(dp.ledger->spent["agreement:A1"] == 500'000);
  CHECK(dp.env.log->OfType(Type::kAborted).size() == 1);
  CHECK(dp.Run(kResearcher, "2021").ok());  // a repeat is still free
}

TEST_CASE("DP templates: analysts never, and nothing without a releaser") {
  SUBCASE("a DP template open to analysts is still refused to them") {
    DpEnv dp(1'000'000, true, {Role::kResearcher, Role::kMunicipalAnalyst});
    auto r = dp.Run(kAnalyst, "2022");
    CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(dp.env.state->scans.load() == 0);
    CHECK(dp.ledger->spent.empty());
  }
  SUBCASE("no releaser configured") {
    DpEnv dp(1'000'000, false);
    auto r = dp.Run(kResearcher, "2022");
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(dp.env.state->scans.load() == 0);
    CHECK(dp.env.service->GetBudget(dp.env.Id(kResearcher)).status().code() ==
          absl::StatusCode::kFailedPrecondition);
  }
}


// --- What a DP release charged, and alternatives to unusable tables (issue 10 §2 and §4) -------

TEST_CASE("a DP release reports what it charged and what is left, a repeat charged nothing") {
  DpEnv dp;
  auto first = dp.Run(kResearcher, "2022");
  REQUIRE(first.ok());
  REQUIRE(first->dp_charge.has_value());
  CHECK(first->dp_charge->charged_micro == 250'000);
  CHECK_FALSE(first->dp_charge->repeat);
  REQUIRE(first->dp_charge->balances.size() == 3);
  CHECK(first->dp_charge->balances[0].ledger == "agreement:A1");
  CHECK(first->dp_charge->balances[0].remaining_micro() == 750'000);
  CHECK(first->dp_charge->balances[1].remaining_micro() == 4'750'000);

  auto repeat = dp.Run(kResearcher, "2022");
  REQUIRE(repeat.ok());
  REQUIRE(repeat->dp_charge.has_value());
  CHECK(repeat->dp_charge->charged_micro == 0);
  CHECK(repeat->dp_charge->repeat);
  CHECK(repeat->dp_charge->balances[0].remaining_micro() == 750'000);

  // A release without DP carries no charge.
  auto plain = dp.env.Run(kResearcher, "main_template", {{"year", "2022"}});
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->dp_charge.has_value());
  // The charge every release of the template costs, as DescribeTemplate reports it.
  const templates::Template* t = dp.env.catalog->Find("dp_template");
  REQUIRE(t != nullptr);
  CHECK(DpChargeMicro(*t->dp).value_or(-1) == 250'000);
}

namespace {

// A template with a geography and an extra breakdown to choose, and a period (year): what
// templates::SuggestAlternatives works on. Dimensions wijk {W1, W2} and sex {M, V}, as the rows.
templates::Template HintTemplate() {
  templates::Template t = MainTemplate();
  t.id = "hint_template";
  t.statistics = {test::MakeStatistic("n", StatisticKind::kCount)};
  t.fixed_dimensions = {};
  templates::ParamSpec geo;
  geo.name = "geo";
  geo.type = templates::ParamType::kBreakdown;
  geo.allowed = {{"geen", {"Gemeente", "Municipality"}}, {"wijk", {"Wijk", "District"}}};
  geo.default_value = "wijk";
  templates::ParamSpec extra;
  extra.name = "breakdown";
  extra.type = templates::ParamType::kBreakdown;
  extra.allowed = {{"geen", {"Geen", "None"}}, {"sex", {"Geslacht", "Sex"}}};
  extra.default_value = "geen";
  t.params.push_back(geo);
  t.params.push_back(extra);
  return t;
}

const std::vector<std::pair<std::string, std::string>> kHintRequest = {
    {"year", "2022"}, {"geo", "wijk"}, {"breakdown", "sex"}};

std::vector<templates::Suggestion> Expected(const templates::Template& t) {
  auto bound = templates::Bind(t, kHintRequest);
  REQUIRE(bound.ok());
  return templates::SuggestAlternatives(*bound);
}

// An Env whose catalog has HintTemplate and whose data has `per_cell` units in each of the four
// wijk x sex cells.
std::unique_ptr<Env> HintEnv(int per_cell) {
  auto env = std::make_unique<Env>();
  env->catalog->templates.push_back(HintTemplate());
  env->state->rows.clear();
  int n = 0;
  for (const char* wijk : {"W1", "W2"}) {
    for (const char* sex : {"M", "V"}) {
      test::AddUnits(env->state->rows, "u" + std::to_string(n++) + "_", per_cell, wijk, sex, 100);
    }
  }
  env->Restart();
  return env;
}

}  // namespace

TEST_CASE("a table whose inner cells are all withheld carries alternatives from its parameters") {
  const templates::Template t = HintTemplate();
  const std::vector<templates::Suggestion> want = Expected(t);
  REQUIRE(want.size() == 4);  // geo=geen, breakdown=geen, year 2021 and 2023
  CHECK(want[0].kind == templates::Suggestion::Kind::kFewerBreakdowns);
  CHECK(want[0].changes == std::vector<std::pair<std::string, std::string>>{{"geo", "geen"}});
  CHECK(want[2].kind == templates::Suggestion::Kind::kOtherPeriod);

  // The same request on two databases with different small counts: both all-withheld, both with
  // the same alternatives (nothing in them depends on a count).
  std::vector<std::vector<templates::Suggestion>> seen;
  for (int per_cell : {3, 6}) {
    CAPTURE(per_cell);
    auto env = HintEnv(per_cell);
    auto result = env->Run(kAnalyst, "hint_template", kHintRequest);
    REQUIRE(result.ok());
    CHECK(AllInnerCellsWithheld(result->release));
    seen.push_back(result->suggestions);
  }
  CHECK(seen[0] == want);
  CHECK(seen[1] == want);

  // Negative control: a table with released inner cells carries none.
  auto full = HintEnv(40);
  auto released = full->Run(kAnalyst, "hint_template", kHintRequest);
  REQUIRE(released.ok());
  CHECK_FALSE(AllInnerCellsWithheld(released->release));
  CHECK(released->suggestions.empty());
}

TEST_CASE("a refusal by the differencing guard carries alternatives, other refusals none") {
  auto env = HintEnv(40);
  REQUIRE(env->Run(kAnalyst, "hint_template", kHintRequest).ok());
  // Two more persons: every population differs from the released one by 2 < T.
  test::AddUnits(env->state->rows, "late", 2, "W1", "M", 100);
  auto refused = env->Run(kAnalyst, "hint_template", kHintRequest);
  REQUIRE(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(templates::SuggestionsOf(refused.status()) == Expected(HintTemplate()));
  // The refusal's message is unchanged by the payload.
  CHECK(env->log->OfType(Type::kAborted).back().reason == std::string(refused.status().message()));

  // Refusals that are not about the table: no alternatives.
  auto bad = env->Run(kAnalyst, "hint_template", {{"geo", "gemeente"}});
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(templates::SuggestionsOf(bad.status()).empty());
  auto unknown = env->Run(kAnalyst, "no_such_template", kHintRequest);
  CHECK(templates::SuggestionsOf(unknown.status()).empty());
  auto denied = env->Run(kOfficer, "hint_template", kHintRequest);
  CHECK(templates::SuggestionsOf(denied.status()).empty());
  // A DP template refused for want of a releaser (FAILED_PRECONDITION) gets none either.
  DpEnv dp(1'000'000, false);
  auto dp_refused = dp.Run(kResearcher, "2022");
  CHECK(dp_refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(templates::SuggestionsOf(dp_refused.status()).empty());
}

}  // namespace
}  // namespace enclave::core
