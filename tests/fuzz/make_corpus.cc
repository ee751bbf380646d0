// Writes the generated seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/seed-*:
// encoded leaves, signed notes and bundles (signed with the fuzz key of fuzz_common.h), proofs
// from a real tree, bundles of the shipped policy files (with an approval signed by a test-only
// officer key), CSV deliveries for the shipped descriptions, bindings of the shipped templates and
// enclavectl command lines. Deterministic: running it again rewrites the same bytes.
//
//   build/dev/tests/fuzz/enclave_fuzz_make_corpus tests/fuzz/corpus
//
// Hand-written seeds (near-valid inputs) and fixed crashers live beside these under other names
// (not "seed-*") and are never touched.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "client/verifier/verifier.h"
#include "enclave/adapters/policy_files/approvals.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/audit/bundle.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "enclave/crypto/ed25519.h"
#include "enclave/delivery/bsn.h"
#include "enclave/steward/description_file.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

namespace fs = std::filesystem;
namespace audit = enclave::audit;
namespace pf = enclave::adapters::policy_files;
using enclave::fuzz::kOrigin;

fs::path out_root;
int written = 0;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / ("seed-" + name), std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(static_cast<bool>(out), "cannot write " + (dir / name).string());
  ++written;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  FUZZ_CHECK(static_cast<bool>(in), "cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string U(std::uint64_t v, int width) {
  std::string out;
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

std::string Raw(const audit::Hash& h) { return std::string(h.begin(), h.end()); }

template <typename T>
T Must(absl::StatusOr<T> v) {
  FUZZ_CHECK(v.ok(), v.status().ToString());
  return *std::move(v);
}

audit::NoteSigner FuzzSigner() {
  return Must(audit::NoteSigner::Create(
      std::string(kOrigin), Must(enclave::crypto::Ed25519PrivateKey::FromSeed(enclave::fuzz::kKeySeed))));
}

// --- the log: a small realistic history -------------------------------------------------------

audit::LogLeaf Leaf(std::uint64_t seq, audit::EntryType type, const std::string& request) {
  audit::LogLeaf l;
  l.origin = std::string(kOrigin);
  l.sequence = seq;
  l.time_unix_ms = 1782864000000 + static_cast<std::int64_t>(seq) * 250;
  l.type = type;
  l.request_id = request;
  switch (type) {
    case audit::EntryType::kServerStart:
    case audit::EntryType::kServerStop:
    case audit::EntryType::kPolicyLoaded:
    case audit::EntryType::kHeartbeat:
      l.detail = "version=0.1.0 policies=8 sha256=5a5a";
      return l;
    case audit::EntryType::kRecovery:
      l.detail = "closed 1 open request";
      l.related = {seq - 1};
      return l;
    default:
      break;
  }
  l.caller = "spiffe://udc-lv.local/municipal_analyst/analyst1";
  l.caller_cert_sha256 = std::string(32, '\x11');
  l.role = "municipal_analyst";
  l.project = "udc-monitor";
  l.rpc = "RunQuery";
  l.template_id = "bijstand_stand";
  l.template_version = 3;
  l.template_sha256 = std::string(32, '\x5a');
  l.canonical_params = "geo=wijkcluster&peildatum=2025-12";
  l.decision = type == audit::EntryType::kQueryRefused ? "INVALID_ARGUMENT" : "allowed";
  if (type == audit::EntryType::kQueryRefused) l.reason = "parameter 'geo': must be one of ...";
  if (type == audit::EntryType::kQueryResult) {
    l.rule_set = "cbs-default@3";
    l.rules_applied = "threshold(min_units=10);dominance(1,50);p(10)";
    l.data_version = "2026-06-30.1";
    l.cell_counts = {{"confidential", 3}, {"released", 21}, {"rounded", 21}};
    l.cell_rules = "r,r,t,r,s";
    l.result_sha256 = std::string(32, '\x42');
    l.related = {seq - 1};
  }
  return l;
}

std::vector<std::string> Log() {
  std::vector<std::string> leaves;
  auto add = [&](audit::EntryType t, const std::string& r) {
    leaves.push_back(Must(audit::EncodeLeaf(Leaf(leaves.size(), t, r))));
  };
  add(audit::EntryType::kServerStart, "");
  add(audit::EntryType::kPolicyLoaded, "");
  add(audit::EntryType::kQueryAccepted, "req-1");
  add(audit::EntryType::kQueryResult, "req-1");
  add(audit::EntryType::kQueryRefused, "req-2");
  add(audit::EntryType::kQueryAccepted, "req-3");
  add(audit::EntryType::kRecovery, "");
  add(audit::EntryType::kQueryAccepted, "req-4");
  add(audit::EntryType::kQueryAborted, "req-4");
  add(audit::EntryType::kHeartbeat, "");
  add(audit::EntryType::kServerStop, "");
  return leaves;
}

audit::Checkpoint CheckpointAt(const std::vector<std::string>& leaves, std::size_t size) {
  audit::CompactRange r;
  for (std::size_t i = 0; i < size; ++i) r.Append(audit::HashLeaf(leaves[i]));
  return {std::string(kOrigin), size, r.Root()};
}

std::string Bundle(const std::vector<std::string>& leaves, std::size_t first, std::size_t size,
                   const audit::NoteSigner& signer) {
  audit::CompactRange prefix;
  for (std::size_t i = 0; i < first; ++i) prefix.Append(audit::HashLeaf(leaves[i]));
  const std::string note = Must(audit::SignCheckpoint(CheckpointAt(leaves, size), signer));
  const std::vector<std::string> part(leaves.begin() + static_cast<std::ptrdiff_t>(first),
                                      leaves.begin() + static_cast<std::ptrdiff_t>(size));
  return Must(audit::EncodeBundle(note, first, prefix.hashes(), part));
}

void AuditSeeds() {
  const std::vector<std::string> leaves = Log();
  const audit::NoteSigner signer = FuzzSigner();

  // audit_leaf: one leaf per kind, and the field mode (input without the header).
  for (std::size_t i : {0u, 1u, 3u, 4u, 6u, 8u}) Write("audit_leaf", "leaf-" + std::to_string(i), leaves[i]);
  Write("audit_leaf", "fields",
        std::string(kOrigin) + '\0' + U(7, 2) + U(1782864000000, 8) + U(2, 1) + "req-7" + '\0' +
            "spiffe://x/analyst" + '\0' + '\0' + "municipal_analyst" + '\0' + '\0' + "RunQuery" +
            '\0' + "t" + '\0' + U(1, 4) + '\0' + "a=1" + '\0' + "allowed" + '\0' + '\0' +
            "cbs-default@3" + '\0' + "threshold" + '\0' + "v1" + '\0' + U(2, 1) + "confidential" +
            '\0' + U(3, 2) + "released" + '\0' + U(9, 2) + "r,t" + '\0' + '\0' + U(1, 1) + U(6, 2) +
            "detail");

  // audit_note: checkpoints of several sizes, one with a second signature by another key, the
  // bare body, and the verifier key string.
  const audit::NoteSigner other = Must(audit::NoteSigner::Create(
      "other.example/witness",
      Must(enclave::crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'w')))));
  for (std::size_t size : {0u, 3u, 11u}) {
    Write("audit_note", "checkpoint-" + std::to_string(size),
          Must(audit::SignCheckpoint(CheckpointAt(leaves, size), signer)));
  }
  const std::string body = audit::FormatCheckpointBody(CheckpointAt(leaves, 5));
  audit::Note cosigned{body, {Must(signer.SignText(body)), Must(other.SignText(body))}};
  Write("audit_note", "cosigned", audit::FormatNote(cosigned));
  Write("audit_note", "body", body);
  Write("audit_note", "verifier-key", signer.VerifierKey());
  Write("audit_note", "verifier-key-other", other.VerifierKey() + "\n");

  // audit_bundle: raw bundles (mode byte 0x00) and leaf lists (mode byte 0x01, then `how`).
  Write("audit_bundle", "raw-full", std::string(1, '\0') + Bundle(leaves, 0, leaves.size(), signer));
  Write("audit_bundle", "raw-from-3", std::string(1, '\0') + Bundle(leaves, 3, leaves.size(), signer));
  Write("audit_bundle", "raw-empty", std::string(1, '\0') + Bundle(leaves, 0, 0, signer));
  for (const auto& [name, how] : std::vector<std::pair<std::string, int>>{
           {"leaves-full", 0x00}, {"leaves-from-5", 0x05}, {"leaves-trusted-0", 0x40},
           {"leaves-wrong-trusted", 0x83}}) {
    std::string seed = std::string(1, '\x01') + static_cast<char>(how);
    for (const std::string& l : leaves) seed += U(l.size(), 2) + l;
    Write("audit_bundle", name, seed);
  }

  // merkle_proof: raw mode with true proofs, and tree-mode selectors.
  audit::MemoryTree tree;
  for (const std::string& l : leaves) tree.AppendLeaf(l);
  const std::vector<audit::Hash> inclusion = Must(audit::InclusionProof(tree, 6, 11));
  const std::vector<audit::Hash> consistency = Must(audit::ConsistencyProof(tree, 6, 11));
  std::string raw = std::string(1, '\0') + U(6, 8) + U(11, 8) + Raw(audit::HashLeaf(leaves[6])) +
                    Raw(Must(audit::RootAt(tree, 11))) + U(inclusion.size(), 1);
  for (const audit::Hash& h : inclusion) raw += Raw(h);
  raw += U(6, 8) + U(11, 8) + Raw(Must(audit::RootAt(tree, 6))) + Raw(Must(audit::RootAt(tree, 11))) +
         U(consistency.size(), 1);
  for (const audit::Hash& h : consistency) raw += Raw(h);
  Write("merkle_proof", "raw-true", raw);
  // Tree mode: 0x01, n (u16), op (even: inclusion), size (u16), index (u16), edits...
  Write("merkle_proof", "tree-inclusion", std::string("\x01") + U(37, 2) + U(0, 1) + U(21, 2) +
                                              U(13, 2) + U(1, 1) + U(0, 1) + U(2, 1) + U(5, 1));
  Write("merkle_proof", "tree-consistency", std::string("\x01") + U(200, 2) + U(1, 1) + U(129, 2) +
                                                U(64, 2) + U(0, 1) + U(200, 1) + U(190, 1));
  Write("merkle_proof", "tree-nudged", std::string("\x01") + U(16, 2) + U(0, 1) + U(16, 2) +
                                           U(15, 2) + U(0, 1) + U(200, 1) + U(250, 1));
}

