// The QueryService handlers: no authorisation or logging decisions here, only translation.
#include "enclave/rpc/query_service_impl.h"

#include <grpcpp/server_context.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "enclave/base/retry_hint.h"
#include "enclave/rpc/handler.h"
#include "enclave/rpc/marshalling.h"

namespace enclave::rpc {

QueryServiceImpl::QueryServiceImpl(std::shared_ptr<core::QueryService> service,
                                   DeadlinePolicy deadlines)
    : service_(std::move(service)), deadlines_(deadlines) {}

grpc::Status QueryServiceImpl::ListTemplates(grpc::ServerContext* context,
                                             const enclave::v1::ListTemplatesRequest* /*request*/,
                                             enclave::v1::ListTemplatesResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<policy::CallerIdentity> caller = CallerCertificate(context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<std::vector<const templates::Template*>> list = service_->ListTemplates(*caller);
    if (!list.ok()) return list.status();
    for (const templates::Template* t : *list) {
      if (t == nullptr) return absl::InternalError("null template in list");
      *response->add_templates() = ToTemplateSummary(*t);
    }
    return absl::OkStatus();
  });
}

grpc::Status QueryServiceImpl::DescribeTemplate(grpc::ServerContext* context,
                                                const enclave::v1::DescribeTemplateRequest* request,
                                                enclave::v1::DescribeTemplateResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<policy::CallerIdentity> caller = CallerCertificate(context);
    if (!caller.ok()) return caller.status();
    std::optional<core::QueryService::Layout> layout;
    absl::StatusOr<const templates::Template*> tmpl = nullptr;
    if (request->parameters_size() > 0) {
      std::vector<std::pair<std::string, std::string>> params;
      for (const enclave::v1::Parameter& p : request->parameters()) {
        params.emplace_back(p.name(), p.value());
      }
      absl::StatusOr<core::QueryService::Layout> described =
          service_->DescribeLayout(*caller, request->template_id(), params);
      if (!described.ok()) return described.status();
      layout = *std::move(described);
      tmpl = layout->tmpl;
    } else {
      tmpl = service_->DescribeTemplate(*caller, request->template_id());
    }
    if (!tmpl.ok()) return tmpl.status();
    if (*tmpl == nullptr) return absl::InternalError("null template");
    const auto& rule_sets = service_->catalog().rule_sets;
    auto it = rule_sets.find((*tmpl)->disclosure.rule_set);
    *response->mutable_template_() =
        ToTemplateDescription(**tmpl, it == rule_sets.end() ? nullptr : &it->second);
    if (layout.has_value()) *response->mutable_layout() = ToReleaseLayout(*layout);
    return absl::OkStatus();
  });
}

grpc::Status QueryServiceImpl::RunQuery(grpc::ServerContext* context,
                                        const enclave::v1::RunQueryRequest* request,
                                        enclave::v1::RunQueryResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<policy::CallerIdentity> caller = CallerCertificate(context);
    if (!caller.ok()) return caller.status();
    std::vector<std::pair<std::string, std::string>> params;
    params.reserve(static_cast<std::size_t>(request->parameters_size()));
    for (const enclave::v1::Parameter& p : request->parameters()) {
      params.emplace_back(p.name(), p.value());
    }
    core::Cancellation cancel;
    cancel.deadline = EffectiveDeadline(context->deadline(), deadlines_,
                                        std::chrono::system_clock::now(),
                                        std::chrono::steady_clock::now());
    cancel.cancelled = [context] { return context->IsCancelled(); };
    absl::StatusOr<core::RunResult> result =
        service_->RunQuery(*caller, request->template_id(), params, cancel);
    if (!result.ok()) {
      // A busy enclave or a per-principal limit: when to try again, machine-readable.
      if (std::optional<std::chrono::milliseconds> after = base::RetryAfterOf(result.status())) {
        context->AddTrailingMetadata(base::kRetryAfterMetadata, std::to_string(after->count()));
      }
      return result.status();
    }
    absl::StatusOr<enclave::v1::RunQueryResponse> marshalled = ToRunQueryResponse(*result);
    if (!marshalled.ok()) return marshalled.status();
    *response = *std::move(marshalled);
    return absl::OkStatus();
  });
}

grpc::Status QueryServiceImpl::GetBudget(grpc::ServerContext* context,
                                         const enclave::v1::GetBudgetRequest* /*request*/,
                                         enclave::v1::GetBudgetResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<policy::CallerIdentity> caller = CallerCertificate(context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<std::vector<core::LedgerBalance>> balances = service_->GetBudget(*caller);
    if (!balances.ok()) return balances.status();
    for (const core::LedgerBalance& b : *balances) {
      enclave::v1::BudgetLedger* l = response->add_ledgers();
      l->set_ledger(b.ledger);
      l->set_cap_micro(b.cap_micro);
      l->set_spent_micro(b.spent_micro);
      l->set_reserved_micro(b.reserved_micro);
      l->set_remaining_micro(b.remaining_micro());
    }
    return absl::OkStatus();
  });
}

}  // namespace enclave::rpc
