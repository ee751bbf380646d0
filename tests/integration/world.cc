#include "tests/integration/world.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace enclave::testing {
namespace {

namespace fs = std::filesystem;

constexpr Dataset kDatasets[] = {kStandardData, kSmallData};

// Client certificates beyond deploy/dev-pki.sh's set (see BuildSharedWorld in world.h).
struct ExtraClient {
  const char* name;
  const char* uri;
  const char* days;
};
constexpr ExtraClient kExtraClients[] = {
    {"analyst2", "spiffe://udc-lv.local/municipal_analyst/analyst2", "30"},
    {"limited1", "spiffe://udc-lv.local/municipal_analyst/limited1", "30"},
    {"researcher1long", "spiffe://udc-lv.local/researcher/researcher1", "1000"},
};

constexpr auto kMaxAge = std::chrono::hours(24 * 7);
constexpr auto kDatagenTimeout = std::chrono::seconds(600);
constexpr char kReadyStamp[] = "ready";

// An exclusive lock on a file for the object's lifetime (flock: released when the process ends).
class FileLock {
 public:
  explicit FileLock(const std::string& path)
      : fd_(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ < 0) return;
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        close(fd_);
        fd_ = -1;
        return;
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string DatabasePath(const std::string& dir, const Dataset& data) {
  return dir + "/" + data.name + ".db";
}

}  // namespace

bool SharedWorldReady(const std::string& dir) {
  std::error_code ec;
  const fs::file_time_type stamp = fs::last_write_time(dir + "/" + kReadyStamp, ec);
  if (ec) return false;
  const fs::file_time_type datagen = fs::last_write_time(ENCLAVE_DATAGEN_PATH, ec);
  if (ec || stamp < datagen || fs::file_time_type::clock::now() - stamp > kMaxAge) return false;
  for (const Dataset& d : kDatasets) {
    if (!fs::is_regular_file(DatabasePath(dir, d), ec)) return false;
  }
  for (const char* name : {"ca", "server", "analyst1"}) {
    if (!fs::is_regular_file(dir + "/pki/" + name + ".pem", ec)) return false;
  }
  for (const ExtraClient& c : kExtraClients) {
    if (!fs::is_regular_file(dir + "/pki/" + c.name + ".key", ec)) return false;
  }
  return true;
}

namespace {

// enclave-datagen for `data` into `dir`, started without waiting; its output goes to a log file
// (no pipe a concurrently started process could inherit). Returns the pid, or -1.
pid_t SpawnDatagen(const std::string& dir, const Dataset& data) {
  const std::string log = dir + "/" + data.name + ".datagen.log";
  std::vector<std::string> args = {ENCLAVE_DATAGEN_PATH,         "--out",
                                   DatabasePath(dir, data),      "--seed",
                                   std::to_string(data.seed),    "--persons",
                                   std::to_string(data.persons)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for `pid` until `deadline`, then kills it. The exit code, -1 if killed or timed out.
int WaitUntil(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0 && errno != EINTR) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

absl::Status MakePki(const std::string& pki) {
  const std::string script = SourceDir() + "/deploy/dev-pki.sh";
  ProcessResult all = RunProcess({"/bin/bash", script, pki});
  if (all.exit_code != 0) {
    return absl::InternalError("deploy/dev-pki.sh " + pki + " failed: " + all.err);
  }
  for (const ExtraClient& c : kExtraClients) {
    ProcessResult one = RunProcess({"/bin/bash", script, pki, "client", c.name, c.uri, c.days});
    if (one.exit_code != 0) {
      return absl::InternalError("deploy/dev-pki.sh " + pki + " client " + c.name +
                                 " failed: " + one.err);
    }
  }
  return absl::OkStatus();
}

// Builds into dir.new and moves it to dir; the caller holds the lock.
absl::Status BuildLocked(const std::string& dir) {
  const std::string next = dir + ".new";
  std::error_code ec;
  fs::remove_all(next, ec);
  fs::create_directories(next, ec);
  if (ec) return absl::InternalError("cannot create " + next + ": " + ec.message());

  std::vector<std::pair<const Dataset*, pid_t>> datagen;
  for (const Dataset& d : kDatasets) datagen.emplace_back(&d, SpawnDatagen(next, d));
  absl::Status status = MakePki(next + "/pki");
  const auto deadline = std::chrono::steady_clock::now() + kDatagenTimeout;
  for (const auto& [data, pid] : datagen) {
    const int code = pid > 0 ? WaitUntil(pid, deadline) : -1;
    if (code != 0 && status.ok()) {
      status = absl::InternalError(std::string("enclave-datagen for ") + data->name +
                                   " failed (exit " + std::to_string(code) + "): " +
                                   ReadFile(next + "/" + data->name + ".datagen.log"));
    }
    // Read-only: every test shares it; one that must change it copies it first.
    fs::permissions(DatabasePath(next, *data), fs::perms::owner_read, ec);
  }
  if (!status.ok()) return status;
  std::ofstream(next + "/" + kReadyStamp)
      << "shared world of the integration tests (tests/integration/world.h)\n";
  fs::remove_all(dir, ec);
  if (ec) return absl::InternalError("cannot remove the old " + dir + ": " + ec.message());
  fs::rename(next, dir, ec);
  if (ec) return absl::InternalError("cannot move " + next + " to " + dir + ": " + ec.message());
  return absl::OkStatus();
}

}  // namespace

std::string SourceDir() { return ENCLAVE_SOURCE_DIR; }
std::string ShippedPolicies() { return SourceDir() + "/policies"; }
std::string EnclavedPath() { return ENCLAVED_PATH; }
std::string EnclavectlPath() { return ENCLAVECTL_PATH; }

absl::Status BuildSharedWorld(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir).parent_path(), ec);
  FileLock lock(dir + ".lock");
  if (!lock.ok()) return absl::InternalError("cannot lock " + dir + ".lock");
  return BuildLocked(dir);
}

absl::StatusOr<std::string> SharedWorldDir() {
  const std::string dir = ENCLAVE_WORLD_DIR;
  if (SharedWorldReady(dir)) return dir;
  std::error_code ec;
  fs::create_directories(fs::path(dir).parent_path(), ec);
  FileLock lock(dir + ".lock");
  if (!lock.ok()) return absl::InternalError("cannot lock " + dir + ".lock");
  if (SharedWorldReady(dir)) return dir;  // another test binary built it meanwhile
  absl::Status built = BuildLocked(dir);
  if (!built.ok()) return built;
  return dir;
}

TestWorld::TestWorld(const Dataset& data) {
  absl::StatusOr<std::string> shared = SharedWorldDir();
  REQUIRE_MESSAGE(shared.ok(), shared.status().ToString());
  pki = *shared + "/pki";
  db = DatabasePath(*shared, data);
  REQUIRE_MESSAGE(fs::is_regular_file(db), "no database " << db << " in the shared world");
  REQUIRE_MESSAGE(!dir.path().empty(), "cannot create a temporary directory");
}

std::string TestWorld::StateDir(const std::string& name) const {
  const std::string state = dir.File(name);
  std::error_code ec;
  fs::create_directories(state, ec);
  REQUIRE_MESSAGE(!ec, "cannot create " << state << ": " << ec.message());
  fs::permissions(state, fs::perms::owner_all, ec);
  return state;
}

std::vector<std::string> TestWorld::ServerFlags(const std::string& policies,
                                                const std::string& state_dir) const {
  return {"--database",  db,           "--policies", policies,
          "--state-dir", state_dir,    "--client-ca", pki + "/ca.pem",
          "--cert",      pki + "/server.pem", "--key", pki + "/server.key"};
}

std::unique_ptr<ServerProcess> TestWorld::StartEnclaved(const std::string& policies,
                                                        const std::string& state_dir) const {
  return std::make_unique<ServerProcess>(EnclavedPath(), ServerFlags(policies, state_dir),
                                         state_dir);
}

client::ConnectOptions TestWorld::ClientOptions(const std::string& target, const std::string& who,
                                                std::chrono::milliseconds deadline) const {
  client::ConnectOptions o;
  o.target = target;
  o.ca_file = pki + "/ca.pem";
  o.cert_file = pki + "/" + who + ".pem";
  o.key_file = pki + "/" + who + ".key";
  o.deadline = deadline;
  return o;
}

std::unique_ptr<client::EnclaveClient> TestWorld::Connect(const std::string& target,
                                                          const std::string& who,
                                                          std::chrono::milliseconds deadline) const {
  auto c = client::Connect(ClientOptions(target, who, deadline));
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return std::move(*c);
}

std::vector<std::string> TestWorld::EnclavectlArgv(const std::string& target,
                                                   const std::string& who) const {
  return {EnclavectlPath(), "--target", target,
          "--ca",           pki + "/ca.pem",
          "--cert",         pki + "/" + who + ".pem",
          "--key",          pki + "/" + who + ".key"};
}

ProcessResult TestWorld::Enclavectl(const std::string& target, const std::string& who,
                                    const std::vector<std::string>& args) const {
  std::vector<std::string> argv = EnclavectlArgv(target, who);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv);
}

}  // namespace enclave::testing
