// Loads policies/ from protobuf text format: all files parse and validate, or nothing loads.
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/adapters/policy_files/access_files.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "enclave/crypto/sha256.h"
#include "enclave/disclosure/rule_set.h"
#include "enclave/templates/validate.h"
#include "enclave/v1/policy.pb.h"

namespace enclave::adapters::policy_files {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
namespace v1p = enclave::v1::policy;
using templates::Template;

// Problems of the whole load, each "FILE:LINE:COLUMN: problem".
class Problems {
 public:
  void Add(const std::string& file, int line, int column, const std::string& message) {
    list_.push_back(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                    message);
  }
  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  std::string Joined() const {
    std::string out;
    for (const std::string& p : list_) {
      if (!out.empty()) out += '\n';
      out += p;
    }
    return out;
  }

 private:
  std::vector<std::string> list_;
};

// One-based position in a file.
struct Pos {
  int line = 1;
  int column = 1;
};

Pos FromParse(const pb::TextFormat::ParseLocation& loc) {
  if (loc.line < 0) return Pos{};
  return Pos{loc.line + 1, loc.column + 1};
}

class Collector final : public pb::io::ErrorCollector {
 public:
  Collector(std::string file, Problems* problems) : file_(std::move(file)), problems_(problems) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    problems_->Add(file_, line + 1, column + 1, message);
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    problems_->Add(file_, line + 1, column + 1, message);
  }

 private:
  std::string file_;
  Problems* problems_;
};

// A policy file read and parsed, with its name for messages and where each field was.
template <typename Msg>
struct Parsed {
  std::string display;  // e.g. "policies/templates/t1.textproto"
  std::string bytes;
  Msg msg;
  pb::TextFormat::ParseInfoTree tree;
};

bool ReadWholeFile(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return false;
  *out = std::move(buffer).str();
  return true;
}

template <typename Msg>
bool ParseFile(const fs::path& path, const std::string& display, Parsed<Msg>* parsed,
               Problems* problems) {
  parsed->display = display;
  if (!ReadWholeFile(path, &parsed->bytes)) {
    problems->Add(display, 1, 1, "cannot read the file");
    return false;
  }
  Collector collector(display, problems);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&parsed->tree);
  const std::size_t before = problems->size();
  bool ok = parser.ParseFromString(parsed->bytes, &parsed->msg);
  if (!ok && problems->size() == before) problems->Add(display, 1, 1, "cannot parse the file");
  return ok;
}

// The *.textproto files of a folder, sorted by name; an absent folder has none.
std::vector<fs::path> ListTextprotos(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".textproto" && it->is_regular_file(ec)) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

// Location of `field` (index -1 for a singular field) within `tree`, if the file set it.
std::optional<Pos> FindFieldPos(const pb::TextFormat::ParseInfoTree* tree,
                                const pb::Descriptor* type, const std::string& name, int index) {
  if (tree == nullptr || type == nullptr) return std::nullopt;
  const pb::FieldDescriptor* field = type->FindFieldByName(name);
  if (field == nullptr) return std::nullopt;
  if (field->is_repeated() && index < 0) index = 0;
  if (!field->is_repeated()) index = -1;
  const pb::TextFormat::ParseLocation loc = tree->GetLocation(field, index);
  if (loc.line < 0) return std::nullopt;
  return FromParse(loc);
}

Pos FieldPos(const pb::TextFormat::ParseInfoTree* tree, const pb::Descriptor* type,
             const std::string& name, int index) {
  return FindFieldPos(tree, type, name, index).value_or(Pos{});
}

