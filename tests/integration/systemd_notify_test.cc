// Type=notify and WatchdogSec= (deploy/enclaved.service) against the real enclaved: the test plays
// systemd, owning the notification socket ($NOTIFY_SOCKET) the child process writes to.
//   - READY=1 arrives only once the port is listening (a TCP connect to it succeeds then);
//   - with WATCHDOG_USEC set, WATCHDOG=1 arrives periodically, at about half the interval;
//   - without it (or with WATCHDOG_PID naming another process) no WATCHDOG=1 is sent;
//   - SIGTERM gives STOPPING=1 and a clean exit.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/process.h"
#include "tests/integration/world.h"
#include "tests/testing/notify_socket.h"

namespace enclave::testing {
namespace {

using namespace std::chrono_literals;
const std::string kSourceDir = ENCLAVE_SOURCE_DIR;

// The shared PKI and small dataset (tests/integration/world.h).
struct World : TestWorld {
  World() : TestWorld(kSmallData) {}
  std::vector<std::string> Args(const std::string& state) const {
    return ServerFlags(ShippedPolicies(), state);
  }
};

World& TheWorld() {
  static World world;
  return world;
}

bool CanConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

struct Message {
  std::chrono::steady_clock::time_point at;
  std::string text;
  bool listening = false;  // at arrival: the port file exists and a TCP connect to it succeeds
};

// Plays systemd: receives every notification of the child on a thread while it starts and runs.
class FakeManager {
 public:
  FakeManager(const std::string& dir, const std::string& port_file)
      : socket_(dir + "/notify.sock"), port_file_(port_file) {
    REQUIRE(socket_.ok());
    thread_ = std::thread([this] {
      while (!stop_) {
        std::optional<std::string> m = socket_.Receive(50ms);
        if (!m) continue;
        Message msg{std::chrono::steady_clock::now(), *m, false};
        if (m->find("READY=1") != std::string::npos) {
          const int port = std::atoi(ReadFile(port_file_).c_str());
          msg.listening = port > 0 && CanConnect(port);
        }
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(std::move(msg));
      }
    });
  }
  ~FakeManager() {
    stop_ = true;
    thread_.join();
  }
  const std::string& path() const { return socket_.path(); }
  std::vector<Message> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Waits until a message containing `text` arrived; returns its index or -1.
  int WaitFor(const std::string& text, std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      std::vector<Message> all = Messages();
      for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].text.find(text) != std::string::npos) return static_cast<int>(i);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }
  int Count(const std::string& text) {
    int n = 0;
    for (const Message& m : Messages()) n += m.text == text ? 1 : 0;
    return n;
  }

 private:
  NotifySocket socket_;
  std::string port_file_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Message> messages_;
  std::thread thread_;
};

// Starts enclaved with the given watchdog environment; the variables are set only while the child
// is forked (ServerProcess returns once the port file exists).
std::unique_ptr<ServerProcess> StartWith(const World& w, const std::string& state,
                                         const std::string& notify_socket,
                                         const char* watchdog_usec, const char* watchdog_pid) {
  std::filesystem::create_directories(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // enclaved refuses wider
  ::setenv("NOTIFY_SOCKET", notify_socket.c_str(), 1);
  if (watchdog_usec != nullptr) ::setenv("WATCHDOG_USEC", watchdog_usec, 1);
  if (watchdog_pid != nullptr) ::setenv("WATCHDOG_PID", watchdog_pid, 1);
  auto server = std::make_unique<ServerProcess>(ENCLAVED_PATH, w.Args(state), state);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  return server;
}

}  // namespace

TEST_CASE("READY=1 only once listening, WATCHDOG=1 every half interval, STOPPING=1 at SIGTERM") {
  World& w = TheWorld();
  const std::string state = w.dir.File("state-watchdog");
  std::filesystem::create_directories(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // enclaved refuses wider
  FakeManager manager(state, state + "/enclaved.port");
  auto server = StartWith(w, state, manager.path(), "1000000", nullptr);  // WatchdogSec=1s
  INFO(server->stderr_text());
  REQUIRE(server->port() > 0);

  const int ready = manager.WaitFor("READY=1", 30s);
  REQUIRE(ready >= 0);
  const std::vector<Message> before = manager.Messages();
  CHECK(before[static_cast<std::size_t>(ready)].listening);
  CHECK(before[static_cast<std::size_t>(ready)].text.find("STATUS=listening on port " +
                                                          std::to_string(server->port())) !=
        std::string::npos);
  for (int i = 0; i < ready; ++i) {
    CHECK(before[static_cast<std::size_t>(i)].text.find("WATCHDOG=1") == std::string::npos);
  }

  std::this_thread::sleep_for(3s);
  const int pings = manager.Count("WATCHDOG=1");
  CHECK(pings >= 3);  // every 0.5 s: about 6
  // Never more than the interval between two pings (systemd would kill after 1 s).
  std::chrono::steady_clock::time_point last{};
  for (const Message& m : manager.Messages()) {
    if (m.text != "WATCHDOG=1") continue;
    if (last != std::chrono::steady_clock::time_point{}) CHECK(m.at - last < 1000ms);
    last = m.at;
  }

  CHECK(server->Stop() == 0);
  CHECK(manager.WaitFor("STOPPING=1", 5s) >= 0);
}

TEST_CASE("no WatchdogSec, or a watchdog meant for another process: READY=1 but no ping") {
  World& w = TheWorld();
  for (const char* pid : {static_cast<const char*>(nullptr), "1"}) {
    const std::string state = w.dir.File(pid == nullptr ? "state-nowatchdog" : "state-otherpid");
    std::filesystem::create_directories(state);
    std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // enclaved refuses wider
    FakeManager manager(state, state + "/enclaved.port");
    auto server = StartWith(w, state, manager.path(), pid == nullptr ? nullptr : "1000000", pid);
    INFO(server->stderr_text());
    REQUIRE(server->port() > 0);
    REQUIRE(manager.WaitFor("READY=1", 30s) >= 0);
    std::this_thread::sleep_for(1500ms);
    CHECK(manager.Count("WATCHDOG=1") == 0);
    CHECK(server->Stop() == 0);
  }
}

}  // namespace enclave::testing
