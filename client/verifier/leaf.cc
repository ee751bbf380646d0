// Leaf format version 1, read from the table in docs/audit-log.md §2 (field order and limits).
#include <array>
#include <string>

#include "client/verifier/internal.h"
#include "client/verifier/verifier.h"

namespace enclave::verifier {
namespace {

constexpr std::string_view kHeader = "enclave-log-leaf/1\n";
constexpr std::string_view kFamily = "enclave-log-leaf/";
constexpr std::size_t kMaxLeaf = 4 * 1024 * 1024;

constexpr std::array<const char*, 18> kTypeNames = {
    nullptr,          "query-accepted", "query-result",  "query-refused",        "query-aborted",
    "recovery",       "server-start",   "server-stop",   "policy-loaded",        "auth-failure-summary",
    "config-change",  "key-rotation",   "heartbeat",     "deletion",             "budget",
    "data-load",      "policy-refused", "dataset-rollback"};

enum class Kind { kText, kDigest, kU32, kU64, kTime, kType, kCells, kRelated };

struct Field {
  const char* name;
  Kind kind;
  std::size_t max;                          // bytes for text, entries for lists
  std::string LeafView::*slot = nullptr;    // for text and digest fields
  bool required = false;
};

// Version 1 field order. Any change here is a new format version.
constexpr std::array<Field, 24> kFields = {{
    {"origin", Kind::kText, 256, &LeafView::origin, true},
    {"sequence", Kind::kU64, 0},
    {"time_unix_ms", Kind::kTime, 0},
    {"type", Kind::kType, 0},
    {"request_id", Kind::kText, 128, &LeafView::request_id},
    {"caller", Kind::kText, 1024, &LeafView::caller},
    {"caller_cert_sha256", Kind::kDigest, 32, &LeafView::caller_cert_sha256},
    {"role", Kind::kText, 64, &LeafView::role},
    {"project", Kind::kText, 256, &LeafView::project},
    {"rpc", Kind::kText, 64, &LeafView::rpc},
    {"template_id", Kind::kText, 256, &LeafView::template_id},
    {"template_version", Kind::kU32, 0},
    {"template_sha256", Kind::kDigest, 32, &LeafView::template_sha256},
    {"canonical_params", Kind::kText, 64 * 1024, &LeafView::canonical_params},
    {"decision", Kind::kText, 64, &LeafView::decision},
    {"reason", Kind::kText, 4096, &LeafView::reason},
    {"rule_set", Kind::kText, 256, &LeafView::rule_set},
    {"rules_applied", Kind::kText, 64 * 1024, &LeafView::rules_applied},
    {"data_version", Kind::kText, 256, &LeafView::data_version},
    {"cell_counts", Kind::kCells, 32},
    {"cell_rules", Kind::kText, 2 * 1024 * 1024, &LeafView::cell_rules},
    {"result_sha256", Kind::kDigest, 32, &LeafView::result_sha256},
    {"related", Kind::kRelated, 65536},
    {"detail", Kind::kText, 1024 * 1024, &LeafView::detail},
}};

class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool Int(std::size_t width, std::uint64_t& out) {
    if (data_.size() < width) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) out = out << 8 | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(width);
    return true;
  }
  bool Take(std::size_t n, std::string& out) {
    if (data_.size() < n) return false;
    out.assign(data_.substr(0, n));
    data_.remove_prefix(n);
    return true;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

absl::Status Bad(const Field& f, std::string_view what) {
  return absl::InvalidArgumentError("verifier: leaf field " + std::string(f.name) + ": " +
                                    std::string(what));
}

bool StatusName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<LeafView> ParseLeaf(std::string_view bytes) {
  if (bytes.size() > kMaxLeaf) return absl::InvalidArgumentError("verifier: leaf larger than 4 MiB");
  if (bytes.substr(0, kHeader.size()) != kHeader) {
    if (bytes.substr(0, kFamily.size()) == kFamily) {
      return absl::UnimplementedError("verifier: leaf format version is not 1");
    }
    return absl::InvalidArgumentError("verifier: not an enclave log leaf");
  }
  Cursor in(bytes.substr(kHeader.size()));
  LeafView v;
  std::uint64_t n = 0;
  for (const Field& f : kFields) {
    switch (f.kind) {
      case Kind::kText:
      case Kind::kDigest: {
        if (!in.Int(4, n)) return Bad(f, "truncated");
        if (n > f.max) return Bad(f, "over its length limit");
        std::string* slot = &(v.*f.slot);
        if (!in.Take(static_cast<std::size_t>(n), *slot)) return Bad(f, "truncated");
        if (f.kind == Kind::kDigest && n != 0 && n != 32) return Bad(f, "not 0 or 32 bytes");
        if (f.kind == Kind::kText) {
          if (f.required && n == 0) return Bad(f, "empty");
          if (!internal::CleanUtf8(*slot, true, true)) return Bad(f, "not clean UTF-8");
        }
        break;
      }
      case Kind::kU32:
        if (!in.Int(4, n)) return Bad(f, "truncated");
        v.template_version = static_cast<std::uint32_t>(n);
        break;
      case Kind::kU64:
        if (!in.Int(8, v.sequence)) return Bad(f, "truncated");
        break;
      case Kind::kTime:
        if (!in.Int(8, n)) return Bad(f, "truncated");
        if (n >> 63 != 0) return Bad(f, "negative");
        v.time_unix_ms = static_cast<std::int64_t>(n);
        break;
      case Kind::kType:
        if (!in.Int(1, n)) return Bad(f, "truncated");
        if (n == 0 || n >= kTypeNames.size()) return Bad(f, "unknown entry type");
        v.type = static_cast<std::uint8_t>(n);
        v.type_name = kTypeNames[n];
        break;
      case Kind::kCells: {
        if (!in.Int(2, n)) return Bad(f, "truncated");
        if (n > f.max) return Bad(f, "too many entries");
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t len = 0;
          std::pair<std::string, std::uint64_t> cell;
          if (!in.Int(1, len) || len > 32 || !in.Take(static_cast<std::size_t>(len), cell.first) ||
              !in.Int(8, cell.second)) {
            return Bad(f, "truncated or bad status length");
          }
          if (!StatusName(cell.first)) return Bad(f, "bad status name");
          if (!v.cell_counts.empty() && !(v.cell_counts.back().first < cell.first)) {
            return Bad(f, "statuses not strictly ascending");
          }
          v.cell_counts.push_back(std::move(cell));
        }
        break;
      }
      case Kind::kRelated:
        if (!in.Int(4, n)) return Bad(f, "truncated");
        if (n > f.max) return Bad(f, "too many entries");
        v.related.resize(static_cast<std::size_t>(n));
        for (std::uint64_t& r : v.related) {
          if (!in.Int(8, r)) return Bad(f, "truncated");
        }
        break;
    }
  }
  if (!in.empty()) return absl::InvalidArgumentError("verifier: trailing bytes after the leaf");
  return v;
}

}  // namespace enclave::verifier
