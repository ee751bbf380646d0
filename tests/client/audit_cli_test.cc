// enclavectl audit: argument parsing, the offline verify-bundle path on bundles written by
// enclave/audit (also through the enclavectl binary's exit codes), and the verify flow against
// an in-process core::AuditService (no gRPC): first run, consistent growth, fork, rollback.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/audit.h"
#include "enclave/client/cell_rules.h"
#include "enclave/audit/bundle.h"
#include "enclave/audit/leaf.h"
#include "enclave/client/client.h"
#include "enclave/core/audit_service.h"
#include "tests/testing/fake_audit_log.h"
#include "tests/testing/temp_dir.h"

namespace enclave::client::cli {
namespace {

namespace fs = std::filesystem;
using ::enclave::testing::FakeAuditLog;
using ::enclave::testing::TempDir;

constexpr char kOfficer[] = "spiffe://lv/officer";
constexpr char kResearcher0[] = "spiffe://lv/researcher-0";  // the caller of AddQueries' q-0, q-3
constexpr char kAnalyst[] = "spiffe://lv/analyst";

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

void WriteBytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

std::string ReadBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Accepted and result entries of `n` queries.
void AddQueries(FakeAuditLog& log, int n, const std::string& prefix = "q") {
  for (int i = 0; i < n; ++i) {
    core::QueryLogEntry e;
    e.request_id = prefix + "-" + std::to_string(i);
    e.caller = "spiffe://lv/researcher-" + std::to_string(i % 3);
    e.role = "researcher";
    e.rpc = "RunQuery";
    e.template_id = i % 2 == 0 ? "income_by_wijk" : "zzp_per_wijk";
    e.decision = "allowed";
    e.type = core::QueryLogEntry::Type::kAccepted;
    REQUIRE(log.Append(e).ok());
    e.type = core::QueryLogEntry::Type::kResult;
    REQUIRE(log.Append(e).ok());
  }
}

std::string Bundle(FakeAuditLog& log) {
  auto checkpoint = log.LatestCheckpoint();
  REQUIRE(checkpoint.ok());
  const std::vector<std::string> leaves = log.RawLeavesForTest();
  std::vector<std::string> signed_leaves(leaves.begin(),
                                         leaves.begin() + static_cast<std::ptrdiff_t>(checkpoint->size));
  auto bundle = audit::EncodeBundle(checkpoint->note, 0, {}, signed_leaves);
  REQUIRE(bundle.ok());
  return *bundle;
}

// Offset of leaf `index`'s sequence field inside a full bundle (docs/audit-log.md §2, §5).
std::size_t SequenceOffset(const std::string& bundle, std::size_t index) {
  auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bundle[at + static_cast<std::size_t>(i)]);
    return static_cast<std::size_t>(v);
  };
  std::size_t pos = std::string_view("enclave-log-bundle/1\n").size();
  pos += 4 + u32(pos);  // note
  pos += 8 + 1;         // m = 0, k = 0
  pos += 8;             // leaf count
  for (std::size_t i = 0; i < index; ++i) pos += 4 + u32(pos);
  const std::size_t leaf = pos + 4;
  const std::size_t origin_length = u32(leaf + 19);
  return leaf + 19 + 4 + origin_length;
}

// client::AuditClient over core::AuditService in-process, as one caller.
class InProcessAuditClient final : public AuditClient {
 public:
  InProcessAuditClient(std::shared_ptr<core::AuditService> service, std::string caller)
      : service_(std::move(service)), caller_(std::move(caller)) {}

  absl::StatusOr<AuditCheckpoint> GetCheckpoint() override {
    auto info = service_->GetCheckpoint(caller_);
    if (!info.ok()) return info.status();
    AuditCheckpoint out = Convert(info->checkpoint);
    out.log_size = info->log_size;
    return out;
  }
  absl::StatusOr<AuditPage> ListEntries(std::uint64_t start, std::uint64_t end,
                                        const AuditFilter& filter, std::uint32_t page_size,
                                        std::uint64_t page_token) override {
    core::AuditFilter f;
    f.caller = filter.caller;
    f.template_id = filter.template_id;
    f.decision = filter.decision;
    f.entry_type = filter.entry_type;
    f.from_unix_ms = filter.from_unix_ms;
    f.to_unix_ms = filter.to_unix_ms;
    f.project = filter.project;
    for (const auto& [name, value] : filter.parameters) f.parameters.push_back(name + "=" + value);
    auto page = service_->ListEntries(caller_, page_token != 0 ? page_token : start, end, f,
                                      page_size == 0 ? 3 : page_size,  // small pages
                                      /*with_proofs=*/true);
    if (!page.ok()) return page.status();
    AuditPage out;
    for (auto& e : page->entries) {
      AuditLogEntry entry{e.sequence, e.leaf, {}};
      for (const auto& h : e.inclusion_path) entry.inclusion_path.push_back(Bytes(h));
      out.entries.push_back(std::move(entry));
    }
    if (page->checkpoint.has_value()) out.checkpoint = Convert(*page->checkpoint);
    out.next_page_token = page->next_start;
    out.log_size = page->log_size;
    return out;
  }
  absl::StatusOr<AuditProofs> GetInclusionProof(std::uint64_t, std::uint64_t) override {
    return absl::UnimplementedError("not needed");
  }
  absl::StatusOr<AuditProofs> GetRequestInclusionProofs(const std::string&,
                                                        std::uint64_t) override {
    return absl::UnimplementedError("not needed");
  }
  absl::StatusOr<std::vector<std::string>> GetConsistencyProof(std::uint64_t old_size,
                                                               std::uint64_t new_size) override {
    auto proof = service_->GetConsistencyProof(caller_, old_size, new_size);
    if (!proof.ok()) return proof.status();
    std::vector<std::string> out;
    for (const auto& h : proof->proof) out.push_back(Bytes(h));
    return out;
  }
  absl::Status ExportBundle(std::uint64_t from_size,
                            const std::function<absl::Status(std::string_view)>& sink) override {
    return service_->ExportBundle(caller_, from_size, sink);
  }
  absl::StatusOr<AuditProofs> GetReceipt(const std::string& request_id) override {
    auto receipt = service_->GetReceipt(caller_, request_id);
    if (!receipt.ok()) return receipt.status();
    AuditProofs out;
    out.checkpoint = Convert(receipt->checkpoint);
    out.tree_size = receipt->checkpoint.size;
    for (const core::LeafProof& p : receipt->leaves) {
      AuditLeafProof proof;
      proof.sequence = p.sequence;
      proof.leaf = p.leaf;
      proof.leaf_hash = Bytes(p.leaf_hash);
      for (const auto& h : p.path) proof.path.push_back(Bytes(h));
      proof.redacted = p.redacted;
      out.proofs.push_back(std::move(proof));
    }
    return out;
  }

