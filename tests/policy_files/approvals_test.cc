// Four-eyes template approval (issue 5 item 5): unsigned, tampered, wrong key, self-approval and
// expired officer keys are refused with a clear message; a valid approval loads.
#include "enclave/adapters/policy_files/approvals.h"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "absl/time/time.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/crypto/ed25519.h"
#include "tests/testing/temp_dir.h"

namespace enclave::adapters::policy_files {
namespace {

using ::enclave::testing::TempDir;

constexpr char kOfficer[] = "spiffe://udc-lv.local/privacy_officer/officer1";
constexpr char kOfficer2[] = "spiffe://udc-lv.local/privacy_officer/officer2";
constexpr char kSteward[] = "spiffe://udc-lv.local/data_steward/steward1";

constexpr char kTemplate[] = R"pb(id: "personen_per_wijk"
version: 3
author: "spiffe://udc-lv.local/data_steward/steward1"
theme: "test"
sql: "SELECT id, wijk FROM persoon"
)pb";

absl::Time At(const char* text) {
  absl::Time t;
  std::string err;
  REQUIRE(absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", text, absl::UTCTimeZone(), &t, &err));
  return t;
}

crypto::Ed25519PrivateKey Key(char fill) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, fill));
  REQUIRE(key.ok());
  return *std::move(key);
}

std::string Entry(const crypto::Ed25519PrivateKey& key, const std::string& id,
                  const std::string& principal, const std::string& from, const std::string& until) {
  auto text = FormatOfficerKey(key, id, principal, from, until);
  REQUIRE(text.ok());
  return *text;
}

// officer1 (key 'a', all of 2026), officer2 (key 'b', all of 2026) and steward1 holding an officer
// key too (key 'c'), so that self-approval is possible to attempt.
struct Fixture {
  crypto::Ed25519PrivateKey officer1 = Key('a');
  crypto::Ed25519PrivateKey officer2 = Key('b');
  crypto::Ed25519PrivateKey steward = Key('c');
  Approvers approvers;
  TemplateIdentity identity;

  Fixture() {
    auto parsed = ParseApprovers(
        Entry(officer1, "officer1-2026", kOfficer, "2026-01-01", "2026-12-31") +
            Entry(officer2, "officer2-2026", kOfficer2, "2026-01-01", "2026-12-31") +
            Entry(steward, "steward1-2026", kSteward, "2026-01-01", "2026-12-31"),
        "approvers.textproto");
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
    approvers = *std::move(parsed);
    auto id = IdentifyTemplate(kTemplate, "templates/t.textproto");
    REQUIRE(id.ok());
    identity = *id;
  }

  Approval Signed(const crypto::Ed25519PrivateKey& key, absl::Time when) const {
    auto approval = SignApproval(identity, key, approvers, when);
    REQUIRE_MESSAGE(approval.ok(), approval.status().ToString());
    return *approval;
  }
};

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// The tests' "now" (a fixed clock).
absl::Time Now() { return absl::FromUnixSeconds(1795618800); }  // 2026-11-25T15:00:00Z

}  // namespace

