// Export bundle verification (docs/audit-log.md §5 and §6).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/verifier/verifier.h"

namespace enclave::verifier {
namespace {

constexpr std::string_view kBundleHeader = "enclave-log-bundle/1\n";
constexpr std::uint8_t kAccepted = 1, kResult = 2, kAborted = 4, kRecovery = 5;

class In {
 public:
  explicit In(std::string_view d) : d_(d) {}
  bool Int(std::size_t width, std::uint64_t& out) {
    if (d_.size() < width) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) out = out << 8 | static_cast<unsigned char>(d_[i]);
    d_.remove_prefix(width);
    return true;
  }
  bool Bytes(std::size_t n, std::string_view& out) {
    if (d_.size() < n) return false;
    out = d_.substr(0, n);
    d_.remove_prefix(n);
    return true;
  }
  bool empty() const { return d_.empty(); }

 private:
  std::string_view d_;
};

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError("verifier: bundle: " + std::string(what));
}
absl::Status AtLeaf(std::uint64_t index, std::string_view what) {
  return absl::DataLossError("verifier: leaf " + std::to_string(index) + ": " + std::string(what));
}

}  // namespace

absl::StatusOr<BundleReport> VerifyBundle(std::string_view bundle, const BundleOptions& options) {
  if (bundle.substr(0, kBundleHeader.size()) != kBundleHeader) {
    return Corrupt("does not start with \"enclave-log-bundle/1\\n\"");
  }
  In in(bundle.substr(kBundleHeader.size()));
  std::uint64_t n = 0;
  std::string_view note;
  if (!in.Int(4, n) || n > 64 * 1024 || !in.Bytes(static_cast<std::size_t>(n), note)) {
    return Corrupt("truncated checkpoint note");
  }
  absl::StatusOr<CheckpointView> cp = VerifyCheckpointNote(note, options.key, options.origin);
  if (!cp.ok()) return cp.status();

  BundleReport report;
  report.checkpoint = *cp;
  const std::optional<CheckpointView>& trusted = options.trusted;
  if (trusted && trusted->size > cp->size) {
    return Corrupt("the signed checkpoint (size " + std::to_string(cp->size) +
                   ") is older than the trusted one (size " + std::to_string(trusted->size) +
                   "): truncation or rollback");
  }
  if (trusted && trusted->size == cp->size && trusted->root != cp->root) {
    return Corrupt("two different signed roots for tree size " + std::to_string(cp->size));
  }

  std::uint64_t first = 0;
  std::uint64_t prefix_count = 0;
  if (!in.Int(8, first) || !in.Int(1, prefix_count)) return Corrupt("truncated prefix");
  if (prefix_count != static_cast<std::uint64_t>(std::popcount(first))) {
    return Corrupt("the prefix must have one hash per set bit of the first index");
  }
  std::vector<Hash> prefix(static_cast<std::size_t>(prefix_count));
  for (Hash& h : prefix) {
    std::string_view raw;
    if (!in.Bytes(32, raw)) return Corrupt("truncated prefix");
    for (std::size_t i = 0; i < 32; ++i) h[i] = static_cast<std::uint8_t>(raw[i]);
  }
  absl::StatusOr<TreeBuilder> tree = TreeBuilder::Resume(first, prefix);
  if (!tree.ok()) return Corrupt("bad prefix");
  if (first > 0) {
    if (!trusted || trusted->size != first) {
      return absl::FailedPreconditionError(
          "verifier: a bundle starting at leaf " + std::to_string(first) +
          " needs the trusted checkpoint of that size");
    }
    if (tree->Root() != trusted->root) {
      return Corrupt("the prefix does not match the trusted checkpoint: history was rewritten");
    }
  }
  std::uint64_t count = 0;
  if (!in.Int(8, count)) return Corrupt("truncated leaf count");
  if (first > cp->size || count != cp->size - first) {
    return Corrupt("holds leaves [" + std::to_string(first) + ", " +
                   std::to_string(first + count) + ") but the checkpoint covers " +
                   std::to_string(cp->size) + " leaves");
  }
  report.first_index = first;

  std::unordered_map<std::string, std::uint64_t> open_by_request;
  std::unordered_map<std::uint64_t, std::string> open_by_sequence;
  std::int64_t latest_ms = 0;
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t index = first + k;
    std::uint64_t len = 0;
    std::string_view bytes;
    if (!in.Int(4, len) || !in.Bytes(static_cast<std::size_t>(len), bytes)) {
      return AtLeaf(index, "truncated");
    }
    absl::StatusOr<LeafView> leaf = ParseLeaf(bytes);
    if (!leaf.ok()) return AtLeaf(index, std::string(leaf.status().message()));
    if (leaf->sequence != index) {
      return AtLeaf(index, "sequence number " + std::to_string(leaf->sequence) + ", expected " +
                               std::to_string(index));
    }
    if (leaf->origin != cp->origin) return AtLeaf(index, "origin differs from the checkpoint's");
    if (latest_ms - leaf->time_unix_ms > options.time_tolerance_ms) {
      return AtLeaf(index, "time goes back by more than the tolerance");
    }
    latest_ms = std::max(latest_ms, leaf->time_unix_ms);

    switch (leaf->type) {
      case kAccepted:
        if (!open_by_request.emplace(leaf->request_id, index).second) {
          return AtLeaf(index, "a second query-accepted for an open request id");
        }
        open_by_sequence.emplace(index, leaf->request_id);
        break;
      case kResult:
      case kAborted: {
        auto it = open_by_request.find(leaf->request_id);
        if (it == open_by_request.end()) {
          if (first == 0) return AtLeaf(index, leaf->type_name + " without an open query-accepted");
          break;  // accepted before this partial bundle
        }
        open_by_sequence.erase(it->second);
        open_by_request.erase(it);
        break;
      }
      case kRecovery:
        for (std::uint64_t seq : leaf->related) {
          auto it = open_by_sequence.find(seq);
          if (it == open_by_sequence.end()) {
            if (first == 0 || seq >= first) {
              return AtLeaf(index, "recovery closes entry " + std::to_string(seq) +
                                       ", which is not an open query-accepted");
            }
            continue;
          }
          open_by_request.erase(it->second);
          open_by_sequence.erase(it);
        }
        break;
      default:
        break;
    }
    ++report.by_type[leaf->type_name];
    tree->Add(LeafHash(bytes));
    if (trusted && first == 0 && tree->size() == trusted->size && tree->Root() != trusted->root) {
      return Corrupt("the first " + std::to_string(trusted->size) +
                     " leaves do not match the trusted checkpoint: history was rewritten");
    }
  }
  if (!in.empty()) return Corrupt("trailing bytes after the last leaf");
  if (trusted && trusted->size == 0 && trusted->root != EmptyRoot()) {
    return Corrupt("the trusted empty checkpoint has a wrong root");
  }
  if (tree->Root() != cp->root) {
    return Corrupt("the root over " + std::to_string(cp->size) +
                   " leaves does not match the signed checkpoint");
  }
  report.leaves = count;
  report.open_requests = open_by_request.size();
  return report;
}

