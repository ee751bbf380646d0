// The usefulness walk (issue 10 §4): asks a running enclave, through the real client library,
// every table its templates offer and reports how many give something to read.
//
//   usefulness_walk --target 127.0.0.1:7443 --ca pki/ca.pem --cert pki/analyst1.pem
//       --key pki/analyst1.key [--researcher-cert pki/researcher2.pem
//       --researcher-key pki/researcher2.key]... [--min-values-pct 95] [--min-3d-pct 80]
//       [--geo3d wijk] [--timeout 300] [--only values|3d] [--tables 3,7-9] [--record FILE]
//       [--quiet] [--verbose]
//   usefulness_walk --report SEQUENTIAL.tsv [--isolated ISOLATED.tsv] [--min-values-pct 95]
//       [--min-3d-pct 80]
//
// Callers: the analyst (--cert) and every researcher given (--researcher-cert/--researcher-key,
// repeatable, in order). The templates the analyst's ListTemplates names are walked as the
// analyst; the others as the first researcher whose ListTemplates names them and whose agreement
// covers them: ListTemplates names what the researcher role may run, so a refusal "outside the
// scope of your agreement" (PERMISSION_DENIED) is asked again as the next researcher naming the
// template, who keeps it for the rest of the walk. (An agreement holds either differentially
// private or cell-key templates: the DP template is researcher2's, the cell-key ones, which the
// analyst runs too, researcher1's.) A caller is named after its certificate file ("analyst1").
//
// The plan (fixed, so two runs on fresh servers ask the same sequence; tables numbered from 1):
//   1. Templates in id order, callers in the order above. Per template, each parameter in the
//      order `describe` gives, each offered value in its order (integers from min to max), the
//      other parameters at their defaults. A request equal to an earlier one (the all-defaults
//      request recurs once per parameter) is not sent again: it counts with the earlier outcome
//      (a DP repeat would be free anyway).
//   2. 3-D tables, templates in the same order: a template with a breakdown parameter `geo`
//      offering --geo3d and at least two other breakdown parameters; the first two of those,
//      every ordered pair of different values other than "geen" (6 x 5 = 30 for bijstand_stand),
//      geo at --geo3d, the rest at their defaults.
// --only values|3d and --tables LIST (numbers and ranges of the plan) ask a part of it, in order.
// A table is useful when at least one inner cell (no coordinate a total) is released.
// Refusals are counted by kind: unsafe table (FAILED_PRECONDITION "cannot be released safely"),
// quota (FAILED_PRECONDITION naming the decomposition quota, or RESOURCE_EXHAUSTED: a privacy
// budget), differencing guard (another FAILED_PRECONDITION naming a population), other. A
// per-principal or enclave-wide limit ("retry after N s") is waited out and the request repeated.
//
// --record FILE appends one tab-separated line per table asked (plan number, kind, template,
// caller, label, canonical parameters, outcome, 1 if sent or 0 if a repeat, the refusal's message).
// --report reads such files without connecting to anything: SEQUENTIAL is a whole walk on one
// server (history on); ISOLATED holds tables asked each on a fresh server (tests/usefulness/run.sh
// --isolated). It prints both per template and checks the aims on the isolated outcomes; a table
// of SEQUENTIAL not in ISOLATED keeps its sequential outcome there (run.sh re-asks only the tables
// the shared server did not release, unless told to re-ask all: a release history can refuse a
// table, never make one useful, and the cell-key noise depends on the record key, not the history).
//
// Exit status: 0 when both aims are met, 1 when one is missed, 2 on a usage or connection error.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/client/client.h"

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;
constexpr char kNoBreakdown[] = "geen";

struct Identity {
  std::string cert, key;
};

struct Options {
  std::string target, ca;
  Identity analyst;
  std::vector<Identity> researchers;
  std::string geo3d = "wijk";
  double min_values_pct = 95.0;
  double min_3d_pct = 80.0;
  int timeout_s = 300;
  std::string only;        // "", "values" or "3d"
  std::set<int> tables;    // plan numbers to ask; empty: all
  std::string record;      // --record FILE
  std::string report_seq;  // --report FILE: no connection
  std::string report_iso;  // --isolated FILE (with --report)
  bool quiet = false;
  bool verbose = false;
};

