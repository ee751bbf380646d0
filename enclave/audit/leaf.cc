#include "enclave/audit/leaf.h"

#include <array>
#include <cstring>
#include <utility>

#include "enclave/audit/encoding.h"
#include "enclave/base/status_macros.h"

namespace enclave::audit {
namespace {

// Field limits of format version 1 (docs/audit-log.md §2). Never change them within a version.
constexpr std::size_t kMaxOrigin = 256;
constexpr std::size_t kMaxRequestId = 128;
constexpr std::size_t kMaxCaller = 1024;
constexpr std::size_t kMaxRole = 64;
constexpr std::size_t kMaxProject = 256;
constexpr std::size_t kMaxRpc = 64;
constexpr std::size_t kMaxTemplateId = 256;
constexpr std::size_t kMaxParams = 64 * 1024;
constexpr std::size_t kMaxDecision = 64;
constexpr std::size_t kMaxReason = 4096;
constexpr std::size_t kMaxRuleSet = 256;
constexpr std::size_t kMaxRulesApplied = 64 * 1024;
constexpr std::size_t kMaxDataVersion = 256;
constexpr std::size_t kMaxCellCounts = 32;
constexpr std::size_t kMaxCellStatus = 32;
constexpr std::size_t kMaxCellRules = 2 * 1024 * 1024;
constexpr std::size_t kMaxRelated = 65536;
constexpr std::size_t kMaxDetail = 1024 * 1024;
constexpr std::size_t kDigestSize = 32;

constexpr std::array<std::pair<EntryType, const char*>, 17> kTypeNames = {{
    {EntryType::kQueryAccepted, "query-accepted"},
    {EntryType::kQueryResult, "query-result"},
    {EntryType::kQueryRefused, "query-refused"},
    {EntryType::kQueryAborted, "query-aborted"},
    {EntryType::kRecovery, "recovery"},
    {EntryType::kServerStart, "server-start"},
    {EntryType::kServerStop, "server-stop"},
    {EntryType::kPolicyLoaded, "policy-loaded"},
    {EntryType::kAuthFailureSummary, "auth-failure-summary"},
    {EntryType::kConfigChange, "config-change"},
    {EntryType::kKeyRotation, "key-rotation"},
    {EntryType::kHeartbeat, "heartbeat"},
    {EntryType::kDeletion, "deletion"},
    {EntryType::kBudget, "budget"},
    {EntryType::kDataLoad, "data-load"},
    {EntryType::kPolicyRefused, "policy-refused"},
    {EntryType::kDatasetRollback, "dataset-rollback"},
}};

bool IsForbiddenControl(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F; }

bool IsCleanText(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    if (n == 1 && IsForbiddenControl(static_cast<unsigned char>(s[i]))) return false;
    i += n;
  }
  return true;
}

bool IsStatusName(std::string_view s) {
  if (s.empty() || s.size() > kMaxCellStatus) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

absl::Status FieldError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError("log leaf field " + std::string(field) + ": " +
                                    std::string(what));
}

class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(std::uint16_t v) { Fixed(v, 2); }
  void U32(std::uint32_t v) { Fixed(v, 4); }
  void U64(std::uint64_t v) { Fixed(v, 8); }
  void Raw(std::string_view s) { out_.append(s); }
  void Bytes(std::string_view s) {
    U32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  void Fixed(std::uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Fixed(int width, std::uint64_t& v) {
    if (in_.size() - pos_ < static_cast<std::size_t>(width)) return false;
    v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(in_[pos_++]);
    return true;
  }
  // A u32-length-prefixed field of at most `max` bytes.
  bool Bytes(std::size_t max, std::string& out) {
    std::uint64_t len = 0;
    if (!Fixed(4, len) || len > max || len > in_.size() - pos_) return false;
    out.assign(in_.substr(pos_, static_cast<std::size_t>(len)));
    pos_ += static_cast<std::size_t>(len);
    return true;
  }
  bool Short(std::size_t max, std::string& out) {  // u8 length
    std::uint64_t len = 0;
    if (!Fixed(1, len) || len > max || len > in_.size() - pos_) return false;
    out.assign(in_.substr(pos_, static_cast<std::size_t>(len)));
    pos_ += static_cast<std::size_t>(len);
    return true;
  }
  bool Done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

struct TextField {
  const char* name;
  std::size_t max;
  bool required;
};

absl::Status CheckText(const TextField& f, std::string_view value) {
  if (value.size() > f.max) {
    return FieldError(f.name, "longer than " + std::to_string(f.max) + " bytes");
  }
  if (f.required && value.empty()) return FieldError(f.name, "must not be empty");
  if (!IsCleanText(value)) {
    return FieldError(f.name, "must be UTF-8 without control characters other than tab, newline");
  }
  return absl::OkStatus();
}

absl::Status CheckDigest(const char* name, std::string_view value) {
  if (!value.empty() && value.size() != kDigestSize) {
    return FieldError(name, "must be empty or exactly 32 bytes");
  }
  return absl::OkStatus();
}

constexpr TextField kOrigin{"origin", kMaxOrigin, true};
constexpr TextField kRequestId{"request_id", kMaxRequestId, false};
constexpr TextField kCaller{"caller", kMaxCaller, false};
constexpr TextField kRole{"role", kMaxRole, false};
constexpr TextField kProject{"project", kMaxProject, false};
constexpr TextField kRpc{"rpc", kMaxRpc, false};
constexpr TextField kTemplateId{"template_id", kMaxTemplateId, false};
constexpr TextField kParams{"canonical_params", kMaxParams, false};
constexpr TextField kDecision{"decision", kMaxDecision, false};
constexpr TextField kReason{"reason", kMaxReason, false};
constexpr TextField kRuleSet{"rule_set", kMaxRuleSet, false};
constexpr TextField kRulesApplied{"rules_applied", kMaxRulesApplied, false};
constexpr TextField kDataVersion{"data_version", kMaxDataVersion, false};
constexpr TextField kCellRules{"cell_rules", kMaxCellRules, false};
constexpr TextField kDetail{"detail", kMaxDetail, false};

absl::Status CheckCellCounts(const std::vector<CellCount>& counts) {
  if (counts.size() > kMaxCellCounts) return FieldError("cell_counts", "more than 32 entries");
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (!IsStatusName(counts[i].status)) {
      return FieldError("cell_counts", "a status must be 1-32 characters of [a-z0-9_-]");
    }
    if (i > 0 && !(counts[i - 1].status < counts[i].status)) {
      return FieldError("cell_counts", "statuses must be strictly ascending");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLeaf(const LogLeaf& leaf) {
  if (EntryTypeName(leaf.type) == nullptr) return FieldError("type", "unknown entry type");
  if (leaf.time_unix_ms < 0) return FieldError("time_unix_ms", "must not be negative");
  if (leaf.related.size() > kMaxRelated) return FieldError("related", "more than 65536 entries");
  for (const auto& [field, value] :
       std::initializer_list<std::pair<const TextField*, const std::string*>>{
           {&kOrigin, &leaf.origin},
           {&kRequestId, &leaf.request_id},
           {&kCaller, &leaf.caller},
           {&kRole, &leaf.role},
           {&kProject, &leaf.project},
           {&kRpc, &leaf.rpc},
           {&kTemplateId, &leaf.template_id},
           {&kParams, &leaf.canonical_params},
           {&kDecision, &leaf.decision},
           {&kReason, &leaf.reason},
           {&kRuleSet, &leaf.rule_set},
           {&kRulesApplied, &leaf.rules_applied},
           {&kDataVersion, &leaf.data_version},
           {&kCellRules, &leaf.cell_rules},
           {&kDetail, &leaf.detail}}) {
    if (absl::Status s = CheckText(*field, *value); !s.ok()) return s;
  }
  if (absl::Status s = CheckDigest("caller_cert_sha256", leaf.caller_cert_sha256); !s.ok()) return s;
  if (absl::Status s = CheckDigest("template_sha256", leaf.template_sha256); !s.ok()) return s;
  if (absl::Status s = CheckDigest("result_sha256", leaf.result_sha256); !s.ok()) return s;
  return CheckCellCounts(leaf.cell_counts);
}

}  // namespace

const char* EntryTypeName(EntryType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return nullptr;
}

std::optional<EntryType> EntryTypeFromName(std::string_view name) {
  for (const auto& [t, n] : kTypeNames) {
    if (name == n) return t;
  }
  return std::nullopt;
}

std::string SanitizeLeafText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = Utf8SequenceLength(text, i);
    if (n == 0 || (n == 1 && IsForbiddenControl(static_cast<unsigned char>(text[i])))) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += 1;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

absl::StatusOr<std::string> EncodeLeaf(const LogLeaf& leaf) {
  if (absl::Status s = CheckLeaf(leaf); !s.ok()) return s;
  Writer w;
  w.Raw(kLeafHeaderV1);
  w.Bytes(leaf.origin);
  w.U64(leaf.sequence);
  w.U64(static_cast<std::uint64_t>(leaf.time_unix_ms));
  w.U8(static_cast<std::uint8_t>(leaf.type));
  w.Bytes(leaf.request_id);
  w.Bytes(leaf.caller);
  w.Bytes(leaf.caller_cert_sha256);
  w.Bytes(leaf.role);
  w.Bytes(leaf.project);
  w.Bytes(leaf.rpc);
  w.Bytes(leaf.template_id);
  w.U32(leaf.template_version);
  w.Bytes(leaf.template_sha256);
  w.Bytes(leaf.canonical_params);
  w.Bytes(leaf.decision);
  w.Bytes(leaf.reason);
  w.Bytes(leaf.rule_set);
  w.Bytes(leaf.rules_applied);
  w.Bytes(leaf.data_version);
  w.U16(static_cast<std::uint16_t>(leaf.cell_counts.size()));
  for (const CellCount& c : leaf.cell_counts) {
    w.U8(static_cast<std::uint8_t>(c.status.size()));
    w.Raw(c.status);
    w.U64(c.count);
  }
  w.Bytes(leaf.cell_rules);
  w.Bytes(leaf.result_sha256);
  w.U32(static_cast<std::uint32_t>(leaf.related.size()));
  for (std::uint64_t r : leaf.related) w.U64(r);
  w.Bytes(leaf.detail);
  std::string out = w.Take();
  if (out.size() > kMaxLeafBytes) return FieldError("(leaf)", "longer than 4 MiB in total");
  return out;
}

absl::StatusOr<LeafHead> DecodeLeafHead(std::string_view bytes) {
  if (bytes.size() > kMaxLeafBytes) return FieldError("(leaf)", "longer than 4 MiB in total");
  constexpr std::string_view kFamily = "enclave-log-leaf/";
  if (bytes.substr(0, kLeafHeaderV1.size()) != kLeafHeaderV1) {
    if (bytes.substr(0, kFamily.size()) == kFamily) {
      return absl::UnimplementedError("log leaf: unsupported format version (this build reads 1)");
    }
    return FieldError("(header)", "does not start with \"enclave-log-leaf/1\\n\"");
  }
  std::string_view in = bytes.substr(kLeafHeaderV1.size());
  const auto fixed = [&](std::size_t width, std::uint64_t& v) {
    if (in.size() < width) return false;
    v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
    in.remove_prefix(width);
    return true;
  };
  const auto text = [&](const TextField& f, std::string_view& out) -> absl::Status {
    std::uint64_t len = 0;
    if (!fixed(4, len) || len > f.max || len > in.size()) {
      return FieldError(f.name, "truncated or longer than its limit");
    }
    out = in.substr(0, static_cast<std::size_t>(len));
    in.remove_prefix(static_cast<std::size_t>(len));
    if (f.required && out.empty()) return FieldError(f.name, "must not be empty");
    return absl::OkStatus();
  };
  LeafHead head;
  std::uint64_t v = 0;
  ENCLAVE_RETURN_IF_ERROR(text(kOrigin, head.origin));
  if (!fixed(8, v)) return FieldError("sequence", "truncated");
  head.sequence = v;
  if (!fixed(8, v)) return FieldError("time_unix_ms", "truncated");
  if (v > static_cast<std::uint64_t>(INT64_MAX)) return FieldError("time_unix_ms", "negative");
  head.time_unix_ms = static_cast<std::int64_t>(v);
  if (!fixed(1, v)) return FieldError("type", "truncated");
  head.type = static_cast<EntryType>(v);
  if (EntryTypeName(head.type) == nullptr) return FieldError("type", "unknown entry type");
  ENCLAVE_RETURN_IF_ERROR(text(kRequestId, head.request_id));
  return head;
}

absl::StatusOr<LogLeaf> DecodeLeaf(std::string_view bytes) {
  if (bytes.size() > kMaxLeafBytes) return FieldError("(leaf)", "longer than 4 MiB in total");
  constexpr std::string_view kFamily = "enclave-log-leaf/";
  if (bytes.substr(0, kLeafHeaderV1.size()) != kLeafHeaderV1) {
    if (bytes.substr(0, kFamily.size()) == kFamily) {
      return absl::UnimplementedError("log leaf: unsupported format version (this build reads 1)");
    }
    return FieldError("(header)", "does not start with \"enclave-log-leaf/1\\n\"");
  }
  Reader r(bytes.substr(kLeafHeaderV1.size()));
  LogLeaf leaf;
  std::uint64_t v = 0;
  const auto bytes_field = [&](const char* name, std::size_t max,
                               std::string& out) -> absl::Status {
    if (!r.Bytes(max, out)) return FieldError(name, "truncated or longer than its limit");
    return absl::OkStatus();
  };
  const auto text = [&](const TextField& f, std::string& out) -> absl::Status {
    if (absl::Status s = bytes_field(f.name, f.max, out); !s.ok()) return s;
    return CheckText(f, out);
  };
  const auto digest = [&](const char* name, std::string& out) -> absl::Status {
    if (absl::Status s = bytes_field(name, kDigestSize, out); !s.ok()) return s;
    return CheckDigest(name, out);
  };
  ENCLAVE_RETURN_IF_ERROR(text(kOrigin, leaf.origin));
  if (!r.Fixed(8, v)) return FieldError("sequence", "truncated");
  leaf.sequence = v;
  if (!r.Fixed(8, v)) return FieldError("time_unix_ms", "truncated");
  if (v > static_cast<std::uint64_t>(INT64_MAX)) return FieldError("time_unix_ms", "negative");
  leaf.time_unix_ms = static_cast<std::int64_t>(v);
  if (!r.Fixed(1, v)) return FieldError("type", "truncated");
  leaf.type = static_cast<EntryType>(v);
  if (EntryTypeName(leaf.type) == nullptr) return FieldError("type", "unknown entry type");
  ENCLAVE_RETURN_IF_ERROR(text(kRequestId, leaf.request_id));
  ENCLAVE_RETURN_IF_ERROR(text(kCaller, leaf.caller));
  ENCLAVE_RETURN_IF_ERROR(digest("caller_cert_sha256", leaf.caller_cert_sha256));
  ENCLAVE_RETURN_IF_ERROR(text(kRole, leaf.role));
  ENCLAVE_RETURN_IF_ERROR(text(kProject, leaf.project));
  ENCLAVE_RETURN_IF_ERROR(text(kRpc, leaf.rpc));
  ENCLAVE_RETURN_IF_ERROR(text(kTemplateId, leaf.template_id));
  if (!r.Fixed(4, v)) return FieldError("template_version", "truncated");
  leaf.template_version = static_cast<std::uint32_t>(v);
  ENCLAVE_RETURN_IF_ERROR(digest("template_sha256", leaf.template_sha256));
  ENCLAVE_RETURN_IF_ERROR(text(kParams, leaf.canonical_params));
  ENCLAVE_RETURN_IF_ERROR(text(kDecision, leaf.decision));
  ENCLAVE_RETURN_IF_ERROR(text(kReason, leaf.reason));
  ENCLAVE_RETURN_IF_ERROR(text(kRuleSet, leaf.rule_set));
  ENCLAVE_RETURN_IF_ERROR(text(kRulesApplied, leaf.rules_applied));
  ENCLAVE_RETURN_IF_ERROR(text(kDataVersion, leaf.data_version));
  if (!r.Fixed(2, v)) return FieldError("cell_counts", "truncated");
  if (v > kMaxCellCounts) return FieldError("cell_counts", "more than 32 entries");
  leaf.cell_counts.resize(static_cast<std::size_t>(v));
  for (CellCount& c : leaf.cell_counts) {
    if (!r.Short(kMaxCellStatus, c.status)) return FieldError("cell_counts", "bad status length");
    if (!r.Fixed(8, c.count)) return FieldError("cell_counts", "truncated");
  }
  ENCLAVE_RETURN_IF_ERROR(CheckCellCounts(leaf.cell_counts));
  ENCLAVE_RETURN_IF_ERROR(text(kCellRules, leaf.cell_rules));
  ENCLAVE_RETURN_IF_ERROR(digest("result_sha256", leaf.result_sha256));
  if (!r.Fixed(4, v)) return FieldError("related", "truncated");
  if (v > kMaxRelated) return FieldError("related", "more than 65536 entries");
  leaf.related.resize(static_cast<std::size_t>(v));
  for (std::uint64_t& rel : leaf.related) {
    if (!r.Fixed(8, rel)) return FieldError("related", "truncated");
  }
  ENCLAVE_RETURN_IF_ERROR(text(kDetail, leaf.detail));
  if (!r.Done()) return FieldError("(leaf)", "trailing bytes after the last field");
  return leaf;
}

}  // namespace enclave::audit
