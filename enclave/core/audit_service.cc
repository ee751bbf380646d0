// The audit use cases: authorise, read the log through the AuditReader port, prove.
#include "enclave/core/audit_service.h"
#include "enclave/core/request_record.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <utility>

#include "absl/status/status.h"
#include "enclave/core/internal/ids.h"
#include "enclave/audit/bundle.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"

namespace enclave::core {
namespace {

using internal::Base36;
using internal::Bounded;


// Codes that describe the caller's request (and so are refusals to log), as opposed to failures
// of the enclave's own storage, which are not the caller's doing.
bool IsRefusal(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

bool Matches(const audit::LogLeaf& leaf, const AuditFilter& filter) {
  if (!filter.caller.empty() && leaf.caller != filter.caller) return false;
  if (!filter.template_id.empty() && leaf.template_id != filter.template_id) return false;
  if (!filter.decision.empty() && leaf.decision != filter.decision) return false;
  if (!filter.entry_type.empty()) {
    const char* name = audit::EntryTypeName(leaf.type);
    if (name == nullptr || filter.entry_type != name) return false;
  }
  if (filter.from_unix_ms != 0 && leaf.time_unix_ms < filter.from_unix_ms) return false;
  if (filter.to_unix_ms != 0 && leaf.time_unix_ms >= filter.to_unix_ms) return false;
  if (!filter.project.empty() && leaf.project != filter.project) return false;
  if (!filter.parameters.empty() && !ParametersMatch(leaf.canonical_params, filter.parameters)) {
    return false;
  }
  return true;
}

// INVALID_ARGUMENT naming what is wrong with the project or parameter filters and what is allowed.
absl::Status CheckFilterBounds(const AuditFilter& filter) {
  if (filter.project.size() > kMaxProjectFilterBytes) {
    return absl::InvalidArgumentError(
        "the project filter has " + std::to_string(filter.project.size()) +
        " bytes (allowed: at most " + std::to_string(kMaxProjectFilterBytes) + ")");
  }
  if (filter.parameters.size() > kMaxParameterFilters) {
    return absl::InvalidArgumentError(
        "there are " + std::to_string(filter.parameters.size()) +
        " parameter filters (allowed: at most " + std::to_string(kMaxParameterFilters) + ")");
  }
  for (std::size_t i = 0; i < filter.parameters.size(); ++i) {
    const std::string& p = filter.parameters[i];
    const std::string which = "parameter filter " + std::to_string(i + 1);
    const std::size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          which + " '" + Bounded(p) +
          "' is not of the form name=value (a non-empty name, '=', then the value)");
    }
    if (eq > kMaxParameterFilterNameBytes) {
      return absl::InvalidArgumentError(
          which + ": the name has " + std::to_string(eq) + " bytes (allowed: at most " +
          std::to_string(kMaxParameterFilterNameBytes) + ")");
    }
    if (p.size() - eq - 1 > kMaxParameterFilterValueBytes) {
      return absl::InvalidArgumentError(
          which + ": the value has " + std::to_string(p.size() - eq - 1) +
          " bytes (allowed: at most " + std::to_string(kMaxParameterFilterValueBytes) + ")");
    }
  }
  return absl::OkStatus();
}

absl::Status LeafDataLoss(std::uint64_t sequence) {
  return absl::DataLossError("leaf " + std::to_string(sequence) +
                             " in the audit log cannot be decoded");
}

void PutFixed(std::string& out, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

bool ParametersMatch(std::string_view canonical_params, const std::vector<std::string>& parameters) {
  std::vector<std::string_view> pairs;
  for (std::size_t pos = 0; pos <= canonical_params.size();) {
    std::size_t amp = canonical_params.find('&', pos);
    if (amp == std::string_view::npos) amp = canonical_params.size();
    pairs.push_back(canonical_params.substr(pos, amp - pos));
    pos = amp + 1;
  }
  for (const std::string& wanted : parameters) {
    if (std::find(pairs.begin(), pairs.end(), std::string_view(wanted)) == pairs.end()) return false;
  }
  return true;
}

const char* AuditMethodName(AuditMethod method) {
  switch (method) {
    case AuditMethod::kGetCheckpoint:
      return "GetCheckpoint";
    case AuditMethod::kListEntries:
      return "ListEntries";
    case AuditMethod::kGetInclusionProof:
      return "GetInclusionProof";
    case AuditMethod::kGetConsistencyProof:
      return "GetConsistencyProof";
    case AuditMethod::kExportBundle:
      return "ExportBundle";
    case AuditMethod::kGetReceipt:
      return "GetReceipt";
  }
  return "unknown";
}

bool AuditPermitted(policy::Role role, AuditMethod method) {
  switch (role) {
    case policy::Role::kPrivacyOfficer:
      return true;
    case policy::Role::kResearcher:
      return method == AuditMethod::kGetReceipt;
    case policy::Role::kMunicipalAnalyst:
    case policy::Role::kDataSteward:
    case policy::Role::kOperator:
      return false;
  }
  return false;
}

AuditService::AuditService(std::shared_ptr<const policy::PrincipalDirectory> principals,
                           std::shared_ptr<AuditReader> reader, std::shared_ptr<QueryLog> log,
                           AuditServiceOptions options)
    : principals_(std::move(principals)),
      reader_(std::move(reader)),
      log_(std::move(log)),
      options_(options) {
  if (options_.scan_batch == 0) options_.scan_batch = 1;
  if (options_.max_page_size == 0) options_.max_page_size = 1;
  if (options_.default_page_size == 0) options_.default_page_size = 1;
  if (options_.chunk_bytes == 0) options_.chunk_bytes = 1;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  request_prefix_ = "a-" + Base36(static_cast<std::uint64_t>(millis > 0 ? millis : 0)) + "-";
}

std::string AuditService::NextRequestId() {
  std::uint64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = next_request_++;
  }
  return request_prefix_ + std::to_string(n);
}

absl::Status AuditService::Refuse(const std::string& caller_uri, const std::string& role,
                                  AuditMethod method, const std::string& subject,
                                  absl::Status status) {
  if (status.ok() || !IsRefusal(status.code())) return status;
  RequestRecord record(*log_, std::string("AuditService/") + AuditMethodName(method),
                       NextRequestId());
  record.entry().caller = caller_uri;
  record.entry().role = role;
  record.entry().canonical_params = Bounded(subject);
  return record.Refuse(std::move(status));
}

absl::StatusOr<policy::Principal> AuditService::Authorize(const std::string& caller_uri,
                                                          AuditMethod method,
                                                          const std::string& subject) {
  absl::StatusOr<policy::Principal> principal = principals_->Find(caller_uri);
  if (!principal.ok()) {
    return Refuse(caller_uri, "", method, subject,
                  absl::PermissionDeniedError("caller is not a registered principal"));
  }
  const std::string role = templates::RoleName(principal->role);
  if (!AuditPermitted(principal->role, method)) {
    return Refuse(caller_uri, role, method, subject,
                  absl::PermissionDeniedError(
                      "role '" + role + "' may not call AuditService." + AuditMethodName(method) +
                      " (privacy officers may read the audit log; researchers may fetch "
                      "receipts of their own requests)"));
  }
  return principal;
}

absl::StatusOr<CheckpointInfo> AuditService::GetCheckpoint(const std::string& caller_uri) {
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           Authorize(caller_uri, AuditMethod::kGetCheckpoint, ""));
  CheckpointInfo info;
  ENCLAVE_ASSIGN_OR_RETURN(info.checkpoint, reader_->LatestCheckpoint());
  ENCLAVE_ASSIGN_OR_RETURN(info.log_size, reader_->Size());
  return info;
}

