// Retrying a busy enclave (issue 11 §3): the retry loop with a fake clock, and enclavectl against
// a fake QueryService over mutual TLS that answers RESOURCE_EXHAUSTED with trailing metadata
// `retry-after-ms` (as enclaved does when its queue is full or no slot came in time).
#include "enclave/client/retry.h"

#include <doctest/doctest.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "enclave/client/client.h"
#include "enclave/v1/service.grpc.pb.h"
#include "tests/integration/process.h"
#include "tests/testing/temp_dir.h"

namespace enclave::client {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

int Count(std::string_view haystack, std::string_view needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

absl::Status Busy(milliseconds hint) {
  return WithRetryAfter(
      absl::ResourceExhaustedError("the enclave is running its maximum of 8 queries and its "
                                   "queue of 64 waiting queries is full; retry after 1 s"),
      hint);
}

// A fake clock that only moves when the loop sleeps, and a record of every wait.
struct FakeWorld {
  Clock::time_point t = Clock::time_point{} + std::chrono::hours(1);
  std::vector<milliseconds> sleeps;
  std::vector<int> retries;
  double u = 0.0;

  RetryHooks Hooks() {
    RetryHooks h;
    h.now = [this] { return t; };
    h.sleep = [this](milliseconds d) {
      sleeps.push_back(d);
      t += d;
    };
    h.uniform01 = [this] { return u; };
    h.on_retry = [this](const absl::Status&, milliseconds, int retry) { retries.push_back(retry); };
    return h;
  }
};

// Answers `script` in order, then OK.
struct Script {
  std::vector<absl::Status> answers;
  std::size_t calls = 0;
  absl::Status operator()() {
    return calls < answers.size() ? answers[calls++] : (++calls, absl::OkStatus());
  }
};

}  // namespace

TEST_SUITE("RetryDelay") {
  TEST_CASE("doubles from the initial back-off up to the cap, never below the enclave's hint") {
    RetryPolicy p;
    p.initial_backoff = milliseconds(1000);
    p.max_backoff = milliseconds(8000);
    CHECK(RetryDelay(p, 1, milliseconds(0), 0.0) == milliseconds(1000));
    CHECK(RetryDelay(p, 2, milliseconds(0), 0.0) == milliseconds(2000));
    CHECK(RetryDelay(p, 3, milliseconds(0), 0.0) == milliseconds(4000));
    CHECK(RetryDelay(p, 4, milliseconds(0), 0.0) == milliseconds(8000));
    CHECK(RetryDelay(p, 9, milliseconds(0), 0.0) == milliseconds(8000));
    // The hint wins when it is longer.
    CHECK(RetryDelay(p, 1, milliseconds(3000), 0.0) == milliseconds(3000));
    CHECK(RetryDelay(p, 3, milliseconds(3000), 0.0) == milliseconds(4000));
  }

  TEST_CASE("jitter adds up to half of the wait, and never shortens it") {
    RetryPolicy p;
    CHECK(RetryDelay(p, 1, milliseconds(2000), 0.0) == milliseconds(2000));
    CHECK(RetryDelay(p, 1, milliseconds(2000), 0.5) == milliseconds(2500));
    CHECK(RetryDelay(p, 1, milliseconds(2000), 0.999) < milliseconds(3000));
    CHECK(RetryDelay(p, 1, milliseconds(2000), 0.999) >= milliseconds(2990));
  }
}

TEST_SUITE("RetryLoop") {
  TEST_CASE("a busy refusal with a hint is retried after the hint until it succeeds") {
    FakeWorld w;
    Script s{{Busy(milliseconds(1500)), Busy(milliseconds(1500))}};
    RetryPolicy p;
    CHECK(RetryLoop(p, w.Hooks(), std::ref(s)).ok());
    CHECK(s.calls == 3);
    // max(hint 1.5 s, back-off 1 s) then max(1.5 s, 2 s).
    CHECK(w.sleeps == std::vector<milliseconds>{milliseconds(1500), milliseconds(2000)});
    CHECK(w.retries == std::vector<int>{1, 2});
  }

  TEST_CASE("a RESOURCE_EXHAUSTED without a hint, or another error, is not retried") {
    for (const absl::Status& refusal :
         {absl::ResourceExhaustedError("privacy budget exhausted: ledger agreement:A1"),
          absl::UnavailableError("cannot reach the enclave"),
          absl::PermissionDeniedError("not allowed"),
          // A hint on another code is ignored.
          WithRetryAfter(absl::UnavailableError("x"), milliseconds(10))}) {
      CAPTURE(refusal);
      FakeWorld w;
      Script s{{refusal}};
      CHECK(RetryLoop(RetryPolicy{}, w.Hooks(), std::ref(s)) == refusal);
      CHECK(s.calls == 1);
      CHECK(w.sleeps.empty());
    }
  }

  TEST_CASE("the number of retries is bounded") {
    FakeWorld w;
    Script s{std::vector<absl::Status>(10, Busy(milliseconds(10)))};
    RetryPolicy p;
    p.max_retries = 3;
    p.max_total = std::chrono::hours(1);
    const absl::Status last = RetryLoop(p, w.Hooks(), std::ref(s));
    CHECK(last.code() == absl::StatusCode::kResourceExhausted);
    CHECK(s.calls == 4);
    CHECK(w.sleeps.size() == 3);

    SUBCASE("0 retries: one attempt") {
      FakeWorld w0;
      Script s0{{Busy(milliseconds(10))}};
      p.max_retries = 0;
      CHECK(RetryLoop(p, w0.Hooks(), std::ref(s0)).code() == absl::StatusCode::kResourceExhausted);
      CHECK(s0.calls == 1);
    }
  }

  TEST_CASE("the total time is bounded: no wait may end after max_total") {
    FakeWorld w;
    Script s{std::vector<absl::Status>(10, Busy(milliseconds(1000)))};
    RetryPolicy p;
    p.max_retries = 10;
    p.max_total = milliseconds(5000);
    CHECK(RetryLoop(p, w.Hooks(), std::ref(s)).code() == absl::StatusCode::kResourceExhausted);
    // Waits 1 s and 2 s (3 s in); the next, 4 s, would end at 7 s > 5 s.
    CHECK(w.sleeps == std::vector<milliseconds>{milliseconds(1000), milliseconds(2000)});
    CHECK(s.calls == 3);

    SUBCASE("a hint longer than the budget ends the loop at once") {
      FakeWorld w2;
      Script s2{{Busy(milliseconds(30000))}};
      p.max_total = milliseconds(20000);
      CHECK(RetryLoop(p, w2.Hooks(), std::ref(s2)).code() == absl::StatusCode::kResourceExhausted);
      CHECK(s2.calls == 1);
      CHECK(w2.sleeps.empty());
    }
  }

  TEST_CASE("CallWithRetries returns the value of the attempt that succeeded") {
    FakeWorld w;
    int calls = 0;
    absl::StatusOr<int> r = CallWithRetries<int>(RetryPolicy{}, w.Hooks(),
                                                 [&]() -> absl::StatusOr<int> {
                                                   if (++calls < 3) return Busy(milliseconds(5));
                                                   return 42;
                                                 });
    REQUIRE(r.ok());
    CHECK(*r == 42);
    CHECK(calls == 3);
  }
}

namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// enclave.v1.QueryService that is busy for the first `busy` RunQuery calls, then answers a
// one-cell table. `hint_ms` empty: the refusal carries no retry-after-ms.
class FakeEnclave final : public v1::QueryService::Service {
 public:
  std::atomic<int> busy{0};
  std::atomic<int> calls{0};
  std::string hint_ms = "250";  // set before any call

