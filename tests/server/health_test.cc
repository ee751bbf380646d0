// The gRPC health service (issue 13): grpc.health.v1 behind the same mutual TLS, operators only,
// refusals in the query log, allowed checks only counted; NOT_SERVING while starting, stopping and
// when the query log cannot be written; `enclavectl health` exits 0 only for SERVING.
#include <doctest/doctest.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <memory>
#include <thread>

#include "enclave/core/health.h"
#include "enclave/core/observed_log.h"
#include "enclave/server/server.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/observe_world.h"
#include "tests/testing/fake_query_log.h"

namespace enclave::server::observe_test {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

World& Shared() {
  static World world;
  return world;
}

// A Health stub as `who` (a dev-pki.sh name), or with no client certificate for "".
std::unique_ptr<grpc::health::v1::Health::Stub> HealthStub(const World& w, int port,
                                                           const std::string& who) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = Slurp(w.dir / "pki/ca.pem");
  if (!who.empty()) {
    options.pem_cert_chain = Slurp(w.dir / "pki" / (who + ".pem"));
    options.pem_private_key = Slurp(w.dir / "pki" / (who + ".key"));
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port), grpc::SslCredentials(options), args));
}

grpc::Status Check(const World& w, int port, const std::string& who, const std::string& service,
                   HealthCheckResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckRequest request;
  request.set_service(service);
  return HealthStub(w, port, who)->Check(&context, request, response);
}

policy::CallerIdentity Operator() {
  return policy::CallerIdentity::FromUri("spiffe://udc-lv.local/operator/operator1");
}

std::shared_ptr<const policy::PrincipalDirectory> Principals() {
  policy::Principal op;
  op.id = Operator().uri;
  op.role = policy::Role::kOperator;
  policy::Principal analyst;
  analyst.id = "spiffe://udc-lv.local/municipal_analyst/analyst1";
  analyst.role = policy::Role::kMunicipalAnalyst;
  auto dir = policy::PrincipalDirectory::Create({op, analyst});
  REQUIRE(dir.ok());
  return std::make_shared<const policy::PrincipalDirectory>(*std::move(dir));
}

}  // namespace

TEST_SUITE("health") {
  TEST_CASE("operator gets SERVING over mTLS, other roles PERMISSION_DENIED (logged), no "
            "certificate no handshake") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-check").string();
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();

    for (const std::string service : {"", "enclave.v1.QueryService", "enclave.v1.AuditService"}) {
      HealthCheckResponse response;
      const grpc::Status status = Check(w, port, "operator1", service, &response);
      CHECK_MESSAGE(status.ok(), status.error_message());
      CHECK(response.status() == HealthCheckResponse::SERVING);
    }
    {
      HealthCheckResponse response;
      const grpc::Status status = Check(w, port, "operator1", "no.such.Service", &response);
      CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
    }
    // Every other role is refused, whatever it asks.
    for (const std::string who : {"analyst1", "officer1", "steward1", "unknown1"}) {
      CAPTURE(who);
      HealthCheckResponse response;
      const grpc::Status status = Check(w, port, who, "", &response);
      CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
      CHECK(response.status() == HealthCheckResponse::UNKNOWN);
    }
    {
      HealthCheckResponse response;
      const grpc::Status status = Check(w, port, "", "", &response);
      CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);  // the handshake was refused
    }
    // The client library and the same rule.
    auto ok = client::CheckHealth(w.Connect(port, "operator1"));
    REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
    CHECK(*ok == "SERVING");
    auto denied = client::CheckHealth(w.Connect(port, "analyst1"));
    CHECK(denied.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(denied.status().message().find("operators") != std::string::npos);

    (*server)->Shutdown();
    server->reset();
    int refused = 0;
    int allowed = 0;
    for (const audit::LogLeaf& leaf : Leaves(c.state_dir)) {
      if (leaf.rpc != "Health/Check") continue;
      if (leaf.type == audit::EntryType::kQueryRefused && leaf.decision == "PERMISSION_DENIED") {
        ++refused;
      } else {
        ++allowed;
      }
    }
    CHECK(refused == 5);  // analyst1, officer1, steward1, unknown1, and the library's analyst1
    CHECK(allowed == 0);  // allowed checks are counted in metrics, not logged
  }

  TEST_CASE("Watch: SERVING at once, NOT_SERVING when the server stops, then the stream ends") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-watch").string();
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();

    auto stub = HealthStub(w, port, "operator1");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->Watch(&context, HealthCheckRequest());
    HealthCheckResponse first;
    REQUIRE(reader->Read(&first));
    CHECK(first.status() == HealthCheckResponse::SERVING);

    const auto stop_began = std::chrono::steady_clock::now();
    std::thread stopper([&] { (*server)->Shutdown(); });
    HealthCheckResponse next;
    REQUIRE(reader->Read(&next));
    CHECK(next.status() == HealthCheckResponse::NOT_SERVING);
    CHECK_FALSE(reader->Read(&next));
    const grpc::Status finished = reader->Finish();
    CHECK_MESSAGE(finished.ok(), finished.error_message());
    stopper.join();
    // The watcher did not hold the shutdown for its grace period.
    CHECK(std::chrono::steady_clock::now() - stop_began < std::chrono::seconds(5));

    // A refused Watch (another role) never streams.
    server->reset();
  }

  TEST_CASE("enclavectl health: prints the status, exits 0 only for SERVING") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-ctl").string();
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();
    auto ctl = [&](const std::string& who) {
      return testing::RunProcess(
          {ENCLAVECTL_PATH, "--target", "127.0.0.1:" + std::to_string(port), "--ca",
           (w.dir / "pki/ca.pem").string(), "--cert", (w.dir / "pki" / (who + ".pem")).string(),
           "--key", (w.dir / "pki" / (who + ".key")).string(), "--timeout", "10", "health"});
    };
    testing::ProcessResult op = ctl("operator1");
    INFO(op.err);
    CHECK(op.exit_code == 0);
    CHECK(op.out == "SERVING\n");
    testing::ProcessResult analyst = ctl("analyst1");
    CHECK(analyst.exit_code == 3);
    CHECK(analyst.out.empty());
    (*server)->Shutdown();
    server->reset();
    testing::ProcessResult down = ctl("operator1");
    CHECK(down.exit_code == 5);
    CHECK(down.out.empty());
  }
}

