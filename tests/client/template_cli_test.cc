// enclavectl template sign|check (issue 5 item 5): an officer signs, anyone checks; unsigned,
// changed, wrong-key, self-approved and expired-key templates are refused with a clear line.
#include <doctest/doctest.h>

#include <sstream>
#include <tuple>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/cli/template_cmd.h"
#include "enclave/adapters/policy_files/approvals.h"
#include "enclave/crypto/ed25519.h"
#include "tests/integration/process.h"
#include "tests/testing/temp_dir.h"

namespace enclave::client::cli {
namespace {

using ::enclave::testing::TempDir;
namespace pf = enclave::adapters::policy_files;

constexpr char kOfficer[] = "spiffe://udc-lv.local/privacy_officer/officer1";
constexpr char kSteward[] = "spiffe://udc-lv.local/data_steward/steward1";

constexpr char kTemplate[] = R"pb(id: "personen_per_wijk"
version: 3
author: "spiffe://udc-lv.local/data_steward/steward1"
sql: "SELECT id, wijk FROM persoon"
)pb";

absl::Time Now() { return absl::FromUnixSeconds(1795618800); }  // 2026-11-25T15:00:00Z

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run Template(const std::vector<std::string>& args, absl::Time now = Now()) {
  std::ostringstream out;
  std::ostringstream err;
  Run r;
  r.code = RunTemplateCommand(args, now, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// officer1 (seed 'a') and steward1 (seed 'c', so that self-approval can be attempted), both keys
// valid in 2026; one template by steward1.
struct Setup {
  TempDir dir;
  std::string officer_key, steward_key, stranger_key, approvers, templ, approvals;

  Setup() {
    const auto key_file = [&](char seed, const std::string& name) {
      auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, seed));
      REQUIRE(key.ok());
      auto pem = key->ToPem();
      REQUIRE(pem.ok());
      return dir.Write(name, *pem);
    };
    officer_key = key_file('a', "officer1.sign.key");
    steward_key = key_file('c', "steward1.sign.key");
    stranger_key = key_file('z', "stranger.sign.key");
    std::string text;
    for (const auto& [seed, id, who] : {std::tuple{'a', "officer1-2026", kOfficer},
                                        std::tuple{'c', "steward1-2026", kSteward}}) {
      auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, seed));
      REQUIRE(key.ok());
      auto entry = pf::FormatOfficerKey(*key, id, who, "2026-01-01", "2026-12-31");
      REQUIRE(entry.ok());
      text += *entry;
    }
    approvers = dir.Write("approvers.textproto", text);
    templ = dir.Write("templates/t.textproto", kTemplate);
    approvals = dir.File("approvals");
  }
  Run Sign(const std::string& key, absl::Time now = Now()) const {
    return Template({"sign", "--key", key, "--approvers", approvers, "--out", approvals,
                     dir.File("templates")},
                    now);
  }
  Run Check(absl::Time now = Now()) const {
    return Template({"check", "--approvers", approvers, "--approvals", approvals, templ}, now);
  }
};

}  // namespace

