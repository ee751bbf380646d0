#include "enclave/adapters/policy_files/access_files.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "enclave/base/log.h"
#include "enclave/v1/policy.pb.h"

namespace enclave::adapters::policy_files {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
namespace v1p = enclave::v1::policy;

class FirstError final : public pb::io::ErrorCollector {
 public:
  explicit FirstError(std::string file) : file_(std::move(file)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (first_.empty()) {
      first_ = absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message);
      line_ = line + 1;
    }
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);
  }
  const std::string& first() const { return first_; }
  int line() const { return line_; }

 private:
  std::string file_;
  std::string first_;
  int line_ = 0;
};

template <typename Msg>
absl::Status ParseText(const std::string& text, const std::string& display, Msg* msg) {
  FirstError errors(display);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, msg)) {
    return absl::InvalidArgumentError(errors.first().empty() ? display + ": cannot parse the file"
                                                             : errors.first());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const fs::path& path, const std::string& display) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(display + ": cannot read the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(display + ": cannot read the file");
  return std::move(buffer).str();
}

bool ParseDay(const std::string& text, absl::CivilDay* day) {
  if (text.size() != 10) return false;
  return absl::ParseCivilTime(text, day);
}

bool IsHex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

}  // namespace

std::string AgreementPositions::Prefix(const std::string& agreement_id) const {
  Pos at;
  if (auto it = agreement.find(agreement_id); it != agreement.end()) at = it->second;
  return absl::StrCat("policies/", kAgreementsFile, ":", at.line, ":", at.column, ": ");
}