TEST_SUITE("health monitor") {
  TEST_CASE("NOT_SERVING while starting and stopping, SERVING only in between") {
    core::HealthMonitor monitor(nullptr, nullptr);
    CHECK(monitor.Current().status == core::ServingStatus::kNotServing);
    CHECK(monitor.Current().reason == "starting");
    monitor.MarkServing();
    CHECK(monitor.Current().status == core::ServingStatus::kServing);
    monitor.MarkStopping();
    CHECK(monitor.Current().status == core::ServingStatus::kNotServing);
    CHECK(monitor.Current().reason == "stopping");
    monitor.MarkServing();  // never back
    CHECK(monitor.Current().status == core::ServingStatus::kNotServing);
  }

  TEST_CASE("NOT_SERVING from a failed query-log write until one succeeds (fail closed)") {
    auto fake = std::make_shared<testing::FakeQueryLog>();
    auto observed = std::make_shared<core::ObservedQueryLog>(fake, nullptr);
    core::HealthMonitor monitor(observed, nullptr);
    monitor.MarkServing();
    core::QueryLogEntry entry;
    entry.type = core::QueryLogEntry::Type::kRefused;
    REQUIRE(observed->Append(entry).ok());
    CHECK(monitor.Current().status == core::ServingStatus::kServing);
    fake->FailAll(true);
    CHECK_FALSE(observed->Append(entry).ok());
    CHECK(monitor.Current().status == core::ServingStatus::kNotServing);
    CHECK(monitor.Current().reason == "query-log-unwritable");
    fake->FailAll(false);
    REQUIRE(observed->Append(entry).ok());
    CHECK(monitor.Current().status == core::ServingStatus::kServing);
  }

  TEST_CASE("a real query log whose commit fails makes the health NOT_SERVING") {
    testing::TempDir dir;
    adapters::sqlite::AuditLogOptions options;
    options.state_dir = dir.path().string();
    std::atomic<bool> fail{false};
    options.before_commit_for_test = [&fail](std::uint64_t) {
      return fail ? absl::UnavailableError("disk full (injected)") : absl::OkStatus();
    };
    auto store = adapters::sqlite::AuditLogStore::Open(options);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    std::shared_ptr<adapters::sqlite::AuditLogStore> log = *std::move(store);
    auto observed = std::make_shared<core::ObservedQueryLog>(log, nullptr);
    auto monitor = std::make_shared<core::HealthMonitor>(observed, nullptr);
    monitor->MarkServing();
    core::QueryLogEntry entry;
    entry.type = core::QueryLogEntry::Type::kServerStart;
    REQUIRE(observed->Append(entry).ok());
    CHECK(monitor->Current().status == core::ServingStatus::kServing);
    fail = true;
    CHECK(observed->Append(entry).code() == absl::StatusCode::kUnavailable);
    CHECK(monitor->Current().status == core::ServingStatus::kNotServing);
    // The store refuses every later write after a failed commit: the health stays NOT_SERVING.
    fail = false;
    CHECK_FALSE(observed->Append(entry).ok());
    CHECK(monitor->Current().status == core::ServingStatus::kNotServing);
    // Negative control: the probe alone (state dir fine) would have said SERVING.
    core::HealthMonitor without_log(nullptr, [] { return absl::OkStatus(); });
    without_log.MarkServing();
    CHECK(without_log.Current().status == core::ServingStatus::kServing);
  }

  TEST_CASE("a failing state-directory probe makes the health NOT_SERVING") {
    core::HealthMonitor monitor(nullptr, [] { return absl::UnavailableError("read-only"); });
    monitor.MarkServing();
    CHECK(monitor.Current().status == core::ServingStatus::kNotServing);
    CHECK(monitor.Current().reason == "state-dir-unwritable");
  }

  TEST_CASE("HealthService: operators only, refusals logged, deny-list applies, checks counted") {
    auto log = std::make_shared<testing::FakeQueryLog>();
    auto monitor = std::make_shared<core::HealthMonitor>(nullptr, nullptr);
    monitor->MarkServing();
    core::HealthService health(Principals(), nullptr, log, monitor, {""});
    auto ok = health.Check(Operator(), "", "Check");
    REQUIRE(ok.ok());
    CHECK(*ok == core::ServingStatus::kServing);
    CHECK(log->size() == 0);  // allowed: not logged
    auto analyst = policy::CallerIdentity::FromUri("spiffe://udc-lv.local/municipal_analyst/analyst1");
    CHECK(health.Check(analyst, "", "Check").status().code() ==
          absl::StatusCode::kPermissionDenied);
    auto stranger = policy::CallerIdentity::FromUri("spiffe://udc-lv.local/operator/nobody");
    CHECK(health.Check(stranger, "", "Check").status().code() ==
          absl::StatusCode::kPermissionDenied);
    const auto refused = log->OfType(core::QueryLogEntry::Type::kRefused);
    REQUIRE(refused.size() == 2);
    CHECK(refused[0].rpc == "Health/Check");
    CHECK(refused[0].caller == analyst.uri);
    CHECK(refused[0].role == "municipal_analyst");
    CHECK(refused[0].decision == "PERMISSION_DENIED");
    CHECK(health.Check(Operator(), "x", "Check").status().code() == absl::StatusCode::kNotFound);
    // A refusal that cannot be logged is not answered (fail closed).
    log->FailAll(true);
    CHECK(health.Check(analyst, "", "Check").status().code() == absl::StatusCode::kUnavailable);
    const auto counts = health.Counts();
    CHECK(counts.at({"Check", "SERVING"}) == 1);
    CHECK(counts.at({"Check", "PERMISSION_DENIED"}) == 2);
    CHECK(counts.at({"Check", "NOT_FOUND"}) == 1);
    CHECK(counts.at({"Check", "UNAVAILABLE"}) == 1);
  }

  TEST_CASE("HealthService: a revoked operator is refused") {
    struct Revoked final : policy::RevocationSource {
      absl::StatusOr<std::shared_ptr<const policy::RevocationList>> Current() override {
        auto list = std::make_shared<policy::RevocationList>();
        list->principals.insert(Operator().uri);
        return std::shared_ptr<const policy::RevocationList>(list);
      }
    };
    auto log = std::make_shared<testing::FakeQueryLog>();
    auto monitor = std::make_shared<core::HealthMonitor>(nullptr, nullptr);
    monitor->MarkServing();
    core::HealthService health(Principals(), std::make_shared<Revoked>(), log, monitor, {""});
    CHECK(health.Check(Operator(), "", "Check").status().code() ==
          absl::StatusCode::kPermissionDenied);
    CHECK(log->OfType(core::QueryLogEntry::Type::kRefused).size() == 1);
  }
}

}  // namespace enclave::server::observe_test
