// AuditService: the authorisation matrix (every role x every method), refusals in the log,
// researchers' receipts of their own requests only, filters, paging, proofs and export.
#include "enclave/core/audit_service.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "enclave/audit/bundle.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "tests/testing/fake_audit_log.h"

namespace enclave::core {
namespace {

using policy::Role;
using testing::FakeAuditLog;

constexpr char kOfficer[] = "spiffe://lv/officer";
constexpr char kResearcher[] = "spiffe://lv/researcher-a";
constexpr char kOtherResearcher[] = "spiffe://lv/researcher-b";
constexpr char kAnalyst[] = "spiffe://lv/analyst";
constexpr char kSteward[] = "spiffe://lv/steward";
constexpr char kOperator[] = "spiffe://lv/operator";
constexpr char kStranger[] = "spiffe://lv/not-registered";

std::shared_ptr<const policy::PrincipalDirectory> Principals() {
  std::vector<policy::Principal> list = {
      {kOfficer, "Officer", "LV", Role::kPrivacyOfficer, {}, {}},
      {kResearcher, "Researcher A", "UU", Role::kResearcher, {"p1"}, {}},
      {kOtherResearcher, "Researcher B", "UU", Role::kResearcher, {"p1"}, {}},
      {kAnalyst, "Analyst", "LV", Role::kMunicipalAnalyst, {}, {}},
      {kSteward, "Steward", "CBS", Role::kDataSteward, {}, {}},
      {kOperator, "Operator", "LV", Role::kOperator, {}, {}},
  };
  auto directory = policy::PrincipalDirectory::Create(std::move(list));
  REQUIRE(directory.ok());
  return std::make_shared<const policy::PrincipalDirectory>(*std::move(directory));
}

// A query's accepted and result entries, the result with officer-only per-cell rule ids.
void AddQuery(FakeAuditLog& log, const std::string& caller, const std::string& request_id,
              const std::string& template_id = "income_by_wijk") {
  QueryLogEntry e;
  e.type = QueryLogEntry::Type::kAccepted;
  e.request_id = request_id;
  e.caller = caller;
  e.role = "researcher";
  e.rpc = "RunQuery";
  e.template_id = template_id;
  e.canonical_params = "year=2023";
  e.decision = "allowed";
  REQUIRE(log.Append(e).ok());
  e.type = QueryLogEntry::Type::kResult;
  e.cell_rules = "released,threshold,released";
  REQUIRE(log.Append(e).ok());
}

struct Fixture {
  std::shared_ptr<FakeAuditLog> log = std::make_shared<FakeAuditLog>();
  AuditService service;
  explicit Fixture(AuditServiceOptions options = {})
      : service(Principals(), log, log, options) {
    AddQuery(*log, kResearcher, "q-a-1");
    AddQuery(*log, kOtherResearcher, "q-b-1", "zzp_per_wijk");
    AddQuery(*log, kAnalyst, "q-n-1");
    log->SignCheckpoint();
  }
};

// Calls `method` as `caller` with arguments that an officer would be served.
absl::Status Call(AuditService& service, AuditMethod method, const std::string& caller,
                  const std::string& receipt_id = "q-a-1") {
  switch (method) {
    case AuditMethod::kGetCheckpoint:
      return service.GetCheckpoint(caller).status();
    case AuditMethod::kListEntries:
      return service.ListEntries(caller, 0, 0, {}, 0).status();
    case AuditMethod::kGetInclusionProof:
      return service.GetInclusionProof(caller, LeafSelector{1, ""}, 0).status();
    case AuditMethod::kGetConsistencyProof:
      return service.GetConsistencyProof(caller, 2, 0).status();
    case AuditMethod::kExportBundle:
      return service.ExportBundle(caller, 0, [](std::string_view) { return absl::OkStatus(); });
    case AuditMethod::kGetReceipt:
      return service.GetReceipt(caller, receipt_id).status();
  }
  return absl::InternalError("unreachable");
}

TEST_SUITE("AuditService") {
  TEST_CASE("every role and method is allowed or refused exactly as the policy says") {
    // The policy, written out independently of AuditPermitted: officers everything, researchers
    // only their own receipts, everyone else nothing.
    const std::map<std::string, std::vector<AuditMethod>> allowed = {
        {kOfficer, {AuditMethod::kGetCheckpoint, AuditMethod::kListEntries,
                    AuditMethod::kGetInclusionProof, AuditMethod::kGetConsistencyProof,
                    AuditMethod::kExportBundle, AuditMethod::kGetReceipt}},
        {kResearcher, {AuditMethod::kGetReceipt}},
        {kAnalyst, {}},
        {kSteward, {}},
        {kOperator, {}},
        {kStranger, {}},
    };
    for (const auto& [caller, methods] : allowed) {
      for (AuditMethod method : kAllAuditMethods) {
        Fixture f;
        const bool expect_allowed =
            std::find(methods.begin(), methods.end(), method) != methods.end();
        CAPTURE(caller);
        CAPTURE(AuditMethodName(method));
        const std::size_t refusals_before = f.log->Refusals().size();
        const absl::Status status = Call(f.service, method, caller);
        if (expect_allowed) {
          CHECK(status.ok());
          CHECK(f.log->Refusals().size() == refusals_before);
        } else {
          CHECK(status.code() == absl::StatusCode::kPermissionDenied);
          const auto refusals = f.log->Refusals();
          REQUIRE(refusals.size() == refusals_before + 1);
          CHECK(refusals.back().caller == caller);
          CHECK(refusals.back().rpc == std::string("AuditService/") + AuditMethodName(method));
          CHECK(refusals.back().decision == "PERMISSION_DENIED");
        }
      }
    }
  }

  TEST_CASE("AuditPermitted matches the written policy for every role") {
    for (Role role : {Role::kMunicipalAnalyst, Role::kResearcher, Role::kPrivacyOfficer,
                      Role::kDataSteward, Role::kOperator}) {
      for (AuditMethod method : kAllAuditMethods) {
        const bool expected = role == Role::kPrivacyOfficer ||
                              (role == Role::kResearcher && method == AuditMethod::kGetReceipt);
        CHECK(AuditPermitted(role, method) == expected);
      }
    }
  }

  TEST_CASE("a researcher gets receipts of their own requests only") {
    Fixture f;
    SUBCASE("own request: leaves with proofs that verify against the signed checkpoint") {
      absl::StatusOr<Receipt> receipt = f.service.GetReceipt(kResearcher, "q-a-1");
      REQUIRE(receipt.ok());
      REQUIRE(receipt->leaves.size() == 2);
      auto verifier = audit::NoteVerifier::FromVerifierKey(f.log->VerifierKey());
      REQUIRE(verifier.ok());
      auto checkpoint =
          audit::OpenCheckpoint(receipt->checkpoint.note, *verifier, testing::kFakeLogOrigin);
      REQUIRE(checkpoint.ok());
      for (const LeafProof& p : receipt->leaves) {
        CHECK(audit::VerifyInclusion(p.sequence, checkpoint->size, p.leaf_hash, p.path,
                                     checkpoint->root)
                  .ok());
      }
      // The accepted entry is sent whole; the result holds per-cell rule ids: hash only.
      CHECK_FALSE(receipt->leaves[0].redacted);
      CHECK(audit::HashLeaf(receipt->leaves[0].leaf) == receipt->leaves[0].leaf_hash);
      CHECK(receipt->leaves[1].redacted);
      CHECK(receipt->leaves[1].leaf.empty());
      CHECK(f.log->Refusals().empty());
    }
    SUBCASE("another researcher's request and an unknown id get the same refusal, logged") {
      absl::StatusOr<Receipt> other = f.service.GetReceipt(kResearcher, "q-b-1");
      absl::StatusOr<Receipt> unknown = f.service.GetReceipt(kResearcher, "q-none");
      CHECK(other.status().code() == absl::StatusCode::kPermissionDenied);
      CHECK(unknown.status().code() == absl::StatusCode::kPermissionDenied);
      CHECK(other.status().message() != unknown.status().message());  // echo the id only
      const auto refusals = f.log->Refusals();
      REQUIRE(refusals.size() == 2);
      CHECK(refusals[0].caller == kResearcher);
      CHECK(refusals[0].rpc == "AuditService/GetReceipt");
    }
    SUBCASE("an officer gets any receipt, unredacted; kNotFound for an unknown id") {
      absl::StatusOr<Receipt> receipt = f.service.GetReceipt(kOfficer, "q-b-1");
      REQUIRE(receipt.ok());
      REQUIRE(receipt->leaves.size() == 2);
      CHECK_FALSE(receipt->leaves[1].redacted);
      auto leaf = audit::DecodeLeaf(receipt->leaves[1].leaf);
      REQUIRE(leaf.ok());
      CHECK(leaf->cell_rules == "released,threshold,released");
      CHECK(f.service.GetReceipt(kOfficer, "q-none").status().code() ==
            absl::StatusCode::kNotFound);
    }
    SUBCASE("entries not yet under a signed checkpoint: kUnavailable, retry later") {
      AddQuery(*f.log, kResearcher, "q-a-2");
      CHECK(f.service.GetReceipt(kResearcher, "q-a-2").status().code() ==
            absl::StatusCode::kUnavailable);
      f.log->SignCheckpoint();
      CHECK(f.service.GetReceipt(kResearcher, "q-a-2").ok());
    }
  }

  TEST_CASE("request fields grant nothing: filters naming yourself do not open other methods") {
    Fixture f;
    AuditFilter own;
    own.caller = kResearcher;
    CHECK(f.service.ListEntries(kResearcher, 0, 0, own, 0).status().code() ==
          absl::StatusCode::kPermissionDenied);
    CHECK(f.service.GetInclusionProof(kResearcher, LeafSelector{std::nullopt, "q-a-1"}, 0)
              .status()
              .code() == absl::StatusCode::kPermissionDenied);
    // An analyst's own request does not make an analyst a receipt holder.
    CHECK(f.service.GetReceipt(kAnalyst, "q-n-1").status().code() ==
          absl::StatusCode::kPermissionDenied);
    // A caller string that merely names the officer is a different (unknown) principal.
    CHECK(f.service.GetCheckpoint(std::string(kOfficer) + "/").status().code() ==
          absl::StatusCode::kPermissionDenied);
    CHECK(f.log->Refusals().size() == 4);
  }

  TEST_CASE("a refusal that cannot be logged is not served: kUnavailable") {
    Fixture f;
    f.log->FailAppends(true);
    CHECK(f.service.GetCheckpoint(kAnalyst).status().code() == absl::StatusCode::kUnavailable);
    CHECK(f.service.GetReceipt(kResearcher, "q-b-1").status().code() ==
          absl::StatusCode::kUnavailable);
  }

  TEST_CASE("storage failures are kUnavailable and are not logged as refusals") {
    Fixture f;
    f.log->FailReads(true);
    CHECK(f.service.GetCheckpoint(kOfficer).status().code() == absl::StatusCode::kUnavailable);
    CHECK(f.service.ListEntries(kOfficer, 0, 0, {}, 0).status().code() ==
          absl::StatusCode::kUnavailable);
    f.log->FailReads(false);
    CHECK(f.log->Refusals().empty());
  }

  TEST_CASE("GetCheckpoint returns the signed checkpoint and the log size") {
    Fixture f;
    AddQuery(*f.log, kResearcher, "q-a-9");
    absl::StatusOr<CheckpointInfo> info = f.service.GetCheckpoint(kOfficer);
    REQUIRE(info.ok());
    CHECK(info->checkpoint.size == 6);
    CHECK(info->log_size == 8);
    auto verifier = audit::NoteVerifier::FromVerifierKey(f.log->VerifierKey());
    REQUIRE(verifier.ok());
    auto opened = audit::OpenCheckpoint(info->checkpoint.note, *verifier, testing::kFakeLogOrigin);
    REQUIRE(opened.ok());
    CHECK(opened->root == info->checkpoint.root);
  }

  TEST_CASE("ListEntries filters and pages") {
    Fixture f;
    SUBCASE("by caller") {
      AuditFilter filter;
      filter.caller = kOtherResearcher;
      auto page = f.service.ListEntries(kOfficer, 0, 0, filter, 0);
      REQUIRE(page.ok());
      REQUIRE(page->entries.size() == 2);
      CHECK(page->entries[0].sequence == 2);
      CHECK(page->entries[1].sequence == 3);
      CHECK(page->next_start == 0);
    }
    SUBCASE("by template and type") {
      AuditFilter filter;
      filter.template_id = "income_by_wijk";
      filter.entry_type = "query-result";
      auto page = f.service.ListEntries(kOfficer, 0, 0, filter, 0);
      REQUIRE(page.ok());
      REQUIRE(page->entries.size() == 2);
      CHECK(page->entries[0].sequence == 1);
      CHECK(page->entries[1].sequence == 5);
    }
    SUBCASE("by time and decision") {
      const auto leaves = f.log->DecodedLeaves();
      AuditFilter filter;
      filter.from_unix_ms = leaves[2].time_unix_ms;
      filter.to_unix_ms = leaves[4].time_unix_ms;
      filter.decision = "allowed";
      auto page = f.service.ListEntries(kOfficer, 0, 0, filter, 0);
      REQUIRE(page.ok());
      REQUIRE(page->entries.size() == 2);
      CHECK(page->entries[0].sequence == 2);
      filter.decision = "PERMISSION_DENIED";
      page = f.service.ListEntries(kOfficer, 0, 0, filter, 0);
      REQUIRE(page.ok());
      CHECK(page->entries.empty());
    }
    SUBCASE("pages of two cover every entry once") {
      std::vector<std::uint64_t> seen;
      std::uint64_t start = 0;
      int pages = 0;
      do {
        auto page = f.service.ListEntries(kOfficer, start, 0, {}, 2);
        REQUIRE(page.ok());
        for (const AuditEntry& e : page->entries) seen.push_back(e.sequence);
        start = page->next_start;
        ++pages;
      } while (start != 0 && pages < 10);
      CHECK(seen == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5});
    }
    SUBCASE("bad filters and ranges are refused and logged") {
      AuditFilter filter;
      filter.entry_type = "query-everything";
      CHECK(f.service.ListEntries(kOfficer, 0, 0, filter, 0).status().code() ==
            absl::StatusCode::kInvalidArgument);
      CHECK(f.service.ListEntries(kOfficer, 0, 99, {}, 0).status().code() ==
            absl::StatusCode::kInvalidArgument);
      CHECK(f.log->Refusals().size() == 2);
    }
  }