enum class Outcome { kUseful, kAllWithheld, kUnsafe, kGuard, kQuota, kOther };
constexpr Outcome kOutcomes[] = {Outcome::kUseful, Outcome::kAllWithheld, Outcome::kUnsafe,
                                 Outcome::kGuard, Outcome::kQuota, Outcome::kOther};

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kUseful: return "released";
    case Outcome::kAllWithheld: return "all-withheld";
    case Outcome::kUnsafe: return "refused:unsafe-table";
    case Outcome::kGuard: return "refused:differencing-guard";
    case Outcome::kQuota: return "refused:quota";
    case Outcome::kOther: return "refused:other";
  }
  return "?";
}

std::optional<Outcome> ParseOutcome(const std::string& name) {
  for (Outcome o : kOutcomes) {
    if (name == OutcomeName(o)) return o;
  }
  return std::nullopt;
}

bool Contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

Outcome Classify(const absl::Status& s) {
  const std::string m(s.message());
  if (absl::IsFailedPrecondition(s)) {
    if (Contains(m, "cannot be released safely")) return Outcome::kUnsafe;
    if (Contains(m, "decomposition quota")) return Outcome::kQuota;
    if (Contains(m, "population")) return Outcome::kGuard;
    return Outcome::kOther;
  }
  if (absl::IsResourceExhausted(s)) return Outcome::kQuota;
  return Outcome::kOther;
}

// Seconds to wait when `s` is a rate or concurrency limit ("... retry after N s ..."), else none.
std::optional<int> RetryAfter(const absl::Status& s) {
  if (!absl::IsResourceExhausted(s)) return std::nullopt;
  const std::string m(s.message());
  const std::size_t at = m.find("retry after ");
  if (at == std::string::npos) return std::nullopt;
  return std::max(1, std::atoi(m.c_str() + at + 12));
}

enum class Kind { kValue, k3d };

// One table of the plan and, once asked (or read from a record file), its outcome.
struct Record {
  int index = 0;  // 1-based position in the plan
  Kind kind = Kind::kValue;
  std::string template_id, caller;
  std::string label;   // "breakdown1=herkomst", "3-D geo=wijk breakdown1=a breakdown2=b"
  std::string params;  // canonical: "name=value ..." sorted by name
  Outcome outcome = Outcome::kOther;
  bool sent = false;  // false: equal to an earlier request, counted with its outcome
  std::string detail;  // the refusal's status, or empty
};

std::string Key(const Record& r) { return r.template_id + " " + r.params; }

struct Caller {
  std::string name;
  enclave::client::EnclaveClient* client = nullptr;
};

struct TemplateWalk {
  enclave::client::TemplateInfo info;
  // Who may ask it: the analyst alone when the analyst's ListTemplates names it, else every
  // researcher whose ListTemplates names it, in order. ListTemplates names what a role may run;
  // the agreements decide: a refusal "outside the scope of your agreement" (PERMISSION_DENIED)
  // moves the template to the next researcher for the rest of the walk.
  std::vector<Caller> callers;
  std::size_t current = 0;
  const Caller& caller() const { return callers[current]; }
};

struct Table {
  Record record;
  std::size_t walk = 0;  // into the walks
  Params params;
};

std::string Canonical(Params p) {
  std::sort(p.begin(), p.end());
  std::string out;
  for (const auto& [name, value] : p) out += (out.empty() ? "" : " ") + name + "=" + value;
  return out;
}

Params Defaults(const enclave::client::TemplateInfo& info) {
  Params p;
  for (const auto& param : info.parameters) p.emplace_back(param.name, param.default_value);
  return p;
}

void Set(Params& p, const std::string& name, const std::string& value) {
  for (auto& [n, v] : p) {
    if (n == name) v = value;
  }
}

std::vector<std::string> Values(const enclave::client::ParameterInfo& p) {
  std::vector<std::string> out;
  if (p.type == "integer") {
    for (std::int64_t v = p.min; v <= p.max; ++v) out.push_back(std::to_string(v));
  } else {
    for (const auto& a : p.allowed_values) out.push_back(a.code);
  }
  return out;
}

