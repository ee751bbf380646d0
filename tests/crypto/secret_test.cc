#include "enclave/crypto/secret.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "enclave/crypto/hmac.h"

namespace enclave::crypto {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the temp dir, removed afterwards.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "enclave-secret-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

TEST_CASE("a missing secret is created with 32 random bytes and mode 0600, then reloaded") {
  TempDir dir;
  const std::string path = dir.path + "/record_key.secret";
  auto created = LoadOrCreateSecret(path);
  REQUIRE(created.ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  auto loaded = LoadOrCreateSecret(path);
  REQUIRE(loaded.ok());
  CHECK(std::equal(created->bytes().begin(), created->bytes().end(), loaded->bytes().begin()));
  // No temporary files are left behind.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  // A second, independent secret differs (RAND_priv_bytes, not a constant).
  auto other = LoadOrCreateSecret(dir.path + "/other.secret");
  REQUIRE(other.ok());
  CHECK_FALSE(std::equal(created->bytes().begin(), created->bytes().end(), other->bytes().begin()));
  CHECK(RecordKeyer(*created).KeyId() == RecordKeyer(*loaded).KeyId());
  CHECK(RecordKeyer(*created).KeyId() != RecordKeyer(*other).KeyId());
}

TEST_CASE("a secret of the wrong size is refused") {
  TempDir dir;
  const std::string path = dir.path + "/record_key.secret";
  for (std::size_t n : {0U, 16U, 31U, 33U, 64U}) {
    WriteFile(path, std::string(n, 'x'), 0600);
    auto s = LoadOrCreateSecret(path);
    CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(s.status().message().find("exactly 32") != std::string::npos);
    CHECK(s.status().message().find("xxxx") == std::string::npos);  // never the content
  }
  WriteFile(path, std::string(32, 'x'), 0600);
  CHECK(LoadOrCreateSecret(path).ok());
}

TEST_CASE("a secret readable or writable by group or others is refused") {
  TempDir dir;
  const std::string path = dir.path + "/record_key.secret";
  for (mode_t mode : {0640U, 0604U, 0660U, 0602U, 0644U, 0620U}) {
    WriteFile(path, std::string(32, 's'), mode);
    auto s = LoadOrCreateSecret(path);
    CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
  }
  WriteFile(path, std::string(32, 's'), 0400);
  CHECK(LoadOrCreateSecret(path).ok());
}

TEST_CASE("a symbolic link or a directory is refused") {
  TempDir dir;
  const std::string target = dir.path + "/real.secret";
  WriteFile(target, std::string(32, 's'), 0600);
  const std::string link = dir.path + "/record_key.secret";
  fs::create_symlink(target, link);
  CHECK(LoadOrCreateSecret(link).status().code() == absl::StatusCode::kFailedPrecondition);
  const std::string sub = dir.path + "/adir";
  fs::create_directory(sub);
  ::chmod(sub.c_str(), 0700);
  CHECK(LoadOrCreateSecret(sub).status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("a failing random source creates nothing (fail closed)") {
  TempDir dir;
  const std::string path = dir.path + "/record_key.secret";
  auto s = LoadOrCreateSecret(path, [](std::span<std::uint8_t>) { return false; });
  CHECK(s.status().code() == absl::StatusCode::kInternal);
  CHECK_FALSE(fs::exists(path));
  // A missing directory is kUnavailable, not a crash.
  CHECK(LoadOrCreateSecret(dir.path + "/missing/record_key.secret").status().code() ==
        absl::StatusCode::kUnavailable);
}

TEST_CASE("Secret moves leave the source wiped") {
  std::array<std::uint8_t, Secret::kSize> b{};
  b.fill(0x5a);
  Secret a(b);
  Secret moved(std::move(a));
  CHECK(moved.bytes()[0] == 0x5a);
  CHECK(a.bytes()[0] == 0);  // NOLINT(bugprone-use-after-move): checking the wipe
}

}  // namespace
}  // namespace enclave::crypto