  TEST_CASE("inclusion proofs by sequence and by request id verify") {
    Fixture f;
    AddQuery(*f.log, kResearcher, "q-a-2");  // beyond the checkpoint
    auto by_seq = f.service.GetInclusionProof(kOfficer, LeafSelector{3, ""}, 0);
    REQUIRE(by_seq.ok());
    REQUIRE(by_seq->proofs.size() == 1);
    const LeafProof& p = by_seq->proofs[0];
    CHECK(audit::VerifyInclusion(3, 6, p.leaf_hash, p.path, by_seq->checkpoint.root).ok());
    CHECK(audit::HashLeaf(p.leaf) == p.leaf_hash);

    auto by_id = f.service.GetInclusionProof(kOfficer, LeafSelector{std::nullopt, "q-b-1"}, 4);
    REQUIRE(by_id.ok());
    REQUIRE(by_id->proofs.size() == 2);
    CHECK(by_id->tree_size == 4);

    CHECK(f.service.GetInclusionProof(kOfficer, LeafSelector{6, ""}, 0).status().code() ==
          absl::StatusCode::kOutOfRange);
    CHECK(f.service.GetInclusionProof(kOfficer, LeafSelector{0, ""}, 7).status().code() ==
          absl::StatusCode::kOutOfRange);
    CHECK(f.service.GetInclusionProof(kOfficer, LeafSelector{std::nullopt, "q-a-2"}, 0)
              .status()
              .code() == absl::StatusCode::kNotFound);
  }

