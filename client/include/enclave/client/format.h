// Rendering a QueryResult for people and programs: an aligned table with a legend, CSV, or JSON.
// A differentially private release also shows what it charged; a table whose inner cells are all
// confidential, the requests that may give more (table and JSON).
// A confidential cell is "." in table and CSV output and null with "status":"confidential" in
// JSON, never a number.
#pragma once

#include <string>
#include <vector>

#include "enclave/client/client.h"

namespace enclave::client {

enum class Language { kNl, kEn };

std::string FormatTable(const QueryResult& result, Language lang);
std::string FormatCsv(const QueryResult& result, Language lang);
std::string FormatJson(const QueryResult& result);

// The alternatives of a refused request (`refused`: SuggestionsOf(status)) or of a table whose
// inner cells are all confidential, worded in `lang` ("Probeer: --param geo=wijkcluster"); "" when
// there are none. FormatTable includes the table's own.
std::string FormatSuggestions(const std::vector<Suggestion>& suggestions, Language lang,
                              bool refused);

std::string FormatTemplateList(const std::vector<TemplateSummary>& templates, Language lang);
std::string FormatTemplateInfo(const TemplateInfo& info, Language lang);
// The caller's privacy budgets: one line per ledger with cap, spent, reserved and remaining in ε
// (micro-ε printed with six decimals, exact; a decimal comma in Dutch).
std::string FormatBudget(const std::vector<BudgetLedger>& ledgers, Language lang);

// The same as JSON: one object each, the shapes of the web API (docs/web-api.md) and of
// `enclavectl templates|describe|budget --format json`. Every field of the structs in client.h,
// labels in both languages ({"nl":...,"en":...}), amounts in micro-ε as integers, a missing DP
// section as null. escape_markup also escapes < > & (the web API's bodies):
//   {"templates":[{"id":"bijstand_stand","version":2,"theme":"bijstand","title":{...}}]}
//   {"id":...,"parameters":[...],"statistics":[...],"unit":...,"dp":null}
//   {"ledgers":[{"ledger":"agreement:A1","cap_micro":4000000,"spent_micro":250000,...}]}
std::string FormatTemplateListJson(const std::vector<TemplateSummary>& templates,
                                   bool escape_markup = false);
std::string FormatTemplateInfoJson(const TemplateInfo& info, bool escape_markup = false);
std::string FormatBudgetJson(const std::vector<BudgetLedger>& ledgers, bool escape_markup = false);

}  // namespace enclave::client
