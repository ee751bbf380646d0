// The AuditService handlers: no authorisation or logging decisions here, only translation.
#include "enclave/rpc/audit_service_impl.h"

#include <grpcpp/server_context.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "enclave/rpc/handler.h"

namespace enclave::rpc {
namespace {

std::string HashBytes(const core::AuditHash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

void ToProto(const core::SignedCheckpoint& in, enclave::v1::SignedCheckpoint* out) {
  out->set_note(in.note);
  out->set_origin(in.origin);
  out->set_tree_size(in.size);
  out->set_root_hash(HashBytes(in.root));
}

void ToProto(const core::LeafProof& in, enclave::v1::LeafProof* out) {
  out->set_sequence(in.sequence);
  out->set_leaf(in.leaf);
  out->set_leaf_hash(HashBytes(in.leaf_hash));
  for (const core::AuditHash& h : in.path) out->add_path(HashBytes(h));
  out->set_redacted(in.redacted);
}

}  // namespace

AuditServiceImpl::AuditServiceImpl(std::shared_ptr<core::AuditService> service)
    : service_(std::move(service)) {}

grpc::Status AuditServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                             const enclave::v1::GetCheckpointRequest* /*request*/,
                                             enclave::v1::GetCheckpointResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<std::string> caller = Caller(context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<core::CheckpointInfo> info = service_->GetCheckpoint(*caller);
    if (!info.ok()) return info.status();
    ToProto(info->checkpoint, response->mutable_checkpoint());
    response->set_log_size(info->log_size);
    return absl::OkStatus();
  });
}

grpc::Status AuditServiceImpl::ListEntries(grpc::ServerContext* context,
                                           const enclave::v1::ListEntriesRequest* request,
                                           enclave::v1::ListEntriesResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<std::string> caller = Caller(context);
    if (!caller.ok()) return caller.status();
    core::AuditFilter filter;
    filter.caller = request->caller();
    filter.template_id = request->template_id();
    filter.decision = request->decision();
    filter.entry_type = request->entry_type();
    filter.from_unix_ms = request->from_unix_ms();
    filter.to_unix_ms = request->to_unix_ms();
    filter.project = request->project();
    filter.parameters.assign(request->parameters().begin(), request->parameters().end());
    const std::uint64_t start = request->page_token() != 0 ? request->page_token() : request->start();
    absl::StatusOr<core::AuditPage> page = service_->ListEntries(
        *caller, start, request->end(), filter, request->page_size(), request->with_proofs());
    if (!page.ok()) return page.status();
    for (core::AuditEntry& e : page->entries) {
      enclave::v1::LogEntry* out = response->add_entries();
      out->set_sequence(e.sequence);
      out->set_leaf(std::move(e.leaf));
      for (const core::AuditHash& h : e.inclusion_path) out->add_inclusion_path(HashBytes(h));
    }
    if (page->checkpoint.has_value()) ToProto(*page->checkpoint, response->mutable_checkpoint());
    response->set_next_page_token(page->next_start);
    response->set_log_size(page->log_size);
    return absl::OkStatus();
  });
}

grpc::Status AuditServiceImpl::GetInclusionProof(
    grpc::ServerContext* context, const enclave::v1::GetInclusionProofRequest* request,
    enclave::v1::GetInclusionProofResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<std::string> caller = Caller(context);
    if (!caller.ok()) return caller.status();
    core::LeafSelector selector;
    if (request->leaf_case() == enclave::v1::GetInclusionProofRequest::kSequence) {
      selector.sequence = request->sequence();
    } else {
      selector.request_id = request->request_id();
    }
    absl::StatusOr<core::InclusionProofs> proofs =
        service_->GetInclusionProof(*caller, selector, request->tree_size());
    if (!proofs.ok()) return proofs.status();
    ToProto(proofs->checkpoint, response->mutable_checkpoint());
    response->set_tree_size(proofs->tree_size);
    for (const core::LeafProof& p : proofs->proofs) ToProto(p, response->add_proofs());
    return absl::OkStatus();
  });
}

grpc::Status AuditServiceImpl::GetConsistencyProof(
    grpc::ServerContext* context, const enclave::v1::GetConsistencyProofRequest* request,
    enclave::v1::GetConsistencyProofResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<std::string> caller = Caller(context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<core::ConsistencyProofs> proof =
        service_->GetConsistencyProof(*caller, request->old_size(), request->new_size());
    if (!proof.ok()) return proof.status();
    response->set_old_size(proof->old_size);
    response->set_new_size(proof->new_size);
    for (const core::AuditHash& h : proof->proof) response->add_proof(HashBytes(h));
    return absl::OkStatus();
  });
}

grpc::Status AuditServiceImpl::ExportBundle(
    grpc::ServerContext* context, const enclave::v1::ExportBundleRequest* request,
    grpc::ServerWriter<enclave::v1::ExportBundleChunk>* writer) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<std::string> caller = Caller(context);
    if (!caller.ok()) return caller.status();
    return service_->ExportBundle(
        *caller, request->from_size(), [&](std::string_view chunk) -> absl::Status {
          if (context->IsCancelled()) return absl::CancelledError("the export was cancelled");
          enclave::v1::ExportBundleChunk message;
          message.set_data(std::string(chunk));
          if (!writer->Write(message)) {
            return absl::CancelledError("the client stopped reading the export");
          }
          return absl::OkStatus();
        });
  });
}

grpc::Status AuditServiceImpl::GetReceipt(grpc::ServerContext* context,
                                          const enclave::v1::GetReceiptRequest* request,
                                          enclave::v1::GetReceiptResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<std::string> caller = Caller(context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<core::Receipt> receipt = service_->GetReceipt(*caller, request->request_id());
    if (!receipt.ok()) return receipt.status();
    ToProto(receipt->checkpoint, response->mutable_checkpoint());
    for (const core::LeafProof& p : receipt->leaves) ToProto(p, response->add_leaves());
    return absl::OkStatus();
  });
}

}  // namespace enclave::rpc
