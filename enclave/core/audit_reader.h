// The audit log's read port: what the AuditService needs from the durable Merkle log, in plain
// C++ types. The SQLite log adapter implements it; tests use an in-memory one
// (tests/testing/fake_audit_reader.h).
//
//   std::shared_ptr<core::AuditReader> reader = ...;  // the same log the QueryLog writes
//   ENCLAVE_ASSIGN_OR_RETURN(core::SignedCheckpoint cp, reader->LatestCheckpoint());
//   ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaves, reader->ReadLeaves(0, cp.size));
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::core {

// A SHA-256 digest (tree node or leaf hash, RFC 9162 §2.1).
using AuditHash = std::array<std::uint8_t, 32>;

struct SignedCheckpoint {
  std::string origin;
  std::uint64_t size = 0;
  AuditHash root{};
  std::string note;  // the C2SP signed note whose body is (origin, size, root)
};

// Implementations must be safe for concurrent calls (RPC handlers run in parallel). Every method
// returns kUnavailable (or kDataLoss) when storage fails.
class AuditReader {
 public:
  virtual ~AuditReader() = default;

  // The latest signed checkpoint. kNotFound if none has been signed yet.
  virtual absl::StatusOr<SignedCheckpoint> LatestCheckpoint() = 0;
  // Number of leaves written (may be ahead of the latest checkpoint).
  virtual absl::StatusOr<std::uint64_t> Size() = 0;
  // The stored leaf bytes of [begin, end), in order. kInvalidArgument unless begin <= end <= Size().
  virtual absl::StatusOr<std::vector<std::string>> ReadLeaves(std::uint64_t begin,
                                                              std::uint64_t end) = 0;
  // RFC 9162 PATH(index, D[tree_size]). kInvalidArgument unless index < tree_size <= Size().
  virtual absl::StatusOr<std::vector<AuditHash>> InclusionProof(std::uint64_t index,
                                                                std::uint64_t tree_size) = 0;
  // RFC 9162 PROOF(old_size, D[new_size]). kInvalidArgument unless old_size <= new_size <= Size().
  virtual absl::StatusOr<std::vector<AuditHash>> ConsistencyProof(std::uint64_t old_size,
                                                                  std::uint64_t new_size) = 0;
  // The compact range of the first `size` leaves: the perfect subtree hashes along the right
  // edge, largest first (one per set bit of size). kInvalidArgument unless size <= Size().
  virtual absl::StatusOr<std::vector<AuditHash>> CompactRange(std::uint64_t size) = 0;
  // Sequence numbers of the leaves with this request id, ascending. An index is optional:
  // kUnimplemented (the default) makes the caller scan the leaves instead.
  virtual absl::StatusOr<std::vector<std::uint64_t>> FindRequest(const std::string& request_id) {
    (void)request_id;
    return absl::UnimplementedError("no request index");
  }
};

}  // namespace enclave::core
