// Offline verification time of a one-million-entry audit log bundle (issue 4 aim: under 10 s).
// Builds synthetic accepted/result leaves with the writer (enclave/audit), signs a checkpoint,
// writes the bundle to a temporary file, and times the independent verifier on it.
//
//   bench_verify [entries]   prints: bench=verify_log entries=1000000 seconds=...
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "client/verifier/verifier.h"
#include "enclave/audit/bundle.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"

int main(int argc, char** argv) {
  using namespace enclave;
  using Clock = std::chrono::steady_clock;
  const std::uint64_t entries = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::string origin = "enclave.lv.example/log";

  const auto t0 = Clock::now();
  std::vector<std::string> leaves;
  leaves.reserve(entries);
  audit::CompactRange range;
  for (std::uint64_t i = 0; i < entries; ++i) {
    audit::LogLeaf l;
    l.origin = origin;
    l.sequence = i;
    l.time_unix_ms = 1767225600000 + static_cast<std::int64_t>(i);
    const bool accepted = i % 2 == 0;
    l.type = accepted ? audit::EntryType::kQueryAccepted : audit::EntryType::kQueryResult;
    l.request_id = "req-" + std::to_string(i / 2);
    l.caller = "spiffe://lv.example/analyst/anna";
    l.role = "analyst";
    l.rpc = "RunQuery";
    l.template_id = "bijstand_stand";
    l.template_version = 2;
    l.template_sha256 = std::string(32, '\x5a');
    l.canonical_params = "geo=wijkcluster;year=2023";
    l.decision = "allowed";
    if (!accepted) {
      l.rule_set = "cbs-default@1";
      l.rules_applied = "threshold(min_units=10)";
      l.cell_counts = {{"confidential", 3}, {"released", 23}};
      l.cell_rules = "released,released,threshold,released";
      l.result_sha256 = std::string(32, '\x42');
      l.related = {i - 1};
    }
    absl::StatusOr<std::string> bytes = audit::EncodeLeaf(l);
    if (!bytes.ok()) return 1;
    range.Append(audit::HashLeaf(*bytes));
    leaves.push_back(*std::move(bytes));
  }
  const auto t1 = Clock::now();
  // The writer's root over all leaf hashes, after hashing (RFC 9162 MTH from leaf hashes).
  std::vector<audit::Hash> leaf_hashes;
  leaf_hashes.reserve(leaves.size());
  for (const std::string& leaf : leaves) leaf_hashes.push_back(audit::HashLeaf(leaf));
  const auto r0 = Clock::now();
  const audit::Hash root = audit::RootFromLeafHashes(leaf_hashes);
  const auto r1 = Clock::now();
  if (root != range.Root()) return 1;
  audit::NoteSigner signer =
      *audit::NoteSigner::Create(origin, *crypto::Ed25519PrivateKey::Generate());
  const std::string note = *audit::SignCheckpoint({origin, entries, range.Root()}, signer);
  const std::string bundle = *audit::EncodeBundle(note, 0, {}, leaves);
  leaves.clear();
  leaves.shrink_to_fit();
  const std::string path = "/tmp/bench_verify_" + std::to_string(::getpid()) + ".bundle";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(bundle.data(), static_cast<std::streamsize>(bundle.size()));
    if (!out) return 1;
  }

  verifier::BundleOptions options{*verifier::ParseVerifierKey(signer.VerifierKey()), origin,
                                  std::nullopt};
  const auto t2 = Clock::now();
  absl::StatusOr<verifier::BundleReport> report = verifier::VerifyBundleFile(path, options);
  const auto t3 = Clock::now();
  std::remove(path.c_str());
  if (!report.ok()) {
    std::fprintf(stderr, "verification failed: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf("bench=verify_log entries=%llu seconds=%.3f bundle_bytes=%zu build_seconds=%.3f "
              "root_from_hashes_seconds=%.3f\n",
              static_cast<unsigned long long>(entries), secs(t2, t3), bundle.size(), secs(t0, t1),
              secs(r0, r1));
  return 0;
}