absl::StatusOr<AuditPage> AuditService::ListEntries(const std::string& caller_uri,
                                                    std::uint64_t start, std::uint64_t end,
                                                    const AuditFilter& filter,
                                                    std::uint32_t page_size, bool with_proofs) {
  const std::string subject = std::to_string(start) + ".." + std::to_string(end);
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           Authorize(caller_uri, AuditMethod::kListEntries, subject));
  const std::string role = templates::RoleName(principal.role);
  auto refuse = [&](absl::Status status) {
    return Refuse(caller_uri, role, AuditMethod::kListEntries, subject, std::move(status));
  };
  if (!filter.entry_type.empty() && !audit::EntryTypeFromName(filter.entry_type).has_value()) {
    return refuse(absl::InvalidArgumentError(
        "unknown entry type filter '" + Bounded(filter.entry_type) +
        "' (allowed: query-accepted, query-result, query-refused, query-aborted, recovery, "
        "server-start, server-stop, policy-loaded, auth-failure-summary, config-change, "
        "key-rotation, heartbeat, deletion)"));
  }
  if (filter.to_unix_ms != 0 && filter.from_unix_ms > filter.to_unix_ms) {
    return refuse(absl::InvalidArgumentError("the time filter's 'from' is after its 'to'"));
  }
  if (absl::Status bounds = CheckFilterBounds(filter); !bounds.ok()) return refuse(bounds);
  AuditPage page;
  if (with_proofs) {
    // Read before the size, so that every entry it covers is within the page's range.
    absl::StatusOr<SignedCheckpoint> checkpoint = reader_->LatestCheckpoint();
    if (checkpoint.ok()) {
      page.checkpoint = *std::move(checkpoint);
    } else if (checkpoint.status().code() != absl::StatusCode::kNotFound) {
      return checkpoint.status();
    }
  }
  ENCLAVE_ASSIGN_OR_RETURN(page.log_size, reader_->Size());
  if (end == 0) end = page.log_size;
  if (start > end || end > page.log_size) {
    return refuse(absl::InvalidArgumentError(
        "range [" + std::to_string(start) + ", " + std::to_string(end) +
        ") is not within the log, which has " + std::to_string(page.log_size) + " entries"));
  }
  const std::uint32_t limit =
      std::min(page_size == 0 ? options_.default_page_size : page_size, options_.max_page_size);

  std::uint64_t pos = start;
  std::uint64_t scanned = 0;
  while (pos < end && page.entries.size() < limit && scanned < options_.max_scan_per_page) {
    const std::uint64_t batch =
        std::min({options_.scan_batch, options_.max_scan_per_page - scanned, end - pos});
    ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaves, reader_->ReadLeaves(pos, pos + batch));
    if (leaves.size() != batch) {
      return absl::InternalError("the audit log returned another number of leaves than asked");
    }
    std::uint64_t next = pos + batch;
    for (std::uint64_t i = 0; i < batch; ++i) {
      const std::uint64_t sequence = pos + i;
      absl::StatusOr<audit::LogLeaf> leaf = audit::DecodeLeaf(leaves[i]);
      if (!leaf.ok() || leaf->sequence != sequence) return LeafDataLoss(sequence);
      if (!Matches(*leaf, filter)) continue;
      AuditEntry entry{sequence, std::move(leaves[i]), {}};
      if (page.checkpoint.has_value() && sequence < page.checkpoint->size) {
        ENCLAVE_ASSIGN_OR_RETURN(entry.inclusion_path,
                                 reader_->InclusionProof(sequence, page.checkpoint->size));
      }
      page.entries.push_back(std::move(entry));
      if (page.entries.size() == limit) {
        next = sequence + 1;
        break;
      }
    }
    scanned += next - pos;
    pos = next;
  }
  page.next_start = pos < end ? pos : 0;
  return page;
}

