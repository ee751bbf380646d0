// integration/world-setup (CTest FIXTURES_SETUP integration_world): builds the shared world of the
// integration tests once per CTest run, before any test that declares FIXTURES_REQUIRED
// integration_world (tests/integration/world.h).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>

#include "tests/integration/world.h"

namespace enclave::testing {

TEST_CASE("the shared world is built afresh: PKI and every dataset, read-only") {
  const auto started = std::chrono::steady_clock::now();
  const absl::Status built = BuildSharedWorld(ENCLAVE_WORLD_DIR);
  REQUIRE_MESSAGE(built.ok(), built.ToString());
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - started);
  MESSAGE("shared world in " << ENCLAVE_WORLD_DIR << ", built in " << seconds.count() << " s");
  // What the tests find through SharedWorldDir without building it again.
  CHECK(SharedWorldReady(ENCLAVE_WORLD_DIR));
  const std::string dir = ENCLAVE_WORLD_DIR;
  for (const Dataset& d : {kStandardData, kSmallData}) {
    const std::filesystem::path db = dir + "/" + d.name + ".db";
    CAPTURE(db);
    REQUIRE(std::filesystem::is_regular_file(db));
    CHECK((std::filesystem::status(db).permissions() & std::filesystem::perms::owner_write) ==
          std::filesystem::perms::none);
  }
}

}  // namespace enclave::testing
