#include "enclave/core/release.h"

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "enclave/core/query_service.h"

namespace enclave::core {
namespace {

// Length-prefixed, so that no field's content can be mistaken for a separator.
void AppendField(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out.append(s.data(), s.size());
}

}  // namespace

ReleasedDimension ReleasedDimensionOf(const templates::Dimension& dimension) {
  ReleasedDimension rd;
  rd.name = dimension.name;
  rd.label = dimension.label;
  rd.codes.reserve(dimension.codes.codes.size() + 1);
  for (const templates::Code& code : dimension.codes.codes) {
    rd.codes.push_back(ReleasedCode{code.code, code.label, false});
  }
  rd.codes.push_back(ReleasedCode{"total", {"Totaal", "Total"}, true});
  return rd;
}

std::int64_t Release::CountReleased() const {
  std::int64_t n = 0;
  for (const ReleasedCell& cell : cells) {
    if (cell.status == disclosure::CellStatus::kReleased) ++n;
  }
  return n;
}

std::int64_t Release::CountConfidential() const {
  std::int64_t n = 0;
  for (const ReleasedCell& cell : cells) {
    if (cell.status == disclosure::CellStatus::kConfidential) ++n;
  }
  return n;
}

// Format "enclave-release/2": one record per line, strings as <length>:<bytes>.
//   template <id> <version> <sha256>
//   statistic <name>                        (template order)
//   param <name> i<int64> | param <name> s<string>   (canonical order, as bound)
//   data_version <v>
//   rule_set <id@version>
//   treatment <ROUNDED_5|CKM|EXACT>
//   record_key <key id>
//   dimension <name> <nl> <en> <code count>
//   code <code> <nl> <en> <0|1 is_total>      (after its dimension, in order)
//   cell <c0,c1,...> <statistic> R<value> | C  (canonical cell order)
std::string CanonicalReleaseText(const Release& release) {
  std::string out = "enclave-release/2\n";
  out += "template ";
  if (release.tmpl != nullptr) {
    AppendField(out, release.tmpl->id);
    out += ' ';
    out += std::to_string(release.tmpl->version);
    out += ' ';
    AppendField(out, release.tmpl->text_sha256);
    out += '\n';
    for (const templates::Statistic& s : release.tmpl->statistics) {
      out += "statistic ";
      AppendField(out, s.name);
      out += '\n';
    }
  } else {
    out += "-\n";
  }
  for (const templates::BoundParam& p : release.params) {
    out += "param ";
    AppendField(out, p.name);
    out += ' ';
    std::visit(
        [&out](const auto& v) {
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::int64_t>) {
            out += 'i';
            out += std::to_string(v);
          } else {
            out += 's';
            AppendField(out, v);
          }
        },
        p.value);
    out += '\n';
  }
  out += "data_version ";
  AppendField(out, release.data_version);
  out += "\nrule_set ";
  AppendField(out, release.rule_set);
  out += "\ntreatment ";
  AppendField(out, release.treatment);
  out += "\nrecord_key ";
  AppendField(out, release.record_key_version);
  out += '\n';
  for (const ReleasedDimension& d : release.dimensions) {
    out += "dimension ";
    AppendField(out, d.name);
    out += ' ';
    AppendField(out, d.label.nl);
    out += ' ';
    AppendField(out, d.label.en);
    out += ' ';
    out += std::to_string(d.codes.size());
    out += '\n';
    for (const ReleasedCode& c : d.codes) {
      out += "code ";
      AppendField(out, c.code);
      out += ' ';
      AppendField(out, c.label.nl);
      out += ' ';
      AppendField(out, c.label.en);
      out += c.is_total ? " 1\n" : " 0\n";
    }
  }
  for (const ReleasedCell& cell : release.cells) {
    out += "cell ";
    for (std::size_t i = 0; i < cell.coordinates.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(cell.coordinates[i]);
    }
    out += ' ';
    out += std::to_string(cell.statistic);
    if (cell.status == disclosure::CellStatus::kReleased && cell.value.has_value()) {
      out += " R";
      out += std::to_string(*cell.value);
    } else {
      out += " C";
    }
    out += '\n';
  }
  return out;
}

}  // namespace enclave::core
