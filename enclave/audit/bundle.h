// The export bundle (docs/audit-log.md §5): a signed checkpoint note and the leaves it covers,
// optionally starting after a prefix that the auditor already verified.
//
//   "enclave-log-bundle/1\n"
//   u32 note length, note bytes
//   u64 first index m; u8 k = popcount(m); k x 32-byte compact range of the first m leaves
//   u64 leaf count; per leaf: u32 length, leaf bytes
//
// The offline verifier (client/verifier) reads it with its own code.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "enclave/audit/merkle.h"

namespace enclave::audit {

inline constexpr std::string_view kBundleHeaderV1 = "enclave-log-bundle/1\n";

// `prefix` is the compact range of leaves [0, first_index) (CompactRange::hashes()).
// kInvalidArgument if the prefix has the wrong number of hashes or a part is too large.
absl::StatusOr<std::string> EncodeBundle(std::string_view checkpoint_note, std::uint64_t first_index,
                                         std::span<const Hash> prefix,
                                         std::span<const std::string> leaves);

}  // namespace enclave::audit
