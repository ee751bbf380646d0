// The one JSON string escaper (enclave/base/json.h) and its two extra escapings.
#include "enclave/base/json.h"

#include <doctest/doctest.h>

#include <string>

namespace enclave::base {
namespace {

TEST_CASE("quotes, backslashes and control characters are escaped, UTF-8 passes through") {
  CHECK(JsonString("Say \"hi\" \\ back\nnext\ttab\x01 caf\xc3\xa9") ==
        "\"Say \\\"hi\\\" \\\\ back\\nnext\\ttab\\u0001 caf\xc3\xa9\"");
  CHECK(JsonString("\r\b\f\x1f") == "\"\\r\\b\\f\\u001f\"");
  CHECK(JsonString("") == "\"\"");
}

TEST_CASE("DEL is escaped only when asked (enclavectl audit's JSON lines)") {
  CHECK(JsonString("a\x7f") == "\"a\x7f\"");  // negative control: plain JSON allows it
  CHECK(JsonString("a\x7f", {.escape_del = true}) == "\"a\\u007f\"");
}

TEST_CASE("< > & are escaped only when asked (the web API's bodies)") {
  CHECK(JsonString("<b>&") == "\"<b>&\"");  // negative control
  CHECK(JsonString("<script>&amp;", {.escape_markup = true}) ==
        "\"\\u003cscript\\u003e\\u0026amp;\"");
  CHECK(JsonString("x\x7f", {.escape_markup = true}) == "\"x\x7f\"");
}

}  // namespace
}  // namespace enclave::base