absl::StatusOr<std::vector<std::uint64_t>> AuditService::FindRequest(const std::string& request_id,
                                                                     std::uint64_t limit) {
  absl::StatusOr<std::vector<std::uint64_t>> indexed = reader_->FindRequest(request_id);
  if (indexed.ok()) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t s : *indexed) {
      if (s < limit) out.push_back(s);
    }
    return out;
  }
  if (indexed.status().code() != absl::StatusCode::kUnimplemented) return indexed.status();
  // No index: scan, decoding only leaves whose bytes contain the id.
  std::vector<std::uint64_t> out;
  for (std::uint64_t pos = 0; pos < limit;) {
    const std::uint64_t batch = std::min(options_.scan_batch, limit - pos);
    ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaves, reader_->ReadLeaves(pos, pos + batch));
    if (leaves.size() != batch) {
      return absl::InternalError("the audit log returned another number of leaves than asked");
    }
    for (std::uint64_t i = 0; i < batch; ++i) {
      if (leaves[i].find(request_id) == std::string::npos) continue;
      absl::StatusOr<audit::LogLeaf> leaf = audit::DecodeLeaf(leaves[i]);
      if (!leaf.ok()) return LeafDataLoss(pos + i);
      if (leaf->request_id == request_id) out.push_back(pos + i);
    }
    pos += batch;
  }
  return out;
}

absl::StatusOr<LeafProof> AuditService::ProveLeaf(std::uint64_t sequence, std::uint64_t tree_size,
                                                  std::string leaf) {
  LeafProof proof;
  proof.sequence = sequence;
  proof.leaf_hash = audit::HashLeaf(leaf);
  proof.leaf = std::move(leaf);
  ENCLAVE_ASSIGN_OR_RETURN(proof.path, reader_->InclusionProof(sequence, tree_size));
  return proof;
}

