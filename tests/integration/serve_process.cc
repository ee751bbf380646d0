#include "tests/integration/serve_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "tests/integration/process.h"

namespace enclave::testing {

ServeProcess::ServeProcess(const std::vector<std::string>& argv, const std::string& stderr_path,
                           std::chrono::seconds timeout)
    : stderr_path_(stderr_path) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    close(out_pipe[0]);
    close(out_pipe[1]);
    const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err >= 0) dup2(err, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  out_fd_ = out_pipe[0];
  if (pid_ < 0) return;
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::string out;
  while (out.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd fd{out_fd_, POLLIN, 0};
    const int r = poll(&fd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[1024];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return;  // exited without the line
    out.append(buf, static_cast<std::size_t>(n));
  }
  line_ = out.substr(0, out.find('\n'));
  const std::string prefix = "open: http://127.0.0.1:";
  if (line_.rfind(prefix, 0) != 0) return;
  const std::size_t slash = line_.find("/?token=", prefix.size());
  if (slash == std::string::npos) return;
  port_ = std::stoi(line_.substr(prefix.size(), slash - prefix.size()));
  token_ = line_.substr(slash + 8);
  url_ = line_.substr(6);
}

int ServeProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + timeout;
  int code = -1;
  bool done = false;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      done = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!done) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  if (out_fd_ >= 0) close(out_fd_);
  out_fd_ = -1;
  return code;
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

std::string ServeProcess::stderr_text() const { return ReadFile(stderr_path_); }

}  // namespace enclave::testing
