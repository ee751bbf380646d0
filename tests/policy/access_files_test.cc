// Access files (issue 5): the shipped agreements load; the deny-list file is re-read when it
// changes and fails closed when malformed or removed.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "enclave/adapters/policy_files/access_files.h"
#include "enclave/adapters/policy_files/loader.h"

namespace enclave::adapters::policy_files {
namespace {

namespace fs = std::filesystem;

const fs::path kShipped = fs::path(ENCLAVE_SOURCE_DIR) / "policies";

struct TempDir {
  TempDir() {
    char name[] = "/tmp/access_files_XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

void Write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

TEST_CASE("the shipped agreements load and cover the shipped researcher") {
  absl::StatusOr<std::shared_ptr<const policy::AgreementBook>> book =
      LoadAgreements(kShipped.string());
  REQUIRE(book.ok());
  CHECK((*book)->size() >= 1);
  CHECK((*book)->data_version_cap_micro() == 12'000'000);
  auto loaded = LoadPolicies(kShipped.string(), nullptr);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->agreements != nullptr);
  auto researcher = loaded->principals->Find("spiffe://udc-lv.local/researcher/researcher1");
  REQUIRE(researcher.ok());
  CHECK(researcher->limits.queries_per_minute == 120);
  CHECK(researcher->limits.max_concurrent == 4);
  const auto mine = loaded->agreements->AgreementsOf(*researcher);
  REQUIRE(mine.size() == 1);
  CHECK(loaded->agreements->ProjectCapMicro(mine[0]->project) > 0);
  // The shipped deny-list parses (and is empty).
  std::ifstream in(kShipped / kRevokedFile);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto list = ParseRevocations(text);
  REQUIRE(list.ok());
  CHECK(list->serials.empty());
}

TEST_CASE("a malformed agreements file fails the load with its name and line") {
  TempDir dir;
  fs::copy(kShipped, dir.path / "policies", fs::copy_options::recursive);
  const fs::path file = dir.path / "policies" / kAgreementsFile;
  SUBCASE("syntax") {
    Write(file, "agreement {\n  id: \"A\"\n  budget: 3\n}\n");
    auto loaded = LoadPolicies((dir.path / "policies").string(), nullptr);
    REQUIRE_FALSE(loaded.ok());
    CHECK(std::string(loaded.status().message()).find("agreements.textproto:3:") !=
          std::string::npos);
  }
  SUBCASE("a bad date, at its field") {
    Write(file,
          "agreement { id: \"A\" organisation: \"O\" project: \"P\" valid_from: \"2026-13-01\" "
          "valid_until: \"2027-01-01\" template: \"t\" budget_micro: 1 }\n"
          "project { project: \"P\" cap_micro: 1 }\n");
    auto loaded = LoadAgreements((dir.path / "policies").string());
    REQUIRE_FALSE(loaded.ok());
    CHECK(std::string(loaded.status().message()) ==
          "policies/access/agreements.textproto:1:52: agreement 'A': valid_from must be a date "
          "YYYY-MM-DD");
  }
  SUBCASE("a project without a budget, at the agreement") {
    Write(file,
          "# one agreement\n"
          "agreement { id: \"A\" organisation: \"O\" project: \"P\" valid_from: \"2026-01-01\" "
          "valid_until: \"2027-01-01\" template: \"t\" budget_micro: 1 }\n");
    auto loaded = LoadAgreements((dir.path / "policies").string());
    REQUIRE_FALSE(loaded.ok());
    CHECK(std::string(loaded.status().message()) ==
          "policies/access/agreements.textproto:2:1: agreement 'A': project 'P' has no project "
          "budget; add one");
  }
  SUBCASE("every rule of the book points at its entry") {
    const std::string good =
        "agreement {\n  id: \"A\"\n  organisation: \"O\"\n  project: \"P\"\n"
        "  valid_from: \"2026-01-01\"\n  valid_until: \"2027-01-01\"\n  template: \"t\"\n"
        "  budget_micro: 1\n}\n";  // lines 1-9
    const std::string budget = "project { project: \"P\" cap_micro: 5 }\n";  // line 10
    struct Case {
      std::string text;
      std::string message;
    };
    for (const Case& c : std::vector<Case>{
             {good + budget + "agreement { id: \"A\" }\n",
              ":11:1: agreement 'A' is listed more than once"},
             {good + budget + budget, ":11:1: project 'P' has more than one budget"},
             {good + "project { project: \"P\" cap_micro: 0 }\n",
              ":10:1: project budget 'P' needs a name and a positive cap_micro"},
             {budget + good + "data_version_cap_micro: -1\n",
              ":11:1: data_version_cap_micro must be positive (micro-ε; 12000000 is ε 12.0)"},
             {budget + "\n" + "agreement { id: \"B\" organisation: \"O\" project: \"P\" "
                              "valid_from: \"2026-01-01\" valid_until: \"2027-01-01\" "
                              "budget_micro: 1 }\n",
              ":3:1: agreement 'B' covers no template"},
             {budget + "agreement { id: \"C\" organisation: \"O\" project: \"P\" "
                       "valid_from: \"2027-01-01\" valid_until: \"2026-01-01\" "
                       "template: \"t\" budget_micro: 1 }\n",
              ":2:1: agreement 'C': valid_from 2027-01-01 is after valid_until 2026-01-01"},
         }) {
      CAPTURE(c.text);
      Write(file, c.text);
      auto loaded = LoadAgreements((dir.path / "policies").string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(std::string(loaded.status().message()) ==
            "policies/access/agreements.textproto" + c.message);
    }
    // Negative control: the good file loads, and the positions are reported.
    Write(file, good + budget);
    AgreementPositions positions;
    auto loaded = LoadAgreements((dir.path / "policies").string(), &positions);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    CHECK(positions.Prefix("A") == "policies/access/agreements.textproto:1:1: ");
    REQUIRE(positions.template_entry.count({"A", "t"}) == 1);
    CHECK(positions.template_entry.at({"A", "t"}).line == 7);
    CHECK(positions.template_entry.at({"A", "t"}).column == 3);
  }
  SUBCASE("absent: an empty book") {
    fs::remove(file);
    auto loaded = LoadAgreements((dir.path / "policies").string());
    REQUIRE(loaded.ok());
    CHECK((*loaded)->size() == 0);
  }
}

TEST_CASE("deny-list entries are checked and normalised") {
  auto list = ParseRevocations(
      "revoked { serial: \"0x00:A1:B2\" }\n"
      "revoked { cert_sha256: \"" + std::string(32, 'A') + ":" + std::string(32, 'b') + "\" }\n"
      "revoked { principal: \"spiffe://x/y\" reason: \"left\" }\n");
  REQUIRE(list.ok());
  CHECK(list->serials.contains("a1b2"));
  CHECK(list->cert_sha256.contains(std::string(32, 'a') + std::string(32, 'b')));
  CHECK(list->principals.contains("spiffe://x/y"));
  CHECK(ParseRevocations("revoked { reason: \"nothing named\" }").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ParseRevocations("revoked { serial: \"xyz\" }").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ParseRevocations("revoked { cert_sha256: \"abcd\" }").status().code() ==
        absl::StatusCode::kInvalidArgument);
  auto bad = ParseRevocations("revoked {\n serial: \"01\"\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).rfind("revoked.textproto:", 0) == 0);
}

TEST_CASE("the deny-list file is re-read when it changes and fails closed") {
  TempDir dir;
  const fs::path file = dir.path / "revoked.textproto";
  FileRevocationSource source(file);
  policy::CallerIdentity id = policy::CallerIdentity::FromUri("spiffe://x/analyst");
  id.serial_hex = "1f";

  auto current = source.Current();  // no file yet: an empty list
  REQUIRE(current.ok());
  CHECK((*current)->Check(id).ok());

  Write(file, "revoked { serial: \"1F\" }\n");
  current = source.Current();
  REQUIRE(current.ok());
  CHECK((*current)->Check(id).code() == absl::StatusCode::kPermissionDenied);

  // A rewrite of the same size is seen too (modification time).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Write(file, "revoked { serial: \"2F\" }\n");
  current = source.Current();
  REQUIRE(current.ok());
  CHECK((*current)->Check(id).ok());

  Write(file, "revoked { serial: \"1F\" \n");  // malformed: every call refused
  CHECK(source.Current().status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(source.Current().status().code() == absl::StatusCode::kInvalidArgument);  // still

  Write(file, "");  // fixed (empty)
  current = source.Current();
  REQUIRE(current.ok());
  CHECK((*current)->Check(id).ok());

  fs::remove(file);  // removed after it existed: refused until it is back
  CHECK_FALSE(source.Current().ok());
  Write(file, "");
  CHECK(source.Current().ok());
}

TEST_CASE("the per-call deny-list check is one stat when the file is unchanged") {
  TempDir dir;
  const fs::path file = dir.path / "revoked.textproto";
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "revoked { serial: \"" + std::to_string(100000 + i) + "\" }\n";
  Write(file, text);
  FileRevocationSource source(file);
  policy::CallerIdentity id = policy::CallerIdentity::FromUri("spiffe://x/analyst");
  id.serial_hex = "ffff";
  REQUIRE(source.Current().ok());
  constexpr int kCalls = 100000;
  const auto start = std::chrono::steady_clock::now();
  int allowed = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto list = source.Current();
    if (list.ok() && (*list)->Check(id).ok()) ++allowed;
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  CHECK(allowed == kCalls);
  MESSAGE("deny-list check with 1000 entries: " << ns / kCalls << " ns per call");
  CHECK(ns / kCalls < 200'000);  // far below a query's cost even on a loaded Debug build
}

}  // namespace
}  // namespace enclave::adapters::policy_files
