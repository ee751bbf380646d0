// Bad input never leaves enclavectl (docs/analyst.md, "Limits"): a parameter value that is not
// UTF-8, one of 100 kB, too many parameters or an over-long name each give one line naming the
// parameter and what is allowed, exit code 2, and nothing is sent (the target has no server, so a
// request that was sent would fail with UNAVAILABLE, exit 5). The limits are the server's.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "enclave/client/client.h"
#include "enclave/templates/binding.h"
#include "tests/integration/process.h"

namespace enclave::client {
namespace {

namespace fs = std::filesystem;
using ::enclave::testing::ProcessResult;
using ::enclave::testing::RunProcess;
using ::enclave::testing::TempDir;

constexpr char kFakePem[] =
    "-----BEGIN CERTIFICATE-----\nTUlJQm5vdGFyZWFsY2VydA==\n-----END CERTIFICATE-----\n";

// A loopback port with nothing listening.
int ClosedLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Files {
  TempDir dir;
  std::string target = "127.0.0.1:" + std::to_string(ClosedLoopbackPort());
  std::string Write(const std::string& name) const {
    const fs::path p = dir.path() / name;
    std::ofstream(p, std::ios::binary) << kFakePem;
    return p.string();
  }
  ConnectOptions Options() const {
    ConnectOptions o;
    o.target = target;
    o.ca_file = Write("ca.pem");
    o.cert_file = Write("me.pem");
    o.key_file = Write("me.key");
    o.deadline = std::chrono::milliseconds(3000);
    return o;
  }
  ProcessResult Ctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {ENCLAVECTL_PATH, "--target", target, "--ca", Write("ca.pem"),
                                     "--cert", Write("me.pem"), "--key", Write("me.key")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, std::chrono::seconds(30));
  }
};

std::size_t Lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_SUITE("client/bad input") {
  TEST_CASE("enclavectl and the enclave share one set of limits") {
    CHECK(kMaxParameters == templates::kMaxParameters);
    CHECK(kMaxParameterNameBytes == templates::kMaxParameterNameBytes);
    CHECK(kMaxParameterValueBytes == templates::kMaxParameterValueBytes);
  }

  TEST_CASE("RunQuery refuses bad parameters before anything is sent") {
    Files f;
    auto client = Connect(f.Options());
    REQUIRE(client.ok());
    const std::string not_utf8("\xff\xfe", 2);
    struct Case {
      std::vector<std::pair<std::string, std::string>> params;
      std::string message;
    };
    const std::vector<Case> cases = {
        {{{"year", "20" + not_utf8}},
         "parameter 'year': the value is not valid UTF-8; allowed: UTF-8 text of at most 256 "
         "bytes (see 'enclavectl describe TEMPLATE' for the values allowed)"},
        {{{"year", std::string(100 * 1024, '9')}},
         "parameter 'year': the value is 102400 bytes long; allowed: at most 256 bytes (see "
         "'enclavectl describe TEMPLATE' for the values allowed)"},
        {{{std::string(65, 'n'), "1"}},
         "a parameter name of 65 bytes; allowed: a name of at most 64 bytes of printable UTF-8 "
         "(see 'enclavectl describe TEMPLATE' for the names)"},
        {{{"ye" + not_utf8, "1"}},
         "a parameter name of 4 bytes that is not valid UTF-8; allowed: a name of at most 64 "
         "bytes of printable UTF-8 (see 'enclavectl describe TEMPLATE' for the names)"},
        {std::vector<std::pair<std::string, std::string>>(33, {"p", "1"}),
         "too many parameters (33); allowed: at most 32"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.message);
      auto result = (*client)->RunQuery("zzp_aantal_per_wijk", c.params);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);  // not UNAVAILABLE
      CHECK(std::string(result.status().message()) == c.message);
    }
    CHECK((*client)->DescribeTemplate("zz" + not_utf8).status().code() ==
          absl::StatusCode::kInvalidArgument);
    // Negative control: a well-formed request is sent, and fails only for want of a server.
    auto sent = (*client)->RunQuery("zzp_aantal_per_wijk", {{"year", "2023"}});
    CHECK(sent.status().code() == absl::StatusCode::kUnavailable);
  }

  TEST_CASE("enclavectl prints one line naming the parameter and exits 2") {
    Files f;
    const ProcessResult bad_utf8 =
        f.Ctl({"run", "zzp_aantal_per_wijk", "--param", std::string("year=20\xc3\x28", 9)});
    CHECK(bad_utf8.exit_code == 2);
    CHECK(Lines(bad_utf8.err) == 1);
    CHECK(bad_utf8.err.rfind("enclavectl: error: parameter 'year': the value is not valid UTF-8;",
                             0) == 0);
    CHECK(bad_utf8.err.find("libprotobuf") == std::string::npos);
    CHECK(bad_utf8.out.empty());

    const ProcessResult huge =
        f.Ctl({"run", "zzp_aantal_per_wijk", "--param", "year=" + std::string(100 * 1024, '9')});
    CHECK(huge.exit_code == 2);
    CHECK(Lines(huge.err) == 1);
    CHECK(huge.err.rfind("enclavectl: error: parameter 'year': the value is 102400 bytes long; "
                         "allowed: at most 256 bytes",
                         0) == 0);

    // Negative control: a well-formed request reaches the network (nothing listens: exit 5).
    const ProcessResult sent = f.Ctl({"run", "zzp_aantal_per_wijk", "--param", "year=2023"});
    CHECK(sent.exit_code == 5);
  }
}

}  // namespace enclave::client