// Where a templates::Validate field path ("parameter[year].max", "statistic[2].flag",
// "disclosure.min_units", "sql") points in the TemplateFile.
Pos TemplateFieldPos(const Parsed<v1p::TemplateFile>& file, const std::string& path) {
  std::string head = path;
  std::string key;
  std::string sub;
  if (std::size_t open = head.find('['); open != std::string::npos) {
    std::size_t close = head.find(']', open);
    if (close != std::string::npos) {
      key = head.substr(open + 1, close - open - 1);
      if (close + 1 < head.size() && head[close + 1] == '.') sub = head.substr(close + 2);
      head = head.substr(0, open);
    }
  } else if (std::size_t dot = head.find('.'); dot != std::string::npos) {
    sub = head.substr(dot + 1);
    head = head.substr(0, dot);
  }
  const pb::Descriptor* type = v1p::TemplateFile::descriptor();
  const pb::FieldDescriptor* field = type->FindFieldByName(head);
  if (field == nullptr) return Pos{};
  int index = field->is_repeated() ? 0 : -1;
  if (!key.empty() && field->is_repeated()) {
    if (head == "parameter") {
      for (int i = 0; i < file.msg.parameter_size(); ++i) {
        if (file.msg.parameter(i).name() == key) index = i;
      }
    } else if (head == "dimension") {
      for (int i = 0; i < file.msg.dimension_size(); ++i) {
        if (file.msg.dimension(i).name() == key) index = i;
      }
    } else {
      int parsed = 0;
      auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), parsed);
      if (ec == std::errc() && ptr == key.data() + key.size()) index = parsed;
    }
  }
  std::optional<Pos> whole = FindFieldPos(&file.tree, type, head, index);
  if (!whole.has_value()) return Pos{};
  if (sub.empty() || field->type() != pb::FieldDescriptor::TYPE_MESSAGE) return *whole;
  return FindFieldPos(file.tree.GetTreeForNested(field, index), field->message_type(), sub, -1)
      .value_or(*whole);
}

templates::LocalizedText ToText(const enclave::v1::LocalizedText& t) { return {t.nl(), t.en()}; }

std::vector<templates::Code> ToCodes(
    const pb::RepeatedPtrField<enclave::v1::AllowedValue>& values) {
  std::vector<templates::Code> codes;
  codes.reserve(static_cast<std::size_t>(values.size()));
  for (const auto& v : values) codes.push_back({v.code(), ToText(v.label())});
  return codes;
}

bool ToRole(v1p::Role role, templates::Role* out) {
  switch (role) {
    case v1p::MUNICIPAL_ANALYST:
      *out = templates::Role::kMunicipalAnalyst;
      return true;
    case v1p::RESEARCHER:
      *out = templates::Role::kResearcher;
      return true;
    case v1p::PRIVACY_OFFICER:
      *out = templates::Role::kPrivacyOfficer;
      return true;
    case v1p::DATA_STEWARD:
      *out = templates::Role::kDataSteward;
      return true;
    case v1p::OPERATOR:
      *out = templates::Role::kOperator;
      return true;
    default:
      return false;
  }
}

bool ToKind(v1p::StatisticSpec::Kind kind, templates::StatisticKind* out) {
  using K = v1p::StatisticSpec;
  switch (kind) {
    case K::COUNT:
      *out = templates::StatisticKind::kCount;
      return true;
    case K::SUM:
      *out = templates::StatisticKind::kSum;
      return true;
    case K::MEAN:
      *out = templates::StatisticKind::kMean;
      return true;
    case K::QUANTILE:
      *out = templates::StatisticKind::kQuantile;
      return true;
    case K::SHARE:
      *out = templates::StatisticKind::kShare;
      return true;
    case K::RATIO:
      *out = templates::StatisticKind::kRatio;
      return true;
    case K::SHARE_DIFFERENCE:
      *out = templates::StatisticKind::kShareDifference;
      return true;
    case K::RELATIVE_RISK:
      *out = templates::StatisticKind::kRelativeRisk;
      return true;
    default:
      return false;
  }
}

using CodeLists = std::map<std::string, templates::CodeList>;
using RuleSets = std::map<std::string, disclosure::RuleSetParams>;