absl::StatusOr<InclusionProofs> AuditService::GetInclusionProof(const std::string& caller_uri,
                                                                const LeafSelector& selector,
                                                                std::uint64_t tree_size) {
  const std::string subject = selector.sequence.has_value()
                                  ? "sequence=" + std::to_string(*selector.sequence)
                                  : "request_id=" + selector.request_id;
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           Authorize(caller_uri, AuditMethod::kGetInclusionProof, subject));
  const std::string role = templates::RoleName(principal.role);
  auto refuse = [&](absl::Status status) {
    return Refuse(caller_uri, role, AuditMethod::kGetInclusionProof, subject, std::move(status));
  };
  InclusionProofs out;
  ENCLAVE_ASSIGN_OR_RETURN(out.checkpoint, reader_->LatestCheckpoint());
  out.tree_size = tree_size == 0 ? out.checkpoint.size : tree_size;
  if (out.tree_size > out.checkpoint.size) {
    return refuse(absl::OutOfRangeError(
        "tree size " + std::to_string(out.tree_size) + " is beyond the latest signed checkpoint (" +
        std::to_string(out.checkpoint.size) + ")"));
  }
  std::vector<std::uint64_t> sequences;
  if (selector.sequence.has_value()) {
    if (*selector.sequence >= out.tree_size) {
      return refuse(absl::OutOfRangeError("leaf " + std::to_string(*selector.sequence) +
                                          " is not in the tree of " +
                                          std::to_string(out.tree_size) + " leaves"));
    }
    sequences.push_back(*selector.sequence);
  } else if (!selector.request_id.empty()) {
    ENCLAVE_ASSIGN_OR_RETURN(sequences, FindRequest(selector.request_id, out.tree_size));
    if (sequences.empty()) {
      return refuse(absl::NotFoundError("no entry of request '" + Bounded(selector.request_id) +
                                        "' in the tree of " + std::to_string(out.tree_size) +
                                        " leaves"));
    }
  } else {
    return refuse(absl::InvalidArgumentError("give a sequence number or a request id"));
  }
  for (std::uint64_t sequence : sequences) {
    ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaf,
                             reader_->ReadLeaves(sequence, sequence + 1));
    if (leaf.size() != 1) return absl::InternalError("the audit log returned no leaf");
    ENCLAVE_ASSIGN_OR_RETURN(LeafProof proof,
                             ProveLeaf(sequence, out.tree_size, std::move(leaf[0])));
    out.proofs.push_back(std::move(proof));
  }
  return out;
}

absl::StatusOr<ConsistencyProofs> AuditService::GetConsistencyProof(const std::string& caller_uri,
                                                                    std::uint64_t old_size,
                                                                    std::uint64_t new_size) {
  const std::string subject = std::to_string(old_size) + ".." + std::to_string(new_size);
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           Authorize(caller_uri, AuditMethod::kGetConsistencyProof, subject));
  ENCLAVE_ASSIGN_OR_RETURN(SignedCheckpoint checkpoint, reader_->LatestCheckpoint());
  ConsistencyProofs out;
  out.old_size = old_size;
  out.new_size = new_size == 0 ? checkpoint.size : new_size;
  if (out.old_size > out.new_size || out.new_size > checkpoint.size) {
    return Refuse(caller_uri, templates::RoleName(principal.role),
                  AuditMethod::kGetConsistencyProof, subject,
                  absl::OutOfRangeError("sizes must satisfy old <= new <= " +
                                        std::to_string(checkpoint.size) +
                                        " (the latest signed checkpoint)"));
  }
  ENCLAVE_ASSIGN_OR_RETURN(out.proof, reader_->ConsistencyProof(out.old_size, out.new_size));
  return out;
}

