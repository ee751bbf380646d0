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

}  // namespace enclave::client