// --- policy files -----------------------------------------------------------------------------

std::string PolicyFile(const fs::path& policies, const std::string& path) {
  return "=== " + path + "\n" + Read(policies / path);
}

std::string Section(const std::string& path, const std::string& text) {
  return "=== " + path + "\n" + text;
}

void PolicySeeds() {
  const fs::path policies = fs::path(ENCLAVE_SOURCE_DIR) / "policies";
  const std::string principals = PolicyFile(policies, "access/principals.textproto");
  const std::string revoked = PolicyFile(policies, "access/revoked.textproto");

  // An officer key (test-only, public seed) and its approval of t01.
  const std::string t01_path = "templates/t01_zzp_aantal_per_wijk.textproto";
  const std::string t01 = Read(policies / t01_path);
  const auto officer = Must(enclave::crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'o')));
  const std::string approvers_text = Must(pf::FormatOfficerKey(
      officer, "officer1-2026", "spiffe://udc-lv.local/privacy_officer/officer1", "2026-01-01",
      "2026-12-31"));
  const pf::Approvers approvers = Must(pf::ParseApprovers(approvers_text, "approvers"));
  const pf::TemplateIdentity identity = Must(pf::IdentifyTemplate(t01, t01_path));
  const pf::Approval approval = Must(pf::SignApproval(identity, officer, approvers,
                                                      absl::FromUnixSeconds(1782864000)));

  // Two templates, one DP, under separate agreements; approvals; the deny-list.
  Write("policy_files", "t01-t11-approved",
        PolicyFile(policies, "codelists/geografie.textproto") +
            PolicyFile(policies, "codelists/persoon.textproto") +
            PolicyFile(policies, "codelists/leeftijd.textproto") +
            PolicyFile(policies, "disclosure/cbs-default.textproto") + Section(t01_path, t01) +
            PolicyFile(policies, "templates/t11_bijstand_dp_wijk_leeftijd.textproto") + principals +
            Section("access/agreements.textproto",
                    "agreement { id: \"A-1\" organisation: \"Universiteit Leiden\" project: "
                    "\"P2026-001\" valid_from: \"2026-01-01\" valid_until: \"2027-12-31\" "
                    "template: \"zzp_aantal_per_wijk\" budget_micro: 1000000 }\n"
                    "agreement { id: \"A-2\" organisation: \"Universiteit Leiden\" project: "
                    "\"P2026-002\" valid_from: \"2026-01-01\" valid_until: \"2027-12-31\" "
                    "template: \"bijstand_dp_wijk_leeftijd\" budget_micro: 4000000 }\n"
                    "project { project: \"P2026-001\" cap_micro: 2000000 }\n"
                    "project { project: \"P2026-002\" cap_micro: 6000000 }\n"
                    "data_version_cap_micro: 12000000\n") +
            revoked + Section("access/approvers.textproto", approvers_text) +
            Section("approvals/" + pf::ApprovalFileName(identity.id), pf::FormatApproval(approval)));
  // The same agreement covering the DP template and an SDC template over persons: refused.
  Write("policy_files", "dp-separation-refused",
        PolicyFile(policies, "codelists/geografie.textproto") +
            PolicyFile(policies, "codelists/persoon.textproto") +
            PolicyFile(policies, "codelists/leeftijd.textproto") +
            PolicyFile(policies, "disclosure/cbs-default.textproto") + Section(t01_path, t01) +
            PolicyFile(policies, "templates/t11_bijstand_dp_wijk_leeftijd.textproto") + principals +
            Section("access/agreements.textproto",
                    "agreement { id: \"A-1\" organisation: \"Universiteit Leiden\" project: "
                    "\"P2026-001\" valid_from: \"2026-01-01\" valid_until: \"2027-12-31\" "
                    "template: \"zzp_aantal_per_wijk\" template: \"bijstand_dp_wijk_leeftijd\" "
                    "budget_micro: 1000000 }\n"
                    "project { project: \"P2026-001\" cap_micro: 2000000 }\n"));
  // Magnitudes, quantiles and the income rule.
  Write("policy_files", "t02-income",
        PolicyFile(policies, "codelists/geografie.textproto") +
            PolicyFile(policies, "codelists/persoon.textproto") +
            PolicyFile(policies, "codelists/leeftijd.textproto") +
            PolicyFile(policies, "codelists/werk_inkomen.textproto") +
            PolicyFile(policies, "disclosure/cbs-income.textproto") +
            PolicyFile(policies, "templates/t02_zzp_inkomen_verdeling.textproto") + principals);
  // Businesses (establishments), the ratio statistic and the business rule set.
  Write("policy_files", "t10-business",
        PolicyFile(policies, "codelists/economie.textproto") +
            PolicyFile(policies, "disclosure/cbs-business.textproto") +
            PolicyFile(policies, "templates/t10_event_impact_pin.textproto") + principals);
  // Youth care: multi-valued dimension, sensitive categories.
  Write("policy_files", "t07-youth",
        PolicyFile(policies, "codelists/geografie.textproto") +
            PolicyFile(policies, "codelists/persoon.textproto") +
            PolicyFile(policies, "codelists/leeftijd.textproto") +
            PolicyFile(policies, "codelists/jeugd.textproto") +
            PolicyFile(policies, "disclosure/cbs-default.textproto") +
            PolicyFile(policies, "templates/t07_jeugdhulp_gebruik.textproto") + principals);
}

