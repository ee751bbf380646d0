// Decoding cell_rules against a release layout (client/include/enclave/client/cell_rules.h).
#include "enclave/client/cell_rules.h"

#include <cstddef>
#include <string>

namespace enclave::client {
namespace {

// The value after "key=" in a rule's parameters ("T=10/q=500" -> "10" for "T"), or "".
std::string ParamValue(std::string_view detail, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= detail.size()) {
    std::size_t end = detail.find('/', pos);
    if (end == std::string_view::npos) end = detail.size();
    const std::string_view piece = detail.substr(pos, end - pos);
    if (piece.size() > key.size() && piece.substr(0, key.size()) == key &&
        piece[key.size()] == '=') {
      return std::string(piece.substr(key.size() + 1));
    }
    pos = end + 1;
  }
  return "";
}

// The arguments of "name(a/b/c)" -> {"a","b","c"}; empty when `detail` does not start so.
std::vector<std::string> Arguments(std::string_view detail, std::string_view name) {
  std::vector<std::string> out;
  if (detail.size() < name.size() + 2 || detail.substr(0, name.size()) != name ||
      detail[name.size()] != '(' || detail.back() != ')') {
    return out;
  }
  const std::string_view inner = detail.substr(name.size() + 1, detail.size() - name.size() - 2);
  std::size_t pos = 0;
  while (pos <= inner.size()) {
    std::size_t end = inner.find('/', pos);
    if (end == std::string_view::npos) end = inner.size();
    out.emplace_back(inner.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string Arg(const std::vector<std::string>& args, std::size_t i, std::string fallback) {
  return i < args.size() && !args[i].empty() ? args[i] : fallback;
}

// "900" permille -> "90%"; "905" -> "90.5%".
std::string PermilleText(const std::string& permille, bool dutch) {
  if (permille.empty()) return "?";
  for (char c : permille) {
    if (c < '0' || c > '9') return permille + "‰";
  }
  const long v = std::stol(permille);
  std::string out = std::to_string(v / 10);
  if (v % 10 != 0) out += std::string(dutch ? "," : ".") + std::to_string(v % 10);
  return out + "%";
}

// How released counts were treated, from the header's counts{…}.
Text ReleasedText(std::string_view counts) {
  if (counts.empty() || counts == "none") return {"vrijgegeven", "released"};
  if (counts.substr(0, 6) == "round-") {
    std::string base(counts.substr(6));
    base = base.substr(0, base.find('@'));
    return {"vrijgegeven (aantallen met celsleutel afgerond op een veelvoud van " + base + ")",
            "released (counts rounded to a multiple of " + base + " by cell key)"};
  }
  return {"vrijgegeven (aantallen met celsleutel verstoord, " + std::string(counts) + ")",
          "released (counts perturbed by cell key, " + std::string(counts) + ")"};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SplitCanonicalParams(std::string_view canonical) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos < canonical.size()) {
    std::size_t end = canonical.find('&', pos);
    if (end == std::string_view::npos) end = canonical.size();
    const std::string_view piece = canonical.substr(pos, end - pos);
    const std::size_t eq = piece.find('=');
    if (eq != std::string_view::npos && eq > 0) {
      out.emplace_back(std::string(piece.substr(0, eq)), std::string(piece.substr(eq + 1)));
    }
    pos = end + 1;
  }
  return out;
}

Text ExplainRule(std::string_view rule, std::string_view detail, std::string_view counts,
                 bool* withheld, bool* known) {
  *withheld = true;
  *known = true;
  const std::string t = ParamValue(detail, "T");
  const std::string units_nl = t.empty() ? "de drempel" : t + " eenheden";
  const std::string units_en = t.empty() ? "the threshold" : t + " units";
  if (rule == "released") {
    *withheld = false;
    return ReleasedText(counts);
  }
  if (rule == "structural-zero") {
    *withheld = false;
    return {"vrijgegeven als structurele nul (per definitie leeg)",
            "released as a structural zero (empty by definition)"};
  }
  if (rule == "empty") return {"geheim, lege cel (geen eenheden)", "withheld, empty cell (no units)"};
  if (rule == "threshold") {
    return {"geheim, minder dan " + units_nl + " (drempelregel)",
            "withheld, fewer than " + units_en + " (threshold rule)"};
  }
  if (rule == "share-denominator") {
    const std::string d = Arg(Arguments(detail, "share"), 0, "the minimum");
    return {"geheim, noemer van het aandeel onder " + d,
            "withheld, share denominator below " + d};
  }
  if (rule == "share-numerator") {
    const std::string n = Arg(Arguments(detail, "share"), 1, "?");
    return {"geheim, teller van het aandeel onder " + n + " eenheden",
            "withheld, share numerator below " + n + " units"};
  }
  if (rule == "quantile-n") {
    const std::string q = ParamValue(detail, "q");
    const std::string which_nl = q == "500" ? "de mediaan" : "dit kwantiel";
    const std::string which_en = q == "500" ? "the median" : "this quantile";
    return {"geheim, te weinig eenheden voor " + which_nl + " (drempel " + (t.empty() ? "?" : t) + ")",
            "withheld, too few units for " + which_en + " (threshold " + (t.empty() ? "?" : t) + ")"};
  }
  if (rule == "dominance-nk") {
    const std::vector<std::string> a = Arguments(detail, "nk");
    const std::string n = Arg(a, 0, "n"), k = Arg(a, 1, "k");
    return {"geheim, dominantie: de grootste " + n + " bijdrage(n) vormen meer dan " + k +
                "% van het totaal",
            "withheld, dominance: the largest " + n + " contribution(s) exceed " + k +
                "% of the total"};
  }
  if (rule == "p-percent") {
    const std::vector<std::string> a = Arguments(detail, "p");
    const std::string p = Arg(a, 0, "p");
    std::string c = Arg(a, 1, "c=?");
    if (c.substr(0, 2) == "c=") c = c.substr(2);
    return {"geheim, p%-regel (p=" + p + ", coalitie " + c +
                "): een bijdrage zou tot op " + p + "% te schatten zijn",
            "withheld, p% rule (p=" + p + ", coalition " + c +
                "): a contribution could be estimated to within " + p + "%"};
  }
  if (rule == "income-n" || rule == "income-extreme") {
    const std::vector<std::string> a = Arguments(detail, "income");
    std::string n = Arg(a, 0, "n>=?");
    if (n.substr(0, 3) == "n>=") n = n.substr(3);
    const std::string pct = Arg(a, 1, "?%");
    if (rule == "income-n") {
      return {"geheim, inkomensregel: minder dan " + n + " eenheden",
              "withheld, income rule: fewer than " + n + " units"};
    }
    return {"geheim, inkomensregel: één waarde is meer dan " + pct + " van het totaal",
            "withheld, income rule: one value exceeds " + pct + " of the total"};
  }
  if (rule == "group") {
    const std::string g = Arg(Arguments(detail, "group"), 0, "");
    return {"geheim, groepsonthulling: meer dan " + PermilleText(g, true) +
                " van de groep valt in één gevoelige categorie",
            "withheld, group disclosure: more than " + PermilleText(g, false) +
                " of the group falls in one sensitive category"};
  }
  if (rule == "sensitive-zero") {
    return {"geheim, een nul in een gevoelige categorie zou iets over de hele groep onthullen",
            "withheld, a zero in a sensitive category would disclose something about the whole "
            "group"};
  }
  if (rule == "facts-invalid") {
    return {"geheim, de regel kreeg inconsistente invoer (veilig geweigerd)",
            "withheld, the rule's input was inconsistent (failed closed)"};
  }
  if (rule == "min-max") {
    return {"geheim, minimum en maximum worden nooit vrijgegeven",
            "withheld, minima and maxima are never released"};
  }
  if (rule == "mean-withheld") {
    return {"geheim, de gemiddelde-of-mediaanregel koos niet het gemiddelde",
            "withheld, the mean-or-median rule did not choose the mean"};
  }
  if (rule == "undefined") {
    return {"geheim, niet gedefinieerd (noemer nul)", "withheld, undefined (zero denominator)"};
  }
  if (rule == "relative-risk-reference") {
    return {"geheim, het aandeel van de referentiegroep is geheim",
            "withheld, the reference group's share is withheld"};
  }
  if (rule == "derived-undefined") {
    return {"geheim, niet te berekenen uit de vrijgegeven delen",
            "withheld, cannot be derived from the released parts"};
  }
  if (rule == "comparison") {
    return {"geheim, vergelijking: een ander deel van dezelfde vergelijking (arm, percentage of "
            "verschil) is geheim, dus de hele vergelijking wordt niet vrijgegeven",
            "withheld, comparison: another part of the same comparison (an arm, a percentage or "
            "the difference) is withheld, so the whole comparison is"};
  }
  if (rule == "secondary") {
    const bool sums = detail.substr(0, 4) == "sums";
    return {std::string("geheim, secundaire onderdrukking: anders zou een primair geheime cel uit "
                        "de totalen terug te rekenen zijn") +
                (sums ? " (sommen)" : ""),
            std::string("withheld, secondary suppression: otherwise a primary withheld cell could "
                        "be recomputed from the totals") +
                (sums ? " (sums)" : "")};
  }
  if (rule == "dp-noisy" || rule == "dp-derived") {
    *withheld = false;
    return {rule == "dp-noisy" ? "vrijgegeven met ruis (differentiële privacy)"
                               : "vrijgegeven, afgeleid uit cellen met ruis (differentiële privacy)",
            rule == "dp-noisy" ? "released with noise (differential privacy)"
                               : "released, derived from noisy cells (differential privacy)"};
  }
  if (rule == "dp-below-display-threshold") {
    return {"geheim, telling met ruis onder de weergavedrempel (differentiële privacy)",
            "withheld, noisy count below the display threshold (differential privacy)"};
  }
  if (rule == "dp-not-selected") {
    return {"geheim, niet geselecteerd (differentiële privacy: te weinig eenheden met ruis)",
            "withheld, not selected (differential privacy: too few noisy units)"};
  }
  if (rule == "dp-margin-of-unselected") {
    return {"geheim, totaal over een niet-geselecteerde cel (differentiële privacy)",
            "withheld, a total over an unselected cell (differential privacy)"};
  }
  if (rule == "dp-repeat") {
    *withheld = false;
    return {"herhaling: het opgeslagen antwoord van een identieke eerdere vraag (zie die vraag)",
            "repeat: the stored answer of an identical earlier request (see that request)"};
  }
  *known = false;
  const std::string shown = std::string(rule) + (detail.empty() ? "" : "[" + std::string(detail) + "]");
  return {"onbekende regel '" + shown + "' (deze enclavectl kent hem niet; als geheim getoond)",
          "unknown rule '" + shown + "' (this enclavectl does not know it; shown as withheld)"};
}

absl::StatusOr<DecodedCellRules> DecodeCellRules(std::string_view cell_rules,
                                                 const ReleaseLayout& layout) {
  constexpr std::string_view kCells = " cells{";
  const std::size_t at = cell_rules.find(kCells);
  if (cell_rules.substr(0, 6) != "rules{" || at == std::string_view::npos ||
      cell_rules.empty() || cell_rules.back() != '}') {
    return absl::InvalidArgumentError(
        "cell_rules is not of the form 'rules{…} record_key{…} counts{…} cells{…}'");
  }
  DecodedCellRules out;
  out.header = std::string(cell_rules.substr(0, at));
  std::string counts;
  if (const std::size_t c = out.header.rfind("counts{"); c != std::string::npos) {
    const std::size_t end = out.header.find('}', c);
    if (end != std::string::npos) counts = out.header.substr(c + 7, end - c - 7);
  }
  const std::string_view body =
      cell_rules.substr(at + kCells.size(), cell_rules.size() - at - kCells.size() - 1);
  // Split at commas outside brackets (the enclave writes none inside, but do not rely on it).
  std::vector<std::string_view> rules;
  if (!body.empty()) {
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= body.size(); ++i) {
      if (i == body.size() || (body[i] == ',' && depth == 0)) {
        rules.push_back(body.substr(start, i - start));
        start = i + 1;
      } else if (body[i] == '[') {
        ++depth;
      } else if (body[i] == ']' && depth > 0) {
        --depth;
      }
    }
  }
  std::size_t expected = layout.statistics.size();
  std::string shape;
  for (const Dimension& d : layout.dimensions) {
    expected *= d.codes.size();
    shape += std::to_string(d.codes.size()) + " " + d.name + " × ";
  }
  shape += std::to_string(layout.statistics.size()) + " statistics";
  if (rules.size() != expected) {
    return absl::FailedPreconditionError(
        "the entry has " + std::to_string(rules.size()) + " cell rules but the layout of " +
        layout.template_id + "@" + std::to_string(layout.template_version) + " for its parameters has " +
        std::to_string(expected) + " cells (" + shape + "); not decoded");
  }
  out.cells.reserve(rules.size());
  const std::size_t stats = layout.statistics.size();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    DecodedCell cell;
    const std::string_view token = rules[i];
    const std::size_t bracket = token.find('[');
    if (bracket != std::string_view::npos && token.back() == ']') {
      cell.rule = std::string(token.substr(0, bracket));
      cell.detail = std::string(token.substr(bracket + 1, token.size() - bracket - 2));
    } else {
      cell.rule = std::string(token);
    }
    cell.statistic_index = i % stats;
    cell.statistic = layout.statistics[cell.statistic_index];
    std::size_t rest = i / stats;
    cell.codes.resize(layout.dimensions.size());
    cell.labels.resize(layout.dimensions.size());
    for (std::size_t d = layout.dimensions.size(); d-- > 0;) {
      const std::vector<Code>& codes = layout.dimensions[d].codes;
      const Code& code = codes[rest % codes.size()];
      rest /= codes.size();
      cell.codes[d] = code.code;
      cell.labels[d] = code.label;
    }
    cell.explanation = ExplainRule(cell.rule, cell.detail, counts, &cell.withheld, &cell.known);
    out.cells.push_back(std::move(cell));
  }
  return out;
}

std::string CellDescription(const DecodedCell& cell, bool dutch, bool with_statistic) {
  std::string out;
  for (std::size_t d = 0; d < cell.labels.size(); ++d) {
    if (d > 0) out += " × ";
    const std::string& label = dutch ? cell.labels[d].nl : cell.labels[d].en;
    out += label.empty() ? cell.codes[d] : label;
  }
  if (with_statistic || cell.labels.empty()) {
    const std::string& s = dutch ? cell.statistic.label.nl : cell.statistic.label.en;
    const std::string shown = s.empty() ? cell.statistic.name : s;
    out += out.empty() ? shown : " (" + shown + ")";
  }
  return out + ": " + (dutch ? cell.explanation.nl : cell.explanation.en);
}

}  // namespace enclave::client
