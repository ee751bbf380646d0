#include "enclave/rpc/malformed_request.h"

#include <grpcpp/support/status.h>

#include "enclave/base/log.h"

namespace enclave::rpc {
namespace {

namespace gx = grpc::experimental;

// The method's last path element, for the operational log ("RunQuery").
std::string_view MethodName(std::string_view method) {
  const std::size_t slash = method.rfind('/');
  return slash == std::string_view::npos ? method : method.substr(slash + 1);
}

class MalformedRequestInterceptor final : public gx::Interceptor {
 public:
  MalformedRequestInterceptor(std::string method, int max_bytes)
      : method_(std::move(method)), max_bytes_(max_bytes) {}

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    // The generated unary handler deserializes before this hook point; a failure leaves no
    // message (grpcpp/support/method_handler.h, UnaryDeserializeHelper).
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      malformed_ = true;
    }
    if (malformed_ &&
        methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             MalformedRequestMessage(method_, max_bytes_)));
      base::LogWarning("rpc_request_malformed", {{"method", base::Word(MethodName(method_))}});
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  const int max_bytes_;
  bool malformed_ = false;  // one interceptor per call; hook points of a call are serialised
};

class Factory final : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(int max_bytes) : max_bytes_(max_bytes) {}
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new MalformedRequestInterceptor(info->method() != nullptr ? info->method() : "",
                                           max_bytes_);
  }

 private:
  const int max_bytes_;
};

}  // namespace

std::string MalformedRequestMessage(std::string_view method, int max_receive_message_bytes) {
  std::string_view shown = method;
  if (!shown.empty() && shown.front() == '/') shown.remove_prefix(1);
  return "the request to " + std::string(shown) +
         " was malformed: its bytes are not a valid request message (a text field that is not "
         "valid UTF-8, or not protobuf at all); allowed: a request as proto/enclave/v1 defines "
         "it, every text field valid UTF-8, at most " +
         std::to_string(max_receive_message_bytes) + " bytes";
}

std::unique_ptr<gx::ServerInterceptorFactoryInterface> MakeMalformedRequestInterceptorFactory(
    int max_receive_message_bytes) {
  return std::make_unique<Factory>(max_receive_message_bytes);
}

}  // namespace enclave::rpc
