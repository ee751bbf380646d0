// Authorisation against the real enclaved (issue 5): every role × every RPC of the QueryService
// and the AuditService × a sample of templates, observed allow/deny equal to the policy; metadata
// a client adds grants nothing; revocation takes effect on the next call of an open connection; a
// malformed deny-list refuses everything; per-principal limits answer RESOURCE_EXHAUSTED with a
// retry hint that enclavectl prints; a researcher certificate outliving its agreement is refused.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/core/audit_service.h"
#include "enclave/policy/principals.h"
#include "enclave/v1/audit.grpc.pb.h"
#include "enclave/v1/service.grpc.pb.h"
#include "tests/integration/process.h"
#include "tests/integration/world.h"

namespace enclave::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = enclave::v1;

const std::string kSourceDir = ENCLAVE_SOURCE_DIR;
const std::string kTrust = "spiffe://udc-lv.local";

// The certificate names of deploy/dev-pki.sh and their principal ids.
const std::map<std::string, std::string> kPeople = {
    {"analyst1", kTrust + "/municipal_analyst/analyst1"},
    {"researcher1", kTrust + "/researcher/researcher1"},
    {"researcher2", kTrust + "/researcher/researcher2"},
    {"officer1", kTrust + "/privacy_officer/officer1"},
    {"steward1", kTrust + "/data_steward/steward1"},
    {"operator1", kTrust + "/operator/operator1"},
    {"unknown1", kTrust + "/municipal_analyst/unknown1"},
};

void AppendFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::app) << text;
}
void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The shared PKI (with authz's extra certificates: analyst2, revoked by serial during the test;
// limited1, 2 queries a minute; researcher1long, researcher1's identity on a certificate valid for
// 1000 days, beyond its agreement's end) and small dataset, a copy of policies/ the test may change
// (the deny-list, a rate-limited principal) and one running server.
struct World : TestWorld {
  std::string policies;
  std::unique_ptr<ServerProcess> server;
  adapters::policy_files::LoadedPolicies loaded;

  World() : TestWorld(kSmallData) {
    policies = dir.File("policies");
    fs::copy(kSourceDir + "/policies", policies, fs::copy_options::recursive);
    AppendFile(fs::path(policies) / "access/principals.textproto",
               "principal { id: \"" + kTrust + "/municipal_analyst/analyst2\" role: "
               "MUNICIPAL_ANALYST organisation: \"Gemeente Leidschendam-Voorburg\" }\n"
               "principal { id: \"" + kTrust + "/municipal_analyst/limited1\" role: "
               "MUNICIPAL_ANALYST organisation: \"Gemeente Leidschendam-Voorburg\" "
               "queries_per_minute: 2 }\n");
    auto l = adapters::policy_files::LoadPolicies(policies, nullptr);
    REQUIRE(l.ok());
    loaded = *std::move(l);
    server = StartEnclaved(policies, StateDir("state"));
    INFO(server->stderr_text());
    REQUIRE(server->port() > 0);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& who) const {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadFile(pki + "/ca.pem");
    o.pem_cert_chain = ReadFile(pki + "/" + who + ".pem");
    o.pem_private_key = ReadFile(pki + "/" + who + ".key");
    return grpc::CreateChannel(server->target(), grpc::SslCredentials(o));
  }

  ProcessResult Ctl(const std::string& who, std::vector<std::string> args) const {
    return Enclavectl(server->target(), who, args);
  }

  // `openssl x509 -noout -serial` of a certificate, the value after "serial=".
  std::string Serial(const std::string& who) const {
    ProcessResult r = RunProcess({"/usr/bin/openssl", "x509", "-noout", "-serial", "-in",
                                  pki + "/" + who + ".pem"});
    REQUIRE(r.exit_code == 0);
    std::string s = r.out.substr(r.out.find('=') + 1);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  std::string Fingerprint(const std::string& who) const {
    ProcessResult r = RunProcess({"/usr/bin/openssl", "x509", "-noout", "-fingerprint", "-sha256",
                                  "-in", pki + "/" + who + ".pem"});
    REQUIRE(r.exit_code == 0);
    std::string s = r.out.substr(r.out.find('=') + 1);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  fs::path DenyList() const { return fs::path(policies) / "access/revoked.textproto"; }
};

World& TheWorld() {
  static World world;
  return world;
}

void Deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

// A status that the policy's refusal explains (not a failure of an allowed call).
bool IsDenial(grpc::StatusCode code) {
  return code == grpc::StatusCode::PERMISSION_DENIED || code == grpc::StatusCode::UNAUTHENTICATED;
}

struct Calls {
  std::unique_ptr<v1::QueryService::Stub> query;
  std::unique_ptr<v1::AuditService::Stub> audit;
  std::multimap<std::string, std::string> metadata;

  explicit Calls(const std::shared_ptr<grpc::Channel>& channel)
      : query(v1::QueryService::NewStub(channel)), audit(v1::AuditService::NewStub(channel)) {}

  void Prepare(grpc::ClientContext& ctx) const {
    Deadline(ctx);
    for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
  }
  grpc::Status List() const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::ListTemplatesResponse r;
    return query->ListTemplates(&ctx, {}, &r);
  }
  grpc::Status Describe(const std::string& id) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::DescribeTemplateRequest req;
    req.set_template_id(id);
    v1::DescribeTemplateResponse r;
    return query->DescribeTemplate(&ctx, req, &r);
  }
  grpc::Status Run(const std::string& id, std::string* request_id = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::RunQueryRequest req;
    req.set_template_id(id);
    v1::RunQueryResponse r;
    grpc::Status s = query->RunQuery(&ctx, req, &r);
    if (request_id != nullptr && s.ok()) *request_id = r.metadata().request_id();
    return s;
  }
  grpc::Status Budget(v1::GetBudgetResponse* out = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::GetBudgetResponse r;
    grpc::Status s = query->GetBudget(&ctx, {}, &r);
    if (out != nullptr) *out = r;
    return s;
  }
  grpc::Status Audit(core::AuditMethod method, const std::string& request_id) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    switch (method) {
      case core::AuditMethod::kGetCheckpoint: {
        v1::GetCheckpointResponse r;
        return audit->GetCheckpoint(&ctx, {}, &r);
      }
      case core::AuditMethod::kListEntries: {
        v1::ListEntriesRequest req;
        req.set_page_size(5);
        v1::ListEntriesResponse r;
        return audit->ListEntries(&ctx, req, &r);
      }
      case core::AuditMethod::kGetInclusionProof: {
        v1::GetInclusionProofRequest req;
        req.set_sequence(0);
        v1::GetInclusionProofResponse r;
        return audit->GetInclusionProof(&ctx, req, &r);
      }
      case core::AuditMethod::kGetConsistencyProof: {
        v1::GetConsistencyProofRequest req;
        req.set_old_size(1);
        v1::GetConsistencyProofResponse r;
        return audit->GetConsistencyProof(&ctx, req, &r);
      }
      case core::AuditMethod::kExportBundle: {
        v1::ExportBundleRequest req;
        auto reader = audit->ExportBundle(&ctx, req);
        v1::ExportBundleChunk chunk;
        while (reader->Read(&chunk)) {
        }
        return reader->Finish();
      }
      case core::AuditMethod::kGetReceipt: {
        v1::GetReceiptRequest req;
        req.set_request_id(request_id);
        v1::GetReceiptResponse r;
        return audit->GetReceipt(&ctx, req, &r);
      }
    }
    return grpc::Status(grpc::StatusCode::INTERNAL, "unknown method");
  }
};

}  // namespace