void LoadCodeLists(const fs::path& root, const std::string& shown_root, CodeLists* lists,
                   Problems* problems) {
  const pb::Descriptor* file_type = v1p::CodeListFile::descriptor();
  const pb::Descriptor* list_type = v1p::CodeList::descriptor();
  std::map<std::string, std::string> declared_in;
  std::map<std::string, std::pair<std::string, Pos>> hierarchy_at;  // hierarchical lists
  for (const fs::path& path : ListTextprotos(root / "codelists")) {
    Parsed<v1p::CodeListFile> f;
    if (!ParseFile(path, shown_root + "/codelists/" + path.filename().string(), &f, problems)) {
      continue;
    }
    for (int i = 0; i < f.msg.code_list_size(); ++i) {
      const v1p::CodeList& list = f.msg.code_list(i);
      const pb::TextFormat::ParseInfoTree* nested =
          f.tree.GetTreeForNested(file_type->FindFieldByName("code_list"), i);
      Pos at = FromParse(f.tree.GetLocation(file_type->FindFieldByName("code_list"), i));
      if (list.name().empty()) {
        problems->Add(f.display, at.line, at.column, "code_list needs a name");
        continue;
      }
      if (auto it = declared_in.find(list.name()); it != declared_in.end()) {
        Pos n = FieldPos(nested, list_type, "name", -1);
        problems->Add(f.display, n.line, n.column,
                      "code list '" + list.name() + "' is also declared in " + it->second);
        continue;
      }
      declared_in.emplace(list.name(), f.display);
      if (list.code_size() == 0) {
        problems->Add(f.display, at.line, at.column,
                      "code list '" + list.name() + "' must have at least one code");
      }
      std::set<std::string> seen;
      for (int c = 0; c < list.code_size(); ++c) {
        const auto& code = list.code(c);
        Pos cp = FieldPos(nested, list_type, "code", c);
        if (code.code().empty()) {
          problems->Add(f.display, cp.line, cp.column, "a code must not be empty");
        } else if (!seen.insert(code.code()).second) {
          problems->Add(f.display, cp.line, cp.column,
                        "code '" + code.code() + "' is listed more than once");
        }
        if (code.label().nl().empty() || code.label().en().empty()) {
          problems->Add(f.display, cp.line, cp.column,
                        "code '" + code.code() + "' needs a label with nl and en");
        }
      }
      templates::CodeList converted{list.name(), ToCodes(list.code()), {}, {}};
      // The hierarchy (§4.6): every code has exactly one parent, checked against the parent list
      // once every list is loaded.
      if (!list.parent_list().empty() || list.parent_size() > 0) {
        converted.parent_list = list.parent_list();
        std::map<std::string, std::string> parent_of;
        for (int p = 0; p < list.parent_size(); ++p) {
          const v1p::ParentLink& link = list.parent(p);
          Pos pp = FieldPos(nested, list_type, "parent", p);
          if (!seen.contains(link.code())) {
            problems->Add(f.display, pp.line, pp.column,
                          "parent: code '" + link.code() + "' is not a code of list '" +
                              list.name() + "'");
          } else if (link.parent().empty()) {
            problems->Add(f.display, pp.line, pp.column,
                          "parent: code '" + link.code() + "' needs a parent code");
          } else if (!parent_of.emplace(link.code(), link.parent()).second) {
            problems->Add(f.display, pp.line, pp.column,
                          "parent: code '" + link.code() + "' has more than one parent");
          }
        }
        if (list.parent_list().empty()) {
          problems->Add(f.display, at.line, at.column,
                        "code list '" + list.name() + "' declares parents but no parent_list");
        }
        for (const templates::Code& code : converted.codes) {
          auto it = parent_of.find(code.code);
          if (it == parent_of.end()) {
            problems->Add(f.display, at.line, at.column,
                          "code list '" + list.name() + "': code '" + code.code +
                              "' has no parent (every code of a hierarchical list needs one)");
            converted.parents.emplace_back();
          } else {
            converted.parents.push_back(it->second);
          }
        }
        hierarchy_at.emplace(list.name(), std::make_pair(f.display, at));
      }
      (*lists)[list.name()] = std::move(converted);
    }
  }
  for (const auto& [name, where] : hierarchy_at) {
    const templates::CodeList& child = (*lists)[name];
    auto up = lists->find(child.parent_list);
    if (up == lists->end() || child.parent_list == name) {
      problems->Add(where.first, where.second.line, where.second.column,
                    "code list '" + name + "': parent_list '" + child.parent_list +
                        "' is not another code list");
      continue;
    }
    if (!up->second.parent_list.empty()) {
      problems->Add(where.first, where.second.line, where.second.column,
                    "code list '" + name + "': parent_list '" + child.parent_list +
                        "' has a parent itself (one level of hierarchy is supported)");
    }
    std::set<std::string> codes;
    for (const templates::Code& code : up->second.codes) codes.insert(code.code);
    for (std::size_t c = 0; c < child.codes.size(); ++c) {
      if (!child.parents[c].empty() && !codes.contains(child.parents[c])) {
        problems->Add(where.first, where.second.line, where.second.column,
                      "code list '" + name + "': code '" + child.codes[c].code +
                          "' names parent '" + child.parents[c] + "', not a code of '" +
                          child.parent_list + "'");
      }
    }
  }
}

