// core::AuditReader over the SQLite AuditLogStore: the read port of the AuditService, wired by
// StartServer. The checkpoint's fields are parsed from the one note read, so that note and
// (size, root) always belong together even when a new checkpoint is signed meanwhile.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/core/audit_reader.h"

namespace enclave::server {

class AuditLogReader final : public core::AuditReader {
 public:
  explicit AuditLogReader(std::shared_ptr<adapters::sqlite::AuditLogStore> store)
      : store_(std::move(store)) {}

  absl::StatusOr<core::SignedCheckpoint> LatestCheckpoint() override {
    std::string note = store_->LatestCheckpointNote();
    if (note.empty()) return absl::NotFoundError("no checkpoint has been signed yet");
    absl::StatusOr<audit::Note> parsed = audit::ParseNote(note);
    if (!parsed.ok()) return absl::DataLossError("the stored checkpoint note does not parse");
    absl::StatusOr<audit::Checkpoint> body = audit::ParseCheckpointBody(parsed->text);
    if (!body.ok()) return absl::DataLossError("the stored checkpoint body does not parse");
    return core::SignedCheckpoint{body->origin, body->size, body->root, std::move(note)};
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

 private:
  std::shared_ptr<adapters::sqlite::AuditLogStore> store_;
};

}  // namespace enclave::server