namespace {

using Pos = AgreementPositions::Pos;

Pos PosOf(const pb::TextFormat::ParseLocation& loc) {
  if (loc.line < 0) return Pos{};
  return Pos{loc.line + 1, loc.column + 1};
}

// Where `name` (index -1: singular) is in `tree`, else `fallback`.
Pos FieldPos(const pb::TextFormat::ParseInfoTree* tree, const pb::Descriptor* type,
             const char* name, int index, Pos fallback) {
  if (tree == nullptr) return fallback;
  const pb::FieldDescriptor* field = type->FindFieldByName(name);
  if (field == nullptr) return fallback;
  const pb::TextFormat::ParseLocation loc = tree->GetLocation(field, index);
  return loc.line < 0 ? fallback : PosOf(loc);
}

absl::Status AtPos(const std::string& display, Pos at, const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat(display, ":", at.line, ":", at.column, ": ", message));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const policy::AgreementBook>> LoadAgreements(
    const std::string& policies_dir, AgreementPositions* positions) {
  const fs::path path = fs::path(policies_dir) / kAgreementsFile;
  const std::string display = std::string("policies/") + kAgreementsFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    auto empty = policy::AgreementBook::Create({}, {}, policy::kDefaultDataVersionCapMicro);
    if (!empty.ok()) return empty.status();
    return std::make_shared<const policy::AgreementBook>(*std::move(empty));
  }
  absl::StatusOr<std::string> text = ReadFile(path, display);
  if (!text.ok()) return text.status();
  v1p::AgreementsFile file;
  pb::TextFormat::ParseInfoTree tree;
  {
    FirstError errors(display);
    pb::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(*text, &file)) {
      return absl::InvalidArgumentError(errors.first().empty()
                                            ? display + ":1:1: cannot parse the file"
                                            : errors.first());
    }
  }
  const pb::Descriptor* file_type = v1p::AgreementsFile::descriptor();
  const pb::Descriptor* agreement_type = v1p::Agreement::descriptor();
  const pb::FieldDescriptor* agreement_field = file_type->FindFieldByName("agreement");
  const pb::FieldDescriptor* project_field = file_type->FindFieldByName("project");

  // Each rule of AgreementBook::Create is checked on the one entry it is about, so the message
  // points at it: the data-version cap, each project budget, then each agreement alone.
  const std::int64_t data_cap = file.data_version_cap_micro() == 0
                                    ? policy::kDefaultDataVersionCapMicro
                                    : file.data_version_cap_micro();
  if (absl::StatusOr<policy::AgreementBook> alone = policy::AgreementBook::Create({}, {}, data_cap);
      !alone.ok()) {
    return AtPos(display, FieldPos(&tree, file_type, "data_version_cap_micro", -1, Pos{}),
                 std::string(alone.status().message()));
  }
  std::map<std::string, std::int64_t> caps;
  for (int j = 0; j < file.project_size(); ++j) {
    const v1p::ProjectBudget& p = file.project(j);
    const Pos at = PosOf(tree.GetLocation(project_field, j));
    if (!caps.emplace(p.project(), p.cap_micro()).second) {
      return AtPos(display, at, "project '" + p.project() + "' has more than one budget");
    }
    if (absl::StatusOr<policy::AgreementBook> alone =
            policy::AgreementBook::Create({}, {{p.project(), p.cap_micro()}}, data_cap);
        !alone.ok()) {
      return AtPos(display, at, std::string(alone.status().message()));
    }
  }

  AgreementPositions where;
  std::vector<policy::Agreement> agreements;
  for (int i = 0; i < file.agreement_size(); ++i) {
    const v1p::Agreement& a = file.agreement(i);
    const Pos at = PosOf(tree.GetLocation(agreement_field, i));
    const pb::TextFormat::ParseInfoTree* nested = tree.GetTreeForNested(agreement_field, i);
    if (!where.agreement.emplace(a.id(), at).second) {
      return AtPos(display, at, "agreement '" + a.id() + "' is listed more than once");
    }
    policy::Agreement out;
    out.id = a.id();
    out.organisation = a.organisation();
    out.project = a.project();
    if (!ParseDay(a.valid_from(), &out.valid_from)) {
      return AtPos(display, FieldPos(nested, agreement_type, "valid_from", -1, at),
                   "agreement '" + a.id() + "': valid_from must be a date YYYY-MM-DD");
    }
    if (!ParseDay(a.valid_until(), &out.valid_until)) {
      return AtPos(display, FieldPos(nested, agreement_type, "valid_until", -1, at),
                   "agreement '" + a.id() + "': valid_until must be a date YYYY-MM-DD");
    }
    out.templates.assign(a.template_().begin(), a.template_().end());
    out.datasets.assign(a.dataset().begin(), a.dataset().end());
    out.budget_micro = a.budget_micro();
    out.suspended = a.suspended();
    out.suspension_reason = a.suspension_reason();
    for (int k = 0; k < a.template__size(); ++k) {
      where.template_entry.emplace(std::make_pair(a.id(), a.template_(k)),
                                   FieldPos(nested, agreement_type, "template", k, at));
    }
    if (absl::StatusOr<policy::AgreementBook> alone =
            policy::AgreementBook::Create({out}, caps, data_cap);
        !alone.ok()) {
      return AtPos(display, at, std::string(alone.status().message()));
    }
    agreements.push_back(std::move(out));
  }
  absl::StatusOr<policy::AgreementBook> book =
      policy::AgreementBook::Create(std::move(agreements), std::move(caps), data_cap);
  if (!book.ok()) {
    return AtPos(display, Pos{}, std::string(book.status().message()));
  }
  if (positions != nullptr) *positions = std::move(where);
  return std::make_shared<const policy::AgreementBook>(*std::move(book));
}

namespace {

// One template an agreement of a group covers.
struct Reach {
  std::string tmpl;
  std::string agreement;
  bool operator<(const Reach& o) const {
    return tmpl != o.tmpl ? tmpl < o.tmpl : agreement < o.agreement;
  }
};

std::string Names(const std::vector<Reach>& reach, bool with_agreement) {
  std::string out;
  for (std::size_t i = 0; i < reach.size(); ++i) {
    if (i > 0) out += ", ";
    out += "'" + reach[i].tmpl + "'";
    if (with_agreement) out += " (agreement " + reach[i].agreement + ")";
  }
  return out;
}

}  // namespace