// --- template binding -------------------------------------------------------------------------

void BindSeeds() {
  const auto loaded = Must(pf::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies", nullptr));
  const auto& list = loaded.catalog->templates;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const enclave::templates::Template& t = list[i];
    const std::string head(1, static_cast<char>(i));
    Write("template_bind", t.id + "-defaults", head);
    std::string all;
    std::string breakdowns;
    for (const enclave::templates::ParamSpec& p : t.params) {
      std::string value;
      if (p.type == enclave::templates::ParamType::kInteger) {
        value = std::to_string(p.max);
      } else if (!p.allowed.empty()) {
        value = p.allowed.back().code;
      }
      all += p.name + "=" + value + "\n";
      if (p.type == enclave::templates::ParamType::kBreakdown && p.allowed.size() > 1) {
        breakdowns += p.name + "=" + p.allowed[1].code + "\n";
      }
    }
    Write("template_bind", t.id + "-all", head + all);
    if (!breakdowns.empty()) Write("template_bind", t.id + "-breakdowns", head + breakdowns);
    if (!t.params.empty()) {
      Write("template_bind", t.id + "-long-value",
            head + t.params[0].name + "=" + std::string(80, 'x') + "\n");
    }
  }
  Write("template_bind", "unknown-long-name", std::string(1, '\0') + std::string(90, 'n') + "=1\n");
}