  TEST_CASE("ListEntries with proofs: each entry under the checkpoint carries a path that verifies") {
    Fixture f;
    AddQuery(*f.log, kResearcher, "q-a-2");  // entries 6 and 7, beyond the checkpoint of size 6
    auto page = f.service.ListEntries(kOfficer, 0, 0, {}, 0, /*with_proofs=*/true);
    REQUIRE(page.ok());
    REQUIRE(page->checkpoint.has_value());
    CHECK(page->checkpoint->size == 6);
    REQUIRE(page->entries.size() == 8);
    for (const AuditEntry& e : page->entries) {
      CAPTURE(e.sequence);
      if (e.sequence < 6) {
        CHECK(audit::VerifyInclusion(e.sequence, 6, audit::HashLeaf(e.leaf), e.inclusion_path,
                                     page->checkpoint->root)
                  .ok());
      } else {
        CHECK(e.inclusion_path.empty());
      }
    }
    // Without with_proofs: neither checkpoint nor paths (the wire stays as before).
    auto plain = f.service.ListEntries(kOfficer, 0, 0, {}, 0);
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->checkpoint.has_value());
    CHECK(plain->entries[0].inclusion_path.empty());
    // No checkpoint signed yet: entries come without proofs, not as an error.
    auto log = std::make_shared<FakeAuditLog>();
    AddQuery(*log, kResearcher, "q-x");
    AuditService fresh(Principals(), log, log, {});
    auto unsigned_page = fresh.ListEntries(kOfficer, 0, 0, {}, 0, true);
    REQUIRE(unsigned_page.ok());
    CHECK_FALSE(unsigned_page->checkpoint.has_value());
    CHECK(unsigned_page->entries.size() == 2);
  }

