// Rendering a QueryResult for people and programs: an aligned table with a legend, CSV, or JSON.
// A confidential cell is "." in table and CSV output and null with "status":"confidential" in
// JSON, never a number.
#pragma once

#include <string>

#include "enclave/client/client.h"

namespace enclave::client {

enum class Language { kNl, kEn };

std::string FormatTable(const QueryResult& result, Language lang);
std::string FormatCsv(const QueryResult& result, Language lang);
std::string FormatJson(const QueryResult& result);

std::string FormatTemplateList(const std::vector<TemplateSummary>& templates, Language lang);
std::string FormatTemplateInfo(const TemplateInfo& info, Language lang);
// The caller's privacy budgets: one line per ledger with cap, spent, reserved and remaining in ε
// (micro-ε printed with six decimals, exact).
std::string FormatBudget(const std::vector<BudgetLedger>& ledgers);

}  // namespace enclave::client