absl::Status AuditService::ExportBundle(const std::string& caller_uri, std::uint64_t from_size,
                                        const ChunkSink& sink) {
  const std::string subject = "from=" + std::to_string(from_size);
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           Authorize(caller_uri, AuditMethod::kExportBundle, subject));
  ENCLAVE_ASSIGN_OR_RETURN(SignedCheckpoint checkpoint, reader_->LatestCheckpoint());
  if (from_size > checkpoint.size) {
    return Refuse(caller_uri, templates::RoleName(principal.role), AuditMethod::kExportBundle,
                  subject,
                  absl::OutOfRangeError("the export cannot start after the latest signed "
                                        "checkpoint (" + std::to_string(checkpoint.size) + ")"));
  }
  std::vector<AuditHash> prefix;
  if (from_size > 0) {
    ENCLAVE_ASSIGN_OR_RETURN(prefix, reader_->CompactRange(from_size));
  }
  // The bundle's head as audit::EncodeBundle writes it, with no leaves; the trailing u64 leaf
  // count is then set to the real count and the leaves follow, so the bytes equal EncodeBundle's.
  ENCLAVE_ASSIGN_OR_RETURN(std::string buffer,
                           audit::EncodeBundle(checkpoint.note, from_size,
                                               std::span<const audit::Hash>(prefix), {}));
  buffer.resize(buffer.size() - 8);
  PutFixed(buffer, checkpoint.size - from_size, 8);

  for (std::uint64_t pos = from_size; pos < checkpoint.size;) {
    const std::uint64_t batch = std::min(options_.scan_batch, checkpoint.size - pos);
    ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaves, reader_->ReadLeaves(pos, pos + batch));
    if (leaves.size() != batch) {
      return absl::InternalError("the audit log returned another number of leaves than asked");
    }
    for (const std::string& leaf : leaves) {
      if (leaf.size() > audit::kMaxLeafBytes) return LeafDataLoss(pos);
      PutFixed(buffer, leaf.size(), 4);
      buffer.append(leaf);
      if (buffer.size() >= options_.chunk_bytes) {
        ENCLAVE_RETURN_IF_ERROR(sink(buffer));
        buffer.clear();
      }
    }
    pos += batch;
  }
  if (!buffer.empty()) ENCLAVE_RETURN_IF_ERROR(sink(buffer));
  return absl::OkStatus();
}

absl::StatusOr<Receipt> AuditService::GetReceipt(const std::string& caller_uri,
                                                 const std::string& request_id) {
  const std::string subject = "request_id=" + request_id;
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           Authorize(caller_uri, AuditMethod::kGetReceipt, subject));
  const std::string role = templates::RoleName(principal.role);
  const bool officer = principal.role == policy::Role::kPrivacyOfficer;
  auto refuse = [&](absl::Status status) {
    return Refuse(caller_uri, role, AuditMethod::kGetReceipt, subject, std::move(status));
  };
  // For researchers an unknown id and someone else's are the same answer.
  const absl::Status not_yours = absl::PermissionDeniedError(
      "no request '" + Bounded(request_id) + "' of yours is in the audit log; researchers may "
      "fetch receipts of their own requests only");
  if (request_id.empty()) return refuse(absl::InvalidArgumentError("request id is empty"));

  ENCLAVE_ASSIGN_OR_RETURN(std::uint64_t log_size, reader_->Size());
  ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::uint64_t> sequences, FindRequest(request_id, log_size));
  if (sequences.empty()) {
    return refuse(officer ? absl::NotFoundError("no request '" + Bounded(request_id) +
                                                "' in the audit log")
                          : not_yours);
  }
  std::vector<std::pair<std::uint64_t, std::string>> leaves;
  bool with_officer_fields = false;
  std::vector<bool> redact;
  for (std::uint64_t sequence : sequences) {
    ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> leaf,
                             reader_->ReadLeaves(sequence, sequence + 1));
    if (leaf.size() != 1) return absl::InternalError("the audit log returned no leaf");
    absl::StatusOr<audit::LogLeaf> decoded = audit::DecodeLeaf(leaf[0]);
    if (!decoded.ok() || decoded->request_id != request_id) return LeafDataLoss(sequence);
    if (!officer && decoded->caller != caller_uri) return refuse(not_yours);
    with_officer_fields = !decoded->cell_rules.empty();
    redact.push_back(!officer && with_officer_fields);
    leaves.emplace_back(sequence, std::move(leaf[0]));
  }
  Receipt receipt;
  ENCLAVE_ASSIGN_OR_RETURN(receipt.checkpoint, reader_->LatestCheckpoint());
  if (sequences.back() >= receipt.checkpoint.size) {
    return absl::UnavailableError(
        "the request's log entries are not yet covered by a signed checkpoint; try again after "
        "the next one");
  }
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    ENCLAVE_ASSIGN_OR_RETURN(
        LeafProof proof,
        ProveLeaf(leaves[i].first, receipt.checkpoint.size, std::move(leaves[i].second)));
    if (redact[i]) {
      proof.leaf.clear();
      proof.redacted = true;
    }
    receipt.leaves.push_back(std::move(proof));
  }
  return receipt;
}

}  // namespace enclave::core