TEST_CASE("authorisation matrix: every role x every RPC x sample templates equals the policy") {
  World& w = TheWorld();
  const auto& principals = *w.loaded.principals;
  const auto& catalog = *w.loaded.catalog;
  // A sample: one template for analysts and researchers, one without researchers (if any), one
  // that does not exist.
  std::vector<std::string> sample = {"zzp_aantal_per_wijk"};
  for (const auto& t : catalog.templates) {
    if (!t.AllowsRole(policy::Role::kResearcher)) {
      sample.push_back(t.id);
      break;
    }
  }
  sample.push_back("no_such_template");

  // The researcher's own request id, for GetReceipt.
  std::string receipt_id;
  {
    Calls researcher(w.Channel("researcher1"));
    grpc::Status s = researcher.Run("zzp_aantal_per_wijk", &receipt_id);
    INFO(s.error_message());
    REQUIRE(s.ok());
    REQUIRE_FALSE(receipt_id.empty());
  }

  int checked = 0;
  for (const auto& [who, uri] : kPeople) {
    CAPTURE(who);
    absl::StatusOr<policy::Principal> p = principals.Find(uri);
    const bool known = p.ok();
    Calls calls(w.Channel(who));

    const bool may_list = known && policy::MayListTemplates(p->role);
    grpc::Status list = calls.List();
    CHECK_MESSAGE(list.ok() == may_list, "ListTemplates: " << list.error_message());
    if (!may_list) CHECK(IsDenial(list.error_code()));
    ++checked;

    for (const std::string& id : sample) {
      CAPTURE(id);
      const templates::Template* t = catalog.Find(id);
      const bool may_see =
          may_list && t != nullptr &&
          (p->role == policy::Role::kPrivacyOfficer || t->AllowsRole(p->role));
      grpc::Status describe = calls.Describe(id);
      CHECK_MESSAGE(describe.ok() == may_see, "DescribeTemplate: " << describe.error_message());
      if (!may_see) {
        const bool denied = IsDenial(describe.error_code()) ||
                            describe.error_code() == grpc::StatusCode::NOT_FOUND;
        CHECK(denied);
      }
      bool may_run = known && policy::MayRunQueries(p->role) && t != nullptr &&
                     t->AllowsRole(p->role);
      if (may_run && p->role == policy::Role::kResearcher) {
        bool covered = false;
        for (const policy::Agreement* a : w.loaded.agreements->AgreementsOf(*p)) {
          covered = covered || a->CoversTemplate(id);
        }
        may_run = covered;
      }
      grpc::Status run = calls.Run(id);
      const bool refused = IsDenial(run.error_code()) ||
                           run.error_code() == grpc::StatusCode::NOT_FOUND;
      CHECK_MESSAGE(refused == !may_run, "RunQuery: " << run.error_message());
      checked += 2;
    }

    // GetBudget: researchers only.
    const bool may_budget = known && p->role == policy::Role::kResearcher;
    grpc::Status budget = calls.Budget();
    CHECK_MESSAGE(budget.ok() == may_budget, "GetBudget: " << budget.error_message());
    if (!may_budget) CHECK(IsDenial(budget.error_code()));
    ++checked;

    for (core::AuditMethod method : core::kAllAuditMethods) {
      CAPTURE(core::AuditMethodName(method));
      // The receipt is researcher1's request: another researcher may not fetch it.
      const bool own = method != core::AuditMethod::kGetReceipt || !known ||
                       p->role != policy::Role::kResearcher || who == "researcher1";
      const bool may = known && core::AuditPermitted(p->role, method) && own;
      grpc::Status s = calls.Audit(method, receipt_id);
      CHECK_MESSAGE(IsDenial(s.error_code()) == !may,
                    core::AuditMethodName(method) << ": " << s.error_message());
      ++checked;
    }
  }
  MESSAGE("authorisation matrix: " << checked << " role x RPC x template cells checked");
  CHECK(checked == static_cast<int>(kPeople.size()) *
                       (2 + 2 * static_cast<int>(sample.size()) +
                        static_cast<int>(std::size(core::kAllAuditMethods))));
}