  TEST_CASE("consistency proofs verify between signed sizes") {
    Fixture f;
    auto first = f.service.GetCheckpoint(kOfficer);
    REQUIRE(first.ok());
    AddQuery(*f.log, kResearcher, "q-a-2");
    f.log->SignCheckpoint();
    auto second = f.service.GetCheckpoint(kOfficer);
    REQUIRE(second.ok());
    auto proof = f.service.GetConsistencyProof(kOfficer, first->checkpoint.size, 0);
    REQUIRE(proof.ok());
    CHECK(proof->new_size == 8);
    CHECK(audit::VerifyConsistency(6, 8, proof->proof, first->checkpoint.root,
                                   second->checkpoint.root)
              .ok());
    CHECK(f.service.GetConsistencyProof(kOfficer, 9, 0).status().code() ==
          absl::StatusCode::kOutOfRange);
    CHECK(f.service.GetConsistencyProof(kOfficer, 2, 9).status().code() ==
          absl::StatusCode::kOutOfRange);
  }

  TEST_CASE("the streamed export equals audit::EncodeBundle, full and incremental") {
    AuditServiceOptions options;
    options.chunk_bytes = 100;  // many chunks
    options.scan_batch = 3;
    Fixture f(options);
    const std::vector<std::string> leaves = f.log->RawLeavesForTest();
    auto checkpoint = f.log->LatestCheckpoint();
    REQUIRE(checkpoint.ok());
    for (std::uint64_t from : std::vector<std::uint64_t>{0, 1, 3, 6}) {
      CAPTURE(from);
      std::string streamed;
      int chunks = 0;
      REQUIRE(f.service
                  .ExportBundle(kOfficer, from,
                                [&](std::string_view c) {
                                  streamed.append(c);
                                  ++chunks;
                                  return absl::OkStatus();
                                })
                  .ok());
      auto prefix = f.log->CompactRange(from);
      REQUIRE(prefix.ok());
      std::vector<std::string> tail(leaves.begin() + static_cast<std::ptrdiff_t>(from),
                                    leaves.end());
      auto expected = audit::EncodeBundle(checkpoint->note, from, *prefix, tail);
      REQUIRE(expected.ok());
      CHECK(streamed == *expected);
      if (from == 0) CHECK(chunks > 1);
    }
    CHECK(f.service.ExportBundle(kOfficer, 7, [](std::string_view) { return absl::OkStatus(); })
              .code() == absl::StatusCode::kOutOfRange);
    // A failing sink stops the export with its status.
    CHECK(f.service
              .ExportBundle(kOfficer, 0,
                            [](std::string_view) { return absl::CancelledError("gone"); })
              .code() == absl::StatusCode::kCancelled);
  }