// --- deliveries -------------------------------------------------------------------------------

std::string ValidBsn(int k) {
  int found = 0;
  for (int n = 100000000 + k * 7919;; ++n) {
    const std::string s = std::to_string(n);
    if (enclave::delivery::IsCanonicalBsn(s) && found++ == 0) return s;
  }
}

std::string GoodValue(const enclave::delivery::ColumnSpec& c, int row) {
  using T = enclave::delivery::ColumnType;
  switch (c.type) {
    case T::kBsn: return ValidBsn(row);
    case T::kText: return c.allowed.empty() ? "tekst" : c.allowed[static_cast<std::size_t>(row) % c.allowed.size()];
    case T::kInteger:
      if (!c.allowed.empty()) return c.allowed[0];
      return std::to_string(c.min.value_or(0) + row);
    case T::kDate: return "2025010" + std::to_string(1 + row % 9);
    case T::kReal: return "12.5";
  }
  return "";
}

std::string LeakValue(const enclave::delivery::ColumnSpec& c) {
  using T = enclave::delivery::ColumnType;
  switch (c.type) {
    case T::kBsn: return "12LEAK345";
    case T::kText: return "\"LEAK,\"\"x\"\"\"";
    case T::kInteger: return "9LEAK";
    case T::kDate: return "LEAK0101";
    case T::kReal: return "1.LEAK";
  }
  return "LEAK";
}