TEST_SUITE("TemplateApproval") {
  TEST_CASE("the signed message is domain-separated, versioned and names every field") {
    Approval a;
    a.template_id = "t";
    a.template_version = 2;
    a.template_sha256 = std::string(64, 'f');
    a.author = "A";
    a.approver = "B";
    a.key_id = "k";
    a.approved_at = "2026-11-25T15:04:05Z";
    CHECK(ApprovalMessage(a) ==
          "enclave-template-approval/1\ntemplate_id=t\nversion=2\nsha256=" + std::string(64, 'f') +
              "\nauthor=A\napprover=B\nkey_id=k\napproved_at=2026-11-25T15:04:05Z\n");
  }

  TEST_CASE("a valid approval by another privacy officer loads, and survives its file format") {
    Fixture f;
    Approval a = f.Signed(f.officer1, Now());
    CHECK(a.approver == kOfficer);
    CHECK(a.author == kSteward);
    CHECK(a.key_id == "officer1-2026");
    CHECK(a.approved_at == "2026-11-25T15:00:00Z");
    CHECK(VerifyApproval(f.identity, a, f.approvers, Now()).ok());

    TempDir dir;
    dir.Write("approvals/" + ApprovalFileName("personen_per_wijk"), FormatApproval(a));
    auto checked = CheckApproval(f.identity, dir.File("approvals"), f.approvers, Now());
    REQUIRE_MESSAGE(checked.ok(), checked.status().ToString());
    CHECK(checked->signature == a.signature);
    CHECK(ToTemplateApproval(*checked).digest.size() == 64);
  }

  TEST_CASE("an unsigned template is refused: no approval file") {
    Fixture f;
    TempDir dir;
    auto checked = CheckApproval(f.identity, dir.path().string(), f.approvers, Now());
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(checked.status(), "template 'personen_per_wijk' version 3"),
                  checked.status());
    CHECK(Contains(checked.status(), "is not approved: no personen_per_wijk.approval.textproto"));
  }

  TEST_CASE("one changed byte in the template voids its approval") {
    Fixture f;
    Approval a = f.Signed(f.officer1, Now());
    std::string tampered = kTemplate;
    tampered[tampered.find("wijk FROM")] = 'W';  // one byte of the SQL
    auto changed = IdentifyTemplate(tampered, "templates/t.textproto");
    REQUIRE(changed.ok());
    absl::Status s = VerifyApproval(*changed, a, f.approvers, Now());
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(s, "the file changed after it was approved"), s);
    // A byte outside the fields (a comment) counts too: the approval covers the exact bytes.
    auto commented = IdentifyTemplate(std::string(kTemplate) + "# note\n", "t.textproto");
    REQUIRE(commented.ok());
    CHECK(Contains(VerifyApproval(*commented, a, f.approvers, Now()), "changed after"));
  }

  TEST_CASE("a changed field of the approval itself breaks its signature") {
    Fixture f;
    Approval a = f.Signed(f.officer1, Now());
    SUBCASE("approval time") { a.approved_at = "2026-11-25T14:00:00Z"; }
    SUBCASE("one bit of the signature") { a.signature[10] = static_cast<char>(a.signature[10] ^ 1); }
    absl::Status s = VerifyApproval(f.identity, a, f.approvers, Now());
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(s, "signature does not verify under officer key 'officer1-2026'"), s);
  }

  TEST_CASE("a new version needs a new approval") {
    Fixture f;
    Approval a = f.Signed(f.officer1, Now());
    TemplateIdentity next = f.identity;
    next.version = 4;
    CHECK(Contains(VerifyApproval(next, a, f.approvers, Now()), "approval is for version 3"));
  }

  TEST_CASE("a signature by a key other than the named officer key is refused") {
    Fixture f;
    // officer2 signs, but the approval claims officer1's key and name.
    Approval a = f.Signed(f.officer2, Now());
    a.approver = kOfficer;
    a.key_id = "officer1-2026";
    auto sig = f.officer2.Sign(ApprovalMessage(a));
    REQUIRE(sig.ok());
    a.signature = *sig;
    absl::Status s = VerifyApproval(f.identity, a, f.approvers, Now());
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(s, "does not verify under officer key 'officer1-2026'"), s);

    // A key the approvers file does not list cannot sign, nor be named.
    crypto::Ed25519PrivateKey stranger = Key('z');
    auto refused = SignApproval(f.identity, stranger, f.approvers, Now());
    REQUIRE_FALSE(refused.ok());
    CHECK(Contains(refused.status(), "not an officer key in the approvers file"));
    Approval unknown = f.Signed(f.officer1, Now());
    unknown.key_id = "officer9";
    CHECK(Contains(VerifyApproval(f.identity, unknown, f.approvers, Now()),
                   "officer key 'officer9', which the approvers file does not list"));
    // A key named with another officer's principal.
    Approval mismatched = f.Signed(f.officer1, Now());
    mismatched.approver = kOfficer2;
    CHECK(Contains(VerifyApproval(f.identity, mismatched, f.approvers, Now()),
                   "belongs to " + std::string(kOfficer)));
  }

  TEST_CASE("nobody approves their own template") {
    Fixture f;
    auto refused = SignApproval(f.identity, f.steward, f.approvers, Now());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(refused.status(), "its author " + std::string(kSteward) +
                                                 " may not approve it"),
                  refused.status());
    // A self-approval made by hand with a valid signature is refused at load.
    Approval self = f.Signed(f.officer1, Now());
    self.approver = kSteward;
    self.key_id = "steward1-2026";
    auto sig = f.steward.Sign(ApprovalMessage(self));
    REQUIRE(sig.ok());
    self.signature = *sig;
    absl::Status s = VerifyApproval(f.identity, self, f.approvers, Now());
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(s, "approved by its own author"), s);
    // A template without an author cannot be approved at all.
    TemplateIdentity anonymous = f.identity;
    anonymous.author.clear();
    CHECK(Contains(SignApproval(anonymous, f.officer1, f.approvers, Now()).status(),
                   "declares no author"));
    CHECK(Contains(VerifyApproval(anonymous, self, f.approvers, Now()), "declares no author"));
  }

  TEST_CASE("an officer key outside its validity period is refused") {
    Fixture f;
    Approval a = f.Signed(f.officer1, Now());
    SUBCASE("expired when the template is loaded") {
      absl::Status s = VerifyApproval(f.identity, a, f.approvers, At("2027-01-01T00:00:00Z"));
      CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
      CHECK_MESSAGE(Contains(s, "officer key 'officer1-2026' is valid from 2026-01-01 to "
                                "2026-12-31 only"),
                    s);
      // The last valid day still counts (inclusive).
      CHECK(VerifyApproval(f.identity, a, f.approvers, At("2026-12-31T23:59:59Z")).ok());
    }
    SUBCASE("expired when it signed") {
      auto expired = ParseApprovers(
          Entry(f.officer1, "officer1-2025", kOfficer, "2025-01-01", "2025-12-31"), "a.textproto");
      REQUIRE(expired.ok());
      auto refused = SignApproval(f.identity, f.officer1, *expired, Now());
      REQUIRE_FALSE(refused.ok());
      CHECK(Contains(refused.status(), "officer key 'officer1-2025' is valid from 2025-01-01 to "
                                       "2025-12-31 only"));
      // Signed (by hand) after expiry, checked on a day the key would be valid again: refused,
      // because the key must be valid when the approval was made.
      auto later = ParseApprovers(
          Entry(f.officer1, "officer1-2026", kOfficer, "2026-12-01", "2026-12-31"), "a.textproto");
      REQUIRE(later.ok());
      CHECK(Contains(VerifyApproval(f.identity, a, *later, At("2026-12-02T00:00:00Z")),
                     "it must be valid when the template is approved and when it is loaded"));
    }
  }

  TEST_CASE("ApplyApprovals sets each template's approval and refuses the rest") {
    Fixture f;
    TempDir dir;
    templates::Template good;
    good.id = f.identity.id;
    good.version = f.identity.version;
    good.author = f.identity.author;
    good.text_sha256 = f.identity.sha256;
    templates::Template unsigned_one = good;
    unsigned_one.id = "unsigned_template";
    dir.Write(ApprovalFileName(good.id), FormatApproval(f.Signed(f.officer1, Now())));
    std::vector<templates::Template> all = {good, unsigned_one};
    auto officers = [](const std::string& id) { return id == kOfficer; };
    std::vector<ApprovalRefusal> refused =
        ApplyApprovals(&all, dir.path().string(), f.approvers, officers, Now());
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].template_id == "unsigned_template");
    CHECK(Contains(refused[0].status, "is not approved"));
    REQUIRE(all[0].approval.has_value());
    CHECK(all[0].approval->approver == kOfficer);
    CHECK(all[0].approval->LogText().find("approval=" + all[0].approval->digest) == 0);
    CHECK_FALSE(all[1].approval.has_value());

    // The approver must be a privacy officer in the principals policy.
    auto nobody = [](const std::string&) { return false; };
    refused = ApplyApprovals(&all, dir.path().string(), f.approvers, nobody, Now());
    REQUIRE(refused.size() == 2);
    CHECK(Contains(refused[0].status, "is not a privacy officer"));
    CHECK_FALSE(all[0].approval.has_value());
  }

  TEST_CASE("a malformed approval file is refused with the problem named") {
    Fixture f;
    TempDir dir;
    std::string text = FormatApproval(f.Signed(f.officer1, Now()));
    text.replace(text.find("signature: \""), 12, "signature: \"!!");
    dir.Write(ApprovalFileName(f.identity.id), text);
    auto checked = CheckApproval(f.identity, dir.path().string(), f.approvers, Now());
    REQUIRE_FALSE(checked.ok());
    CHECK_MESSAGE(Contains(checked.status(), "base64 of a 64-byte Ed25519 signature"),
                  checked.status());
  }
}

