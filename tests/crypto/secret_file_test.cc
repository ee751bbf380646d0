// The one check every secret file passes (crypto/secret_file.h): regular file, no symbolic link,
// mode 0600 or narrower, owned by the service user; the state directory 0700 or narrower.
#include "enclave/crypto/secret_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace enclave::crypto {
namespace {

namespace fs = std::filesystem;
using ::enclave::testing::TempDir;

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// Restores $CREDENTIALS_DIRECTORY after a test.
struct CredentialsEnv {
  CredentialsEnv() {
    if (const char* v = std::getenv("CREDENTIALS_DIRECTORY"); v != nullptr) saved = v;
    ::unsetenv("CREDENTIALS_DIRECTORY");
  }
  ~CredentialsEnv() {
    if (saved.empty()) {
      ::unsetenv("CREDENTIALS_DIRECTORY");
    } else {
      ::setenv("CREDENTIALS_DIRECTORY", saved.c_str(), 1);
    }
  }
  std::string saved;
};

}  // namespace

TEST_SUITE("crypto/secret_file") {
  TEST_CASE("a secret file wider than 0600 is refused, naming the path, the mode and what is allowed") {
    CredentialsEnv env;
    TempDir dir;
    const std::string path = (dir.path() / "server.key").string();
    for (mode_t mode : {0644U, 0666U, 0640U, 0604U, 0660U, 0602U, 0620U, 0610U}) {
      CAPTURE(mode);
      WriteFile(path, "-----BEGIN PRIVATE KEY-----\n", mode);
      absl::StatusOr<std::string> read = ReadSecretFile("tls.server_key_file", path, 4096);
      REQUIRE_FALSE(read.ok());
      CHECK(read.status().code() == absl::StatusCode::kFailedPrecondition);
      CHECK(Message(read.status()) ==
            "tls.server_key_file " + path + " has mode " + ModeText(mode) +
                "; allowed: 0600 or narrower, readable by its owner only (chmod 600 " + path +
                ")");
    }
    // Negative control: 0600 and 0400 are read.
    for (mode_t mode : {0600U, 0400U}) {
      WriteFile(path, "key", mode);
      absl::StatusOr<std::string> read = ReadSecretFile("tls.server_key_file", path, 4096);
      REQUIRE_MESSAGE(read.ok(), read.status().ToString());
      CHECK(*read == "key");
    }
  }

  TEST_CASE("a symbolic link to a 0600 secret, a directory and a missing file are refused") {
    CredentialsEnv env;
    TempDir dir;
    const std::string target = (dir.path() / "real.key").string();
    WriteFile(target, "key", 0600);
    const std::string link = (dir.path() / "server.key").string();
    fs::create_symlink(target, link);
    absl::StatusOr<std::string> via_link = ReadSecretFile("tls.server_key_file", link, 4096);
    CHECK(via_link.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(Message(via_link.status()) ==
          "tls.server_key_file " + link + " is a symbolic link; allowed: a regular file");
    CHECK(ReadSecretFile("x", target, 4096).ok());  // the target itself is fine

    const std::string sub = (dir.path() / "adir").string();
    fs::create_directory(sub);
    ::chmod(sub.c_str(), 0700);
    CHECK(ReadSecretFile("x", sub, 4096).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    const std::string missing = (dir.path() / "missing.key").string();
    CHECK(Message(ReadSecretFile("tls.server_key_file", missing, 4096).status()) ==
          "tls.server_key_file: cannot read " + missing + ": No such file or directory");
  }

  TEST_CASE("a secret larger than the limit is refused without reading it all") {
    CredentialsEnv env;
    TempDir dir;
    const std::string path = (dir.path() / "big.key").string();
    WriteFile(path, std::string(5000, 'k'), 0600);
    CHECK(ReadSecretFile("x", path, 4096).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    CHECK(ReadSecretFile("x", path, 5000).ok());
  }

  TEST_CASE("a systemd credential is exempt from the mode rule, never from the symlink rule") {
    CredentialsEnv env;
    TempDir dir;
    const std::string path = (dir.path() / "server-key").string();
    WriteFile(path, "key", 0644);
    CHECK(ReadSecretFile("x", path, 4096).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    ::setenv("CREDENTIALS_DIRECTORY", dir.path().c_str(), 1);
    CHECK(IsSystemdCredential(path));
    CHECK(ReadSecretFile("x", path, 4096).ok());
    const std::string link = (dir.path() / "linked").string();
    fs::create_symlink(path, link);
    CHECK(ReadSecretFile("x", link, 4096).status().code() ==
          absl::StatusCode::kFailedPrecondition);
  }

  TEST_CASE("a directory for private files must be 0700 or narrower") {
    TempDir dir;
    struct stat st {};
    for (mode_t mode : {0777U, 0755U, 0750U, 0701U}) {
      CAPTURE(mode);
      REQUIRE(::chmod(dir.path().c_str(), mode) == 0);
      REQUIRE(::stat(dir.path().c_str(), &st) == 0);
      absl::Status s = CheckPrivateDirStat("state_dir", dir.path().string(), st);
      CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
      CHECK(Message(s) == "state_dir " + dir.path().string() + " has mode " + ModeText(mode) +
                              "; allowed: 0700 or narrower, usable by its owner only (chmod 700 " +
                              dir.path().string() + ")");
    }
    REQUIRE(::chmod(dir.path().c_str(), 0700) == 0);
    REQUIRE(::stat(dir.path().c_str(), &st) == 0);
    CHECK(CheckPrivateDirStat("state_dir", dir.path().string(), st).ok());
  }
}

}  // namespace enclave::crypto