void DeliverySeeds() {
  const fs::path dir = fs::path(ENCLAVE_SOURCE_DIR) / "policies" / "deliveries";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".textproto") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto d = Must(enclave::steward::LoadDescription(files[i].string()));
    std::string header;
    for (const auto& c : d.columns) header += (header.empty() ? "" : ",") + c.name;
    std::string good = header + "\n";
    for (int row = 0; row < 4; ++row) {
      std::string line;
      for (const auto& c : d.columns) line += (line.empty() ? "" : ",") + GoodValue(c, row);
      good += line + (row == 2 ? "\r\n" : "\n");
    }
    const std::string head(1, static_cast<char>(i));
    Write("delivery_csv", d.dataset + "-valid", head + good);
    // One bad row per column (the canary in that column), a short row, a duplicate, bad quoting
    // and bad UTF-8: the errors every kind of report line is made of.
    std::string bad = "\xEF\xBB\xBF" + header + "\n";
    for (std::size_t k = 0; k < d.columns.size(); ++k) {
      std::string line;
      for (std::size_t j = 0; j < d.columns.size(); ++j) {
        line += (j == 0 ? "" : ",") + (j == k ? LeakValue(d.columns[j]) : GoodValue(d.columns[j], 0));
      }
      bad += line + "\n";
    }
    bad += GoodValue(d.columns[0], 1) + "\n";
    std::string dup;
    for (const auto& c : d.columns) dup += (dup.empty() ? "" : ",") + GoodValue(c, 3);
    bad += dup + "\n" + dup + "\n";
    bad += "\"LEAK\"x,\n";
    bad += "\xC3\x28LEAK\n";
    Write("delivery_csv", d.dataset + "-errors", head + bad);
  }
  Write("delivery_csv", "description-srg", "\xFF" + Read(dir / "srg_reintegratie.textproto"));
  Write("delivery_csv", "description-gba", "\xFF" + Read(dir / "gbapersoontab.textproto"));
  Write("delivery_csv", "empty", std::string(1, '\0'));
}

