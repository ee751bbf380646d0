// The audit log store's reader: the root, subtree hashes and compact ranges (for proofs), the
// latest checkpoint, export bundles, the search by request id, and the core::AuditReader over it.
#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/adapters/sqlite/audit_log_store_impl.h"
#include "enclave/audit/bundle.h"
#include "enclave/base/status_macros.h"

namespace enclave::adapters::sqlite {

using namespace audit_log_internal;  // NOLINT: the store's shared helpers

audit::Hash AuditLogStore::Root() const {
  std::lock_guard<std::mutex> lock(impl_->state_mu);
  return impl_->root;
}

absl::StatusOr<audit::Hash> AuditLogStore::PerfectSubtreeHash(int level, std::uint64_t index) const {
  if (level < 0 || level > 63 || index >= (std::uint64_t{1} << (63 - level)) ||
      ((index + 1) << level) > Size()) {
    return absl::InvalidArgumentError("audit log: no such subtree in the tree");
  }
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  // Prepared once (a page of audit log entries with proofs reads thousands of nodes).
  Stmt& prepared = level == 0 ? impl_->read_leaf_hash : impl_->read_node;
  if (prepared.get() == nullptr) {
    const int rc = level == 0 ? prepared.Prepare(impl_->read_db,
                                                 "SELECT hash FROM leaves WHERE seq = ?1")
                              : prepared.Prepare(impl_->read_db,
                                                 "SELECT hash FROM nodes WHERE idx = ?1 AND level = ?2");
    if (rc != SQLITE_OK) return Unavailable("cannot read the tree", rc);
  }
  sqlite3_stmt* stmt = prepared.get();
  sqlite3_reset(stmt);
  sqlite3_bind_int64(stmt, 1, ToI64(index));
  if (level > 0) sqlite3_bind_int(stmt, 2, level);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE) {
      return absl::DataLossError(absl::StrCat("audit log: tree node (", level, ", ", index, ") is missing"));
    }
    return Unavailable("cannot read the tree", rc);
  }
  const std::optional<Hash> h = ToHash(ColumnBlob(stmt, 0));
  sqlite3_reset(stmt);  // ends the read transaction
  if (!h) return absl::DataLossError(absl::StrCat("audit log: tree node (", level, ", ", index, ") is malformed"));
  return *h;
}

absl::StatusOr<std::vector<audit::Hash>> AuditLogStore::InclusionProof(std::uint64_t index,
                                                                      std::uint64_t size) const {
  return audit::InclusionProof(*this, index, size);
}

absl::StatusOr<std::vector<audit::Hash>> AuditLogStore::ConsistencyProof(std::uint64_t size1,
                                                                        std::uint64_t size2) const {
  return audit::ConsistencyProof(*this, size1, size2);
}

absl::StatusOr<std::vector<std::string>> AuditLogStore::ReadLeaves(std::uint64_t begin,
                                                                   std::uint64_t end) const {
  if (begin > end || end > Size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit log: leaf range [", begin, ", ", end, ") is outside [0, ", Size(), ")"));
  }
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(end - begin));
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Stmt stmt;
  int rc = stmt.Prepare(impl_->read_db,
                        "SELECT seq, bytes FROM leaves WHERE seq >= ?1 AND seq < ?2 ORDER BY seq");
  if (rc != SQLITE_OK) return Unavailable("cannot read the leaves", rc);
  sqlite3_bind_int64(stmt.get(), 1, ToI64(begin));
  sqlite3_bind_int64(stmt.get(), 2, ToI64(end));
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    if (ToU64(sqlite3_column_int64(stmt.get(), 0)) != begin + out.size()) {
      return absl::DataLossError(absl::StrCat("audit log: leaf ", begin + out.size(), " is missing"));
    }
    out.push_back(ColumnBlob(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) return Unavailable("cannot read the leaves", rc);
  if (out.size() != end - begin) {
    return absl::DataLossError(absl::StrCat("audit log: leaf ", begin + out.size(), " is missing"));
  }
  return out;
}

absl::StatusOr<std::vector<audit::Hash>> AuditLogStore::CompactRangeAt(std::uint64_t size) const {
  if (size > Size()) return absl::InvalidArgumentError("audit log: size is beyond the tree");
  std::vector<Hash> out;
  std::uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    const std::uint64_t width = std::uint64_t{1} << level;
    if ((size & width) == 0) continue;
    ENCLAVE_ASSIGN_OR_RETURN(Hash h, PerfectSubtreeHash(level, start >> level));
    out.push_back(h);
    start += width;
  }
  return out;
}

