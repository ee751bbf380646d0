// What an insider with write access to the state directory can do to audit_log.db without the
// log's signing key (issue 11), for the tests that must catch it. Each function drops the
// append-only triggers it needs, as such an insider would, and works on a closed database or one
// a running server has open (SQLite's locking keeps the edit atomic).
//
//   testing::RewriteLeafBytes(db, 17, 30, [](audit::LogLeaf& l) { l.caller = "...analyst9"; });
//   testing::RewriteTailConsistently(db, 20);
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "enclave/audit/leaf.h"

namespace enclave::testing {

// The probe of issue 11 §1: the bytes of leaves [from, to) re-encoded after `edit`, the stored
// leaf hashes, tree nodes and tree state kept as they were.
absl::Status RewriteLeafBytes(const std::string& db_path, std::uint64_t from, std::uint64_t to,
                              const std::function<void(audit::LogLeaf&)>& edit);

// The tail rewrite: the caller of every leaf from `from` on replaced, and everything derived from
// the bytes made consistent again as the writer would have built it (leaf hashes, every tree
// node, the tree state). Signed checkpoints are left alone: they cannot be re-signed.
absl::Status RewriteTailConsistently(const std::string& db_path, std::uint64_t from,
                                     const std::string& caller = "spiffe://lv/someone-else");

}  // namespace enclave::testing
