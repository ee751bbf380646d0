// The AuditService end to end over mutual TLS: the SQLite AuditLogStore behind
// adapters::sqlite::MakeAuditReader, core::AuditService, rpc::AuditServiceImpl, and the client
// library and enclavectl's verify flow on the other side. Every dev-pki role is tried on the
// wire; identity comes from the certificate only (metadata claiming a role grants nothing);
// refusals land in the same log.
#include <doctest/doctest.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "client/cli/audit.h"
#include "client/verifier/verifier.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/leaf.h"
#include "enclave/client/client.h"
#include "enclave/core/audit_service.h"
#include "enclave/rpc/audit_service_impl.h"
#include "enclave/v1/audit.grpc.pb.h"
#include "tests/testing/temp_dir.h"

namespace enclave::rpc {
namespace {

namespace fs = std::filesystem;

constexpr char kDomain[] = "spiffe://udc-lv.local";

std::string Uri(const std::string& role, const std::string& name) {
  return std::string(kDomain) + "/" + role + "/" + name;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

core::QueryLogEntry Query(const std::string& caller, const std::string& request_id,
                          core::QueryLogEntry::Type type) {
  core::QueryLogEntry e;
  e.type = type;
  e.request_id = request_id;
  e.caller = caller;
  e.role = "researcher";
  e.rpc = "RunQuery";
  e.template_id = "zzp_aantal_per_wijk";
  e.template_version = 1;
  e.template_sha256 = std::string(64, 'a');
  e.decision = "allowed";
  if (type == core::QueryLogEntry::Type::kResult) {
    e.cell_rules = "released,threshold";
    e.result_sha256 = std::string(64, 'c');
  }
  return e;
}

// Certificates, a log with two researchers' queries, and the AuditService on 127.0.0.1:0.
struct Fixture {
  testing::TempDir dir;
  std::shared_ptr<adapters::sqlite::AuditLogStore> store;
  std::shared_ptr<core::AuditService> core;
  std::unique_ptr<AuditServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string setup_error;

  Fixture() {
    const std::string command = std::string("bash '") + ENCLAVE_DEV_PKI_SCRIPT + "' '" +
                                (dir.path() / "pki").string() + "' --days 2 >/dev/null";
    if (std::system(command.c_str()) != 0) {
      setup_error = "dev-pki.sh failed";
      return;
    }
    adapters::sqlite::AuditLogOptions options;
    options.state_dir = (dir.path() / "state").string();
    options.checkpoint_interval = std::chrono::milliseconds(0);
    fs::create_directories(options.state_dir);
    auto opened = adapters::sqlite::AuditLogStore::Open(options);
    if (!opened.ok()) {
      setup_error = opened.status().ToString();
      return;
    }
    store = *std::move(opened);
    using Type = core::QueryLogEntry::Type;
    for (const auto& [who, id] : {std::pair{Uri("researcher", "researcher1"), "q-r1-1"},
                                  std::pair{Uri("researcher", "researcher2"), "q-r2-1"}}) {
      if (!store->Append(Query(who, id, Type::kAccepted)).ok() ||
          !store->Append(Query(who, id, Type::kResult)).ok()) {
        setup_error = "append failed";
        return;
      }
    }
    if (!store->SignCheckpointNow().ok()) {
      setup_error = "sign failed";
      return;
    }

    auto principals = policy::PrincipalDirectory::Create({
        {Uri("privacy_officer", "officer1"), "Officer", "LV", policy::Role::kPrivacyOfficer, {},
         {}},
        {Uri("researcher", "researcher1"), "Researcher", "UU", policy::Role::kResearcher, {"p"},
         {}},
        {Uri("municipal_analyst", "analyst1"), "Analyst", "LV", policy::Role::kMunicipalAnalyst,
         {}, {}},
        {Uri("data_steward", "steward1"), "Steward", "CBS", policy::Role::kDataSteward, {}, {}},
        {Uri("operator", "operator1"), "Operator", "LV", policy::Role::kOperator, {}, {}},
    });
    if (!principals.ok()) {
      setup_error = principals.status().ToString();
      return;
    }
    core::AuditServiceOptions audit_options;
    audit_options.chunk_bytes = 512;  // several stream messages
    core = std::make_shared<core::AuditService>(
        std::make_shared<const policy::PrincipalDirectory>(*std::move(principals)),
        adapters::sqlite::MakeAuditReader(store), store, audit_options);
    service = std::make_unique<AuditServiceImpl>(core);

    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = ReadFile(dir.path() / "pki/ca.pem");
    ssl.pem_key_cert_pairs.push_back(
        {ReadFile(dir.path() / "pki/server.key"), ReadFile(dir.path() / "pki/server.pem")});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    if (server == nullptr || port <= 0) setup_error = "server did not start";
  }

  ~Fixture() {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
    server.reset();
    if (store != nullptr) store->Close().IgnoreError();
  }

  client::ConnectOptions Options(const std::string& name) const {
    client::ConnectOptions o;
    o.target = "127.0.0.1:" + std::to_string(port);
    o.ca_file = (dir.path() / "pki/ca.pem").string();
    o.cert_file = (dir.path() / "pki" / (name + ".pem")).string();
    o.key_file = (dir.path() / "pki" / (name + ".key")).string();
    o.server_name = "localhost";
    o.deadline = std::chrono::milliseconds(10000);
    return o;
  }

  std::unique_ptr<client::AuditClient> Client(const std::string& name) const {
    auto c = client::ConnectAudit(Options(name));
    REQUIRE(c.ok());
    return *std::move(c);
  }

  // Refusals in the log, decoded.
  std::vector<audit::LogLeaf> Refusals() const {
    auto leaves = store->ReadLeaves(0, store->Size());
    REQUIRE(leaves.ok());
    std::vector<audit::LogLeaf> out;
    for (const std::string& bytes : *leaves) {
      auto leaf = audit::DecodeLeaf(bytes);
      REQUIRE(leaf.ok());
      if (leaf->type == audit::EntryType::kQueryRefused) out.push_back(*leaf);
    }
    return out;
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

}  // namespace

TEST_SUITE("AuditServiceImpl over mTLS") {
  TEST_CASE("the officer verifies the log with enclavectl's flow and the pinned key") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    auto officer = f.Client("officer1");
    client::cli::AuditTrust trust;
    trust.log_key = f.store->VerifierKey();
    trust.origin = adapters::sqlite::kDefaultLogOrigin;
    trust.state_path = (f.dir.path() / "officer" / "checkpoint").string();
    auto first = client::cli::VerifyLog(*officer, trust);
    REQUIRE_MESSAGE(first.ok(), first.status().ToString());
    REQUIRE(f.store->Append(Query(Uri("researcher", "researcher1"), "q-r1-2",
                                  core::QueryLogEntry::Type::kAccepted))
                .ok());
    REQUIRE(f.store->SignCheckpointNow().ok());
    auto second = client::cli::VerifyLog(*officer, trust);
    REQUIRE_MESSAGE(second.ok(), second.status().ToString());
    CHECK(Contains(*second, "consistent with the stored checkpoint"));

    auto listing = client::cli::ListLog(*officer, {}, false, trust);
    REQUIRE_MESSAGE(listing.ok(), listing.status().ToString());
    CHECK(Contains(*listing, "q-r2-1"));
    CHECK(Contains(*listing, "re-hashed and proven included in the checkpoint"));
  }

  TEST_CASE("every other role is refused on the wire, and each refusal is in the log") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    for (const char* name : {"analyst1", "steward1", "operator1", "researcher1", "unknown1"}) {
      CAPTURE(name);
      const std::size_t before = f.Refusals().size();
      auto c = f.Client(name);
      CHECK(c->GetCheckpoint().status().code() == absl::StatusCode::kPermissionDenied);
      CHECK(c->ExportBundle(0, [](std::string_view) { return absl::OkStatus(); }).code() ==
            absl::StatusCode::kPermissionDenied);
      CHECK(c->ListEntries(0, 0, {}, 0, 0).status().code() ==
            absl::StatusCode::kPermissionDenied);
      CHECK(f.Refusals().size() == before + 3);
    }
  }

  TEST_CASE("a researcher fetches a receipt of their own request only") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    auto researcher = f.Client("researcher1");
    auto receipt = researcher->GetReceipt("q-r1-1");
    REQUIRE_MESSAGE(receipt.ok(), receipt.status().ToString());
    REQUIRE(receipt->proofs.size() == 2);
    auto key = verifier::ParseVerifierKey(f.store->VerifierKey());
    REQUIRE(key.ok());
    auto checkpoint = verifier::VerifyCheckpointNote(receipt->checkpoint.note, *key,
                                                     adapters::sqlite::kDefaultLogOrigin);
    REQUIRE(checkpoint.ok());
    for (const client::AuditLeafProof& p : receipt->proofs) {
      verifier::Hash leaf_hash{};
      REQUIRE(p.leaf_hash.size() == 32);
      std::copy(p.leaf_hash.begin(), p.leaf_hash.end(), reinterpret_cast<char*>(leaf_hash.data()));
      std::vector<verifier::Hash> path;
      for (const std::string& h : p.path) {
        verifier::Hash x{};
        std::copy(h.begin(), h.end(), reinterpret_cast<char*>(x.data()));
        path.push_back(x);
      }
      CHECK(verifier::CheckInclusion(p.sequence, checkpoint->size, leaf_hash, path,
                                     checkpoint->root)
                .ok());
      if (!p.redacted) CHECK(verifier::LeafHash(p.leaf) == leaf_hash);
    }
    CHECK(receipt->proofs[1].redacted);  // per-cell rule ids are officer-only
    CHECK(researcher->GetReceipt("q-r2-1").status().code() ==
          absl::StatusCode::kPermissionDenied);
  }

  TEST_CASE("metadata claiming a role grants nothing") {
    Fixture& f = Shared();
    REQUIRE_MESSAGE(f.setup_error.empty(), f.setup_error);
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(f.dir.path() / "pki/ca.pem");
    options.pem_cert_chain = ReadFile(f.dir.path() / "pki/analyst1.pem");
    options.pem_private_key = ReadFile(f.dir.path() / "pki/analyst1.key");
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = enclave::v1::AuditService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(f.port), grpc::SslCredentials(options), args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context.AddMetadata("x-role", "privacy_officer");
    context.AddMetadata("x-caller", Uri("privacy_officer", "officer1"));
    enclave::v1::GetCheckpointResponse response;
    const grpc::Status status =
        stub->GetCheckpoint(&context, enclave::v1::GetCheckpointRequest(), &response);
    CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(response.checkpoint().note().empty());
  }
}

}  // namespace enclave::rpc
