// One enclaved per state directory.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <string>

#include "enclave/server/lock_file.h"

namespace enclave::server {
namespace {

namespace fs = std::filesystem;

std::string TempLockPath() {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("enclave_lock_test_" + std::to_string(rd()));
  fs::create_directories(dir);
  return (dir / "enclaved.lock").string();
}

}  // namespace

TEST_SUITE("LockFile") {

  TEST_CASE("a second lock on the same file fails while the first is held") {
    const std::string path = TempLockPath();
    auto first = LockFile::Acquire(path);
    REQUIRE(first.ok());
    auto second = LockFile::Acquire(path);
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(second.status().message()) == "another enclaved holds " + path);
    fs::remove_all(fs::path(path).parent_path());
  }

  TEST_CASE("the lock is released when its holder goes away") {
    const std::string path = TempLockPath();
    {
      auto first = LockFile::Acquire(path);
      REQUIRE(first.ok());
    }
    CHECK(LockFile::Acquire(path).ok());
    fs::remove_all(fs::path(path).parent_path());
  }

  TEST_CASE("a moved lock is still held") {
    const std::string path = TempLockPath();
    auto first = LockFile::Acquire(path);
    REQUIRE(first.ok());
    LockFile moved = *std::move(first);
    CHECK(LockFile::Acquire(path).status().code() == absl::StatusCode::kFailedPrecondition);
    fs::remove_all(fs::path(path).parent_path());
  }

  TEST_CASE("an unopenable lock path is unavailable, naming the path") {
    auto lock = LockFile::Acquire("/nonexistent-dir/enclaved.lock");
    CHECK(lock.status().code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(lock.status().message()).find("/nonexistent-dir/enclaved.lock") !=
          std::string::npos);
  }
}

}  // namespace enclave::server