absl::Status CheckDpSeparation(const std::vector<templates::Template>& templates,
                               const policy::PrincipalDirectory& principals,
                               const policy::AgreementBook& agreements,
                               const AgreementPositions* positions) {
  const std::string file = std::string("policies/") + kAgreementsFile;
  // "FILE:LINE:COLUMN: " at an agreement (or one of its template entries) when positions are
  // known, else "FILE: ".
  auto prefix = [&](const std::string& agreement_id, const std::string* template_id) {
    if (positions == nullptr) return file + ": ";
    if (template_id != nullptr) {
      auto it = positions->template_entry.find({agreement_id, *template_id});
      if (it != positions->template_entry.end()) {
        return absl::StrCat(file, ":", it->second.line, ":", it->second.column, ": ");
      }
    }
    return positions->Prefix(agreement_id);
  };
  std::map<std::string, const templates::Template*> by_id;
  for (const templates::Template& t : templates) by_id.emplace(t.id, &t);

  // An agreement naming a template that is not loaded is a mistake in the file (a typo, or a
  // template removed without amending the agreement), not something to ignore.
  std::string unknown;
  std::string known;
  for (const auto& [id, t] : by_id) known += (known.empty() ? "" : ", ") + id;
  for (const policy::Agreement* a : agreements.All()) {
    for (const std::string& id : a->templates) {
      if (by_id.count(id) != 0) continue;
      if (!unknown.empty()) unknown += '\n';
      unknown += prefix(a->id, &id) + "agreement " + a->id + " names template '" +
                 id.substr(0, 64) + "', which is not loaded; an agreement may only name loaded "
                 "templates (" + known + ")";
    }
  }
  if (!unknown.empty()) return absl::InvalidArgumentError(unknown);

  // The groups whose templates one researcher can combine: each agreement, each project's
  // agreements, each researcher's agreements.
  struct Group {
    std::string label;
    std::vector<const policy::Agreement*> members;
    const char* verb = " cover";
  };
  std::vector<Group> groups;
  std::map<std::string, std::vector<const policy::Agreement*>> by_project;
  for (const policy::Agreement* a : agreements.All()) {
    groups.push_back({"agreement " + a->id, {a}, " covers"});
    by_project[a->project].push_back(a);
  }
  auto ids = [](const std::vector<const policy::Agreement*>& members) {
    std::string out;
    for (const policy::Agreement* a : members) out += (out.empty() ? "" : ", ") + a->id;
    return out;
  };
  for (const auto& [project, members] : by_project) {
    groups.push_back(
        {"the agreements of project " + project + " (" + ids(members) + ")", members, " cover"});
  }
  for (const policy::Principal* p : principals.All()) {
    if (p->role != templates::Role::kResearcher) continue;
    std::vector<const policy::Agreement*> members = agreements.AgreementsOf(*p);
    if (members.empty()) continue;
    groups.push_back({"the agreements of researcher " + p->id + " (" + ids(members) + ")",
                      std::move(members), " cover"});
  }

  std::set<std::string> reported;  // one message per distinct conflict
  std::string problems;
  for (const Group& g : groups) {
    std::map<std::string, std::pair<std::set<Reach>, std::set<Reach>>> by_unit;  // dp, sdc
    for (const policy::Agreement* a : g.members) {
      for (const std::string& id : a->templates) {
        auto it = by_id.find(id);
        if (it == by_id.end()) continue;
        auto& [dp, sdc] = by_unit[it->second->unit];
        (it->second->dp.has_value() ? dp : sdc).insert({id, a->id});
      }
    }
    for (const auto& [unit, reach] : by_unit) {
      if (reach.first.empty() || reach.second.empty()) continue;
      const std::vector<Reach> dp(reach.first.begin(), reach.first.end());
      const std::vector<Reach> sdc(reach.second.begin(), reach.second.end());
      const bool several = g.members.size() > 1;
      std::string key = unit;
      for (const Reach& r : dp) key += "|" + r.tmpl + "@" + r.agreement;
      key += "|/";
      for (const Reach& r : sdc) key += "|" + r.tmpl + "@" + r.agreement;
      if (!reported.insert(key).second) continue;
      if (!problems.empty()) problems += '\n';
      problems += prefix(g.members.front()->id, nullptr) + g.label + g.verb +
                  " the differentially private template" + (dp.size() > 1 ? "s " : " ") +
                  Names(dp, several) + " and the cell-key (SDC) template" +
                  (sdc.size() > 1 ? "s " : " ") + Names(sdc, several) + ", all over unit '" +
                  unit +
                  "': the SDC tables answer the same population more precisely and charge no "
                  "privacy budget, so the budget would bound nothing. An agreement, and all "
                  "agreements of one project or one researcher, may cover DP templates or "
                  "templates without DP of a unit type, not both (disclosure-control.md §7.1): "
                  "give one kind to an agreement of another project and researcher";
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(problems);
}

absl::StatusOr<policy::RevocationList> ParseRevocations(const std::string& text) {
  const std::string display = "revoked.textproto";
  v1p::RevocationsFile file;
  if (absl::Status s = ParseText(text, display, &file); !s.ok()) return s;
  policy::RevocationList list;
  for (int i = 0; i < file.revoked_size(); ++i) {
    const v1p::Revocation& r = file.revoked(i);
    const std::string which = absl::StrCat(display, ": revoked[", i, "]");
    if (r.serial().empty() && r.cert_sha256().empty() && r.principal().empty()) {
      return absl::InvalidArgumentError(which +
                                        " names no serial, cert_sha256 or principal");
    }
    if (!r.serial().empty()) {
      std::string serial = policy::NormalizeSerial(r.serial());
      if (!IsHex(serial)) {
        return absl::InvalidArgumentError(which + ": serial must be hexadecimal");
      }
      list.serials.insert(std::move(serial));
    }
    if (!r.cert_sha256().empty()) {
      std::string digest;
      for (char c : r.cert_sha256()) {
        if (c == ':') continue;
        digest.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
      if (digest.size() != 64 || !IsHex(digest)) {
        return absl::InvalidArgumentError(which + ": cert_sha256 must be 64 hexadecimal digits");
      }
      list.cert_sha256.insert(std::move(digest));
    }
    if (!r.principal().empty()) list.principals.insert(r.principal());
  }
  return list;
}

FileRevocationSource::FileRevocationSource(fs::path path) : path_(std::move(path)) {}

absl::StatusOr<std::shared_ptr<const policy::RevocationList>> FileRevocationSource::Current() {
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  const std::int64_t mtime_ns =
      exists ? static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec
             : 0;
  const std::int64_t size = exists ? static_cast<std::int64_t>(st.st_size) : -1;
  const std::int64_t ino = exists ? static_cast<std::int64_t>(st.st_ino) : 0;

  std::lock_guard<std::mutex> lock(mu_);
  if (loaded_ && exists == existed_ && mtime_ns == mtime_ns_ && size == size_ && ino == ino_) {
    if (!status_.ok()) return status_;
    return list_;
  }
  loaded_ = true;
  mtime_ns_ = mtime_ns;
  size_ = size;
  ino_ = ino;
  if (!exists) {
    if (existed_) {
      status_ = absl::FailedPreconditionError("the revocation list was removed");
      base::LogError("revocation_list_missing", {});
      return status_;
    }
    status_ = absl::OkStatus();
    list_ = std::make_shared<const policy::RevocationList>();
    return list_;
  }
  existed_ = true;
  absl::StatusOr<std::string> text = ReadFile(path_, "revoked.textproto");
  absl::StatusOr<policy::RevocationList> parsed =
      text.ok() ? ParseRevocations(*text) : absl::StatusOr<policy::RevocationList>(text.status());
  if (!parsed.ok()) {
    // Fail closed: every call is refused until the file is fixed. The message names a line and
    // a field, never an entry's value.
    status_ = parsed.status();
    int line = 0;
    const std::string message(parsed.status().message());
    if (std::size_t colon = message.find(':'); colon != std::string::npos) {
      line = std::atoi(message.c_str() + colon + 1);
    }
    base::LogError("revocation_list_malformed",
                   {{"line", base::RowCount{line}},
                    {"action", base::Word("refusing_every_call_until_fixed")}});
    return status_;
  }
  status_ = absl::OkStatus();
  list_ = std::make_shared<const policy::RevocationList>(*std::move(parsed));
  base::LogInfo("revocation_list_loaded",
                {{"serials", base::RowCount{static_cast<std::int64_t>(list_->serials.size())}},
                 {"fingerprints",
                  base::RowCount{static_cast<std::int64_t>(list_->cert_sha256.size())}},
                 {"principals",
                  base::RowCount{static_cast<std::int64_t>(list_->principals.size())}}});
  return list_;
}

}  // namespace enclave::adapters::policy_files
