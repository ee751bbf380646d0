#include "enclave/audit/bundle.h"

#include <bit>

#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"

namespace enclave::audit {
namespace {

void PutFixed(std::string& out, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

absl::StatusOr<std::string> EncodeBundle(std::string_view checkpoint_note, std::uint64_t first_index,
                                         std::span<const Hash> prefix,
                                         std::span<const std::string> leaves) {
  if (prefix.size() != static_cast<std::size_t>(std::popcount(first_index))) {
    return absl::InvalidArgumentError("bundle: the prefix needs one hash per set bit of the first index");
  }
  if (checkpoint_note.size() > kMaxNoteBytes) {
    return absl::InvalidArgumentError("bundle: the checkpoint note is larger than 64 KiB");
  }
  std::size_t total = kBundleHeaderV1.size() + 4 + checkpoint_note.size() + 8 + 1 + 32 * prefix.size() + 8;
  for (const std::string& leaf : leaves) {
    if (leaf.size() > kMaxLeafBytes) return absl::InvalidArgumentError("bundle: a leaf is larger than 4 MiB");
    total += 4 + leaf.size();
  }
  std::string out;
  out.reserve(total);
  out.append(kBundleHeaderV1);
  PutFixed(out, checkpoint_note.size(), 4);
  out.append(checkpoint_note);
  PutFixed(out, first_index, 8);
  PutFixed(out, prefix.size(), 1);
  for (const Hash& h : prefix) out.append(reinterpret_cast<const char*>(h.data()), h.size());
  PutFixed(out, leaves.size(), 8);
  for (const std::string& leaf : leaves) {
    PutFixed(out, leaf.size(), 4);
    out.append(leaf);
  }
  return out;
}

}  // namespace enclave::audit