 private:
  static std::string Bytes(const core::AuditHash& h) {
    return std::string(reinterpret_cast<const char*>(h.data()), h.size());
  }
  static AuditCheckpoint Convert(const core::SignedCheckpoint& c) {
    AuditCheckpoint out;
    out.note = c.note;
    out.origin = c.origin;
    out.tree_size = c.size;
    out.root_hash = Bytes(c.root);
    return out;
  }
  std::shared_ptr<core::AuditService> service_;
  std::string caller_;
};

policy::Principal Person(const std::string& id, policy::Role role) {
  policy::Principal p;
  p.id = id;
  p.display_name = id;
  p.organisation = "LV";
  p.role = role;
  if (role == policy::Role::kResearcher) p.projects = {"p1"};
  return p;
}

std::shared_ptr<core::AuditService> ServiceOver(std::shared_ptr<FakeAuditLog> log) {
  auto directory = policy::PrincipalDirectory::Create(
      {Person(kOfficer, policy::Role::kPrivacyOfficer),
       Person(kResearcher0, policy::Role::kResearcher),
       Person(kAnalyst, policy::Role::kMunicipalAnalyst)});
  REQUIRE(directory.ok());
  core::AuditServiceOptions options;
  options.chunk_bytes = 256;
  return std::make_shared<core::AuditService>(
      std::make_shared<const policy::PrincipalDirectory>(*std::move(directory)), log, log,
      options);
}

int RunEnclavectl(const std::string& args, std::string* output) {
  TempDir tmp;
  const fs::path out = tmp.File("out.txt");
  const std::string command = std::string("'") + ENCLAVECTL_PATH + "' " + args + " >'" +
                              out.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  *output = ReadBytes(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_SUITE("enclavectl audit: arguments") {
  TEST_CASE("each audit command parses with its own flags") {
    auto log = ParseArgs({"audit", "log", "--caller", "spiffe://x", "--template", "t1", "--from",
                          "2026-11-01", "--to=2026-11-25T13:05:09Z", "--decision",
                          "PERMISSION_DENIED", "--type", "query-refused", "--format", "json"});
    REQUIRE(log.ok());
    CHECK(log->command == Command::kAudit);
    CHECK(log->audit_action == AuditAction::kLog);
    CHECK(*log->audit.caller == "spiffe://x");
    CHECK(*log->audit.template_id == "t1");
    CHECK(*log->audit.decision == "PERMISSION_DENIED");

    auto verify = ParseArgs({"audit", "verify", "--state", "/tmp/cp", "--log-key", "k+1+2"});
    REQUIRE(verify.ok());
    CHECK(verify->audit_action == AuditAction::kVerify);
    CHECK(*verify->audit.state == "/tmp/cp");

    auto bundle = ParseArgs({"audit", "verify-bundle", "log.bundle", "--log-key", "k"});
    REQUIRE(bundle.ok());
    CHECK(bundle->audit_action == AuditAction::kVerifyBundle);
    CHECK(bundle->bundle_file == "log.bundle");

    auto receipt = ParseArgs({"audit", "receipt", "r-17", "--log-key", "k+1+2"});
    REQUIRE(receipt.ok());
    CHECK(receipt->audit_action == AuditAction::kReceipt);
    CHECK(receipt->receipt_request_id == "r-17");

    auto exported = ParseArgs({"audit", "export", "--output", "x.bundle"});
    REQUIRE(exported.ok());
    CHECK(exported->audit_action == AuditAction::kExport);
    // log and export check what they show: the pinned key, and the stored checkpoint (read only).
    auto pinned_log = ParseArgs({"audit", "log", "--log-key", "k", "--origin", "o", "--state", "f"});
    REQUIRE(pinned_log.ok());
    CHECK(*pinned_log->audit.log_key == "k");
    CHECK(*pinned_log->audit.state == "f");
    CHECK(ParseArgs({"audit", "export", "--output", "x", "--log-key", "k", "--state", "f"}).ok());
    CHECK(ParseArgs({"audit", "checkpoint"}).ok());
    CHECK(ParseArgs({"help", "audit"}).ok());
    CHECK(HelpText("audit").ok());
  }

  TEST_CASE("audit log takes --project, repeated --param NAME=VALUE and --cells") {
    auto parsed = ParseArgs({"audit", "log", "--project", "p1", "--param", "geo=wijk", "-p",
                             "year=2023", "--cells", "--lang", "nl"});
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().message());
    CHECK(parsed->audit.project == "p1");
    CHECK(parsed->audit.cells);
    CHECK(parsed->params == std::vector<std::pair<std::string, std::string>>{
                                {"geo", "wijk"}, {"year", "2023"}});
    auto malformed = ParseArgs({"audit", "log", "--param", "geo"});
    REQUIRE_FALSE(malformed.ok());
    CHECK(Contains(malformed.status().message(), "expected NAME=VALUE"));
    auto help = HelpText("audit");
    REQUIRE(help.ok());
    CHECK(Contains(*help, "[--param NAME=VALUE]..."));
    CHECK(Contains(*help, "--cells"));
  }

  TEST_CASE("misplaced or malformed audit arguments are usage errors") {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"audit"},
             {"audit", "delete"},
             {"audit", "export"},                                    // no --output
             {"audit", "verify-bundle"},                             // no FILE
             {"audit", "verify-bundle", "a", "b"},
             {"audit", "checkpoint", "extra"},
             {"audit", "receipt"},                                   // no REQUEST_ID
             {"audit", "receipt", "a", "b"},
             {"audit", "receipt", "a", "--state", "f"},
             {"audit", "checkpoint", "--caller", "x"},               // log only
             {"audit", "receipt", "r", "--state", "f"},              // not for receipts
             {"audit", "checkpoint", "--state", "f"},
             {"audit", "log", "--format", "csv"},
             {"audit", "log", "--from", "yesterday"},
             {"audit", "log", "--to", "2026-02-30"},
             {"audit", "verify", "--output", "f"},
             {"audit", "log", "--param", "geo"},                     // not NAME=VALUE
             {"audit", "log", "--param", "=wijk"},
             {"audit", "log", "-p", "geo=wijk", "-p", "geo=wijkcluster"},
             {"audit", "verify", "-p", "a=b"},                       // log only
             {"audit", "checkpoint", "--cells"},
             {"audit", "export", "--output", "f", "--project", "p"},
             {"audit", "log", "--project"},                          // no value
             {"templates", "--cells"},
             {"run", "t", "--project", "p"},
             {"run", "t", "--caller", "x"},                          // audit flags elsewhere
             {"templates", "--log-key", "k"}}) {
      CAPTURE(args.size());
      CAPTURE(args.back());
      auto parsed = ParseArgs(args);
      CHECK_FALSE(parsed.ok());
      CHECK(ExitCodeFor(parsed.status()) == 2);
    }
  }

  TEST_CASE("audit times are UTC") {
    CHECK(*ParseAuditTime("--from", "1970-01-01") == 0);
    CHECK(*ParseAuditTime("--from", "1970-01-02T00:00:01Z") == 86401000);
    CHECK(*ParseAuditTime("--from", "2024-02-29T12:30") == 1709209800000);
    CHECK(*ParseAuditTime("--from", "1764075909000") == 1764075909000);
    CHECK_FALSE(ParseAuditTime("--from", "2023-02-29").ok());
    CHECK_FALSE(ParseAuditTime("--from", "2026-11-25 13:05").ok());
    CHECK_FALSE(ParseAuditTime("--from", "").ok());
  }

  TEST_CASE("a log that fails verification exits 8") {
    CHECK(ExitCodeFor(absl::DataLossError("x")) == 8);
  }
}

