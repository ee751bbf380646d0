#include "tests/integration/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "enclave/adapters/policy_files/approvals.h"
#include "enclave/crypto/ed25519.h"

namespace enclave::testing {
namespace {

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -1;
}

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> out;
  out.reserve(args.size() + 1);
  for (const auto& a : args) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}


}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessResult RunProcess(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  ProcessResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    std::vector<char*> args = Argv(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  const auto end = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int r = poll(fds, 2, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  result.timed_out = timed_out;
  if (!timed_out) result.exit_code = DecodeStatus(status);
  if (!timed_out && WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

std::string ProcessResult::How() const {
  if (timed_out) return "timed out (killed)";
  if (signal != 0) return "signal " + std::to_string(signal);
  return "exit " + std::to_string(exit_code);
}

TestApprovals SignAllTemplates(const std::string& policies_dir, const std::string& out_dir) {
  namespace pf = enclave::adapters::policy_files;
  TestApprovals out;
  out.approvers_file = out_dir + "/approvers.textproto";
  out.approvals_dir = out_dir + "/approvals";
  std::error_code ec;
  std::filesystem::create_directories(out.approvals_dir, ec);
  absl::StatusOr<crypto::Ed25519PrivateKey> key = crypto::Ed25519PrivateKey::Generate();
  if (ec || !key.ok()) {
    out.error = "cannot create the approvals directory or the officer key";
    return out;
  }
  const absl::Time now = absl::Now();
  const auto day = [](absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); };
  absl::StatusOr<std::string> entry =
      pf::FormatOfficerKey(*key, "officer1-test", "spiffe://udc-lv.local/privacy_officer/officer1",
                           day(now - absl::Hours(24)), day(now + absl::Hours(24 * 30)));
  if (!entry.ok()) {
    out.error = std::string(entry.status().message());
    return out;
  }
  std::ofstream(out.approvers_file, std::ios::binary) << *entry;
  absl::StatusOr<pf::Approvers> approvers = pf::ParseApprovers(*entry, out.approvers_file);
  if (!approvers.ok()) {
    out.error = std::string(approvers.status().message());
    return out;
  }
  for (const auto& file : std::filesystem::directory_iterator(policies_dir + "/templates", ec)) {
    if (file.path().extension() != ".textproto") continue;
    absl::StatusOr<pf::TemplateIdentity> identity =
        pf::IdentifyTemplate(ReadFile(file.path().string()), file.path().filename().string());
    absl::StatusOr<pf::Approval> approval =
        identity.ok() ? pf::SignApproval(*identity, *key, *approvers, now) : identity.status();
    if (!approval.ok()) {
      out.error = std::string(approval.status().message());
      return out;
    }
    std::ofstream(out.approvals_dir + "/" + pf::ApprovalFileName(identity->id), std::ios::binary)
        << pf::FormatApproval(*approval);
  }
  if (ec) out.error = "cannot list " + policies_dir + "/templates";
  return out;
}

ServerProcess::ServerProcess(const std::string& binary, const std::vector<std::string>& args,
                             const std::string& work_dir) {
  const std::string port_file = work_dir + "/enclaved.port";
  stderr_path_ = work_dir + "/enclaved.stderr";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto policies = std::find(args.begin(), args.end(), "--policies");
  if (policies != args.end() && policies + 1 != args.end() &&
      std::find(args.begin(), args.end(), "--approvals") == args.end()) {
    const TestApprovals approvals = SignAllTemplates(*(policies + 1), work_dir + "/approval-setup");
    if (!approvals.error.empty()) {
      std::ofstream(stderr_path_) << "SignAllTemplates: " << approvals.error << "\n";
      return;
    }
    const std::vector<std::string> flags = approvals.Flags();
    argv.insert(argv.end(), flags.begin(), flags.end());
  }
  argv.insert(argv.end(), {"--listen", "127.0.0.1:0", "--port-file", port_file});
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    std::vector<char*> a = Argv(argv);
    execv(a[0], a.data());
    _exit(127);
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < end) {
    std::string text = ReadFile(port_file);
    if (!text.empty()) {
      port_ = std::atoi(text.c_str());
      if (port_ > 0) return;
    }
    if (!Running()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool ServerProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ServerProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return DecodeStatus(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string ServerProcess::stderr_text() const { return ReadFile(stderr_path_); }

}  // namespace enclave::testing