// Where a disclosure::ValidateRuleSet field path ("p_percent", "dominance[1].k_percent",
// "group.max_permille") points in the RuleSetFile: the field if the file set it, else the nearest
// enclosing section the file set, else the file's start.
Pos RuleSetFieldPos(const Parsed<v1p::RuleSetFile>& file, const std::string& path) {
  const pb::TextFormat::ParseInfoTree* tree = &file.tree;
  const pb::Descriptor* type = v1p::RuleSetFile::descriptor();
  Pos best;
  std::size_t begin = 0;
  while (tree != nullptr && type != nullptr && begin <= path.size()) {
    std::size_t dot = path.find('.', begin);
    std::string segment = path.substr(begin, dot == std::string::npos ? std::string::npos
                                                                      : dot - begin);
    int index = -1;
    if (std::size_t open = segment.find('['); open != std::string::npos) {
      int parsed = 0;
      const char* first = segment.data() + open + 1;
      const char* last = segment.data() + segment.size() - 1;
      if (std::from_chars(first, last, parsed).ec == std::errc()) index = parsed;
      segment.resize(open);
    }
    std::optional<Pos> here = FindFieldPos(tree, type, segment, index);
    if (!here) break;
    best = *here;
    if (dot == std::string::npos) break;
    const pb::FieldDescriptor* field = type->FindFieldByName(segment);
    if (field == nullptr || field->message_type() == nullptr) break;
    tree = tree->GetTreeForNested(field, field->is_repeated() ? std::max(index, 0) : -1);
    type = field->message_type();
    begin = dot + 1;
  }
  return best;
}

// RuleSetFile -> RuleSetParams. A section or value the file leaves out keeps the CBS default of
// RuleSetParams; what the file states is validated by disclosure::ValidateRuleSet.
disclosure::RuleSetParams ToRuleSetParams(const v1p::RuleSetFile& r, bool* method_unspecified) {
  disclosure::RuleSetParams params;
  params.id = r.id();
  params.version = r.version();
  params.min_units = r.min_units();
  params.min_share_denominator = r.min_share_denominator();
  if (r.dominance_size() > 0) {
    params.dominance.clear();
    for (const auto& d : r.dominance()) {
      params.dominance.push_back(disclosure::NkRule{d.n(), d.k_percent()});
    }
  }
  if (r.has_p_percent()) params.p_percent = r.p_percent();
  if (r.has_p_coalition()) params.p_coalition = r.p_coalition();
  if (r.has_income()) {
    const auto& in = r.income();
    if (in.has_enabled()) params.income_rule = in.enabled();
    if (in.has_min_units()) params.income_min_units = in.min_units();
    if (in.has_max_extreme_percent()) params.income_max_extreme_percent = in.max_extreme_percent();
  }
  if (r.has_group()) {
    const auto& g = r.group();
    if (g.has_max_permille()) params.group_max_permille = g.max_permille();
    if (g.has_sensitive_zeros_unsafe()) params.sensitive_zeros_unsafe = g.sensitive_zeros_unsafe();
  }
  if (r.has_model_min_residual_df()) params.model_min_residual_df = r.model_min_residual_df();
  if (r.has_decomposition_quota()) params.decomposition_quota = r.decomposition_quota();
  if (r.has_precision()) {
    const auto& p = r.precision();
    if (p.has_sum()) params.sum_precision = p.sum();
    if (p.has_mean()) params.mean_precision = p.mean();
    if (p.has_quantile()) params.quantile_precision = p.quantile();
  }
  *method_unspecified = false;
  if (r.has_count_perturbation()) {
    using M = v1p::RuleSetFile::CountPerturbation;
    const auto& c = r.count_perturbation();
    switch (c.method()) {
      case M::NONE:
        params.count_perturbation = disclosure::CountPerturbation::kNone;
        break;
      case M::RANDOM_ROUNDING:
        params.count_perturbation = disclosure::CountPerturbation::kRandomRounding;
        break;
      case M::PTABLE:
        params.count_perturbation = disclosure::CountPerturbation::kPtable;
        break;
      default:
        *method_unspecified = true;
        break;
    }
    if (c.has_rounding_base()) params.rounding_base = c.rounding_base();
    if (c.has_max_deviation()) params.ptable_max_deviation = c.max_deviation();
    if (c.has_variance_permille()) params.ptable_variance_permille = c.variance_permille();
    if (c.has_js()) params.ptable_js = c.js();
  }
  return params;
}

