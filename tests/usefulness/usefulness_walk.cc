// The usefulness walk (issue 10 §4): asks a running enclave, through the real client library,
// every table its templates offer and reports how many give something to read.
//
//   usefulness_walk --target 127.0.0.1:7443 --ca pki/ca.pem --cert pki/analyst1.pem
//       --key pki/analyst1.key [--researcher-cert pki/researcher1.pem
//       --researcher-key pki/researcher1.key] [--min-values-pct 95] [--min-3d-pct 80]
//       [--geo3d wijk] [--timeout 300] [--verbose]
//
// Order (fixed, so two runs on fresh servers ask the same sequence):
//   1. Templates in id order: those the analyst (--cert) may run as the analyst, then those only
//      the researcher may run (differentially private ones) as the researcher. Per template, each
//      parameter in the order `describe` gives, each offered value in its order (integers from
//      min to max), the other parameters at their defaults. A request equal to an earlier one
//      (the all-defaults request recurs once per parameter) is not sent again: it counts with
//      the earlier outcome (a DP repeat would be free anyway).
//   2. 3-D tables, templates in id order: a template with a breakdown parameter `geo` offering
//      --geo3d and at least two other breakdown parameters; the first two of those, every
//      ordered pair of different values other than "geen" (6 x 5 = 30 for bijstand_stand), geo at
//      --geo3d, the rest at their defaults.
// A table is useful when at least one inner cell (no coordinate a total) is released.
// Refusals are counted by kind: unsafe table (FAILED_PRECONDITION "cannot be released safely"),
// quota (FAILED_PRECONDITION naming the decomposition quota, or RESOURCE_EXHAUSTED: a privacy
// budget), differencing guard (another FAILED_PRECONDITION naming a population), other. A
// per-principal or enclave-wide limit ("retry after N s") is waited out and the request repeated.
//
// Exit status: 0 when both aims are met, 1 when one is missed, 2 on a usage or connection error.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
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

struct Options {
  std::string target, ca, cert, key, researcher_cert, researcher_key;
  std::string geo3d = "wijk";
  double min_values_pct = 95.0;
  double min_3d_pct = 80.0;
  int timeout_s = 300;
  bool verbose = false;
};

enum class Outcome { kUseful, kAllWithheld, kUnsafe, kGuard, kQuota, kOther };

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

struct Counts {
  int requests = 0;  // sent to the enclave (repeats not re-sent)
  std::map<Outcome, int> tables;  // per table asked (repeats counted again)
  int values = 0, values_useful = 0;
  int tables3d = 0, tables3d_useful = 0;
};

struct TemplateWalk {
  enclave::client::TemplateInfo info;
  enclave::client::EnclaveClient* client = nullptr;
  std::string caller;  // "analyst" or "researcher"
  Counts counts;
  std::map<std::string, Outcome> cache;  // canonical request -> outcome
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

Outcome Ask(TemplateWalk& t, const Params& params, const Options& o, std::string* detail) {
  const std::string key = Canonical(params);
  if (auto it = t.cache.find(key); it != t.cache.end()) {
    ++t.counts.tables[it->second];
    return it->second;
  }
  absl::StatusOr<enclave::client::QueryResult> r;
  for (int attempt = 0;; ++attempt) {
    r = t.client->RunQuery(t.info.summary.id, params);
    const std::optional<int> wait = r.ok() ? std::nullopt : RetryAfter(r.status());
    if (!wait.has_value() || attempt >= 20) break;
    std::this_thread::sleep_for(std::chrono::seconds(*wait));
  }
  ++t.counts.requests;
  Outcome out;
  if (r.ok()) {
    out = HasReleasedInnerCell(*r) ? Outcome::kUseful : Outcome::kAllWithheld;
  } else {
    out = Classify(r.status());
    *detail = r.status().ToString();
  }
  t.cache.emplace(key, out);
  ++t.counts.tables[out];
  if (o.verbose) {
    std::cout << "  " << t.info.summary.id << " " << key << " -> " << OutcomeName(out)
              << (detail->empty() ? "" : " (" + *detail + ")") << "\n";
  }
  return out;
}

double Pct(int part, int whole) { return whole == 0 ? 100.0 : 100.0 * part / whole; }

bool ParseArgs(int argc, char** argv, Options& o) {
  std::string min_values, min_3d, timeout;
  const std::map<std::string, std::string*> flags = {
      {"--target", &o.target},
      {"--ca", &o.ca},
      {"--cert", &o.cert},
      {"--key", &o.key},
      {"--researcher-cert", &o.researcher_cert},
      {"--researcher-key", &o.researcher_key},
      {"--geo3d", &o.geo3d},
      {"--min-values-pct", &min_values},
      {"--min-3d-pct", &min_3d},
      {"--timeout", &timeout}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--verbose") {
      o.verbose = true;
      continue;
    }
    auto it = flags.find(a);
    if (it == flags.end()) {
      std::cerr << "usefulness_walk: unknown argument '" << a << "'\n";
      return false;
    }
    if (i + 1 >= argc) {
      std::cerr << "usefulness_walk: " << a << " needs a value\n";
      return false;
    }
    *it->second = argv[++i];
  }
  if (!min_values.empty()) o.min_values_pct = std::atof(min_values.c_str());
  if (!min_3d.empty()) o.min_3d_pct = std::atof(min_3d.c_str());
  if (!timeout.empty()) o.timeout_s = std::max(1, std::atoi(timeout.c_str()));
  if (o.target.empty() || o.ca.empty() || o.cert.empty() || o.key.empty()) {
    std::cerr << "usage: usefulness_walk --target HOST:PORT --ca CA --cert CERT --key KEY\n"
                 "         [--researcher-cert CERT --researcher-key KEY] [--min-values-pct 95]\n"
                 "         [--min-3d-pct 80] [--geo3d wijk] [--timeout SECONDS] [--verbose]\n";
    return false;
  }
  if (o.researcher_cert.empty() != o.researcher_key.empty()) {
    std::cerr << "usefulness_walk: --researcher-cert and --researcher-key go together\n";
    return false;
  }
  return true;
}

