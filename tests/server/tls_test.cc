// Mutual TLS over loopback, with the credentials and channel arguments StartServer uses and
// certificates made at run time by deploy/dev-pki.sh.
#include <doctest/doctest.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "enclave/core/query_service.h"
#include "enclave/policy/principals.h"
#include "enclave/rpc/query_service_impl.h"
#include "enclave/crypto/secret_file.h"
#include "enclave/rpc/malformed_request.h"
#include "enclave/server/transport.h"
#include "enclave/v1/service.grpc.pb.h"

namespace enclave::server {
namespace {

namespace fs = std::filesystem;

constexpr char kAnalystUri[] = "spiffe://udc-lv.local/municipal_analyst/analyst1";

// Tiny in-memory doubles: ListTemplates needs neither rows nor a durable log.
class NoRowsSource final : public core::MicrodataSource {
 public:
  absl::Status CheckTemplate(const templates::Template&) override { return absl::OkStatus(); }
  absl::Status Scan(const templates::BoundQuery&, const core::Cancellation&,
                    const core::RowVisitor&) override {
    return absl::OkStatus();
  }
  std::string DataVersion() const override { return "tls-test-v1"; }
};

class MemoryLog final : public core::QueryLog {
 public:
  absl::Status Append(const core::QueryLogEntry&) override { return absl::OkStatus(); }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Certificates, a core service with one analyst and one template, and a server on 127.0.0.1:0.
// Built once for the whole binary: dev-pki.sh takes a moment.
struct Fixture {
  fs::path dir;
  Config config;
  std::shared_ptr<core::QueryService> core;
  std::unique_ptr<rpc::QueryServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string setup_error;

  Fixture() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("enclave_tls_test_" + std::to_string(rd()));
    const std::string command = std::string("bash '") + ENCLAVE_DEV_PKI_SCRIPT + "' '" +
                                (dir / "pki").string() + "' --days 2 >/dev/null";
    if (std::system(command.c_str()) != 0) {
      setup_error = "dev-pki.sh failed: " + command;
      return;
    }
    config.client_ca_file = (dir / "pki/ca.pem").string();
    config.server_cert_file = (dir / "pki/server.pem").string();
    config.server_key_file = (dir / "pki/server.key").string();

    templates::Template t;
    t.id = "zzp_aantal_per_wijk";
    t.version = 1;
    t.theme = "zzp";
    t.title = {"Zzp'ers per wijk", "Self-employed per district"};
    t.roles = {templates::Role::kMunicipalAnalyst};
    t.unit = "person";
    auto catalog = std::make_shared<core::TemplateCatalog>();
    catalog->templates.push_back(t);
    catalog->rule_sets["cbs-default"] = disclosure::RuleSetParams{};

    policy::Principal analyst;
    analyst.id = kAnalystUri;
    analyst.display_name = "Analyst One";
    analyst.organisation = "gemeente";
    analyst.role = templates::Role::kMunicipalAnalyst;
    auto principals = policy::PrincipalDirectory::Create({analyst});
    if (!principals.ok()) {
      setup_error = std::string(principals.status().message());
      return;
    }
    core::QueryServiceOptions options;
    options.sha256_hex = [](std::string_view) { return std::string(64, '0'); };
    core = std::make_shared<core::QueryService>(
        catalog, std::make_shared<const policy::PrincipalDirectory>(*std::move(principals)),
        []() -> absl::StatusOr<std::unique_ptr<core::MicrodataSource>> {
          return std::unique_ptr<core::MicrodataSource>(std::make_unique<NoRowsSource>());
        },
        std::make_shared<MemoryLog>(), options);
    service = std::make_unique<rpc::QueryServiceImpl>(core, rpc::DeadlinePolicy{});

    auto creds = MakeServerCredentials(config);
    if (!creds.ok()) {
      setup_error = std::string(creds.status().message());
      return;
    }
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(config, builder);
    builder.AddListeningPort("127.0.0.1:0", *creds, &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    if (server == nullptr || port <= 0) setup_error = "server did not start";
  }