TEST_CASE("separation of duties, stated independently of the policy functions") {
  World& w = TheWorld();
  const std::string any_template = "zzp_aantal_per_wijk";
  // The operator runs the service: no query, no template, no log.
  Calls op(w.Channel("operator1"));
  CHECK(IsDenial(op.List().error_code()));
  CHECK(IsDenial(op.Run(any_template).error_code()));
  for (core::AuditMethod m : core::kAllAuditMethods) CHECK(IsDenial(op.Audit(m, "q").error_code()));
  // The privacy officer audits everything but runs no query.
  Calls officer(w.Channel("officer1"));
  CHECK(IsDenial(officer.Run(any_template).error_code()));
  CHECK_FALSE(IsDenial(officer.Audit(core::AuditMethod::kListEntries, "").error_code()));
  CHECK_FALSE(IsDenial(officer.Audit(core::AuditMethod::kExportBundle, "").error_code()));
  // The data steward may read the catalogue but neither query nor read the log.
  Calls steward(w.Channel("steward1"));
  CHECK(IsDenial(steward.Run(any_template).error_code()));
  CHECK(IsDenial(steward.Audit(core::AuditMethod::kListEntries, "").error_code()));
  // Analysts query but read no log and have no budget.
  Calls analyst(w.Channel("analyst1"));
  CHECK(analyst.Run(any_template).ok());
  CHECK(IsDenial(analyst.Audit(core::AuditMethod::kListEntries, "").error_code()));
  CHECK(IsDenial(analyst.Budget().error_code()));
}

TEST_CASE("metadata a client adds grants nothing") {
  World& w = TheWorld();
  const std::multimap<std::string, std::string> claims = {
      {"x-role", "privacy_officer"},
      {"x-role", "PRIVACY_OFFICER"},
      {"x-project", "P2026-001"},
      {"x-agreement", "OVK-2026-001"},
      {"x-principal", kTrust + "/privacy_officer/officer1"},
      {"x-uri-san", kTrust + "/privacy_officer/officer1"},
      {"x-forwarded-client-cert", "URI=" + kTrust + "/privacy_officer/officer1"},
  };
  for (const char* who : {"steward1", "operator1", "unknown1", "analyst1"}) {
    CAPTURE(who);
    Calls calls(w.Channel(who));
    calls.metadata = claims;
    // Auditing is the officer's alone, whatever the metadata says.
    CHECK(IsDenial(calls.Audit(core::AuditMethod::kListEntries, "").error_code()));
    CHECK(IsDenial(calls.Audit(core::AuditMethod::kExportBundle, "").error_code()));
    if (std::string(who) != "analyst1") {
      grpc::Status run = calls.Run("zzp_aantal_per_wijk");
      CHECK(IsDenial(run.error_code()));
    }
  }
  // The officer with a claimed analyst role still may not run a query.
  Calls officer(w.Channel("officer1"));
  officer.metadata = {{"x-role", "municipal_analyst"}, {"x-role", "MUNICIPAL_ANALYST"}};
  CHECK(IsDenial(officer.Run("zzp_aantal_per_wijk").error_code()));
  // A researcher claiming another project gets no template outside its agreement.
  Calls researcher(w.Channel("researcher1"));
  researcher.metadata = {{"x-project", "udc-monitor"}, {"x-role", "municipal_analyst"}};
  for (const auto& t : w.loaded.catalog->templates) {
    if (!t.AllowsRole(policy::Role::kResearcher)) {
      CHECK(researcher.Run(t.id).error_code() == grpc::StatusCode::NOT_FOUND);
      break;
    }
  }
}

TEST_CASE("a researcher certificate that outlives the agreement is refused") {
  World& w = TheWorld();
  Calls calls(w.Channel("researcher1long"));
  grpc::Status s = calls.Run("zzp_aantal_per_wijk");
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message().find("certificates are issued no longer than their agreement") !=
        std::string::npos);
  // The same identity on a certificate within the agreement runs.
  Calls ok(w.Channel("researcher1"));
  CHECK(ok.Run("zzp_aantal_per_wijk").ok());
}

