// Rendering progress events on a terminal or as key=value lines.
#include "enclave/steward/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace enclave::steward {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", s);
  return buf;
}

// 1234567 -> "1,234,567"
std::string Grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// "1 min 05 s" style for the terminal.
std::string Duration(double s) {
  const long long total = std::llround(std::max(0.0, s));
  if (total < 60) return absl::StrCat(total, " s");
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld min %02lld s", total / 60, total % 60);
  return buf;
}

}  // namespace

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal, double line_interval_s)
    : out_(out), terminal_(terminal), line_interval_s_(line_interval_s) {}

ProgressPrinter::~ProgressPrinter() { Finish(); }

std::string ProgressPrinter::KeyValue(const Progress& p) {
  std::string line = absl::StrCat("phase=", p.phase);
  if (!p.subject.empty()) {
    absl::StrAppend(&line, p.phase == "derive" ? " table=" : " dataset=", p.subject);
  }
  if (p.steps > 0) absl::StrAppend(&line, " step=", p.step, "/", p.steps);
  if (p.rows) absl::StrAppend(&line, " rows=", *p.rows);
  absl::StrAppend(&line, " elapsed_s=", Seconds(p.elapsed_s), " eta_s=",
                  p.eta_s < 0 ? std::string("unknown") : absl::StrCat(std::llround(p.eta_s)),
                  " state=", p.done ? "done" : "running");
  return line;
}

std::string ProgressPrinter::Text(const Progress& p) {
  std::string line = p.phase;
  if (line.size() < 8) line.resize(8, ' ');
  if (p.steps > 0) absl::StrAppend(&line, " ", p.step, "/", p.steps);
  if (!p.subject.empty()) absl::StrAppend(&line, " ", p.subject);
  if (p.rows) {
    absl::StrAppend(&line, "  ", Grouped(*p.rows), " rows");
    if (!p.done && p.elapsed_s > 0.5) {
      absl::StrAppend(&line, " (", Grouped(static_cast<std::uint64_t>(
                                       static_cast<double>(*p.rows) / p.elapsed_s)),
                      "/s)");
    }
  }
  absl::StrAppend(&line, "  ", Duration(p.elapsed_s));
  if (p.done) {
    absl::StrAppend(&line, "  done");
  } else if (p.eta_s >= 0) {
    absl::StrAppend(&line, ", about ", Duration(p.eta_s), " left");
  }
  return line;
}

void ProgressPrinter::Show(const Progress& p) {
  // A running event is shown when its step starts and then at most 5 times a second on a
  // terminal (redrawn in place) or once per line interval otherwise; a done event always, and
  // on a terminal it keeps its line.
  const double now = Now();
  if (!p.done && now - last_print_ < (terminal_ ? 0.2 : line_interval_s_)) return;
  last_print_ = p.done ? -1e9 : now;
  if (terminal_) {
    std::fprintf(out_, "\r\033[K%s%s", Text(p).c_str(), p.done ? "\n" : "");
    line_open_ = !p.done;
  } else {
    std::fprintf(out_, "%s\n", KeyValue(p).c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::Finish() {
  if (line_open_) {
    std::fputs("\n", out_);
    std::fflush(out_);
    line_open_ = false;
  }
}

}  // namespace enclave::steward
