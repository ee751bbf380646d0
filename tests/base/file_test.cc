// The one atomic file writer (enclave/base/file.h).
#include "enclave/base/file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace enclave::base {
namespace {

namespace fs = std::filesystem;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t FilesIn(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST_CASE("a file is written whole with its mode and replaces the old one, no temporary left") {
  testing::TempDir dir;
  const std::string path = dir.File("checkpoint");
  REQUIRE(WriteFileAtomically(path, "first\n", 0600).ok());
  CHECK(Read(path) == "first\n");
  REQUIRE(WriteFileAtomically(path, "second\n", 0640).ok());
  CHECK(Read(path) == "second\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(FilesIn(dir.path()) == 1);
}

TEST_CASE("a failed write leaves the old file and no temporary file") {
  testing::TempDir dir;
  const std::string path = dir.File("out");
  REQUIRE(WriteFileAtomically(path, "old", 0600).ok());
  // The target is a non-empty directory: the rename fails after the temporary file was written.
  const std::string blocked = dir.File("blocked");
  fs::create_directories(fs::path(blocked) / "inside");
  const absl::Status s = WriteFileAtomically(blocked, "new", 0600);
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(s.message()).find("cannot rename") != std::string::npos);
  CHECK(FilesIn(dir.path()) == 2);  // "out" and "blocked": no temporary file
  CHECK(Read(path) == "old");
  // A missing directory: nothing can be created.
  CHECK(WriteFileAtomically(dir.File("missing/x"), "x", 0600).code() ==
        absl::StatusCode::kUnavailable);
}

TEST_CASE("ReplaceFile renames over the target and removes the source when it cannot") {
  testing::TempDir dir;
  const std::string from = dir.File("from");
  REQUIRE(WriteFileAtomically(from, "data", 0600).ok());
  REQUIRE(ReplaceFile(from, dir.File("to")).ok());
  CHECK(Read(dir.File("to")) == "data");
  CHECK_FALSE(fs::exists(from));
  REQUIRE(WriteFileAtomically(from, "data", 0600).ok());
  CHECK_FALSE(ReplaceFile(from, dir.File("missing/to")).ok());
  CHECK_FALSE(fs::exists(from));
}

}  // namespace
}  // namespace enclave::base