// --- enclavectl -------------------------------------------------------------------------------

void CliSeeds() {
  auto args = [](std::initializer_list<std::string_view> list) {
    std::string out(1, '\0');  // mode: args
    bool first = true;
    for (std::string_view a : list) {
      if (!first) out.push_back('\0');
      out.append(a);
      first = false;
    }
    return out;
  };
  Write("enclavectl_args", "run", args({"--config", "run/enclavectl.conf", "run", "bijstand_stand",
                                        "--param", "geo=wijkcluster", "-p", "peildatum=2025-12",
                                        "--format=csv", "--output", "out.csv", "--timeout", "2.5",
                                        "--lang", "nl"}));
  Write("enclavectl_args", "describe", args({"describe", "zzp_aantal_per_wijk", "--target",
                                             "localhost:7443", "--ca", "ca.pem", "--cert", "a.pem",
                                             "--key", "a.key", "--server-name", "enclave"}));
  Write("enclavectl_args", "audit-log", args({"audit", "log", "--caller", "spiffe://x/analyst1",
                                              "--from", "2026-11-25T13:05", "--to",
                                              "1764075909000", "--decision", "allowed", "--type",
                                              "query-result", "--format", "json"}));
  Write("enclavectl_args", "audit-verify", args({"audit", "verify", "--state", "state.txt",
                                                 "--log-key", "enclave.fuzz/log+01234567+AQ==",
                                                 "--origin", "enclave.fuzz/log"}));
  Write("enclavectl_args", "audit-verify-bundle",
        args({"audit", "verify-bundle", "bundle.bin", "--state", "s", "--", "--x"}));
  Write("enclavectl_args", "audit-export", args({"audit", "export", "--output=log.bundle"}));
  Write("enclavectl_args", "audit-receipt", args({"audit", "receipt", "req-1"}));
  Write("enclavectl_args", "help", args({"help", "run"}));
  Write("enclavectl_args", "version", args({"--version"}));
  Write("enclavectl_args", "template-sign",
        args({"template", "sign", "--key", "o.key", "--approvers", "a.textproto", "--out", "dir",
              "policies/templates"}));
  Write("enclavectl_args", "template-check",
        args({"template", "check", "--approvers", "a", "--approvals", "d", "t.textproto"}));
  Write("enclavectl_args", "budget", args({"budget", "--timeout=30"}));
  Write("enclavectl_args", "config",
        "\x01# enclavectl config\ntarget = enclave.lv.local:7443\nca     = pki/ca.pem   # comment\n"
        "cert   = \"~/pki/analyst.pem\"\nkey    = /abs/analyst.key\nlang   = nl\nformat = json\n"
        "timeout = 10\nserver_name = enclave\nlog_key = enclave.fuzz/log+01234567+AQ==\n"
        "log_origin = enclave.fuzz/log\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: enclave_fuzz_make_corpus CORPUS_DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  out_root = argv[1];
  AuditSeeds();
  PolicySeeds();
  BindSeeds();
  DeliverySeeds();
  CliSeeds();
  std::printf("wrote %d seeds under %s\n", written, out_root.c_str());
  return 0;
}