void LoadRuleSets(const fs::path& root, const std::string& shown_root, RuleSets* rule_sets,
                  Problems* problems) {
  std::map<std::string, std::string> declared_in;
  for (const fs::path& path : ListTextprotos(root / "disclosure")) {
    Parsed<v1p::RuleSetFile> f;
    if (!ParseFile(path, shown_root + "/disclosure/" + path.filename().string(), &f, problems)) {
      continue;
    }
    const v1p::RuleSetFile& r = f.msg;
    bool ok = true;
    auto fail = [&](const std::string& field, const std::string& message) {
      Pos p = RuleSetFieldPos(f, field);
      problems->Add(f.display, p.line, p.column, field + ": " + message);
      ok = false;
    };
    bool method_unspecified = false;
    disclosure::RuleSetParams params = ToRuleSetParams(r, &method_unspecified);
    if (method_unspecified) {
      fail("count_perturbation.method", "must be NONE, RANDOM_ROUNDING or PTABLE");
    }
    for (const disclosure::RuleSetProblem& problem : disclosure::ValidateRuleSet(params)) {
      fail(problem.field, problem.message);
    }
    if (!r.id().empty()) {
      if (auto it = declared_in.find(r.id()); it != declared_in.end()) {
        fail("id", "rule set '" + r.id() + "' is also declared in " + it->second);
      } else {
        declared_in.emplace(r.id(), f.display);
      }
    }
    if (!ok) continue;
    (*rule_sets)[r.id()] = std::move(params);
  }
}

