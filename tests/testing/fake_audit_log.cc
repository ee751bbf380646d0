#include "tests/testing/fake_audit_log.h"

#include <bit>
#include <utility>

#include "enclave/base/check.h"
#include "enclave/crypto/ed25519.h"

namespace enclave::testing {
namespace {

audit::NoteSigner MakeSigner() {
  absl::StatusOr<crypto::Ed25519PrivateKey> key =
      crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x07'));
  ENCLAVE_CHECK(key.ok());
  absl::StatusOr<audit::NoteSigner> signer =
      audit::NoteSigner::Create(kFakeLogOrigin, *std::move(key));
  ENCLAVE_CHECK(signer.ok());
  return *std::move(signer);
}

audit::EntryType TypeOf(core::QueryLogEntry::Type type) {
  switch (type) {
    case core::QueryLogEntry::Type::kAccepted:
      return audit::EntryType::kQueryAccepted;
    case core::QueryLogEntry::Type::kResult:
      return audit::EntryType::kQueryResult;
    case core::QueryLogEntry::Type::kRefused:
      return audit::EntryType::kQueryRefused;
    case core::QueryLogEntry::Type::kAborted:
      return audit::EntryType::kQueryAborted;
    case core::QueryLogEntry::Type::kServerStart:
      return audit::EntryType::kServerStart;
    case core::QueryLogEntry::Type::kServerStop:
      return audit::EntryType::kServerStop;
    case core::QueryLogEntry::Type::kPolicyLoaded: return audit::EntryType::kPolicyLoaded;
    case core::QueryLogEntry::Type::kPolicyRefused: return audit::EntryType::kPolicyRefused;
    case core::QueryLogEntry::Type::kAuthFailureSummary: return audit::EntryType::kAuthFailureSummary;
    case core::QueryLogEntry::Type::kBudget: return audit::EntryType::kBudget;
    case core::QueryLogEntry::Type::kDataLoad: return audit::EntryType::kDataLoad;
    case core::QueryLogEntry::Type::kDatasetRollback: return audit::EntryType::kDatasetRollback;
  }
  return audit::EntryType::kHeartbeat;
}

absl::Status Unavailable() { return absl::UnavailableError("fake audit log: injected failure"); }

}  // namespace

FakeAuditLog::FakeAuditLog() : signer_(MakeSigner()) {}

absl::Status FakeAuditLog::Append(const core::QueryLogEntry& entry) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_appends_) return Unavailable();
  }
  audit::LogLeaf leaf;
  leaf.type = TypeOf(entry.type);
  leaf.request_id = audit::SanitizeLeafText(entry.request_id);
  leaf.caller = audit::SanitizeLeafText(entry.caller);
  leaf.role = entry.role;
  leaf.project = audit::SanitizeLeafText(entry.project);
  leaf.rpc = entry.rpc;
  leaf.template_id = audit::SanitizeLeafText(entry.template_id);
  leaf.template_version = entry.template_version;
  leaf.canonical_params = audit::SanitizeLeafText(entry.canonical_params);
  leaf.decision = entry.decision;
  leaf.reason = audit::SanitizeLeafText(entry.reason);
  leaf.rule_set = entry.rule_set;
  leaf.data_version = entry.data_version;
  leaf.cell_rules = entry.cell_rules;
  leaf.detail = audit::SanitizeLeafText(entry.detail);
  AppendLeaf(std::move(leaf));
  return absl::OkStatus();
}

std::uint64_t FakeAuditLog::AppendLeaf(audit::LogLeaf leaf) {
  std::lock_guard<std::mutex> lock(mu_);
  leaf.origin = kFakeLogOrigin;
  leaf.sequence = leaves_.size();
  if (leaf.time_unix_ms == 0) leaf.time_unix_ms = clock_ms_++;
  absl::StatusOr<std::string> bytes = audit::EncodeLeaf(leaf);
  ENCLAVE_CHECK(bytes.ok());
  tree_.AppendLeaf(*bytes);
  leaves_.push_back(*std::move(bytes));
  return leaf.sequence;
}

