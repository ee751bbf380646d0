// The main of every doctest binary. CTest runs one test case per CTest test through a
// --test-case filter (doctest_discover_tests); a filter that matches nothing would run nothing and
// exit 0, so a test whose name the filter cannot express (a ';' splits CMake lists) passed without
// running. Here a run with a test-case filter that selects no test case fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

unsigned g_selected = 0;  // test cases that passed the filters, set at the end of the run

// Listens to the run only to learn how many test cases the filters selected.
class SelectedCount : public doctest::IReporter {
 public:
  explicit SelectedCount(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    g_selected = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("selected_count", 1, SelectedCount);

bool HasTestCaseFilter(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (const char* prefix : {"--test-case=", "-tc=", "--dt-test-case=", "--dt-tc="}) {
      if (std::strncmp(argv[i], prefix, std::strlen(prefix)) == 0) return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;  // --list-test-cases, --help, ...
  if (result == 0 && HasTestCaseFilter(argc, argv) && g_selected == 0) {
    std::fprintf(stderr,
                 "no test case matches the --test-case filter: nothing ran (a test name with ';' "
                 "cannot be selected by CTest; use ',' instead)\n");
    return 1;
  }
  return result;
}