std::unique_ptr<enclave::client::EnclaveClient> ConnectAs(const Options& o, const std::string& cert,
                                                          const std::string& key) {
  enclave::client::ConnectOptions c;
  c.target = o.target;
  c.ca_file = o.ca;
  c.cert_file = cert;
  c.key_file = key;
  c.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s) * 1000);
  auto client = enclave::client::Connect(c);
  if (!client.ok()) {
    std::cerr << "usefulness_walk: " << client.status() << "\n";
    std::exit(2);
  }
  return *std::move(client);
}

// The templates `client` may run that are not yet in `walks`, described, in id order.
void AddTemplates(enclave::client::EnclaveClient& client, const std::string& caller,
                  std::vector<TemplateWalk>& walks) {
  auto list = client.ListTemplates();
  if (!list.ok()) {
    std::cerr << "usefulness_walk: ListTemplates as " << caller << ": " << list.status() << "\n";
    std::exit(2);
  }
  std::vector<std::string> ids;
  for (const auto& s : *list) ids.push_back(s.id);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    const bool known = std::any_of(walks.begin(), walks.end(), [&](const TemplateWalk& w) {
      return w.info.summary.id == id;
    });
    if (known) continue;
    auto info = client.DescribeTemplate(id);
    if (!info.ok()) {
      std::cerr << "usefulness_walk: DescribeTemplate " << id << ": " << info.status() << "\n";
      std::exit(2);
    }
    TemplateWalk w;
    w.info = *std::move(info);
    w.client = &client;
    w.caller = caller;
    walks.push_back(std::move(w));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) return 2;
  enclave::client::SilenceTransportLogs();
  const auto start = std::chrono::steady_clock::now();
  auto analyst = ConnectAs(o, o.cert, o.key);
  std::unique_ptr<enclave::client::EnclaveClient> researcher;
  std::vector<TemplateWalk> walks;
  AddTemplates(*analyst, "analyst", walks);
  if (!o.researcher_cert.empty()) {
    researcher = ConnectAs(o, o.researcher_cert, o.researcher_key);
    AddTemplates(*researcher, "researcher", walks);
  }

  std::vector<std::string> misses;  // what gave nothing to read, for the report
  // 1. Every offered value of every parameter, the others at their defaults.
  for (TemplateWalk& t : walks) {
    if (o.verbose) std::cout << "values: " << t.info.summary.id << " as " << t.caller << "\n";
    for (const auto& p : t.info.parameters) {
      for (const std::string& v : Values(p)) {
        Params params = Defaults(t.info);
        Set(params, p.name, v);
        std::string detail;
        const Outcome out = Ask(t, params, o, &detail);
        ++t.counts.values;
        if (out == Outcome::kUseful) {
          ++t.counts.values_useful;
        } else {
          misses.push_back(t.info.summary.id + " " + p.name + "=" + v + ": " + OutcomeName(out));
        }
      }
    }
  }
  // 2. Every offered 3-D table: geography and two different breakdowns.
  for (TemplateWalk& t : walks) {
    const enclave::client::ParameterInfo* geo = nullptr;
    std::vector<const enclave::client::ParameterInfo*> others;
    for (const auto& p : t.info.parameters) {
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
    if (o.verbose) std::cout << "3-D: " << t.info.summary.id << " as " << t.caller << "\n";
    for (const std::string& a : Values(*others[0])) {
      for (const std::string& b : Values(*others[1])) {
        if (a == kNoBreakdown || b == kNoBreakdown || a == b) continue;
        Params params = Defaults(t.info);
        Set(params, geo->name, o.geo3d);
        Set(params, others[0]->name, a);
        Set(params, others[1]->name, b);
        std::string detail;
        const Outcome out = Ask(t, params, o, &detail);
        ++t.counts.tables3d;
        if (out == Outcome::kUseful) {
          ++t.counts.tables3d_useful;
        } else {
          misses.push_back(t.info.summary.id + " 3-D " + geo->name + "=" + o.geo3d + " " +
                           others[0]->name + "=" + a + " " + others[1]->name + "=" + b + ": " +
                           OutcomeName(out));
        }
      }
    }
  }

  // Report.
  Counts total;
  std::printf("%-30s %-10s %8s %8s %8s %7s %7s %7s %7s %15s %13s\n", "template", "caller",
              "requests", "released", "withheld", "unsafe", "guard", "quota", "other",
              "values useful", "3-D useful");
  auto row = [](const std::string& name, const std::string& caller, const Counts& c) {
    auto at = [&](Outcome k) {
      auto it = c.tables.find(k);
      return it == c.tables.end() ? 0 : it->second;
    };
    const std::string values = std::to_string(c.values_useful) + "/" + std::to_string(c.values);
    const std::string d3 = c.tables3d == 0 ? std::string("-")
                                           : std::to_string(c.tables3d_useful) + "/" +
                                                 std::to_string(c.tables3d);
    std::printf("%-30s %-10s %8d %8d %8d %7d %7d %7d %7d %15s %13s\n", name.c_str(),
                caller.c_str(), c.requests, at(Outcome::kUseful), at(Outcome::kAllWithheld),
                at(Outcome::kUnsafe), at(Outcome::kGuard), at(Outcome::kQuota),
                at(Outcome::kOther), values.c_str(), d3.c_str());
  };
  for (const TemplateWalk& t : walks) {
    row(t.info.summary.id, t.caller, t.counts);
    total.requests += t.counts.requests;
    for (const auto& [k, n] : t.counts.tables) total.tables[k] += n;
    total.values += t.counts.values;
    total.values_useful += t.counts.values_useful;
    total.tables3d += t.counts.tables3d;
    total.tables3d_useful += t.counts.tables3d_useful;
  }
  row("total", "", total);
  std::printf("\n(released/withheld/unsafe/guard/quota/other count tables asked, repeats included;"
              " requests count what was sent)\n");
  if (!misses.empty()) {
    std::printf("\nTables without a released inner cell:\n");
    for (const std::string& m : misses) std::printf("  %s\n", m.c_str());
  }
  const double values_pct = Pct(total.values_useful, total.values);
  const double d3_pct = Pct(total.tables3d_useful, total.tables3d);
  const bool values_ok = values_pct >= o.min_values_pct;
  const bool d3_ok = d3_pct >= o.min_3d_pct;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("\nParameter values with a released inner cell: %d of %d (%.1f%%), aim %.0f%%: %s\n",
              total.values_useful, total.values, values_pct, o.min_values_pct,
              values_ok ? "met" : "MISSED");
  std::printf("3-D tables with a released inner cell:       %d of %d (%.1f%%), aim %.0f%%: %s\n",
              total.tables3d_useful, total.tables3d, d3_pct, o.min_3d_pct,
              d3_ok ? "met" : "MISSED");
  std::printf("%d requests in %lld s\n", total.requests, static_cast<long long>(seconds));
  return values_ok && d3_ok ? 0 : 1;
}