bool HasReleasedInnerCell(const enclave::client::QueryResult& r) {
  for (const auto& cell : r.cells) {
    if (!cell.value.has_value()) continue;
    bool inner = true;
    for (std::size_t d = 0; d < cell.coordinates.size() && inner; ++d) {
      inner = d < r.dimensions.size() && cell.coordinates[d] < r.dimensions[d].codes.size() &&
              !r.dimensions[d].codes[cell.coordinates[d]].is_total;
    }
    if (inner) return true;
  }
  return false;
}

// Every table the walk offers, in the fixed order above, numbered from 1.
std::vector<Table> Plan(const std::vector<TemplateWalk>& walks, const Options& o) {
  std::vector<Table> plan;
  auto add = [&](std::size_t w, Kind kind, Params params, std::string label) {
    Table t;
    t.walk = w;
    t.record.index = static_cast<int>(plan.size()) + 1;
    t.record.kind = kind;
    t.record.template_id = walks[w].info.summary.id;
    t.record.caller = walks[w].caller().name;
    t.record.label = std::move(label);
    t.record.params = Canonical(params);
    t.params = std::move(params);
    plan.push_back(std::move(t));
  };
  // 1. Every offered value of every parameter, the others at their defaults.
  for (std::size_t w = 0; w < walks.size(); ++w) {
    const auto& info = walks[w].info;
    for (const auto& p : info.parameters) {
      for (const std::string& v : Values(p)) {
        Params params = Defaults(info);
        Set(params, p.name, v);
        add(w, Kind::kValue, std::move(params), p.name + "=" + v);
      }
    }
  }
  // 2. Every offered 3-D table: geography and two different breakdowns.
  for (std::size_t w = 0; w < walks.size(); ++w) {
    const auto& info = walks[w].info;
    const enclave::client::ParameterInfo* geo = nullptr;
    std::vector<const enclave::client::ParameterInfo*> others;
    for (const auto& p : info.parameters) {
      if (p.type != "breakdown") continue;
      if (p.name == "geo") {
        geo = &p;
      } else {
        others.push_back(&p);
      }
    }
    if (geo == nullptr || others.size() < 2) continue;
    const std::vector<std::string> geo_values = Values(*geo);
    if (std::find(geo_values.begin(), geo_values.end(), o.geo3d) == geo_values.end()) continue;
    for (const std::string& a : Values(*others[0])) {
      for (const std::string& b : Values(*others[1])) {
        if (a == kNoBreakdown || b == kNoBreakdown || a == b) continue;
        Params params = Defaults(info);
        Set(params, geo->name, o.geo3d);
        Set(params, others[0]->name, a);
        Set(params, others[1]->name, b);
        add(w, Kind::k3d, std::move(params),
            "3-D " + geo->name + "=" + o.geo3d + " " + others[0]->name + "=" + a + " " +
                others[1]->name + "=" + b);
      }
    }
  }
  return plan;
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\t', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// Asks `t` unless an equal request was asked before in this run (`cache`: key -> outcome).
Record Ask(const Table& t, std::vector<TemplateWalk>& walks, std::map<std::string, Outcome>& cache,
           const Options& o) {
  Record rec = t.record;
  TemplateWalk& w = walks[t.walk];
  rec.caller = w.caller().name;
  if (auto it = cache.find(Key(rec)); it != cache.end()) {
    rec.outcome = it->second;
    return rec;
  }
  absl::StatusOr<enclave::client::QueryResult> r;
  for (int attempt = 0;; ++attempt) {
    r = w.caller().client->RunQuery(w.info.summary.id, t.params);
    if (!r.ok() && absl::IsPermissionDenied(r.status()) && w.current + 1 < w.callers.size()) {
      if (o.verbose) {
        std::cout << "  " << w.info.summary.id << ": " << w.caller().name << " refused ("
                  << r.status() << "); asking as " << w.callers[w.current + 1].name << std::endl;
      }
      ++w.current;
      rec.caller = w.caller().name;
      continue;
    }
    const std::optional<int> wait = r.ok() ? std::nullopt : RetryAfter(r.status());
    if (!wait.has_value() || attempt >= 20) break;
    std::this_thread::sleep_for(std::chrono::seconds(*wait));
  }
  rec.sent = true;
  if (r.ok()) {
    rec.outcome = HasReleasedInnerCell(*r) ? Outcome::kUseful : Outcome::kAllWithheld;
  } else {
    rec.outcome = Classify(r.status());
    rec.detail = OneLine(r.status().ToString());
  }
  cache.emplace(Key(rec), rec.outcome);
  if (o.verbose) {
    std::cout << "  #" << rec.index << " " << rec.template_id << " " << rec.params << " -> "
              << OutcomeName(rec.outcome) << (rec.detail.empty() ? "" : " (" + rec.detail + ")")
              << std::endl;
  }
  return rec;
}

void WriteRecords(const std::string& path, const std::vector<Record>& records) {
  std::ofstream out(path, std::ios::app);
  for (const Record& r : records) {
    out << r.index << '\t' << (r.kind == Kind::k3d ? "3d" : "value") << '\t' << r.template_id
        << '\t' << r.caller << '\t' << r.label << '\t' << r.params << '\t'
        << OutcomeName(r.outcome) << '\t' << (r.sent ? 1 : 0) << '\t' << r.detail << '\n';
  }
  out.flush();
  if (!out) {
    std::cerr << "usefulness_walk: cannot write " << path << "\n";
    std::exit(2);
  }
}

std::vector<Record> ReadRecords(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "usefulness_walk: cannot read " << path << "\n";
    std::exit(2);
  }
  std::vector<Record> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) f.push_back(field);
    if (f.size() == 8) f.emplace_back();  // no detail
    const std::optional<Outcome> outcome = f.size() == 9 ? ParseOutcome(f[6]) : std::nullopt;
    if (!outcome.has_value() || (f[1] != "value" && f[1] != "3d")) {
      std::cerr << "usefulness_walk: " << path << ":" << line_no
                << ": not a record (allowed: 9 tab-separated fields as --record writes them)\n";
      std::exit(2);
    }
    Record r;
    r.index = std::atoi(f[0].c_str());
    r.kind = f[1] == "3d" ? Kind::k3d : Kind::kValue;
    r.template_id = f[2];
    r.caller = f[3];
    r.label = f[4];
    r.params = f[5];
    r.outcome = *outcome;
    r.sent = f[7] == "1";
    r.detail = f[8];
    out.push_back(std::move(r));
  }
  return out;
}