  TEST_CASE("ListEntries filters by project and by exact parameter pairs (issue 12)") {
    auto log = std::make_shared<FakeAuditLog>();
    AuditService service(Principals(), log, log, {});
    const auto add = [&](const std::string& project, const std::string& params) {
      QueryLogEntry e;
      e.type = QueryLogEntry::Type::kResult;
      e.request_id = "q-" + std::to_string(log->DecodedLeaves().size());
      e.caller = kAnalyst;
      e.role = "municipal_analyst";
      e.rpc = "RunQuery";
      e.template_id = "zzp_aantal_per_wijk";
      e.project = project;
      e.canonical_params = params;
      e.decision = "allowed";
      REQUIRE(log->Append(e).ok());
    };
    add("p1", "year=2023&geo=wijk");          // 0
    add("p1", "year=2023&geo=wijkcluster");   // 1
    add("p2", "year=2022&geo=wijk");          // 2
    add("p2", "year=2023&geo=wijk&x=wijk");   // 3
    add("", "");                              // 4
    const auto sequences = [&](const AuditFilter& filter) {
      auto page = service.ListEntries(kOfficer, 0, 0, filter, 0);
      REQUIRE(page.ok());
      std::vector<std::uint64_t> out;
      for (const AuditEntry& e : page->entries) out.push_back(e.sequence);
      return out;
    };
    AuditFilter filter;
    CHECK(sequences(filter) == std::vector<std::uint64_t>{0, 1, 2, 3, 4});  // negative control
    filter.parameters = {"geo=wijk"};
    CHECK(sequences(filter) == std::vector<std::uint64_t>{0, 2, 3});
    // Exact pairs: a prefix of a value, a value under another name or a bare value never match.
    filter.parameters = {"geo=wij"};
    CHECK(sequences(filter).empty());
    filter.parameters = {"eo=wijk"};
    CHECK(sequences(filter).empty());
    filter.parameters = {"year=2023", "geo=wijk"};
    CHECK(sequences(filter) == std::vector<std::uint64_t>{0, 3});
    filter.project = "p2";
    CHECK(sequences(filter) == std::vector<std::uint64_t>{3});
    filter.parameters.clear();
    CHECK(sequences(filter) == std::vector<std::uint64_t>{2, 3});
    filter.project = "p";
    CHECK(sequences(filter).empty());

    CHECK(ParametersMatch("a=1&b=2", {"b=2", "a=1"}));
    CHECK_FALSE(ParametersMatch("a=1&b=2", {"a=1&b=2"}));
    CHECK_FALSE(ParametersMatch("", {"a="}));
    CHECK(ParametersMatch("a=&b=2", {"a="}));
  }

