// Progress of the steward's long operations (load, rollback, validate) and how it is shown.
//
// The library reports Progress events through StewardOptions::progress; ProgressPrinter shows
// them on stderr: on a terminal one line redrawn in place (each finished step keeps its line),
// otherwise key=value lines for scripts and logs: one when a step starts, at most one per
// `line_interval_s` while it runs, and one when it is done:
//
//   phase=insert dataset=bijstandpersoonbus step=1/1 rows=1000000 elapsed_s=6.1 eta_s=0 state=done
//   phase=derive table=d_ingezetene step=4/6 elapsed_s=12.0 eta_s=40 state=running
//   phase=derive table=d_ingezetene step=4/6 rows=2718072 elapsed_s=52.3 eta_s=9 state=done
//
// Events carry names of datasets and derived tables, counts and times only: never a value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace enclave::steward {

struct Progress {
  // validate | insert (validate, pseudonymise, link and insert, in one pass) | index | derive |
  // switch (rollback: views back to the earlier tables) | commit
  std::string phase;
  std::string subject;     // the dataset, or the derived table in phase derive ("" for none)
  std::size_t step = 0;    // 1-based position of `subject` in the phase; 0: not counted
  std::size_t steps = 0;
  std::optional<std::uint64_t> rows;  // rows of `subject` so far (derive: once it is done)
  double elapsed_s = 0;    // since the phase began
  double eta_s = -1;       // estimated seconds left in the phase; < 0: not known yet
  bool done = false;       // `subject` (or the phase, without subject) is finished
};

class ProgressPrinter {
 public:
  // `out` is usually stderr; `terminal` whether it is one (isatty).
  ProgressPrinter(std::FILE* out, bool terminal, double line_interval_s = 5);
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;
  ~ProgressPrinter();

  void Show(const Progress& p);
  // Ends a line left open on a terminal (call before printing anything else to `out`).
  void Finish();

  // The key=value form of one event (no newline).
  static std::string KeyValue(const Progress& p);
  // The terminal form of one event (no newline, no control characters).
  static std::string Text(const Progress& p);

 private:
  std::FILE* out_;
  bool terminal_;
  double line_interval_s_;
  bool line_open_ = false;
  double last_print_ = -1e9;  // monotonic seconds of the last running-event line
};

}  // namespace enclave::steward