// Converts a parsed TemplateFile; returns false (with problems added) if it references unknown
// code lists or rule sets or has unspecified enums.
bool ConvertTemplate(const Parsed<v1p::TemplateFile>& f, const CodeLists& lists,
                     const RuleSets& rule_sets, Template* t, Problems* problems) {
  const v1p::TemplateFile& m = f.msg;
  bool ok = true;
  auto fail = [&](const std::string& field_path, const std::string& message) {
    Pos p = TemplateFieldPos(f, field_path);
    problems->Add(f.display, p.line, p.column, message);
    ok = false;
  };
  t->id = m.id();
  t->version = m.version();
  t->author = m.author();
  t->theme = m.theme();
  t->title = ToText(m.title());
  t->description = ToText(m.description());
  for (int i = 0; i < m.roles_size(); ++i) {
    templates::Role role{};
    if (!ToRole(m.roles(i), &role)) {
      fail("roles", "roles must be MUNICIPAL_ANALYST, RESEARCHER, PRIVACY_OFFICER, DATA_STEWARD "
                    "or OPERATOR");
      continue;
    }
    t->roles.push_back(role);
  }
  t->unit = m.unit();
  for (const v1p::ParameterSpec& p : m.parameter()) {
    const std::string field = "parameter[" + p.name() + "]";
    templates::ParamSpec spec;
    spec.name = p.name();
    spec.description = ToText(p.description());
    spec.min = p.min();
    spec.max = p.max();
    switch (p.type()) {
      case v1p::ParameterSpec::INTEGER:
        spec.type = templates::ParamType::kInteger;
        break;
      case v1p::ParameterSpec::CODE:
        spec.type = templates::ParamType::kCode;
        break;
      case v1p::ParameterSpec::BREAKDOWN:
        spec.type = templates::ParamType::kBreakdown;
        break;
      default:
        fail(field + ".type", "parameter '" + p.name() + "': type must be INTEGER, CODE or BREAKDOWN");
        break;
    }
    spec.allowed = ToCodes(p.allowed());
    if (!p.allowed_code_list().empty()) {
      if (p.allowed_size() > 0) {
        fail(field + ".allowed_code_list",
             "parameter '" + p.name() + "': set either allowed or allowed_code_list, not both");
      } else if (auto it = lists.find(p.allowed_code_list()); it == lists.end()) {
        fail(field + ".allowed_code_list", "parameter '" + p.name() + "': unknown code list '" +
                                               p.allowed_code_list() + "'");
      } else {
        spec.allowed = it->second.codes;
      }
    }
    if (!p.default_value().empty()) spec.default_value = p.default_value();
    t->params.push_back(std::move(spec));
  }
  for (const v1p::DimensionSpec& d : m.dimension()) {
    templates::Dimension dim;
    dim.name = d.name();
    dim.label = ToText(d.label());
    dim.column = d.column();
    dim.multi_valued = d.multi_valued();
    if (d.code_list().empty()) {
      fail("dimension[" + d.name() + "]",
           "dimension '" + d.name() + "': code_list must name a code list (a closed domain)");
    } else if (auto it = lists.find(d.code_list()); it == lists.end()) {
      fail("dimension[" + d.name() + "].code_list",
           "dimension '" + d.name() + "': unknown code list '" + d.code_list() + "'");
    } else {
      dim.codes = it->second;
    }
    t->dimensions.push_back(std::move(dim));
  }
  t->fixed_dimensions.assign(m.fixed_dimension().begin(), m.fixed_dimension().end());
  t->sql = m.sql();
  t->unit_column = m.unit_column();
  t->measure_column = m.measure_column();
  t->flag_columns.assign(m.flag_column().begin(), m.flag_column().end());
  for (int i = 0; i < m.statistic_size(); ++i) {
    const v1p::StatisticSpec& s = m.statistic(i);
    templates::Statistic stat;
    stat.name = s.name();
    if (!ToKind(s.kind(), &stat.kind)) {
      fail("statistic[" + std::to_string(i) + "].kind",
           "statistic '" + s.name() +
               "': kind must be COUNT, SUM, MEAN, QUANTILE, SHARE, RATIO, RELATIVE_RISK or "
               "SHARE_DIFFERENCE");
    }
    stat.label = ToText(s.label());
    stat.flag = s.flag();
    stat.denominator_flag = s.denominator_flag();
    stat.quantile_permille = s.quantile_permille();
    stat.precision = s.precision() == 0 ? 1 : s.precision();  // proto3: unset reads 0
    stat.minuend = s.minuend();
    stat.subtrahend = s.subtrahend();
    stat.bound = s.bound() == v1p::StatisticSpec::LOWER_95   ? templates::DifferenceBound::kLower95
                 : s.bound() == v1p::StatisticSpec::UPPER_95 ? templates::DifferenceBound::kUpper95
                                                             : templates::DifferenceBound::kEstimate;
    stat.per = s.per() == 0 ? 100 : s.per();
    stat.reference_dimensions.assign(s.reference_dimension().begin(), s.reference_dimension().end());
    t->statistics.push_back(std::move(stat));
  }
  const v1p::DisclosureSpec& ds = m.disclosure();
  t->disclosure.rule_set = ds.rule_set().empty() ? std::string("cbs-default") : ds.rule_set();
  auto rs = rule_sets.find(t->disclosure.rule_set);
  if (rs == rule_sets.end()) {
    fail("disclosure.rule_set", "unknown rule set '" + t->disclosure.rule_set + "'");
    return false;
  }
  t->disclosure.min_units = ds.min_units() == 0 ? rs->second.min_units : ds.min_units();
  t->disclosure.min_share_denominator = ds.min_share_denominator() == 0
                                            ? rs->second.min_share_denominator
                                            : ds.min_share_denominator();
  t->disclosure.holding_column = ds.holding_column();
  for (const v1p::SensitiveCategorySpec& c : ds.sensitive()) {
    t->disclosure.sensitive.push_back({c.dimension(), c.code(), c.flag()});
  }
  for (const v1p::StructuralZeroSpec& z : ds.structural_zero()) {
    templates::StructuralZero zero;
    for (const v1p::DimensionCode& c : z.code()) zero.codes.emplace_back(c.dimension(), c.code());
    t->disclosure.structural_zeros.push_back(std::move(zero));
  }
  for (const v1p::SensitiveDimensionSpec& d : ds.sensitive_dimension()) {
    t->disclosure.sensitive_dimensions.push_back({d.dimension(), d.flag(), d.none_code()});
  }
  t->disclosure.max_partitions = ds.max_partitions();
  t->disclosure.threshold_entity = ds.threshold_entity();
  if (t->disclosure.min_units < rs->second.min_units) {
    fail("disclosure.min_units", "disclosure.min_units must be at least the rule set's " +
                                     std::to_string(rs->second.min_units));
  }
  if (t->disclosure.min_share_denominator < rs->second.min_share_denominator) {
    fail("disclosure.min_share_denominator",
         "disclosure.min_share_denominator must be at least the rule set's " +
             std::to_string(rs->second.min_share_denominator));
  }
  if (m.has_dp()) {
    const v1p::DifferentialPrivacySpec& d = m.dp();
    templates::DpSettings dp;
    switch (d.mechanism()) {
      case v1p::DifferentialPrivacySpec::DISCRETE_LAPLACE:
        dp.mechanism = templates::DpSettings::Mechanism::kDiscreteLaplace;
        break;
      case v1p::DifferentialPrivacySpec::DISCRETE_GAUSSIAN:
        dp.mechanism = templates::DpSettings::Mechanism::kDiscreteGaussian;
        break;
      default:
        fail("dp.mechanism", "dp.mechanism must be DISCRETE_LAPLACE or DISCRETE_GAUSSIAN");
    }
    dp.epsilon_micro = d.epsilon_micro();
    dp.rho_micro = d.rho_micro();
    dp.max_cells_per_unit = d.has_max_cells_per_unit() ? d.max_cells_per_unit() : 1;
    dp.clamp_min = d.clamp_min();
    dp.clamp_max = d.clamp_max();
    dp.display_threshold = d.has_display_threshold() ? d.display_threshold() : 10;
    dp.cells_public = d.has_cells_public() ? d.cells_public() : true;
    dp.min_units = d.has_min_units() ? d.min_units() : 10;
    dp.selection_epsilon_micro = d.selection_epsilon_micro();
    dp.delta_exponent = d.has_delta_exponent() ? d.delta_exponent() : 8;
    t->dp = dp;
  }
  return ok;
}