std::string AuditLogStore::LatestCheckpointNote() const {
  std::lock_guard<std::mutex> lock(impl_->state_mu);
  return impl_->checkpoint_note;
}

audit::Checkpoint AuditLogStore::LatestCheckpoint() const {
  std::lock_guard<std::mutex> lock(impl_->state_mu);
  return impl_->checkpoint;
}

std::pair<audit::Checkpoint, std::string> AuditLogStore::LatestSignedCheckpoint() const {
  std::lock_guard<std::mutex> lock(impl_->state_mu);
  return {impl_->checkpoint, impl_->checkpoint_note};
}

absl::StatusOr<std::string> AuditLogStore::ExportBundle(std::uint64_t first_index) const {
  std::string note;
  audit::Checkpoint cp;
  {
    std::lock_guard<std::mutex> lock(impl_->state_mu);
    note = impl_->checkpoint_note;
    cp = impl_->checkpoint;
  }
  if (note.empty()) return absl::FailedPreconditionError("audit log: no checkpoint signed yet");
  if (first_index > cp.size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit log: first index ", first_index, " is beyond the checkpoint size ", cp.size));
  }
  ENCLAVE_ASSIGN_OR_RETURN(std::vector<Hash> prefix, CompactRangeAt(first_index));
  ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaves, ReadLeaves(first_index, cp.size));
  return audit::EncodeBundle(note, first_index, prefix, leaves);
}

std::string AuditLogStore::VerifierKey() const { return impl_->signer->VerifierKey(); }

std::string AuditLogStore::DurabilityForTest() const { return impl_->durability; }

absl::StatusOr<std::vector<std::uint64_t>> AuditLogStore::FindRequest(
    const std::string& request_id) const {
  std::vector<std::uint64_t> out;
  if (request_id.empty()) return out;
  const std::uint64_t size = Size();
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Stmt stmt;
  int rc = stmt.Prepare(impl_->read_db,
                        "SELECT seq FROM leaves WHERE request_id = ?1 AND request_id != '' "
                        "AND seq < ?2 ORDER BY seq");
  if (rc != SQLITE_OK) return Unavailable("cannot read the leaves", rc);
  sqlite3_bind_text(stmt.get(), 1, request_id.data(), static_cast<int>(request_id.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt.get(), 2, ToI64(size));
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    out.push_back(ToU64(sqlite3_column_int64(stmt.get(), 0)));
  }
  if (rc != SQLITE_DONE) return Unavailable("cannot read the leaves", rc);
  return out;
}

namespace {

class StoreReader final : public core::AuditReader {
 public:
  explicit StoreReader(std::shared_ptr<const AuditLogStore> store) : store_(std::move(store)) {}

  absl::StatusOr<core::SignedCheckpoint> LatestCheckpoint() override {
    core::SignedCheckpoint out;
    auto [cp, note] = store_->LatestSignedCheckpoint();
    if (note.empty()) return absl::NotFoundError("audit log: no checkpoint signed yet");
    out.note = std::move(note);
    out.origin = cp.origin;
    out.size = cp.size;
    out.root = cp.root;
    return out;
  }
  absl::StatusOr<std::uint64_t> Size() override { return store_->Size(); }
  absl::StatusOr<std::vector<std::string>> ReadLeaves(std::uint64_t begin,
                                                      std::uint64_t end) override {
    return store_->ReadLeaves(begin, end);
  }
  absl::StatusOr<std::vector<core::AuditHash>> InclusionProof(std::uint64_t index,
                                                              std::uint64_t tree_size) override {
    return store_->InclusionProof(index, tree_size);
  }
  absl::StatusOr<std::vector<core::AuditHash>> ConsistencyProof(std::uint64_t old_size,
                                                                std::uint64_t new_size) override {
    return store_->ConsistencyProof(old_size, new_size);
  }
  absl::StatusOr<std::vector<core::AuditHash>> CompactRange(std::uint64_t size) override {
    return store_->CompactRangeAt(size);
  }
  absl::StatusOr<std::vector<std::uint64_t>> FindRequest(const std::string& request_id) override {
    return store_->FindRequest(request_id);
  }

 private:
  std::shared_ptr<const AuditLogStore> store_;
};

}  // namespace

std::shared_ptr<core::AuditReader> MakeAuditReader(std::shared_ptr<const AuditLogStore> store) {
  return std::make_shared<StoreReader>(std::move(store));
}

}  // namespace enclave::adapters::sqlite