absl::StatusOr<BundleLeaves> BundleLeafHashes(std::string_view bundle) {
  if (bundle.substr(0, kBundleHeader.size()) != kBundleHeader) {
    return Corrupt("does not start with \"enclave-log-bundle/1\\n\"");
  }
  In in(bundle.substr(kBundleHeader.size()));
  std::uint64_t n = 0, prefix_count = 0, count = 0;
  std::string_view skipped;
  BundleLeaves out;
  if (!in.Int(4, n) || n > 64 * 1024 || !in.Bytes(static_cast<std::size_t>(n), skipped) ||
      !in.Int(8, out.first_index) || !in.Int(1, prefix_count) ||
      !in.Bytes(static_cast<std::size_t>(prefix_count) * 32, skipped) || !in.Int(8, count)) {
    return Corrupt("truncated head");
  }
  for (std::uint64_t k = 0; k < count; ++k) {
    std::uint64_t len = 0;
    std::string_view bytes;
    if (!in.Int(4, len) || !in.Bytes(static_cast<std::size_t>(len), bytes)) {
      return AtLeaf(out.first_index + k, "truncated");
    }
    out.leaf_hashes.push_back(LeafHash(bytes));
  }
  return out;
}

namespace {

// Calls `f` on the file's bytes (memory-mapped).
template <typename F>
auto WithMappedFile(const std::string& path, F f) -> decltype(f(std::string_view())) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError("verifier: cannot open the bundle file");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::UnavailableError("verifier: the bundle is not a readable regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return f(std::string_view());
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return absl::UnavailableError("verifier: cannot map the bundle file");
  ::madvise(map, size, MADV_SEQUENTIAL);
  auto result = f(std::string_view(static_cast<const char*>(map), size));
  ::munmap(map, size);
  return result;
}

}  // namespace

absl::StatusOr<BundleReport> VerifyBundleFile(const std::string& path,
                                              const BundleOptions& options) {
  return WithMappedFile(path, [&](std::string_view bundle) { return VerifyBundle(bundle, options); });
}

absl::StatusOr<BundleLeaves> BundleLeafHashesFile(const std::string& path) {
  return WithMappedFile(path, [](std::string_view bundle) { return BundleLeafHashes(bundle); });
}

}  // namespace enclave::verifier