double Pct(int part, int whole) { return whole == 0 ? 100.0 : 100.0 * part / whole; }

struct Counts {
  int requests = 0;                // sent to the enclave (repeats not re-sent)
  std::map<Outcome, int> tables;   // per table asked (repeats counted again)
  int values = 0, values_useful = 0;
  int tables3d = 0, tables3d_useful = 0;

  void Add(const Record& r) {
    if (r.sent) ++requests;
    ++tables[r.outcome];
    const bool useful = r.outcome == Outcome::kUseful;
    if (r.kind == Kind::k3d) {
      ++tables3d;
      tables3d_useful += useful ? 1 : 0;
    } else {
      ++values;
      values_useful += useful ? 1 : 0;
    }
  }
  int At(Outcome k) const {
    auto it = tables.find(k);
    return it == tables.end() ? 0 : it->second;
  }
  std::string ValuesText() const {
    return std::to_string(values_useful) + "/" + std::to_string(values);
  }
  std::string Tables3dText() const {
    return tables3d == 0 ? std::string("-")
                         : std::to_string(tables3d_useful) + "/" + std::to_string(tables3d);
  }
};

// Templates in the order they first appear in `records`, with their caller.
std::vector<std::pair<std::string, std::string>> TemplatesOf(const std::vector<Record>& records) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Record& r : records) {
    const bool known = std::any_of(out.begin(), out.end(),
                                   [&](const auto& t) { return t.first == r.template_id; });
    if (!known) out.emplace_back(r.template_id, r.caller);
  }
  return out;
}