TEST_SUITE("TemplateCli") {
  TEST_CASE("usage errors name what is missing") {
    CHECK(Has(ParseTemplateArgs({}).status().ToString(), "needs an action (sign, check)"));
    CHECK(Has(ParseTemplateArgs({"approve"}).status().ToString(), "unknown template action"));
    CHECK(Has(ParseTemplateArgs({"sign", "t"}).status().ToString(), "needs --approvers FILE"));
    CHECK(Has(ParseTemplateArgs({"sign", "--approvers", "a", "t"}).status().ToString(),
              "needs --key FILE"));
    CHECK(Has(ParseTemplateArgs({"check", "--approvers", "a", "t"}).status().ToString(),
              "needs --approvals DIR"));
    CHECK(Has(ParseTemplateArgs({"check", "--approvers", "a", "--approvals", "d"})
                  .status()
                  .ToString(),
              "needs a TEMPLATE"));
    CHECK(Has(ParseTemplateArgs({"check", "--key", "k", "t"}).status().ToString(),
              "unknown flag '--key' for 'template check'"));
    auto sign = ParseTemplateArgs({"sign", "--key=k", "--approvers", "a", "t1", "t2"});
    REQUIRE(sign.ok());
    CHECK(sign->approvals_dir == "approvals");
    CHECK(sign->templates == std::vector<std::string>{"t1", "t2"});
    CHECK(Template({"frobnicate"}).code == 2);
    CHECK(Has(Template({"--help"}).out, "enclavectl template sign --key FILE"));
  }

  TEST_CASE("an officer signs a folder of templates and check accepts them") {
    Setup s;
    Run signed_run = s.Sign(s.officer_key);
    INFO(signed_run.err);
    REQUIRE(signed_run.code == 0);
    CHECK(Has(signed_run.out, "approved personen_per_wijk v3 (author " + std::string(kSteward) +
                                  ") as " + kOfficer + " with key officer1-2026"));
    Run check = s.Check();
    INFO(check.err);
    CHECK(check.code == 0);
    CHECK(Has(check.out, "ok personen_per_wijk v3: approved by " + std::string(kOfficer) +
                             " (key officer1-2026) at 2026-11-25T15:00:00Z, approval="));
  }

  TEST_CASE("check refuses an unsigned template") {
    Setup s;
    Run check = s.Check();
    CHECK(check.code == 1);
    CHECK(Has(check.out, "REFUSED personen_per_wijk: template 'personen_per_wijk' version 3"));
    CHECK(Has(check.out, "is not approved"));
    CHECK(Has(check.err, "1 of 1 template(s) refused"));
  }

  TEST_CASE("check refuses a template changed by one byte after signing") {
    Setup s;
    REQUIRE(s.Sign(s.officer_key).code == 0);
    std::string changed = kTemplate;
    changed[changed.find("persoon")] = 'P';
    s.dir.Write("templates/t.textproto", changed);
    Run check = s.Check();
    CHECK(check.code == 1);
    CHECK(Has(check.out, "the file changed after it was approved"));
  }

  TEST_CASE("sign refuses a key not in the approvers file, the author's own key, an expired key") {
    Setup s;
    Run stranger = s.Sign(s.stranger_key);
    CHECK(stranger.code == 1);
    CHECK(Has(stranger.err, "not an officer key in the approvers file"));

    Run self = s.Sign(s.steward_key);
    CHECK(self.code == 1);
    CHECK(Has(self.err, "REFUSED personen_per_wijk"));
    CHECK(Has(self.err, "may not approve it (four eyes"));

    Run expired = s.Sign(s.officer_key, absl::FromUnixSeconds(1798761600));  // 2027-01-01
    CHECK(expired.code == 1);
    CHECK(Has(expired.err, "officer key 'officer1-2026' is valid from 2026-01-01 to 2026-12-31"));

    // An approval signed in 2026 is refused once the officer's key has expired.
    REQUIRE(s.Sign(s.officer_key).code == 0);
    Run late = s.Check(absl::FromUnixSeconds(1798761600));
    CHECK(late.code == 1);
    CHECK(Has(late.out, "is valid from 2026-01-01 to 2026-12-31 only"));
  }

  TEST_CASE("check refuses an approval whose signature was made with another key") {
    Setup s;
    REQUIRE(s.Sign(s.officer_key).code == 0);
    // Re-sign the same approval fields with the steward's key: the named key no longer verifies.
    const std::string path = s.approvals + "/personen_per_wijk.approval.textproto";
    auto approval = pf::ParseApproval(testing::ReadFile(path), path);
    REQUIRE(approval.ok());
    auto other = crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'c'));
    REQUIRE(other.ok());
    auto sig = other->Sign(pf::ApprovalMessage(*approval));
    REQUIRE(sig.ok());
    approval->signature = *sig;
    s.dir.Write("approvals/personen_per_wijk.approval.textproto", pf::FormatApproval(*approval));
    Run check = s.Check();
    CHECK(check.code == 1);
    CHECK(Has(check.out, "signature does not verify under officer key 'officer1-2026'"));
  }

  TEST_CASE("the enclavectl binary runs 'template check' and 'help template'") {
    Setup s;
    testing::ProcessResult help = testing::RunProcess({ENCLAVECTL_PATH, "help", "template"});
    CHECK(help.exit_code == 0);
    CHECK(Has(help.out, "Four-eyes approval of query templates"));
    testing::ProcessResult check = testing::RunProcess(
        {ENCLAVECTL_PATH, "template", "check", "--approvers", s.approvers, "--approvals",
         s.dir.File("nothing-here"), s.templ});
    CHECK(check.exit_code == 1);
    CHECK(Has(check.out, "REFUSED personen_per_wijk"));
  }
}

}  // namespace enclave::client::cli