  grpc::Status RunQuery(grpc::ServerContext* context, const v1::RunQueryRequest* request,
                        v1::RunQueryResponse* response) override {
    const int n = ++calls;
    if (n <= busy.load()) {
      if (!hint_ms.empty()) context->AddTrailingMetadata("retry-after-ms", hint_ms);
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the enclave is running its maximum of 8 queries and its queue of 64 "
                          "waiting queries is full; retry after 1 s");
    }
    response->mutable_metadata()->set_template_id(request->template_id());
    response->mutable_metadata()->set_request_id("q-fake-" + std::to_string(n));
    v1::Table* t = response->mutable_table();
    v1::Dimension* d = t->add_dimensions();
    d->set_name("wijk");
    d->add_codes()->set_code("W1");
    t->add_statistics()->set_name("n");
    v1::Cell* c = t->add_cells();
    c->add_coordinates(0);
    c->set_statistic(0);
    c->set_value(35);
    return grpc::Status::OK;
  }
};

struct WireFixture {
  testing::TempDir dir;
  FakeEnclave service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string error;

  WireFixture() {
    const std::string pki = (dir.path() / "pki").string();
    testing::ProcessResult p = testing::RunProcess({"/bin/bash", ENCLAVE_DEV_PKI_SCRIPT, pki});
    if (p.exit_code != 0) {
      error = "dev-pki.sh failed: " + p.err;
      return;
    }
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = ReadFile(dir.path() / "pki/ca.pem");
    ssl.pem_key_cert_pairs.push_back(
        {ReadFile(dir.path() / "pki/server.key"), ReadFile(dir.path() / "pki/server.pem")});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    if (server == nullptr || port <= 0) error = "fake enclave did not start";
  }
  ~WireFixture() {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
  }

