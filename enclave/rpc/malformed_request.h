// Requests that cannot be decoded (security.md §2.6): gRPC's generated code answers a request
// whose bytes do not parse as the method's protobuf message (garbage, or a string field that is
// not valid UTF-8) with INTERNAL and an empty message, before any handler runs. This server
// interceptor turns exactly that case into INVALID_ARGUMENT with a message saying the request
// was malformed and what is allowed, and logs `rpc_request_malformed` (operational log).
//
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
//   f.push_back(rpc::MakeMalformedRequestInterceptorFactory(config.max_receive_message_bytes));
//   builder.experimental().SetInterceptorCreators(std::move(f));
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <string_view>

namespace enclave::rpc {

// The INVALID_ARGUMENT message for an undecodable request to `method` ("/enclave.v1.X/Y"):
// "the request to enclave.v1.QueryService/RunQuery was malformed: its bytes are not a valid
// request message (a text field that is not valid UTF-8, or not protobuf at all); allowed: a
// request as proto/enclave/v1 defines it, every text field valid UTF-8, at most N bytes".
std::string MalformedRequestMessage(std::string_view method, int max_receive_message_bytes);

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMalformedRequestInterceptorFactory(int max_receive_message_bytes);

}  // namespace enclave::rpc