void FakeAuditLog::SignCheckpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  audit::Checkpoint checkpoint{kFakeLogOrigin, tree_.Size(), tree_.Root()};
  absl::StatusOr<std::string> note = audit::SignCheckpoint(checkpoint, signer_);
  ENCLAVE_CHECK(note.ok());
  checkpoint_ = core::SignedCheckpoint{checkpoint.origin, checkpoint.size, checkpoint.root, *note};
}

absl::StatusOr<core::SignedCheckpoint> FakeAuditLog::LatestCheckpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_reads_) return Unavailable();
  if (!checkpoint_.has_value()) return absl::NotFoundError("no checkpoint signed yet");
  return *checkpoint_;
}

absl::StatusOr<std::uint64_t> FakeAuditLog::Size() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_reads_) return Unavailable();
  return tree_.Size();
}

absl::StatusOr<std::vector<std::string>> FakeAuditLog::ReadLeaves(std::uint64_t begin,
                                                                  std::uint64_t end) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_reads_) return Unavailable();
  if (begin > end || end > leaves_.size()) return absl::InvalidArgumentError("bad leaf range");
  return std::vector<std::string>(leaves_.begin() + static_cast<std::ptrdiff_t>(begin),
                                  leaves_.begin() + static_cast<std::ptrdiff_t>(end));
}

absl::StatusOr<std::vector<core::AuditHash>> FakeAuditLog::InclusionProof(std::uint64_t index,
                                                                          std::uint64_t tree_size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_reads_) return Unavailable();
  return audit::InclusionProof(tree_, index, tree_size);
}

absl::StatusOr<std::vector<core::AuditHash>> FakeAuditLog::ConsistencyProof(
    std::uint64_t old_size, std::uint64_t new_size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_reads_) return Unavailable();
  return audit::ConsistencyProof(tree_, old_size, new_size);
}

absl::StatusOr<std::vector<core::AuditHash>> FakeAuditLog::CompactRange(std::uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_reads_) return Unavailable();
  if (size > tree_.Size()) return absl::InvalidArgumentError("size beyond the log");
  std::vector<core::AuditHash> out;
  std::uint64_t begin = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const std::uint64_t width = std::uint64_t{1} << bit;
    if ((size & width) == 0) continue;
    absl::StatusOr<audit::Hash> h = audit::SubtreeHash(tree_, begin, begin + width);
    if (!h.ok()) return h.status();
    out.push_back(*h);
    begin += width;
  }
  return out;
}

void FakeAuditLog::FailReads(bool fail) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_reads_ = fail;
}

void FakeAuditLog::FailAppends(bool fail) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_appends_ = fail;
}

std::string FakeAuditLog::VerifierKey() const { return signer_.VerifierKey(); }

std::vector<audit::LogLeaf> FakeAuditLog::DecodedLeaves() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<audit::LogLeaf> out;
  for (const std::string& bytes : leaves_) {
    absl::StatusOr<audit::LogLeaf> leaf = audit::DecodeLeaf(bytes);
    ENCLAVE_CHECK(leaf.ok());
    out.push_back(*std::move(leaf));
  }
  return out;
}

std::vector<audit::LogLeaf> FakeAuditLog::Refusals() const {
  std::vector<audit::LogLeaf> out;
  for (audit::LogLeaf& leaf : DecodedLeaves()) {
    if (leaf.type == audit::EntryType::kQueryRefused) out.push_back(std::move(leaf));
  }
  return out;
}

std::vector<std::string> FakeAuditLog::RawLeavesForTest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leaves_;
}

void FakeAuditLog::ReplaceLeafBytesForTest(std::uint64_t index, std::string bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  leaves_.at(static_cast<std::size_t>(index)) = std::move(bytes);
}

}  // namespace enclave::testing