void LoadTemplates(const fs::path& root, const std::string& shown_root, const CodeLists& lists,
                   const RuleSets& rule_sets, core::MicrodataSource* source,
                   std::vector<Template>* out, Problems* problems) {
  std::map<std::string, std::string> declared_in;
  for (const fs::path& path : ListTextprotos(root / "templates")) {
    Parsed<v1p::TemplateFile> f;
    if (!ParseFile(path, shown_root + "/templates/" + path.filename().string(), &f, problems)) {
      continue;
    }
    Template t;
    bool ok = ConvertTemplate(f, lists, rule_sets, &t, problems);
    t.source_file = f.display;
    t.text_sha256 = crypto::Sha256Hex(f.bytes);
    for (const templates::TemplateProblem& p : templates::Validate(t)) {
      Pos at = TemplateFieldPos(f, p.field);
      problems->Add(f.display, at.line, at.column, p.field + ": " + p.message);
      ok = false;
    }
    if (!t.id.empty()) {
      if (auto it = declared_in.find(t.id); it != declared_in.end()) {
        Pos at = TemplateFieldPos(f, "id");
        problems->Add(f.display, at.line, at.column,
                      "template id '" + t.id + "' is also declared in " + it->second);
        ok = false;
      } else {
        declared_in.emplace(t.id, f.display);
      }
    }
    if (ok && source != nullptr) {
      if (absl::Status s = source->CheckTemplate(t); !s.ok()) {
        Pos at = TemplateFieldPos(f, "sql");
        problems->Add(f.display, at.line, at.column, std::string(s.message()));
        ok = false;
      }
    }
    if (ok) out->push_back(std::move(t));
  }
}