bool PrintAims(const Counts& c, const Options& o, const char* mode, const Counts* beside) {
  const double values_pct = Pct(c.values_useful, c.values);
  const double d3_pct = Pct(c.tables3d_useful, c.tables3d);
  const bool values_ok = values_pct >= o.min_values_pct;
  const bool d3_ok = d3_pct >= o.min_3d_pct;
  auto line = [&](const char* what, int useful, int all, double pct, double aim, bool ok,
                  int b_useful, int b_all) {
    std::printf("%s with a released inner cell, %s: %d of %d (%.1f%%), aim %.0f%%: %s", what, mode,
                useful, all, pct, aim, ok ? "met" : "MISSED");
    if (beside != nullptr) {
      std::printf("  (sequential: %d of %d, %.1f%%)", b_useful, b_all, Pct(b_useful, b_all));
    }
    std::printf("\n");
  };
  line("Parameter values", c.values_useful, c.values, values_pct, o.min_values_pct, values_ok,
       beside ? beside->values_useful : 0, beside ? beside->values : 0);
  line("3-D tables      ", c.tables3d_useful, c.tables3d, d3_pct, o.min_3d_pct, d3_ok,
       beside ? beside->tables3d_useful : 0, beside ? beside->tables3d : 0);
  return values_ok && d3_ok;
}

// The report of one walk (live or from a record file).
bool ReportOne(const std::vector<Record>& records, const Options& o) {
  std::printf("%-30s %-12s %8s %8s %8s %7s %7s %7s %7s %15s %13s\n", "template", "caller",
              "requests", "released", "withheld", "unsafe", "guard", "quota", "other",
              "values useful", "3-D useful");
  auto row = [](const std::string& name, const std::string& caller, const Counts& c) {
    std::printf("%-30s %-12s %8d %8d %8d %7d %7d %7d %7d %15s %13s\n", name.c_str(),
                caller.c_str(), c.requests, c.At(Outcome::kUseful), c.At(Outcome::kAllWithheld),
                c.At(Outcome::kUnsafe), c.At(Outcome::kGuard), c.At(Outcome::kQuota),
                c.At(Outcome::kOther), c.ValuesText().c_str(), c.Tables3dText().c_str());
  };
  Counts total;
  for (const auto& [id, caller] : TemplatesOf(records)) {
    Counts c;
    for (const Record& r : records) {
      if (r.template_id == id) c.Add(r);
    }
    row(id, caller, c);
  }
  for (const Record& r : records) total.Add(r);
  row("total", "", total);
  std::printf("\n(released/withheld/unsafe/guard/quota/other count tables asked, repeats included;"
              " requests count what was sent)\n");
  bool header = false;
  for (const Record& r : records) {
    if (r.outcome == Outcome::kUseful) continue;
    if (!header) std::printf("\nTables without a released inner cell:\n");
    header = true;
    std::printf("  #%d %s %s: %s\n", r.index, r.template_id.c_str(), r.label.c_str(),
                OutcomeName(r.outcome));
  }
  std::printf("\n");
  return PrintAims(total, o, "this walk", nullptr);
}