TEST_SUITE("enclavectl audit verify-bundle (offline)") {
  TEST_CASE("a bundle from enclave/audit verifies, one flipped byte is caught at its leaf") {
    FakeAuditLog log;
    AddQueries(log, 10);
    log.SignCheckpoint();
    const std::string bundle = Bundle(log);
    TempDir tmp;
    const fs::path good = tmp.File("good.bundle");
    WriteBytes(good, bundle);

    AuditTrust trust;
    trust.log_key = log.VerifierKey();
    absl::StatusOr<std::string> report = VerifyBundleOffline(good.string(), trust);
    REQUIRE_MESSAGE(report.ok(), report.status().message());
    CHECK(Contains(*report, "bundle OK"));
    CHECK(Contains(*report, "20 leaves"));

    std::string flipped = bundle;
    flipped[SequenceOffset(bundle, 7) + 7] ^= 0x01;
    const fs::path bad = tmp.File("bad.bundle");
    WriteBytes(bad, flipped);
    absl::StatusOr<std::string> rejected = VerifyBundleOffline(bad.string(), trust);
    REQUIRE_FALSE(rejected.ok());
    CHECK(rejected.status().code() == absl::StatusCode::kDataLoss);
    CHECK(Contains(rejected.status().message(), "leaf 7"));

    // Through the binary: exit codes and messages as a shell user sees them.
    std::string output;
    CHECK(RunEnclavectl("audit verify-bundle '" + good.string() + "' --log-key '" +
                            log.VerifierKey() + "'",
                        &output) == 0);
    CHECK(Contains(output, "bundle OK"));
    const int code = RunEnclavectl("audit verify-bundle '" + bad.string() + "' --log-key '" +
                                       log.VerifierKey() + "'",
                                   &output);
    CHECK(code == 8);
    CHECK(Contains(output, "leaf 7"));
  }

  TEST_CASE("random single-byte edits anywhere in the leaves are all detected") {
    FakeAuditLog log;
    AddQueries(log, 20);
    log.SignCheckpoint();
    const std::string bundle = Bundle(log);
    const std::size_t first_leaf = SequenceOffset(bundle, 0) - 23 - 1;  // ~ start of leaf bytes
    AuditTrust trust;
    trust.log_key = log.VerifierKey();
    trust.origin = testing::kFakeLogOrigin;
    TempDir tmp;
    const fs::path path = tmp.File("edit.bundle");
    std::uint64_t seed = 12345;
    for (int i = 0; i < 50; ++i) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      const std::size_t at = first_leaf + (seed >> 33) % (bundle.size() - first_leaf);
      std::string edited = bundle;
      edited[at] = static_cast<char>(edited[at] ^ static_cast<char>(1 + (seed >> 20) % 255));
      WriteBytes(path, edited);
      CAPTURE(at);
      CHECK_FALSE(VerifyBundleOffline(path.string(), trust).ok());
    }
  }

  TEST_CASE("a wrong pinned key or another origin is refused") {
    FakeAuditLog log;
    AddQueries(log, 2);
    log.SignCheckpoint();
    TempDir tmp;
    const fs::path path = tmp.File("b.bundle");
    WriteBytes(path, Bundle(log));
    AuditTrust trust;
    trust.log_key = log.VerifierKey();
    trust.origin = "another.log/origin";
    CHECK_FALSE(VerifyBundleOffline(path.string(), trust).ok());
    trust.log_key = "";
    CHECK(VerifyBundleOffline(path.string(), trust).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_SUITE("enclavectl audit verify") {
  TEST_CASE("first run stores the checkpoint, later runs prove consistency and check new entries") {
    auto log = std::make_shared<FakeAuditLog>();
    AddQueries(*log, 5);
    log->SignCheckpoint();
    InProcessAuditClient client(ServiceOver(log), kOfficer);
    TempDir tmp;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    trust.state_path = (tmp.path() / "state" / "checkpoint").string();

    auto first = VerifyLog(client, trust);
    REQUIRE_MESSAGE(first.ok(), first.status().message());
    CHECK(Contains(*first, "checking the whole log"));
    CHECK(Contains(*first, "entries 0..10 verified"));
    CHECK(fs::exists(trust.state_path));

    AddQueries(*log, 3, "r");
    log->SignCheckpoint();
    auto second = VerifyLog(client, trust);
    REQUIRE_MESSAGE(second.ok(), second.status().message());
    CHECK(Contains(*second, "consistent with the stored checkpoint of size 10"));
    CHECK(Contains(*second, "entries 0..16 verified"));  // every entry's bytes, old ones too
    auto stored = log->LatestCheckpoint();
    REQUIRE(stored.ok());
    CHECK(ReadBytes(trust.state_path) == stored->note);

    auto listing = ListLog(client, {}, false, trust);
    REQUIRE_MESSAGE(listing.ok(), listing.status().message());
    CHECK(Contains(*listing, "16 entries; 16 re-hashed and proven included in the checkpoint of "
                             "size 16"));
    AuditFilter filter;
    filter.template_id = "zzp_per_wijk";
    filter.entry_type = "query-result";
    auto json = ListLog(client, filter, true, trust);
    REQUIRE(json.ok());
    CHECK(Contains(*json, "\"type\":\"query-result\""));
    CHECK(Contains(*json, "\"checkpointed\":true"));
    CHECK_FALSE(Contains(*json, "income_by_wijk"));
  }

  TEST_CASE("a forked or rolled-back log fails and the stored checkpoint is kept") {
    auto original = std::make_shared<FakeAuditLog>();
    AddQueries(*original, 5);
    original->SignCheckpoint();
    TempDir tmp;
    AuditTrust trust;
    trust.log_key = original->VerifierKey();
    trust.state_path = (tmp.path() / "checkpoint").string();
    InProcessAuditClient first(ServiceOver(original), kOfficer);
    REQUIRE(VerifyLog(first, trust).ok());
    const std::string kept = ReadBytes(trust.state_path);

    SUBCASE("rewritten history, signed with the same key") {
      auto forked = std::make_shared<FakeAuditLog>();
      AddQueries(*forked, 6, "other");
      forked->SignCheckpoint();
      InProcessAuditClient client(ServiceOver(forked), kOfficer);
      auto result = VerifyLog(client, trust);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == absl::StatusCode::kDataLoss);
      CHECK(Contains(result.status().message(), "not consistent"));
    }
    SUBCASE("a shorter log (rollback or truncation)") {
      auto shorter = std::make_shared<FakeAuditLog>();
      AddQueries(*shorter, 4);
      shorter->SignCheckpoint();
      InProcessAuditClient client(ServiceOver(shorter), kOfficer);
      auto result = VerifyLog(client, trust);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == absl::StatusCode::kDataLoss);
      CHECK(Contains(result.status().message(), "rollback"));
    }
    SUBCASE("same size, another root (equivocation)") {
      auto other = std::make_shared<FakeAuditLog>();
      AddQueries(*other, 5, "eq");
      other->SignCheckpoint();
      InProcessAuditClient client(ServiceOver(other), kOfficer);
      auto result = VerifyLog(client, trust);
      REQUIRE_FALSE(result.ok());
      CHECK(Contains(result.status().message(), "equivocation"));
    }
    CHECK(ReadBytes(trust.state_path) == kept);
  }

  TEST_CASE("a role that may not read the log gets the refusal, and nothing is stored") {
    auto log = std::make_shared<FakeAuditLog>();
    AddQueries(*log, 2);
    log->SignCheckpoint();
    InProcessAuditClient client(ServiceOver(log), "spiffe://lv/someone-else");
    TempDir tmp;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    trust.state_path = (tmp.path() / "checkpoint").string();
    auto result = VerifyLog(client, trust);
    CHECK(result.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK_FALSE(fs::exists(trust.state_path));
  }
}

namespace {
// A client that corrupts one byte of the first inclusion proof path it passes on.
class TamperingClient final : public AuditClient {
 public:
  explicit TamperingClient(AuditClient& inner) : inner_(inner) {}
  absl::StatusOr<AuditCheckpoint> GetCheckpoint() override { return inner_.GetCheckpoint(); }
  absl::StatusOr<AuditPage> ListEntries(std::uint64_t a, std::uint64_t b, const AuditFilter& f,
                                        std::uint32_t c, std::uint64_t d) override {
    auto page = inner_.ListEntries(a, b, f, c, d);
    if (page.ok() && mode == 2) {  // an enclave that claims no checkpoint covers anything
      page->checkpoint.reset();
      for (AuditLogEntry& e : page->entries) e.inclusion_path.clear();
    }
    return page;
  }
  absl::StatusOr<AuditProofs> GetInclusionProof(std::uint64_t a, std::uint64_t b) override {
    return inner_.GetInclusionProof(a, b);
  }
  absl::StatusOr<AuditProofs> GetRequestInclusionProofs(const std::string& a,
                                                        std::uint64_t b) override {
    return inner_.GetRequestInclusionProofs(a, b);
  }
  absl::StatusOr<std::vector<std::string>> GetConsistencyProof(std::uint64_t a,
                                                               std::uint64_t b) override {
    return inner_.GetConsistencyProof(a, b);
  }
  absl::Status ExportBundle(std::uint64_t a,
                            const std::function<absl::Status(std::string_view)>& s) override {
    return inner_.ExportBundle(a, s);
  }
  absl::StatusOr<AuditProofs> GetReceipt(const std::string& id) override {
    auto r = inner_.GetReceipt(id);
    if (r.ok() && mode == 0 && !r->proofs.empty() && !r->proofs[0].path.empty()) {
      r->proofs[0].path[0][5] = static_cast<char>(r->proofs[0].path[0][5] ^ 0x01);
    }
    if (r.ok() && mode == 1 && !r->proofs.empty() && !r->proofs[0].leaf.empty()) {
      std::string& leaf = r->proofs[0].leaf;
      leaf[leaf.size() - 1] = static_cast<char>(leaf[leaf.size() - 1] ^ 0x01);
    }
    return r;
  }
  int mode = 0;  // 0: flip a path byte; 1: flip a leaf byte; 2: strip the log's proofs

 private:
  AuditClient& inner_;
};
}  // namespace

namespace {
// q-0 and q-3 are researcher-0's; q-1 is researcher-1's.
std::shared_ptr<FakeAuditLog> Log() {
  auto log = std::make_shared<FakeAuditLog>();
  AddQueries(*log, 4);
  log->SignCheckpoint();
  return log;
}
}  // namespace

TEST_SUITE("enclavectl audit receipt") {
  TEST_CASE("a researcher gets and verifies the receipt of their own request") {
    auto log = Log();
    InProcessAuditClient client(ServiceOver(log), kResearcher0);
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    auto out = ShowReceipt(client, "q-3", trust);
    REQUIRE_MESSAGE(out.ok(), out.status().ToString());
    CHECK(Contains(*out, "request q-3: 2 entries, each proven included in the checkpoint of size 8"));
    CHECK(Contains(*out, "query-accepted"));
    CHECK(Contains(*out, "query-result"));
  }

  TEST_CASE("a researcher is refused someone else's request, and an analyst any") {
    auto log = Log();
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    auto service = ServiceOver(log);
    InProcessAuditClient researcher(service, kResearcher0);
    auto other = ShowReceipt(researcher, "q-1", trust);
    CHECK(other.status().code() == absl::StatusCode::kPermissionDenied);
    InProcessAuditClient analyst(service, kAnalyst);
    auto refused = ShowReceipt(analyst, "q-0", trust);
    CHECK(refused.status().code() == absl::StatusCode::kPermissionDenied);
    // Both refusals are in the log (the refused reads are themselves audited).
    InProcessAuditClient officer(service, kOfficer);
    AuditFilter filter;
    filter.entry_type = "query-refused";
    auto listed = ListLog(officer, filter, false, trust);
    REQUIRE_MESSAGE(listed.ok(), listed.status().message());
    CHECK(Contains(*listed, "NOT YET CHECKPOINTED"));  // the fake signs only when told
    CHECK(Contains(*listed, kResearcher0));
    CHECK(Contains(*listed, kAnalyst));
  }

  TEST_CASE("an officer's receipt of any request verifies, no key, no verification") {
    auto log = Log();
    InProcessAuditClient officer(ServiceOver(log), kOfficer);
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    CHECK(ShowReceipt(officer, "q-1", trust).ok());
    CHECK(ShowReceipt(officer, "q-1", AuditTrust{}).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("a corrupted proof or leaf fails the receipt with DATA_LOSS") {
    auto log = Log();
    InProcessAuditClient inner(ServiceOver(log), kResearcher0);
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    TamperingClient client(inner);
    client.mode = 0;
    auto path = ShowReceipt(client, "q-0", trust);
    CHECK(path.status().code() == absl::StatusCode::kDataLoss);
    CHECK(Contains(path.status().message(), "not included in the signed checkpoint"));
    client.mode = 1;
    auto leaf = ShowReceipt(client, "q-0", trust);
    CHECK(leaf.status().code() == absl::StatusCode::kDataLoss);
  }

  TEST_CASE("a leaf with officer-only fields is withheld from the researcher but still proven") {
    auto log = std::make_shared<FakeAuditLog>();
    core::QueryLogEntry e;
    e.request_id = "r-1";
    e.caller = kResearcher0;
    e.role = "researcher";
    e.rpc = "RunQuery";
    e.template_id = "t";
    e.decision = "allowed";
    e.type = core::QueryLogEntry::Type::kAccepted;
    REQUIRE(log->Append(e).ok());
    e.type = core::QueryLogEntry::Type::kResult;
    e.cell_rules = "released,threshold";
    REQUIRE(log->Append(e).ok());
    log->SignCheckpoint();
    InProcessAuditClient client(ServiceOver(log), kResearcher0);
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    auto out = ShowReceipt(client, "r-1", trust);
    REQUIRE_MESSAGE(out.ok(), out.status().ToString());
    CHECK(Contains(*out, "(withheld: officer-only fields)"));
    CHECK_FALSE(Contains(*out, "threshold"));
  }
}

namespace {
// The issue-11 probe on the fake log: the bytes of leaves [from, to) get another caller (they
// still decode); the tree, its proofs and its checkpoints stay as they were.
void RewriteCallers(FakeAuditLog& log, std::uint64_t from, std::uint64_t to,
                    const std::string& caller) {
  const std::vector<std::string> leaves = log.RawLeavesForTest();
  for (std::uint64_t i = from; i < to; ++i) {
    auto leaf = audit::DecodeLeaf(leaves[i]);
    REQUIRE(leaf.ok());
    leaf->caller = caller;
    auto bytes = audit::EncodeLeaf(*leaf);
    REQUIRE(bytes.ok());
    log.ReplaceLeafBytesForTest(i, *bytes);
  }
}

constexpr char kAnalyst9[] = "spiffe://lv/analyst9";
}  // namespace

TEST_SUITE("enclavectl audit: every entry shown is checked (issue 11)") {
  TEST_CASE("the routine verify re-hashes the entries its stored checkpoint already covers") {
    auto log = std::make_shared<FakeAuditLog>();
    AddQueries(*log, 5);
    log->SignCheckpoint();
    InProcessAuditClient client(ServiceOver(log), kOfficer);
    TempDir tmp;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    trust.state_path = tmp.File("checkpoint");
    REQUIRE(VerifyLog(client, trust).ok());  // stores the checkpoint of size 10
    const std::string kept = ReadBytes(trust.state_path);
    AddQueries(*log, 3, "r");
    log->SignCheckpoint();

    SUBCASE("negative control: the untouched log verifies") {
      auto report = VerifyLog(client, trust);
      REQUIRE_MESSAGE(report.ok(), report.status().message());
      CHECK(Contains(*report, "entries 0..16 verified"));
    }
    SUBCASE("callers rewritten in entries 4..6, below the stored checkpoint, hashes kept") {
      RewriteCallers(*log, 4, 7, kAnalyst9);
      auto report = VerifyLog(client, trust);
      REQUIRE_FALSE(report.ok());
      CHECK(report.status().code() == absl::StatusCode::kDataLoss);
      CHECK_MESSAGE(Contains(report.status().message(), "entry 4: its bytes are not the ones"),
                    report.status().message());
      CHECK_FALSE(Contains(report.status().message(), "analyst9"));
      CHECK(ReadBytes(trust.state_path) == kept);  // nothing stored
    }
    SUBCASE("one entry after the stored checkpoint rewritten") {
      RewriteCallers(*log, 13, 14, kAnalyst9);
      auto report = VerifyLog(client, trust);
      REQUIRE_FALSE(report.ok());
      CHECK_MESSAGE(Contains(report.status().message(), "entry 13:"), report.status().message());
    }
  }

  TEST_CASE("audit log refuses to list entries whose bytes do not match, naming the first") {
    auto log = std::make_shared<FakeAuditLog>();
    AddQueries(*log, 6);
    log->SignCheckpoint();
    InProcessAuditClient client(ServiceOver(log), kOfficer);
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    RewriteCallers(*log, 4, 8, kAnalyst9);  // q-2 and q-3
    AuditFilter filter;
    filter.caller = kAnalyst9;
    // The probe is real: the enclave's filter does select the rewritten entries ...
    auto page = client.ListEntries(0, 0, filter, 100, 0);
    REQUIRE(page.ok());
    CHECK(page->entries.size() == 4);
    // ... but enclavectl shows none of them.
    auto listed = ListLog(client, filter, false, trust);
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.status().code() == absl::StatusCode::kDataLoss);
    CHECK_MESSAGE(Contains(listed.status().message(), "entry 4: its bytes are not the ones under "
                                                      "the signed checkpoint of size 12"),
                  listed.status().message());
    CHECK(ListLog(client, filter, true, trust).status().code() == absl::StatusCode::kDataLoss);
    CHECK(ListLog(client, {}, false, trust).status().code() == absl::StatusCode::kDataLoss);
    // Negative control: entries that were not touched still list, proven.
    AuditFilter untouched;
    untouched.caller = "spiffe://lv/researcher-1";  // q-1 (2, 3) and q-4 (8, 9)
    auto ok = ListLog(client, untouched, false, trust);
    REQUIRE_MESSAGE(ok.ok(), ok.status().message());
    CHECK(Contains(*ok, "4 entries; 4 re-hashed and proven included"));
    // Without a log key nothing is listed.
    CHECK(ListLog(client, untouched, false, AuditTrust{}).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("entries not yet covered by a signed checkpoint are marked, and proven once covered") {
    auto log = std::make_shared<FakeAuditLog>();
    AddQueries(*log, 2);
    log->SignCheckpoint();
    AddQueries(*log, 1, "late");
    InProcessAuditClient client(ServiceOver(log), kOfficer);
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    auto listed = ListLog(client, {}, false, trust);
    REQUIRE_MESSAGE(listed.ok(), listed.status().message());
    CHECK(Contains(*listed, "6 entries; 4 re-hashed and proven included in the checkpoint of size 4"));
    CHECK(Contains(*listed, "2 not yet covered by a signed checkpoint"));
    auto json = ListLog(client, {}, true, trust);
    REQUIRE(json.ok());
    CHECK(Contains(*json, "\"checkpointed\":false"));
    log->SignCheckpoint();
    auto later = ListLog(client, {}, false, trust);
    REQUIRE(later.ok());
    CHECK_FALSE(Contains(*later, "NOT YET CHECKPOINTED"));

    // An enclave that withholds the proofs of entries the officer's stored checkpoint covers.
    TempDir tmp;
    trust.state_path = tmp.File("checkpoint");
    REQUIRE(VerifyLog(client, trust).ok());
    TamperingClient stripping(client);
    stripping.mode = 2;
    auto stripped = ListLog(stripping, {}, false, trust);
    REQUIRE_FALSE(stripped.ok());
    CHECK(Contains(stripped.status().message(), "covered by your stored checkpoint"));
    // A log that does not extend the stored checkpoint (another history) is refused too.
    auto forked = std::make_shared<FakeAuditLog>();
    AddQueries(*forked, 4, "other");
    forked->SignCheckpoint();
    InProcessAuditClient other(ServiceOver(forked), kOfficer);
    auto refused = ListLog(other, {}, false, trust);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == absl::StatusCode::kDataLoss);
  }

  TEST_CASE("audit export verifies before it writes, and an altered entry leaves no file and is named") {
    auto log = std::make_shared<FakeAuditLog>();
    AddQueries(*log, 10);
    log->SignCheckpoint();
    InProcessAuditClient client(ServiceOver(log), kOfficer);
    TempDir tmp;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    const fs::path out = tmp.File("log.bundle");

    CHECK(ExportLog(client, out.string(), AuditTrust{}).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(fs::exists(out));

    auto good = ExportLog(client, out.string(), trust);
    REQUIRE_MESSAGE(good.ok(), good.status().message());
    CHECK(Contains(*good, "entries 0..20 verified"));
    CHECK(Contains(*good, "every entry re-hashed and proven under the checkpoint of size 20"));
    CHECK(VerifyBundleOffline(out.string(), trust).ok());
    fs::remove(out);

    RewriteCallers(*log, 7, 8, kAnalyst9);
    auto bad = ExportLog(client, out.string(), trust);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == absl::StatusCode::kDataLoss);
    CHECK_MESSAGE(Contains(bad.status().message(), "entry 7: its bytes are not the ones"),
                  bad.status().message());
    CHECK_FALSE(fs::exists(out));
    int files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++files;
    CHECK(files == 0);  // no temporary file left behind either
  }
}

namespace {

// The templates side of the officer view: DescribeLayout from a fixed layout per template, and
// a count of the calls (the layout is asked once per template and parameters).
class FakeTemplates final : public EnclaveClient {
 public:
  absl::StatusOr<std::vector<TemplateSummary>> ListTemplates() override { return std::vector<TemplateSummary>{}; }
  absl::StatusOr<TemplateInfo> DescribeTemplate(const std::string&) override {
    return absl::UnimplementedError("not needed");
  }
  absl::StatusOr<QueryResult> RunQuery(const std::string&,
                                       const std::vector<std::pair<std::string, std::string>>&) override {
    return absl::UnimplementedError("not needed");
  }
  absl::StatusOr<ReleaseLayout> DescribeLayout(
      const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& parameters) override {
    ++calls;
    if (template_id != "zzp_aantal_per_wijk") return absl::NotFoundError("unknown template");
    ReleaseLayout l;
    l.template_id = template_id;
    l.template_version = version;
    l.template_sha256 = sha256_hex;
    l.parameters = parameters;
    Dimension geo;
    geo.name = "wijk";
    geo.label = {"Wijk", "District"};
    geo.codes = {Code{"W03", {"Wijk 03", "District 03"}, false},
                 Code{"W04", {"Wijk 04", "District 04"}, false},
                 Code{"total", {"Totaal", "Total"}, true}};
    Dimension sex;
    sex.name = "geslacht";
    sex.label = {"Geslacht", "Sex"};
    sex.codes = {Code{"M", {"Man", "Male"}, false}, Code{"V", {"Vrouw", "Female"}, false},
                 Code{"total", {"Totaal", "Total"}, true}};
    l.dimensions = {geo, sex};
    l.statistics = {StatisticInfo{"aandeel", {"Aandeel", "Share"}, "share", 1}};
    return l;
  }
  int calls = 0;
  std::uint32_t version = 3;
  std::string sha256_hex = std::string(64, 'a');
};

void AddRelease(FakeAuditLog& log, const std::string& request_id, const std::string& params,
                const std::string& cell_rules, const std::string& project = "p1") {
  core::QueryLogEntry accepted;
  accepted.type = core::QueryLogEntry::Type::kAccepted;
  accepted.request_id = request_id;
  accepted.caller = kAnalyst;
  accepted.role = "municipal_analyst";
  accepted.project = project;
  accepted.rpc = "RunQuery";
  accepted.template_id = "zzp_aantal_per_wijk";
  accepted.template_version = 3;
  accepted.canonical_params = params;
  accepted.decision = "allowed";
  REQUIRE(log.Append(accepted).ok());
  audit::LogLeaf result;
  result.type = audit::EntryType::kQueryResult;
  result.request_id = request_id;
  result.caller = kAnalyst;
  result.role = "municipal_analyst";
  result.project = project;
  result.rpc = "RunQuery";
  result.template_id = "zzp_aantal_per_wijk";
  result.template_version = 3;
  result.template_sha256 = std::string(32, '\xaa');
  result.canonical_params = params;
  result.decision = "allowed";
  result.cell_rules = cell_rules;
  log.AppendLeaf(result);
}

constexpr char kRules9[] =
    "rules{cbs-default@3 T=10} record_key{rk-1} counts{round-5@1} cells{released,released,"
    "released,secondary[units/flags=1/lp-audit],share-denominator[share(100/10)],released,"
    "released,released,released}";

}  // namespace

TEST_SUITE("enclavectl serve: the officer's entries (AuditEntriesJson)") {
  TEST_CASE("verified entries, newest first, at most limit, parameters split, cells decoded") {
    auto log = std::make_shared<FakeAuditLog>();
    AddRelease(*log, "q-1", "geo=wijk&year=2023", kRules9);
    AddRelease(*log, "q-2", "geo=wijkcluster&year=2023", kRules9, "p2");
    AddRelease(*log, "q-3", "geo=wijk&year=2022", kRules9);
    log->SignCheckpoint();
    InProcessAuditClient audit(ServiceOver(log), kOfficer);
    FakeTemplates templates;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();

    auto all = AuditEntriesJson(audit, templates, {}, 1000, trust);
    REQUIRE_MESSAGE(all.ok(), all.status().message());
    CHECK(Contains(*all, "\"verification\":{\"ok\":true,\"message\":\"6 matching entries; 6 "
                         "re-hashed and proven included in the checkpoint of size 6"));
    CHECK(Contains(*all, "\"log_size\":6"));
    CHECK(Contains(*all, "\"checkpoint\":{\"origin\":"));
    CHECK(Contains(*all, "\"tree_size\":6"));
    // Newest first.
    CHECK(all->find("\"sequence\":5") < all->find("\"sequence\":4"));
    CHECK(all->find("\"sequence\":1") < all->find("\"sequence\":0"));
    CHECK(Contains(*all, "\"parameters\":[{\"name\":\"geo\",\"value\":\"wijk\"},{\"name\":\"year\","
                         "\"value\":\"2022\"}]"));
    CHECK(Contains(*all, "\"rules_header\":\"rules{cbs-default@3 T=10} record_key{rk-1} "
                         "counts{round-5@1}\""));
    CHECK(Contains(*all, "{\"labels\":{\"nl\":[\"Wijk 04\",\"Vrouw\"],\"en\":[\"District 04\","
                         "\"Female\"]},\"codes\":[\"W04\",\"V\"],\"statistic\":{\"name\":"
                         "\"aandeel\",\"label\":{\"nl\":\"Aandeel\",\"en\":\"Share\"}},\"rule\":"
                         "\"share-denominator\",\"detail\":\"share(100/10)\",\"explanation\":{"
                         "\"nl\":\"geheim, noemer van het aandeel onder 100\",\"en\":\"withheld, "
                         "share denominator below 100\"},\"withheld\":true"));
    // One layout request per template and parameters (three different parameter sets).
    CHECK(templates.calls == 3);

    auto limited = AuditEntriesJson(audit, templates, {}, 2, trust);
    REQUIRE(limited.ok());
    CHECK(Contains(*limited, "(the newest 2 shown)"));
    CHECK(Contains(*limited, "\"sequence\":5"));
    CHECK(Contains(*limited, "\"sequence\":4"));
    CHECK_FALSE(Contains(*limited, "\"sequence\":3"));

    // The filters reach the enclave: a wijk, a project.
    AuditFilter filter;
    filter.parameters = {{"geo", "wijk"}};
    filter.entry_type = "query-result";
    auto wijk = AuditEntriesJson(audit, templates, filter, 1000, trust);
    REQUIRE(wijk.ok());
    CHECK(Contains(*wijk, "\"request_id\":\"q-1\""));
    CHECK(Contains(*wijk, "\"request_id\":\"q-3\""));
    CHECK_FALSE(Contains(*wijk, "\"request_id\":\"q-2\""));
    filter.parameters.clear();
    filter.project = "p2";
    auto p2 = AuditEntriesJson(audit, templates, filter, 1000, trust);
    REQUIRE(p2.ok());
    CHECK(Contains(*p2, "\"request_id\":\"q-2\""));
    CHECK_FALSE(Contains(*p2, "\"request_id\":\"q-1\""));
  }

  TEST_CASE("audit log: a PARAMETERS column, and with --cells the withheld cells decoded") {
    auto log = std::make_shared<FakeAuditLog>();
    AddRelease(*log, "q-1", "geo=wijk&year=2023", kRules9);
    log->SignCheckpoint();
    InProcessAuditClient audit(ServiceOver(log), kOfficer);
    FakeTemplates templates;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    ListOptions options;
    auto plain = ListLog(audit, {}, options, trust);
    REQUIRE_MESSAGE(plain.ok(), plain.status().message());
    CHECK(Contains(*plain, "PARAMETERS"));
    CHECK(Contains(*plain, "geo=wijk year=2023"));
    CHECK_FALSE(Contains(*plain, "withheld"));
    CHECK(templates.calls == 0);  // no layouts without --cells

    options.cells = true;
    options.templates = &templates;
    auto cells = ListLog(audit, {}, options, trust);
    REQUIRE_MESSAGE(cells.ok(), cells.status().message());
    CHECK(Contains(*cells, "\n    District 04 × Female: withheld, share denominator below 100\n"));
    CHECK(Contains(*cells, "\n    District 04 × Male: withheld, secondary suppression"));
    CHECK(Contains(*cells, "    2 of 9 cells withheld; rules{cbs-default@3 T=10}"));
    CHECK_FALSE(Contains(*cells, "District 03 × Male:"));  // released cells are not listed
    // The lines come right under the result's row, not under the accepted entry.
    CHECK(cells->find("query-result") < cells->find("District 04 × Female"));
    options.dutch = true;
    auto nl = ListLog(audit, {}, options, trust);
    REQUIRE(nl.ok());
    CHECK(Contains(*nl, "    Wijk 04 × Vrouw: geheim, noemer van het aandeel onder 100\n"));
    options.json = true;
    auto json = ListLog(audit, {}, options, trust);
    REQUIRE(json.ok());
    CHECK(Contains(*json, "\"cells\":[{\"labels\""));
    CHECK(Contains(*json, "\"parameters\":[{\"name\":\"geo\",\"value\":\"wijk\"}"));
  }

  TEST_CASE("a changed template or a mismatched layout gives cells_error, never a misaligned decode") {
    auto log = std::make_shared<FakeAuditLog>();
    AddRelease(*log, "q-1", "geo=wijk&year=2023", kRules9);
    AddRelease(*log, "q-2", "geo=wijk&year=2024",
               "rules{x} record_key{k} counts{none} cells{released,released}");
    log->SignCheckpoint();
    InProcessAuditClient audit(ServiceOver(log), kOfficer);
    FakeTemplates templates;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    auto out = AuditEntriesJson(audit, templates, {}, 1000, trust);
    REQUIRE(out.ok());
    CHECK(Contains(*out, "\"cells_error\":\"the entry has 2 cell rules but the layout of "
                         "zzp_aantal_per_wijk@3 for its parameters has 9 cells"));
    CHECK(Contains(*out, "\"cells\":["));  // q-1 decodes (negative control)

    templates.version = 4;
    templates.sha256_hex = std::string(64, 'b');
    out = AuditEntriesJson(audit, templates, {}, 1000, trust);
    REQUIRE(out.ok());
    CHECK(Contains(*out, "\"cells_error\":\"this entry was released by zzp_aantal_per_wijk "
                         "version 3 (template_sha256 aaaaaaaaaaaa…), but the enclave's current "
                         "version is 4 (template_sha256 bbbbbbbbbbbb…): its layout may differ"));
    CHECK_FALSE(Contains(*out, "\"cells\":["));
  }

  TEST_CASE("verification failure: ok false and no entries, a refused call is an error") {
    auto log = std::make_shared<FakeAuditLog>();
    AddRelease(*log, "q-1", "geo=wijk&year=2023", kRules9);
    AddRelease(*log, "q-2", "geo=wijk&year=2024", kRules9);
    log->SignCheckpoint();
    InProcessAuditClient audit(ServiceOver(log), kOfficer);
    FakeTemplates templates;
    AuditTrust trust;
    trust.log_key = log->VerifierKey();
    // Negative control.
    auto good = AuditEntriesJson(audit, templates, {}, 1000, trust);
    REQUIRE(good.ok());
    CHECK(Contains(*good, "\"ok\":true"));
    // An insider rewrites entry 2's bytes (the tree stays): nothing is shown.
    RewriteCallers(*log, 2, 3, "spiffe://lv/someone-else");
    auto bad = AuditEntriesJson(audit, templates, {}, 1000, trust);
    REQUIRE_MESSAGE(bad.ok(), bad.status().message());
    CHECK(Contains(*bad, "\"entries\":[]"));
    CHECK(Contains(*bad, "\"verification\":{\"ok\":false,\"message\":\"nothing is shown: entry 2"));
    CHECK_FALSE(Contains(*bad, "q-1"));
    // No log key: nothing can be verified, so nothing is shown.
    auto no_key = AuditEntriesJson(audit, templates, {}, 1000, AuditTrust{});
    REQUIRE(no_key.ok());
    CHECK(Contains(*no_key, "\"ok\":false"));
    CHECK(Contains(*no_key, "no log key"));
    // A caller the enclave refuses gets the refusal as an error (not an empty list).
    InProcessAuditClient analyst(ServiceOver(log), kAnalyst);
    CHECK(AuditEntriesJson(analyst, templates, {}, 1000, trust).status().code() ==
          absl::StatusCode::kPermissionDenied);
  }
}

}  // namespace enclave::client::cli
