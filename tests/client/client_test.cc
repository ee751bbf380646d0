// Connect(): reading the PEM files, and the message a shell user gets when the enclave is unreachable.
#include "enclave/client/client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace enclave::client {
namespace {

namespace fs = std::filesystem;

constexpr char kFakePem[] =
    "-----BEGIN CERTIFICATE-----\nTUlJQm5vdGFyZWFsY2VydA==\n-----END CERTIFICATE-----\n";

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("enclave_client_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path Write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A loopback port with nothing listening: bound, read, and closed again.
int ClosedLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

ConnectOptions Options(const TempDir& dir) {
  ConnectOptions o;
  o.target = "127.0.0.1:1";
  o.ca_file = dir.Write("ca.pem", kFakePem).string();
  o.cert_file = dir.Write("me.pem", kFakePem).string();
  o.key_file = dir.Write("me.key", kFakePem).string();
  o.deadline = std::chrono::milliseconds(5000);
  return o;
}

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

}  // namespace

TEST_SUITE("Connect") {
  TEST_CASE("an unreadable PEM file is INVALID_ARGUMENT naming the flag, the file and why") {
    TempDir dir;
    ConnectOptions o = Options(dir);
    o.cert_file = (dir.path() / "x.pem").string();
    const auto client = Connect(o);
    REQUIRE_FALSE(client.ok());
    CHECK(client.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(client.status().message() ==
          "--cert: cannot read '" + o.cert_file + "': No such file or directory");

    o = Options(dir);
    o.ca_file = dir.path().string();  // a directory
    const auto ca = Connect(o);
    REQUIRE_FALSE(ca.ok());
    CHECK(Contains(ca.status().message(), "--ca: cannot read"));

    o = Options(dir);
    o.key_file.clear();
    const auto key = Connect(o);
    REQUIRE_FALSE(key.ok());
    CHECK(Contains(key.status().message(), "--key"));
  }

  TEST_CASE("a file that is not PEM is rejected before any connection") {
    TempDir dir;
    ConnectOptions o = Options(dir);
    o.key_file = dir.Write("key.der", "not a pem file").string();
    const auto client = Connect(o);
    REQUIRE_FALSE(client.ok());
    CHECK(client.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(client.status().message(), "--key"));
    CHECK(Contains(client.status().message(), "not a PEM file"));
  }

  TEST_CASE("an empty target is INVALID_ARGUMENT") {
    TempDir dir;
    ConnectOptions o = Options(dir);
    o.target.clear();
    const auto client = Connect(o);
    REQUIRE_FALSE(client.ok());
    CHECK(client.status().code() == absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("an unreachable enclave is UNAVAILABLE with a message that names the address and the flags") {
    SilenceTransportLogs();
    TempDir dir;
    ConnectOptions o = Options(dir);
    const std::string target = "127.0.0.1:" + std::to_string(ClosedLoopbackPort());
    o.target = target;
    o.server_name = "enclave.test";
    const auto client = Connect(o);
    REQUIRE(client.ok());  // the channel is lazy
    const auto templates = (*client)->ListTemplates();
    REQUIRE_FALSE(templates.ok());
    CHECK(templates.status().code() == absl::StatusCode::kUnavailable);
    CHECK(Contains(templates.status().message(), "cannot reach the enclave at " + target));
    CHECK(Contains(templates.status().message(), "--ca/--cert/--key"));
    const auto run = (*client)->RunQuery("t1", {{"year", "2023"}});
    REQUIRE_FALSE(run.ok());
    CHECK(run.status().code() == absl::StatusCode::kUnavailable);
  }
}

}  // namespace enclave::client