  ~Fixture() {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
    server.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // A stub over a fresh channel (no connection reuse between cases). `client` is a dev-pki.sh name
  // or "" for no client certificate; `ca` the CA the client trusts for the server.
  std::unique_ptr<enclave::v1::QueryService::Stub> Stub(const std::string& client) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(dir / "pki/ca.pem");
    if (!client.empty()) {
      options.pem_cert_chain = ReadFile(dir / "pki" / (client + ".pem"));
      options.pem_private_key = ReadFile(dir / "pki" / (client + ".key"));
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::SslCredentials(options), args);
    return enclave::v1::QueryService::NewStub(channel);
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

grpc::Status CallList(const Fixture& f, const std::string& client,
                      enclave::v1::ListTemplatesResponse* response,
                      const char* injected_role = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (injected_role != nullptr) context.AddMetadata("x-role", injected_role);
  return f.Stub(client)->ListTemplates(&context, enclave::v1::ListTemplatesRequest(), response);
}

}  // namespace

TEST_SUITE("MutualTls") {
  TEST_CASE("a valid analyst certificate can list templates") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    enclave::v1::ListTemplatesResponse response;
    const grpc::Status status = CallList(f, "analyst1", &response);
    REQUIRE_MESSAGE(status.ok(), status.error_message());
    REQUIRE(response.templates_size() == 1);
    CHECK(response.templates(0).id() == "zzp_aantal_per_wijk");
  }

  TEST_CASE("a client without a certificate fails at the handshake") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    enclave::v1::ListTemplatesResponse response;
    const grpc::Status status = CallList(f, "", &response);
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(response.templates_size() == 0);
  }

  TEST_CASE("a certificate from a rogue CA fails at the handshake, even with a known URI") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    enclave::v1::ListTemplatesResponse response;
    const grpc::Status status = CallList(f, "rogue1", &response);
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(response.templates_size() == 0);
  }

  TEST_CASE("a certificate from the right CA for an unknown principal is permission denied") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    enclave::v1::ListTemplatesResponse response;
    const grpc::Status status = CallList(f, "unknown1", &response);
    CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(response.templates_size() == 0);
  }