TEST_SUITE("ApproversFile") {
  TEST_CASE("problems are named with file, line and column") {
    crypto::Ed25519PrivateKey k = Key('a');
    const std::string good = Entry(k, "officer1", kOfficer, "2026-01-01", "2026-12-31");
    SUBCASE("duplicate key id") {
      auto s = ParseApprovers(good + good, "approvers.textproto");
      REQUIRE_FALSE(s.ok());
      CHECK_MESSAGE(Contains(s.status(), "approvers.textproto:9:3: officer key 'officer1' is "
                                         "listed more than once"),
                    s.status());
    }
    SUBCASE("not an Ed25519 public key") {
      auto s = ParseApprovers(
          "officer_key { key_id: \"k\" principal: \"p\" public_key: \"AAAA\" "
          "valid_from: \"2026-01-01\" valid_until: \"2026-12-31\" }",
          "approvers.textproto");
      CHECK(Contains(s.status(), "base64 line of an Ed25519 PUBLIC KEY PEM"));
    }
    SUBCASE("dates") {
      auto s = ParseApprovers(Entry(k, "k", kOfficer, "2026-12-31", "2026-01-01"), "a.textproto");
      CHECK(Contains(s.status(), "valid_until is before valid_from"));
      s = ParseApprovers(Entry(k, "k", kOfficer, "1 Jan 2026", "2026-01-01"), "a.textproto");
      CHECK(Contains(s.status(), "valid_from must be YYYY-MM-DD"));
    }
    SUBCASE("no key at all") {
      auto s = ParseApprovers("# nobody\n", "a.textproto");
      CHECK(Contains(s.status(), "lists no officer_key"));
    }
  }

  TEST_CASE("the committed example approvers file parses once a real public key is filled in") {
    // Public keys only, and none committed: its entry is commented out ("#~ ") with a placeholder.
    const std::string path =
        std::string(ENCLAVE_SOURCE_DIR) + "/policies/access/approvers.example.textproto";
    auto as_is = LoadApprovers(path);
    REQUIRE_FALSE(as_is.ok());
    CHECK_MESSAGE(Contains(as_is.status(), "lists no officer_key"), as_is.status());

    std::ifstream in(path);
    std::string text;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("#~ ", 0) == 0) line = line.substr(3);
      text += line + "\n";
    }
    auto key_line = Entry(Key('a'), "k", kOfficer, "2026-01-01", "2026-12-31");
    const std::size_t at = key_line.find("public_key: \"") + 13;
    const std::string base64 = key_line.substr(at, key_line.find('"', at) - at);
    const std::size_t placeholder = text.find("BASE64_OF_THE_PUBLIC_KEY_PEM");
    REQUIRE(placeholder != std::string::npos);
    text.replace(placeholder, std::string("BASE64_OF_THE_PUBLIC_KEY_PEM").size(), base64);
    auto filled = ParseApprovers(text, path);
    REQUIRE_MESSAGE(filled.ok(), filled.status().ToString());
    CHECK(filled->keys.size() == 1);
  }
}

TEST_SUITE("ShippedTemplates") {
  TEST_CASE("every shipped template declares an author other than a privacy officer") {
    auto loaded = LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies", nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
    REQUIRE_FALSE(loaded->catalog->templates.empty());
    for (const templates::Template& t : loaded->catalog->templates) {
      CHECK_MESSAGE(!t.author.empty(), t.id);
      auto p = loaded->principals->Find(t.author);
      REQUIRE_MESSAGE(p.ok(), t.id << ": author " << t.author << " is not a principal");
      CHECK_MESSAGE(p->role != templates::Role::kPrivacyOfficer, t.id);
    }
  }
}

}  // namespace enclave::adapters::policy_files
