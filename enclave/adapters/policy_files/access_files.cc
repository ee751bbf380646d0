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

absl::StatusOr<std::shared_ptr<const policy::AgreementBook>> LoadAgreements(
    const std::string& policies_dir) {
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
  if (absl::Status s = ParseText(*text, display, &file); !s.ok()) return s;

  std::vector<policy::Agreement> agreements;
  for (const v1p::Agreement& a : file.agreement()) {
    policy::Agreement out;
    out.id = a.id();
    out.organisation = a.organisation();
    out.project = a.project();
    if (!ParseDay(a.valid_from(), &out.valid_from) ||
        !ParseDay(a.valid_until(), &out.valid_until)) {
      return absl::InvalidArgumentError(display + ": agreement '" + a.id() +
                                        "': valid_from and valid_until must be dates YYYY-MM-DD");
    }
    out.templates.assign(a.template_().begin(), a.template_().end());
    out.datasets.assign(a.dataset().begin(), a.dataset().end());
    out.budget_micro = a.budget_micro();
    out.suspended = a.suspended();
    out.suspension_reason = a.suspension_reason();
    agreements.push_back(std::move(out));
  }
  std::map<std::string, std::int64_t> caps;
  for (const v1p::ProjectBudget& p : file.project()) {
    if (!caps.emplace(p.project(), p.cap_micro()).second) {
      return absl::InvalidArgumentError(display + ": project '" + p.project() +
                                        "' has more than one budget");
    }
  }
  const std::int64_t data_cap = file.data_version_cap_micro() == 0
                                    ? policy::kDefaultDataVersionCapMicro
                                    : file.data_version_cap_micro();
  absl::StatusOr<policy::AgreementBook> book =
      policy::AgreementBook::Create(std::move(agreements), std::move(caps), data_cap);
  if (!book.ok()) {
    return absl::InvalidArgumentError(display + ": " + std::string(book.status().message()));
  }
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
                               const policy::AgreementBook& agreements) {
  std::map<std::string, const templates::Template*> by_id;
  for (const templates::Template& t : templates) by_id.emplace(t.id, &t);

  // An agreement naming a template that is not loaded is a mistake in the file (a typo, or a
  // template removed without amending the agreement), not something to ignore.
  std::string unknown;
  for (const policy::Agreement* a : agreements.All()) {
    for (const std::string& id : a->templates) {
      if (by_id.count(id) != 0) continue;
      unknown += "\n  agreement " + a->id + " names template '" + id.substr(0, 64) +
                 "', which is not loaded";
    }
  }
  if (!unknown.empty()) {
    std::string known;
    for (const auto& [id, t] : by_id) known += (known.empty() ? "" : ", ") + id;
    return absl::InvalidArgumentError(
        "policies/access/agreements.textproto: an agreement may only name loaded templates (" + known +
        "):" + unknown);
  }

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
      problems += std::string("policies/") + kAgreementsFile + ": " + g.label + g.verb +
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