  TEST_CASE("metadata claiming a role grants nothing") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    enclave::v1::ListTemplatesResponse response;
    const grpc::Status status = CallList(f, "unknown1", &response, "privacy_officer");
    CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }

  TEST_CASE("the TLS server key is refused at 0644, 0666 and through a symlink, as the other secrets") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    const fs::path copy = f.dir / "key-modes" / "server.key";
    fs::create_directories(copy.parent_path());
    fs::copy_file(f.dir / "pki/server.key", copy, fs::copy_options::overwrite_existing);
    Config c = f.config;
    c.server_key_file = copy.string();
    for (mode_t mode : {0644U, 0666U, 0640U}) {
      CAPTURE(mode);
      REQUIRE(::chmod(copy.c_str(), mode) == 0);
      auto creds = MakeServerCredentials(c);
      REQUIRE_FALSE(creds.ok());
      CHECK(creds.status().code() == absl::StatusCode::kFailedPrecondition);
      // One implementation: exactly the message of the check the signing and record keys pass.
      struct stat st {};
      REQUIRE(::lstat(copy.c_str(), &st) == 0);
      CHECK(std::string(creds.status().message()) ==
            std::string(crypto::CheckPrivateFileStat("tls.server_key_file", copy.string(), st,
                                                     false)
                             .message()));
      CHECK(std::string(creds.status().message()).find(crypto::ModeText(mode)) !=
            std::string::npos);
    }
    REQUIRE(::chmod(copy.c_str(), 0600) == 0);
    const fs::path link = f.dir / "key-modes" / "linked.key";
    fs::create_symlink(copy, link);
    c.server_key_file = link.string();
    auto linked = MakeServerCredentials(c);
    CHECK(linked.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(linked.status().message()).find("is a symbolic link") != std::string::npos);
    // Negative control: the same key at 0600, named directly, is accepted.
    c.server_key_file = copy.string();
    CHECK(MakeServerCredentials(c).ok());
  }

  TEST_CASE("garbage and undecodable requests are INVALID_ARGUMENT saying the request was malformed") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    // Raw bytes, as a client that bypasses the generated code (and its UTF-8 check) sends them.
    const auto raw_call = [&](const std::string& method, const std::string& bytes) {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = ReadFile(f.dir / "pki/ca.pem");
      options.pem_cert_chain = ReadFile(f.dir / "pki/analyst1.pem");
      options.pem_private_key = ReadFile(f.dir / "pki/analyst1.key");
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxSendMessageSize(-1);
      auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(f.port),
                                               grpc::SslCredentials(options), args);
      grpc::GenericStub stub(channel);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Slice slice(bytes);
      grpc::ByteBuffer request(&slice, 1);
      grpc::ByteBuffer response;
      std::promise<grpc::Status> done;
      stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                     [&done](grpc::Status s) { done.set_value(std::move(s)); });
      return done.get_future().get();
    };
    const std::string run = "/enclave.v1.QueryService/RunQuery";
    // Field 1 (template_id) as a length-delimited string holding bytes that are not UTF-8.
    const std::string bad_utf8 = std::string("\x0a\x04\xff\xfe\xfd\xfc", 6);
    // Field 2 (parameters) holding Parameter{name: "year", value: <0xC3 0x28>}.
    const std::string bad_param = std::string("\x0a\x03zzp\x12\x0a\x0a\x04year\x12\x02\xc3\x28", 17);
    for (const auto& [what, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"garbage", std::string("\xff\xff\xff\xff\x0f garbage \x01\x02", 15)},
             {"invalid UTF-8 template id", bad_utf8},
             {"invalid UTF-8 parameter value", bad_param}}) {
      CAPTURE(what);
      const grpc::Status status = raw_call(run, bytes);
      CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK(status.error_message() ==
            rpc::MalformedRequestMessage(run, f.config.max_receive_message_bytes));
      CHECK(status.error_message().find('\n') == std::string::npos);  // one line
    }
    // Negative control: well-formed bytes on the same path reach the handler and are answered.
    enclave::v1::DescribeTemplateRequest describe;
    describe.set_template_id("zzp_aantal_per_wijk");
    const grpc::Status fine =
        raw_call("/enclave.v1.QueryService/DescribeTemplate", describe.SerializeAsString());
    CHECK_MESSAGE(fine.ok(), fine.error_message());
    const grpc::Status garbled =
        raw_call("/enclave.v1.QueryService/DescribeTemplate", std::string("\x0a\x02\xc0\xaf", 4));
    CHECK(garbled.error_code() == grpc::StatusCode::INVALID_ARGUMENT);

    // A value over the per-parameter cap but under the message limit: the binding names it.
    enclave::v1::RunQueryRequest long_value;
    long_value.set_template_id("zzp_aantal_per_wijk");
    enclave::v1::Parameter* p = long_value.add_parameters();
    p->set_name("year");
    p->set_value(std::string(1000, '9'));
    const grpc::Status capped = raw_call(run, long_value.SerializeAsString());
    CHECK(capped.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(capped.error_message().find("parameter 'year': the value is 1000 bytes long; allowed: "
                                      "at most 256 bytes") != std::string::npos);
    // 100 kB: over the message limit; refused before any handler, never INTERNAL.
    p->set_value(std::string(100 * 1024, '9'));
    // gRPC itself answers before the enclave sees it (enclavectl never sends one: client.h).
    const grpc::Status huge = raw_call(run, long_value.SerializeAsString());
    CHECK(huge.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(huge.error_message().find("larger than max") != std::string::npos);
    CHECK(huge.error_message().find(std::to_string(f.config.max_receive_message_bytes)) !=
          std::string::npos);
  }

  TEST_CASE("a second server cannot bind the port of a running one") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    auto creds = MakeServerCredentials(f.config);
    REQUIRE(creds.ok());
    enclave::v1::QueryService::Service second_service;
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(f.config, builder);
    int second_port = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(f.port), *creds, &second_port);
    builder.RegisterService(&second_service);
    std::unique_ptr<grpc::Server> second = builder.BuildAndStart();
    const bool bound = second != nullptr && second_port > 0;
    if (second != nullptr) second->Shutdown(std::chrono::system_clock::now());
    CHECK_FALSE(bound);
  }

  TEST_CASE("credentials name the setting and path of an unreadable TLS file") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    Config broken = f.config;
    broken.server_key_file = (f.dir / "missing.key").string();
    auto creds = MakeServerCredentials(broken);
    REQUIRE_FALSE(creds.ok());
    CHECK(std::string(creds.status().message()) ==
          "tls.server_key_file: cannot read " + broken.server_key_file +
              ": No such file or directory");
  }
}

}  // namespace enclave::server