// Sequential and isolated side by side; the aims are checked on the isolated outcomes.
bool ReportBoth(const std::vector<Record>& seq, const std::vector<Record>& iso_records,
                const Options& o) {
  std::map<std::string, Record> iso_by_key;
  for (const Record& r : iso_records) iso_by_key.emplace(Key(r), r);
  // The isolated view of every table of the sequential walk.
  std::vector<Record> iso;
  int reasked = 0, kept_released = 0, kept_other = 0;
  std::set<std::string> reasked_keys;
  for (const Record& s : seq) {
    Record r = s;
    if (auto it = iso_by_key.find(Key(s)); it != iso_by_key.end()) {
      r.outcome = it->second.outcome;
      r.detail = it->second.detail;
      if (reasked_keys.insert(Key(s)).second) ++reasked;
    } else if (s.outcome == Outcome::kUseful) {
      ++kept_released;
    } else {
      ++kept_other;
    }
    iso.push_back(std::move(r));
  }
  std::printf("Sequential: the whole walk on one enclave, release history on (the cross-query "
              "protection applies).\nIsolated: each table the first question on a fresh enclave "
              "(empty release history and budgets).\n\n");
  std::printf("%-30s %-12s %-10s %9s %9s %8s %7s %7s %7s %7s\n", "template", "caller", "mode",
              "values", "3-D", "withheld", "unsafe", "guard", "quota", "other");
  auto row = [](const std::string& name, const std::string& caller, const char* mode,
                const Counts& c) {
    std::printf("%-30s %-12s %-10s %9s %9s %8d %7d %7d %7d %7d\n", name.c_str(), caller.c_str(),
                mode, c.ValuesText().c_str(), c.Tables3dText().c_str(),
                c.At(Outcome::kAllWithheld), c.At(Outcome::kUnsafe), c.At(Outcome::kGuard),
                c.At(Outcome::kQuota), c.At(Outcome::kOther));
  };
  Counts seq_total, iso_total;
  for (const auto& [id, caller] : TemplatesOf(seq)) {
    Counts s, i;
    for (std::size_t k = 0; k < seq.size(); ++k) {
      if (seq[k].template_id != id) continue;
      s.Add(seq[k]);
      i.Add(iso[k]);
    }
    row(id, caller, "sequential", s);
    row("", "", "isolated", i);
  }
  for (std::size_t k = 0; k < seq.size(); ++k) {
    seq_total.Add(seq[k]);
    iso_total.Add(iso[k]);
  }
  row("total", "", "sequential", seq_total);
  row("", "", "isolated", iso_total);
  std::printf("\n(tables asked, repeats included; withheld..other: tables without a released "
              "inner cell, by kind)\n");
  std::printf("Isolated: %d distinct tables asked each on a fresh enclave; %d tables the shared "
              "server released keep that outcome (a history can only refuse)",
              reasked, kept_released);
  if (kept_other > 0) {
    std::printf("; %d tables it did not release were not re-asked and keep their sequential "
                "outcome",
                kept_other);
  }
  std::printf(".\n");

  bool header = false;
  for (std::size_t k = 0; k < seq.size(); ++k) {
    if (iso[k].outcome == Outcome::kUseful) continue;
    if (!header) std::printf("\nTables without a released inner cell in isolation:\n");
    header = true;
    std::printf("  #%d %s %s: %s (sequential: %s)\n", iso[k].index, iso[k].template_id.c_str(),
                iso[k].label.c_str(), OutcomeName(iso[k].outcome),
                OutcomeName(seq[k].outcome));
  }
  std::map<Outcome, int> cross_values, cross_3d;
  for (std::size_t k = 0; k < seq.size(); ++k) {
    if (iso[k].outcome != Outcome::kUseful || seq[k].outcome == Outcome::kUseful) continue;
    ++(seq[k].kind == Kind::k3d ? cross_3d : cross_values)[seq[k].outcome];
  }
  auto by_kind = [](const std::map<Outcome, int>& m) {
    std::string out;
    int n = 0;
    for (const auto& [k, c] : m) {
      out += (out.empty() ? "" : ", ") + std::string(OutcomeName(k)) + " " + std::to_string(c);
      n += c;
    }
    return std::to_string(n) + (out.empty() ? "" : " (" + out + ")");
  };
  std::printf("\nReleased in isolation but not on the shared server (the cross-query protection: "
              "guard, quota, budget):\n  parameter values: %s\n  3-D tables:       %s\n\n",
              by_kind(cross_values).c_str(), by_kind(cross_3d).c_str());
  return PrintAims(iso_total, o, "isolated", &seq_total);
}

bool ParseTables(const std::string& text, std::set<int>& out) {
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    const std::size_t dash = part.find('-');
    char* end = nullptr;
    const long from = std::strtol(part.c_str(), &end, 10);
    long to = from;
    if (dash != std::string::npos) {
      if (end != part.c_str() + dash) return false;
      to = std::strtol(part.c_str() + dash + 1, &end, 10);
    }
    if (*end != '\0' || from < 1 || to < from || to > 1000000) return false;
    for (long i = from; i <= to; ++i) out.insert(static_cast<int>(i));
  }
  return !out.empty();
}