  std::string Pki(const std::string& name) const { return (dir.path() / "pki" / name).string(); }

  testing::ProcessResult Ctl(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {ENCLAVECTL_PATH,
                                     "--target", "127.0.0.1:" + std::to_string(port),
                                     "--ca", Pki("ca.pem"),
                                     "--cert", Pki("analyst1.pem"),
                                     "--key", Pki("analyst1.key"),
                                     "--server-name", "localhost",
                                     "--timeout", "10"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::RunProcess(argv, std::chrono::seconds(60));
  }
};

// One PKI and fake enclave per test process (subcases re-enter the test case); Reset() before use.
WireFixture& Shared(int busy, std::string hint_ms = "250") {
  static WireFixture fixture;
  fixture.service.busy = busy;
  fixture.service.calls = 0;
  fixture.service.hint_ms = std::move(hint_ms);
  return fixture;
}

}  // namespace

TEST_SUITE("enclavectl retries a busy enclave") {
  TEST_CASE("the client library reads retry-after-ms into the status") {
    WireFixture& f = Shared(1);
    REQUIRE_MESSAGE(f.error.empty(), f.error);
    ConnectOptions o;
    o.target = "127.0.0.1:" + std::to_string(f.port);
    o.ca_file = f.Pki("ca.pem");
    o.cert_file = f.Pki("analyst1.pem");
    o.key_file = f.Pki("analyst1.key");
    o.server_name = "localhost";
    auto c = Connect(o);
    REQUIRE(c.ok());
    auto busy = (*c)->RunQuery("zzp_aantal_per_wijk", {});
    CHECK(busy.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(RetryAfterOf(busy.status()) == milliseconds(250));
    CHECK((*c)->RunQuery("zzp_aantal_per_wijk", {}).ok());
  }

  TEST_CASE("a busy enclave is retried with 'retrying in N s' on stderr until it answers") {
    WireFixture& f = Shared(1);
    REQUIRE_MESSAGE(f.error.empty(), f.error);
    const auto start = Clock::now();
    testing::ProcessResult r = f.Ctl({"run", "zzp_aantal_per_wijk"});
    const auto took = Clock::now() - start;
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(f.service.calls.load() == 2);
    CHECK(Count(r.err, "; retrying in ") == 1);
    CHECK(Contains(r.err, "retry after 1 s; retrying in 1."));  // 1 s back-off + jitter
    CHECK(Contains(r.err, "s (retry 1 of 4)"));
    CHECK(Contains(r.out, "35"));
    CHECK(took >= milliseconds(1000));  // it waited before asking again
  }

  TEST_CASE("retries are bounded by --retries, and then the refusal is the error (exit 6)") {
    WireFixture& f = Shared(1000);
    REQUIRE_MESSAGE(f.error.empty(), f.error);
    testing::ProcessResult r = f.Ctl({"--retries", "1", "run", "zzp_aantal_per_wijk"});
    CHECK(r.exit_code == 6);
    CHECK(f.service.calls.load() == 2);
    CHECK(Count(r.err, "; retrying in ") == 1);
    CHECK(Contains(r.err, "still busy after 2 attempts; giving up"));
    CHECK(Contains(r.err, "enclavectl: error: the enclave is running its maximum"));
    CHECK(r.out.empty());

    SUBCASE("--retries 0 never retries") {
      f.service.calls = 0;
      testing::ProcessResult once = f.Ctl({"--retries", "0", "run", "zzp_aantal_per_wijk"});
      CHECK(once.exit_code == 6);
      CHECK(f.service.calls.load() == 1);
      CHECK_FALSE(Contains(once.err, "retrying"));
    }
    SUBCASE("--retry-max-time shorter than the first wait never retries") {
      f.service.calls = 0;
      testing::ProcessResult once =
          f.Ctl({"--retry-max-time", "0.5", "run", "zzp_aantal_per_wijk"});
      CHECK(once.exit_code == 6);
      CHECK(f.service.calls.load() == 1);
      CHECK_FALSE(Contains(once.err, "retrying"));
    }
  }

  TEST_CASE("a RESOURCE_EXHAUSTED without retry-after-ms is not retried") {
    WireFixture& f = Shared(1000, "");
    REQUIRE_MESSAGE(f.error.empty(), f.error);
    testing::ProcessResult r = f.Ctl({"run", "zzp_aantal_per_wijk"});
    CHECK(r.exit_code == 6);
    CHECK(f.service.calls.load() == 1);
    CHECK_FALSE(Contains(r.err, "retrying"));
  }
}

}  // namespace enclave::client