TEST_CASE("revocation takes effect on the next call of an open connection") {
  World& w = TheWorld();
  // Open channels, each used successfully once.
  Calls analyst(w.Channel("analyst2"));
  Calls officer(w.Channel("officer1"));
  Calls other(w.Channel("analyst1"));
  REQUIRE(analyst.Run("zzp_aantal_per_wijk").ok());
  REQUIRE(analyst.List().ok());
  const bool officer_allowed =
      !IsDenial(officer.Audit(core::AuditMethod::kGetCheckpoint, "").error_code());
  REQUIRE(officer_allowed);
  REQUIRE(other.List().ok());

  SUBCASE("by certificate serial and by fingerprint") {
    WriteFile(w.DenyList(), "revoked { serial: \"" + w.Serial("analyst2") +
                                "\" reason: \"test\" date: \"2026-11-25\" }\n"
                                "revoked { cert_sha256: \"" + w.Fingerprint("officer1") +
                                "\" }\n");
    grpc::Status run = analyst.Run("zzp_aantal_per_wijk");
    CHECK(run.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(run.error_message().find("revoked") != std::string::npos);
    CHECK(analyst.List().error_code() == grpc::StatusCode::PERMISSION_DENIED);
    // The AuditService checks the deny-list too.
    CHECK(officer.Audit(core::AuditMethod::kGetCheckpoint, "").error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    CHECK(other.List().ok());  // others unaffected
    // Lifted: works again on the same connection.
    WriteFile(w.DenyList(), "# empty\n");
    CHECK(analyst.List().ok());
  }
  SUBCASE("by principal") {
    WriteFile(w.DenyList(),
              "revoked { principal: \"" + kTrust + "/municipal_analyst/analyst2\" }\n");
    CHECK(analyst.List().error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(other.List().ok());
    WriteFile(w.DenyList(), "");
    CHECK(analyst.List().ok());
  }
  SUBCASE("a malformed deny-list refuses everyone until it is fixed") {
    WriteFile(w.DenyList(), "revoked { serial: \"01\"\n");
    CHECK(other.List().error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(other.Run("zzp_aantal_per_wijk").error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(officer.Audit(core::AuditMethod::kGetCheckpoint, "").error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    CHECK(w.server->stderr_text().find("revocation_list_malformed") != std::string::npos);
    WriteFile(w.DenyList(), "");
    CHECK(other.List().ok());
  }
}

TEST_CASE("per-principal rate limit: RESOURCE_EXHAUSTED with a retry hint enclavectl prints") {
  World& w = TheWorld();
  Calls limited(w.Channel("limited1"));
  CHECK(limited.Run("zzp_aantal_per_wijk").ok());
  CHECK(limited.Run("zzp_aantal_per_wijk").ok());
  grpc::Status third = limited.Run("zzp_aantal_per_wijk");
  CHECK(third.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(third.error_message().find("retry after ") != std::string::npos);
  {
    // The same wait, machine-readable (issue 11 §3): trailing metadata retry-after-ms.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::RunQueryRequest request;
    request.set_template_id("zzp_aantal_per_wijk");
    v1::RunQueryResponse response;
    auto stub = v1::QueryService::NewStub(w.Channel("limited1"));
    CHECK(stub->RunQuery(&ctx, request, &response).error_code() ==
          grpc::StatusCode::RESOURCE_EXHAUSTED);
    const auto& trailers = ctx.GetServerTrailingMetadata();
    const auto hint = trailers.find("retry-after-ms");
    REQUIRE(hint != trailers.end());
    // Two queries a minute: about 30 s, longer than enclavectl's --retry-max-time of 20 s.
    CHECK(std::stoll(std::string(hint->second.data(), hint->second.size())) >= 20000);
  }
  ProcessResult ctl = w.Ctl("limited1", {"run", "zzp_aantal_per_wijk"});
  CHECK(ctl.exit_code == 6);
  CHECK(ctl.err.find("retry after ") != std::string::npos);
  CHECK(ctl.err.find("retrying in") == std::string::npos);  // a wait beyond the budget: no retry
  CHECK(ctl.out.empty());
  // Others are not limited by limited1's use.
  Calls other(w.Channel("analyst1"));
  CHECK(other.Run("zzp_aantal_per_wijk").ok());
}

TEST_CASE("a researcher's DP release charges the budget that enclavectl budget shows") {
  World& w = TheWorld();
  const std::string dp_template = "bijstand_dp_wijk_leeftijd";
  const templates::Template* t = w.loaded.catalog->Find(dp_template);
  REQUIRE(t != nullptr);
  REQUIRE(t->dp.has_value());
  const std::int64_t charge = t->dp->epsilon_micro;

  // researcher2 holds the DP agreement (researcher1's cell-key agreement may not: §7.1).
  Calls researcher(w.Channel("researcher2"));
  v1::GetBudgetResponse before;
  REQUIRE(researcher.Budget(&before).ok());
  REQUIRE(before.ledgers_size() == 3);
  CHECK(before.ledgers(0).ledger() == "agreement:OVK-2026-002");
  CHECK(before.ledgers(1).ledger() == "project:P2026-002");
  CHECK(before.ledgers(2).ledger().rfind("data-version:", 0) == 0);
  CHECK(before.ledgers(2).cap_micro() == 12'000'000);

  grpc::Status first = researcher.Run(dp_template);
  INFO(first.error_message());
  REQUIRE(first.ok());
  v1::GetBudgetResponse after;
  REQUIRE(researcher.Budget(&after).ok());
  for (int i = 0; i < 3; ++i) {
    CHECK(after.ledgers(i).spent_micro() == before.ledgers(i).spent_micro() + charge);
    CHECK(after.ledgers(i).remaining_micro() ==
          after.ledgers(i).cap_micro() - after.ledgers(i).spent_micro() -
              after.ledgers(i).reserved_micro());
  }
  // An identical repeat is served free.
  REQUIRE(researcher.Run(dp_template).ok());
  v1::GetBudgetResponse repeat;
  REQUIRE(researcher.Budget(&repeat).ok());
  CHECK(repeat.ledgers(0).spent_micro() == after.ledgers(0).spent_micro());

  // enclavectl budget shows the same numbers; other roles are refused (exit code 3).
  ProcessResult shown = w.Ctl("researcher2", {"budget"});
  INFO(shown.err);
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("agreement:OVK-2026-002") != std::string::npos);
  const std::int64_t spent = after.ledgers(0).spent_micro();
  const std::string spent_text = std::to_string(spent / 1000000) + "." +
                                 std::string(6 - std::to_string(spent % 1000000).size(), '0') +
                                 std::to_string(spent % 1000000);
  CHECK(shown.out.find(spent_text) != std::string::npos);
  CHECK(shown.out.find("4.000000") != std::string::npos);  // the agreement's cap
  for (const char* who : {"analyst1", "officer1", "steward1", "operator1"}) {
    CAPTURE(who);
    ProcessResult refused = w.Ctl(who, {"budget"});
    CHECK(refused.exit_code == 3);
    CHECK(refused.out.empty());
  }
  // Analysts never run a DP template.
  Calls analyst(w.Channel("analyst1"));
  CHECK(analyst.Run(dp_template).error_code() == grpc::StatusCode::NOT_FOUND);

  // enclavectl run prints what the release charged and what is left; an identical repeat 0.
  const std::int64_t left = after.ledgers(0).remaining_micro() - charge;
  const std::string left_text = std::to_string(left / 1000000) + "," +
                                std::to_string(left % 1000000 + 1000000).substr(1);
  ProcessResult run = w.Ctl("researcher2", {"--lang", "nl", "run", dp_template, "--param",
                                            "peildatum=20221231"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("Privacybudget: deze tabel kostte ε 0,25 op elk budget hieronder.") !=
        std::string::npos);
  std::string trimmed = left_text;
  while (trimmed.back() == '0' && trimmed[trimmed.size() - 2] != ',') trimmed.pop_back();
  CHECK(run.out.find("Resterend: overeenkomst OVK-2026-002 ε " + trimmed) != std::string::npos);
  ProcessResult again = w.Ctl("researcher2", {"run", dp_template, "--param",
                                              "peildatum=20221231", "--format", "json"});
  REQUIRE(again.exit_code == 0);
  CHECK(again.out.find("\"budget_charge\": {\"charged_micro\":0,\"repeat\":true,") !=
        std::string::npos);
  CHECK(again.out.find("\"remaining_micro\":" + std::to_string(left)) != std::string::npos);

  // describe says what a DP release promises, not the cell-key minimum and rule set.
  ProcessResult described = w.Ctl("researcher2", {"describe", dp_template});
  REQUIRE(described.exit_code == 0);
  CHECK(described.out.find("Differential privacy: noise from the discrete Laplace mechanism on "
                           "every cell (ε 0.25 per table") != std::string::npos);
  CHECK(described.out.find("a noisy count below 10 is shown as '.'") != std::string::npos);
  CHECK(described.out.find("Each table charges ε 0.25 to your agreement, project and data "
                           "version budgets") != std::string::npos);
  CHECK(described.out.find("count at least") == std::string::npos);
  CHECK(described.out.find("cbs-default") == std::string::npos);
}

TEST_CASE("enclaved --check names a malformed deny-list before it would refuse everyone") {
  World& w = TheWorld();
  const std::string copy = w.dir.File("policies-check");
  fs::copy(w.policies, copy, fs::copy_options::recursive);
  TestApprovals approvals = SignAllTemplates(copy, w.dir.File("check-approvals"));
  REQUIRE(approvals.error.empty());
  std::vector<std::string> argv = {EnclavedPath(), "--check"};
  for (const std::string& f : w.ServerFlags(copy, w.StateDir("check-state"))) argv.push_back(f);
  for (const std::string& f : approvals.Flags()) argv.push_back(f);
  ProcessResult ok = RunProcess(argv);
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  WriteFile(fs::path(copy) / "access/revoked.textproto", "revoked { serial: \"zz\" }\n");
  ProcessResult bad = RunProcess(argv);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("deny-list") != std::string::npos);
  CHECK(bad.err.find("serial must be hexadecimal") != std::string::npos);
}

// issue 11 §2: a stop after a failed log write (a full disk) is not a clean stop. The enclaved
// process gets RLIMIT_FSIZE 0 (every file write fails, as on a full disk; SIGXFSZ ignored) for one
// query, then the limit back: the log refuses every write since, so SIGTERM cannot log the stop
// nor sign the final checkpoint, and enclaved says so and exits 3 (0 for the control).
TEST_CASE("after a failed log write, SIGTERM exits 3 saying the stop was neither logged nor signed") {
  World& w = TheWorld();
  const auto start = [&](const std::string& name) {
    return w.StartEnclaved(w.policies, w.StateDir(name));
  };
  // The child of this process whose command line names `state`.
  const auto pid_of = [](const std::string& state) -> pid_t {
    for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
      const std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmdline = ReadFile(e.path().string() + "/cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (cmdline.find(ENCLAVED_PATH) == 0 && cmdline.find(" " + state + " ") != std::string::npos) {
        return static_cast<pid_t>(std::stoi(name));
      }
    }
    return -1;
  };
  const auto run = [&](const ServerProcess& server) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadFile(w.pki + "/ca.pem");
    o.pem_cert_chain = ReadFile(w.pki + "/analyst1.pem");
    o.pem_private_key = ReadFile(w.pki + "/analyst1.key");
    Calls calls(grpc::CreateChannel(server.target(), grpc::SslCredentials(o)));
    return calls.Run("zzp_aantal_per_wijk");
  };
  {
    auto control = start("state-clean-stop");
    INFO(control->stderr_text());
    REQUIRE(control->port() > 0);
    CHECK(run(*control).ok());
    CHECK(control->Stop() == 0);
  }
  const auto previous = std::signal(SIGXFSZ, SIG_IGN);  // inherited by the child
  auto server = start("state-disk-full");
  std::signal(SIGXFSZ, previous);
  INFO(server->stderr_text());
  REQUIRE(server->port() > 0);
  CHECK(run(*server).ok());
  const pid_t pid = pid_of(w.dir.File("state-disk-full"));
  REQUIRE(pid > 0);
  struct rlimit saved {};
  REQUIRE(::prlimit(pid, RLIMIT_FSIZE, nullptr, &saved) == 0);
  struct rlimit full = saved;
  full.rlim_cur = 0;
  REQUIRE(::prlimit(pid, RLIMIT_FSIZE, &full, nullptr) == 0);
  CHECK(run(*server).error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(::prlimit(pid, RLIMIT_FSIZE, &saved, nullptr) == 0);  // the disk has room again
  CHECK(run(*server).error_code() == grpc::StatusCode::UNAVAILABLE);  // fail closed until restart
  CHECK(server->Stop() == 3);
  CHECK(server->stderr_text().find("enclaved: unclean stop: the stop was not logged and the final "
                                   "checkpoint was not signed") != std::string::npos);
}

}  // namespace enclave::testing