std::shared_ptr<const policy::PrincipalDirectory> LoadPrincipals(const fs::path& root,
                                                                 const std::string& shown_root,
                                                                 Problems* problems) {
  const std::string display = shown_root + "/access/principals.textproto";
  std::error_code ec;
  if (!fs::is_regular_file(root / "access" / "principals.textproto", ec)) {
    problems->Add(display, 1, 1, "file is missing: every enclave needs its principals");
    return nullptr;
  }
  Parsed<v1p::PrincipalsFile> f;
  if (!ParseFile(root / "access" / "principals.textproto", display, &f, problems)) return nullptr;
  const pb::Descriptor* file_type = v1p::PrincipalsFile::descriptor();
  const pb::FieldDescriptor* principal_field = file_type->FindFieldByName("principal");
  std::vector<policy::Principal> principals;
  bool ok = true;
  for (int i = 0; i < f.msg.principal_size(); ++i) {
    const v1p::Principal& p = f.msg.principal(i);
    policy::Principal out;
    out.id = p.id();
    out.display_name = p.display_name();
    out.organisation = p.organisation();
    out.projects.assign(p.project().begin(), p.project().end());
    out.limits.queries_per_minute = std::max(0, p.queries_per_minute());
    out.limits.max_concurrent = std::max(0, p.max_concurrent_queries());
    if (!ToRole(p.role(), &out.role)) {
      Pos at = FindFieldPos(f.tree.GetTreeForNested(principal_field, i),
                            v1p::Principal::descriptor(), "role", -1)
                   .value_or(FromParse(f.tree.GetLocation(principal_field, i)));
      problems->Add(display, at.line, at.column,
                    "principal '" + p.id() + "': role must be MUNICIPAL_ANALYST, RESEARCHER, "
                    "PRIVACY_OFFICER, DATA_STEWARD or OPERATOR");
      ok = false;
    }
    principals.push_back(std::move(out));
  }
  if (!ok) return nullptr;
  absl::StatusOr<policy::PrincipalDirectory> dir =
      policy::PrincipalDirectory::Create(std::move(principals));
  if (!dir.ok()) {
    problems->Add(display, 1, 1, std::string(dir.status().message()));
    return nullptr;
  }
  return std::make_shared<const policy::PrincipalDirectory>(*std::move(dir));
}

}  // namespace

absl::StatusOr<LoadedPolicies> LoadPolicies(const std::string& policies_dir,
                                            core::MicrodataSource* source) {
  fs::path root = fs::path(policies_dir).lexically_normal();
  if (root.filename().empty()) root = root.parent_path();
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return absl::InvalidArgumentError("policies directory not found");
  }
  std::string shown_root = root.filename().string();
  if (shown_root.empty() || shown_root == ".") shown_root = "policies";

  Problems problems;
  CodeLists lists;
  LoadCodeLists(root, shown_root, &lists, &problems);
  RuleSets rule_sets;
  LoadRuleSets(root, shown_root, &rule_sets, &problems);
  auto catalog = std::make_shared<core::TemplateCatalog>();
  LoadTemplates(root, shown_root, lists, rule_sets, source, &catalog->templates, &problems);
  std::shared_ptr<const policy::PrincipalDirectory> principals =
      LoadPrincipals(root, shown_root, &problems);
  if (!problems.empty()) return absl::InvalidArgumentError(problems.Joined());

  std::sort(catalog->templates.begin(), catalog->templates.end(),
            [](const Template& a, const Template& b) { return a.id < b.id; });
  // The differencing guard compares the populations of every cell-key template over one unit
  // type in one history, counted in their threshold entity (disclosure-control.md §6.1): a
  // template counting units beside one counting enterprises would be guarded apart from it.
  std::map<std::string, const Template*> entity_of_unit;
  for (const Template& t : catalog->templates) {
    if (t.dp.has_value()) continue;
    auto [at, fresh] = entity_of_unit.emplace(t.unit, &t);
    if (!fresh && at->second->disclosure.threshold_entity != t.disclosure.threshold_entity) {
      return absl::InvalidArgumentError(
          "templates '" + at->second->id + "' and '" + t.id + "' release units of type '" + t.unit +
          "', which one differencing guard compares, but declare different "
          "disclosure.threshold_entity ('" + at->second->disclosure.threshold_entity + "' and '" +
          t.disclosure.threshold_entity + "'): declare the same entity in both");
    }
  }
  catalog->rule_sets = std::move(rule_sets);
  LoadedPolicies loaded;
  loaded.catalog = std::move(catalog);
  loaded.principals = std::move(principals);
  AgreementPositions agreement_positions;  // FILE:LINE:COLUMN in the messages below
  absl::StatusOr<std::shared_ptr<const policy::AgreementBook>> agreements =
      LoadAgreements(root.string(), &agreement_positions);
  if (!agreements.ok()) return agreements.status();
  // A DP budget bounds nothing if the same researcher can ask the same population through an SDC
  // template for free (disclosure-control.md §7.1): such agreements stop the start.
  if (absl::Status s = CheckDpSeparation(loaded.catalog->templates, *loaded.principals,
                                         **agreements, &agreement_positions);
      !s.ok()) {
    return s;
  }
  loaded.agreements = *std::move(agreements);
  return loaded;
}

}  // namespace enclave::adapters::policy_files