bool ParseArgs(int argc, char** argv, Options& o) {
  std::string min_values, min_3d, timeout, tables;
  std::vector<std::string> researcher_certs, researcher_keys;
  const std::map<std::string, std::string*> flags = {
      {"--target", &o.target},
      {"--ca", &o.ca},
      {"--cert", &o.analyst.cert},
      {"--key", &o.analyst.key},
      {"--geo3d", &o.geo3d},
      {"--min-values-pct", &min_values},
      {"--min-3d-pct", &min_3d},
      {"--timeout", &timeout},
      {"--only", &o.only},
      {"--tables", &tables},
      {"--record", &o.record},
      {"--report", &o.report_seq},
      {"--isolated", &o.report_iso}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--verbose" || a == "--quiet") {
      (a == "--verbose" ? o.verbose : o.quiet) = true;
      continue;
    }
    const bool researcher = a == "--researcher-cert" || a == "--researcher-key";
    auto it = flags.find(a);
    if (it == flags.end() && !researcher) {
      std::cerr << "usefulness_walk: unknown argument '" << a << "'\n";
      return false;
    }
    if (i + 1 >= argc) {
      std::cerr << "usefulness_walk: " << a << " needs a value\n";
      return false;
    }
    if (researcher) {
      (a == "--researcher-cert" ? researcher_certs : researcher_keys).push_back(argv[++i]);
    } else {
      *it->second = argv[++i];
    }
  }
  if (!min_values.empty()) o.min_values_pct = std::atof(min_values.c_str());
  if (!min_3d.empty()) o.min_3d_pct = std::atof(min_3d.c_str());
  if (!timeout.empty()) o.timeout_s = std::max(1, std::atoi(timeout.c_str()));
  if (!tables.empty() && !ParseTables(tables, o.tables)) {
    std::cerr << "usefulness_walk: --tables '" << tables
              << "': allowed: plan numbers from 1 and ranges, e.g. 3,7-9\n";
    return false;
  }
  if (!o.only.empty() && o.only != "values" && o.only != "3d") {
    std::cerr << "usefulness_walk: --only '" << o.only << "': allowed: values, 3d\n";
    return false;
  }
  if (!o.report_iso.empty() && o.report_seq.empty()) {
    std::cerr << "usefulness_walk: --isolated FILE needs --report FILE (the sequential walk)\n";
    return false;
  }
  if (!o.report_seq.empty()) return true;  // report mode: no connection
  if (o.target.empty() || o.ca.empty() || o.analyst.cert.empty() || o.analyst.key.empty()) {
    std::cerr
        << "usage: usefulness_walk --target HOST:PORT --ca CA --cert CERT --key KEY\n"
           "         [--researcher-cert CERT --researcher-key KEY]... [--min-values-pct 95]\n"
           "         [--min-3d-pct 80] [--geo3d wijk] [--timeout SECONDS] [--only values|3d]\n"
           "         [--tables 3,7-9] [--record FILE] [--quiet] [--verbose]\n"
           "       usefulness_walk --report SEQUENTIAL.tsv [--isolated ISOLATED.tsv]\n"
           "         [--min-values-pct 95] [--min-3d-pct 80]\n";
    return false;
  }
  if (researcher_certs.size() != researcher_keys.size()) {
    std::cerr << "usefulness_walk: --researcher-cert and --researcher-key go together\n";
    return false;
  }
  for (std::size_t i = 0; i < researcher_certs.size(); ++i) {
    o.researchers.push_back({researcher_certs[i], researcher_keys[i]});
  }
  return true;
}

// "pki/researcher2.pem" -> "researcher2".
std::string CallerName(const std::string& cert) {
  std::string name = cert.substr(cert.find_last_of('/') + 1);
  if (const std::size_t dot = name.rfind('.'); dot != std::string::npos && dot > 0) {
    name.resize(dot);
  }
  return name;
}

std::unique_ptr<enclave::client::EnclaveClient> ConnectAs(const Options& o, const Identity& id) {
  enclave::client::ConnectOptions c;
  c.target = o.target;
  c.ca_file = o.ca;
  c.cert_file = id.cert;
  c.key_file = id.key;
  c.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s) * 1000);
  auto client = enclave::client::Connect(c);
  if (!client.ok()) {
    std::cerr << "usefulness_walk: " << client.status() << "\n";
    std::exit(2);
  }
  return *std::move(client);
}

