// enclave.v1.QueryService over core::QueryService: identity from the AuthContext, the use case in
// core (which authorises every call and writes the query log), marshalling, one status mapping.
//
//   auto core = std::make_shared<core::QueryService>(...);
//   rpc::QueryServiceImpl service(core, {.default_deadline_ms = 30000, .max_deadline_ms = 120000});
//   builder.RegisterService(&service);
#pragma once

#include <memory>

#include "enclave/core/query_service.h"
#include "enclave/rpc/deadline.h"
#include "enclave/v1/service.grpc.pb.h"

namespace enclave::rpc {

// Thread-safe (sync server: handlers run concurrently); `service` outlives nothing it does not own.
class QueryServiceImpl final : public enclave::v1::QueryService::Service {
 public:
  QueryServiceImpl(std::shared_ptr<core::QueryService> service, DeadlinePolicy deadlines);

  grpc::Status ListTemplates(grpc::ServerContext* context,
                             const enclave::v1::ListTemplatesRequest* request,
                             enclave::v1::ListTemplatesResponse* response) override;
  grpc::Status DescribeTemplate(grpc::ServerContext* context,
                                const enclave::v1::DescribeTemplateRequest* request,
                                enclave::v1::DescribeTemplateResponse* response) override;
  grpc::Status RunQuery(grpc::ServerContext* context, const enclave::v1::RunQueryRequest* request,
                        enclave::v1::RunQueryResponse* response) override;
  grpc::Status GetBudget(grpc::ServerContext* context, const enclave::v1::GetBudgetRequest* request,
                         enclave::v1::GetBudgetResponse* response) override;

 private:
  std::shared_ptr<core::QueryService> service_;
  DeadlinePolicy deadlines_;
};

}  // namespace enclave::rpc
