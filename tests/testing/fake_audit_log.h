// An in-memory audit log for tests: a core::QueryLog (entries become enclave-log-leaf/1 leaves)
// and a core::AuditReader over the same leaves (audit::MemoryTree), signed with a fixed test key.
// Thread-safe; reads can be told to fail.
//
//   auto log = std::make_shared<FakeAuditLog>();
//   log->Append(entry);                 // a leaf
//   log->SignCheckpoint();               // a signed checkpoint of every leaf so far
//   core::AuditService audit(principals, log, log, {});
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "enclave/core/audit_reader.h"
#include "enclave/core/query_log.h"

namespace enclave::testing {

inline constexpr char kFakeLogOrigin[] = "test.enclave/log";

class FakeAuditLog final : public core::QueryLog, public core::AuditReader {
 public:
  FakeAuditLog();

  // core::QueryLog: the entry as a leaf (sequence, time and origin assigned here).
  absl::Status Append(const core::QueryLogEntry& entry) override;
  // A leaf built by the test; origin, sequence and (if 0) time are assigned. Returns its index.
  std::uint64_t AppendLeaf(audit::LogLeaf leaf);
  // Signs a checkpoint of the current size and makes it the latest.
  void SignCheckpoint();

  absl::StatusOr<core::SignedCheckpoint> LatestCheckpoint() override;
  absl::StatusOr<std::uint64_t> Size() override;
  absl::StatusOr<std::vector<std::string>> ReadLeaves(std::uint64_t begin,
                                                      std::uint64_t end) override;
  absl::StatusOr<std::vector<core::AuditHash>> InclusionProof(std::uint64_t index,
                                                              std::uint64_t tree_size) override;
  absl::StatusOr<std::vector<core::AuditHash>> ConsistencyProof(std::uint64_t old_size,
                                                                std::uint64_t new_size) override;
  absl::StatusOr<std::vector<core::AuditHash>> CompactRange(std::uint64_t size) override;

  // Reads fail with kUnavailable while set; appends fail with kUnavailable while set.
  void FailReads(bool fail);
  void FailAppends(bool fail);

  // The verifier key of the test signing key ("<name>+<id>+<key>").
  std::string VerifierKey() const;
  std::vector<audit::LogLeaf> DecodedLeaves() const;
  // Leaves of type query-refused.
  std::vector<audit::LogLeaf> Refusals() const;
  std::vector<std::string> RawLeavesForTest() const;
  // The insider's edit of issue 11: the bytes served for leaf `index` become `bytes`, while the
  // tree (its hashes, proofs and checkpoints) stays as it was.
  void ReplaceLeafBytesForTest(std::uint64_t index, std::string bytes);

 private:
  mutable std::mutex mu_;
  audit::NoteSigner signer_;
  std::vector<std::string> leaves_;
  audit::MemoryTree tree_;
  std::optional<core::SignedCheckpoint> checkpoint_;
  std::int64_t clock_ms_ = 1'700'000'000'000;
  bool fail_reads_ = false;
  bool fail_appends_ = false;
};

}  // namespace enclave::testing