// The templates `client` may run that are not yet in `walks`, described, in id order; a
// researcher (`analyst` names the analyst) is added as a further caller of researcher-only
// templates already there.
void AddTemplates(enclave::client::EnclaveClient& client, const std::string& caller,
                  const std::string& analyst, std::vector<TemplateWalk>& walks) {
  const bool researcher = caller != analyst;
  auto list = client.ListTemplates();
  if (!list.ok()) {
    std::cerr << "usefulness_walk: ListTemplates as " << caller << ": " << list.status() << "\n";
    std::exit(2);
  }
  std::vector<std::string> ids;
  for (const auto& s : *list) ids.push_back(s.id);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    auto known = std::find_if(walks.begin(), walks.end(), [&](const TemplateWalk& w) {
      return w.info.summary.id == id;
    });
    if (known != walks.end()) {
      if (researcher && known->callers.front().name != analyst) {
        known->callers.push_back({caller, &client});
      }
      continue;
    }
    auto info = client.DescribeTemplate(id);
    if (!info.ok()) {
      std::cerr << "usefulness_walk: DescribeTemplate " << id << ": " << info.status() << "\n";
      std::exit(2);
    }
    TemplateWalk w;
    w.info = *std::move(info);
    w.callers.push_back({caller, &client});
    walks.push_back(std::move(w));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) return 2;
  if (!o.report_seq.empty()) {
    const std::vector<Record> seq = ReadRecords(o.report_seq);
    const bool ok = o.report_iso.empty() ? ReportOne(seq, o)
                                         : ReportBoth(seq, ReadRecords(o.report_iso), o);
    return ok ? 0 : 1;
  }
  enclave::client::SilenceTransportLogs();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<enclave::client::EnclaveClient>> clients;
  std::vector<TemplateWalk> walks;
  clients.push_back(ConnectAs(o, o.analyst));
  const std::string analyst = CallerName(o.analyst.cert);
  AddTemplates(*clients.back(), analyst, analyst, walks);
  for (const Identity& r : o.researchers) {
    clients.push_back(ConnectAs(o, r));
    AddTemplates(*clients.back(), CallerName(r.cert), analyst, walks);
  }

  const std::vector<Table> plan = Plan(walks, o);
  std::map<std::string, Outcome> cache;  // canonical request -> outcome
  std::vector<Record> records;
  std::string current;
  for (const Table& t : plan) {
    if (!o.tables.empty() && o.tables.count(t.record.index) == 0) continue;
    if (o.only == "values" && t.record.kind != Kind::kValue) continue;
    if (o.only == "3d" && t.record.kind != Kind::k3d) continue;
    if (o.verbose) {
      const std::string heading = std::string(t.record.kind == Kind::k3d ? "3-D: " : "values: ") +
                                  t.record.template_id + " as " + t.record.caller;
      if (heading != current) std::cout << heading << "\n";
      current = heading;
    }
    records.push_back(Ask(t, walks, cache, o));
  }
  if (!o.tables.empty() && records.size() != o.tables.size()) {
    std::cerr << "usefulness_walk: --tables names numbers beyond the plan's " << plan.size()
              << " tables\n";
    return 2;
  }
  if (!o.record.empty()) WriteRecords(o.record, records);
  if (o.quiet) {
    for (const Record& r : records) {
      if (o.verbose) continue;  // already printed
      std::printf("#%d %s %s -> %s\n", r.index, r.template_id.c_str(), r.label.c_str(),
                  OutcomeName(r.outcome));
    }
    int useful = 0;
    for (const Record& r : records) useful += r.outcome == Outcome::kUseful ? 1 : 0;
    return useful == static_cast<int>(records.size()) ? 0 : 1;
  }
  const bool ok = ReportOne(records, o);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  int requests = 0;
  for (const Record& r : records) requests += r.sent ? 1 : 0;
  std::printf("%d requests in %lld s\n", requests, static_cast<long long>(seconds));
  return ok ? 0 : 1;
}