  TEST_CASE("project and parameter filters are bounded: INVALID_ARGUMENT naming what is allowed") {
    Fixture f;
    const auto refused = [&](const AuditFilter& filter) {
      return std::string(f.service.ListEntries(kOfficer, 0, 0, filter, 0).status().message());
    };
    AuditFilter filter;
    filter.parameters = {"geo"};
    CHECK(refused(filter).find("is not of the form name=value") != std::string::npos);
    filter.parameters = {"=wijk"};
    CHECK(refused(filter).find("is not of the form name=value") != std::string::npos);
    filter.parameters = {std::string(65, 'n') + "=v"};
    CHECK(refused(filter).find("the name has 65 bytes (allowed: at most 64)") != std::string::npos);
    filter.parameters = {"n=" + std::string(257, 'v')};
    CHECK(refused(filter).find("the value has 257 bytes (allowed: at most 256)") !=
          std::string::npos);
    filter.parameters = std::vector<std::string>(33, "a=1");
    CHECK(refused(filter).find("33 parameter filters (allowed: at most 32)") != std::string::npos);
    filter.parameters.clear();
    filter.project = std::string(257, 'p');
    CHECK(refused(filter).find("the project filter has 257 bytes (allowed: at most 256)") !=
          std::string::npos);
    CHECK(f.log->Refusals().size() == 6);
    // At the bounds: served.
    filter.project = std::string(256, 'p');
    filter.parameters = std::vector<std::string>(32, std::string(64, 'n') + "=" + std::string(256, 'v'));
    CHECK(f.service.ListEntries(kOfficer, 0, 0, filter, 0).ok());
  }

  TEST_CASE("no checkpoint yet: kNotFound") {
    auto log = std::make_shared<FakeAuditLog>();
    AuditService service(Principals(), log, log, {});
    CHECK(service.GetCheckpoint(kOfficer).status().code() == absl::StatusCode::kNotFound);
  }
}

}  // namespace
}  // namespace enclave::core
