// enclave.v1.AuditService over core::AuditService: identity from the AuthContext, the use case in
// core (which authorises every call and logs refusals), marshalling, one status mapping.
//
//   auto audit = std::make_shared<core::AuditService>(principals, reader, log, {});
//   rpc::AuditServiceImpl service(audit);
//   builder.RegisterService(&service);
#pragma once

#include <memory>

#include "enclave/core/audit_service.h"
#include "enclave/v1/audit.grpc.pb.h"

namespace enclave::rpc {

// Thread-safe (sync server: handlers run concurrently).
class AuditServiceImpl final : public enclave::v1::AuditService::Service {
 public:
  explicit AuditServiceImpl(std::shared_ptr<core::AuditService> service);

  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const enclave::v1::GetCheckpointRequest* request,
                             enclave::v1::GetCheckpointResponse* response) override;
  grpc::Status ListEntries(grpc::ServerContext* context,
                           const enclave::v1::ListEntriesRequest* request,
                           enclave::v1::ListEntriesResponse* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const enclave::v1::GetInclusionProofRequest* request,
                                 enclave::v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const enclave::v1::GetConsistencyProofRequest* request,
                                   enclave::v1::GetConsistencyProofResponse* response) override;
  // Chunks in order; on an error after some chunks the status is not OK and the client must
  // discard what it received.
  grpc::Status ExportBundle(grpc::ServerContext* context,
                            const enclave::v1::ExportBundleRequest* request,
                            grpc::ServerWriter<enclave::v1::ExportBundleChunk>* writer) override;
  grpc::Status GetReceipt(grpc::ServerContext* context,
                          const enclave::v1::GetReceiptRequest* request,
                          enclave::v1::GetReceiptResponse* response) override;

 private:
  std::shared_ptr<core::AuditService> service_;
};

}  // namespace enclave::rpc
