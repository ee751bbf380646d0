// Four-eyes template approval: the approvers file, approval files, signing and verification.
#include "enclave/adapters/policy_files/approvals.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "enclave/crypto/sha256.h"
#include "enclave/v1/policy.pb.h"

namespace enclave::adapters::policy_files {
namespace {

namespace pb = google::protobuf;
namespace v1p = enclave::v1::policy;

constexpr char kTimeFormat[] = "%Y-%m-%dT%H:%M:%SZ";
// How far in the future an approval's time may lie (clock skew between machines).
constexpr absl::Duration kClockSkew = absl::Minutes(5);

class Collector final : public pb::io::ErrorCollector {
 public:
  explicit Collector(std::string display) : display_(std::move(display)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    problems_.push_back(absl::StrCat(display_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);
  }
  std::vector<std::string>& problems() { return problems_; }

 private:
  std::string display_;
  std::vector<std::string> problems_;
};

template <typename Msg>
absl::Status ParseText(std::string_view text, const std::string& display, Msg* msg,
                       pb::TextFormat::ParseInfoTree* tree) {
  Collector collector(display);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (tree != nullptr) parser.WriteLocationsTo(tree);
  const bool ok = parser.ParseFromString(std::string(text), msg);
  if (ok && collector.problems().empty()) return absl::OkStatus();
  if (collector.problems().empty()) collector.problems().push_back(display + ": cannot parse");
  return absl::InvalidArgumentError(absl::StrJoin(collector.problems(), "\n"));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("error reading ", path));
  return std::move(buffer).str();
}

bool IsKeyId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Fields of the signed message are one line each: no control characters.
bool IsLineText(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<absl::Time> ParseDay(std::string_view text) {
  absl::Time t;
  std::string err;
  if (text.size() != 10 || !absl::ParseTime("%Y-%m-%d", std::string(text), absl::UTCTimeZone(),
                                            &t, &err)) {
    return std::nullopt;
  }
  return t;
}

std::optional<absl::Time> ParseApprovedAt(std::string_view text) {
  absl::Time t;
  std::string err;
  if (text.size() != 20 || text.back() != 'Z' ||
      !absl::ParseTime(kTimeFormat, std::string(text), absl::UTCTimeZone(), &t, &err)) {
    return std::nullopt;
  }
  return t;
}

std::string Where(const pb::TextFormat::ParseInfoTree* tree, const pb::Descriptor* type,
                  const char* field, const std::string& display, int index) {
  int line = 0;
  int column = 0;
  if (tree != nullptr) {
    const pb::FieldDescriptor* f = type->FindFieldByName(field);
    if (f != nullptr) {
      const pb::TextFormat::ParseLocation loc = tree->GetLocation(f, f->is_repeated() ? index : -1);
      line = loc.line;
      column = loc.column;
    }
  }
  return absl::StrCat(display, ":", std::max(line, 0) + 1, ":", std::max(column, 0) + 1, ": ");
}

std::string Describe(const TemplateIdentity& t) {
  return absl::StrCat("template '", t.id, "' version ", t.version,
                      t.display.empty() ? "" : absl::StrCat(" (", t.display, ")"));
}

absl::Status Refuse(const TemplateIdentity& t, const std::string& why) {
  return absl::FailedPreconditionError(absl::StrCat(Describe(t), " is refused: ", why));
}

}  // namespace

const OfficerKey* Approvers::Find(std::string_view key_id) const {
  for (const OfficerKey& k : keys) {
    if (k.key_id == key_id) return &k;
  }
  return nullptr;
}

const OfficerKey* Approvers::FindByPublicKey(std::string_view public_key) const {
  for (const OfficerKey& k : keys) {
    if (k.public_key == public_key) return &k;
  }
  return nullptr;
}

absl::StatusOr<Approvers> ParseApprovers(std::string_view text, const std::string& display) {
  v1p::ApproversFile file;
  pb::TextFormat::ParseInfoTree tree;
  if (absl::Status s = ParseText(text, display, &file, &tree); !s.ok()) return s;
  const pb::Descriptor* file_type = v1p::ApproversFile::descriptor();
  const pb::Descriptor* key_type = v1p::OfficerKey::descriptor();
  const pb::FieldDescriptor* key_field = file_type->FindFieldByName("officer_key");
  std::vector<std::string> problems;
  Approvers approvers;
  std::set<std::string> ids;
  for (int i = 0; i < file.officer_key_size(); ++i) {
    const v1p::OfficerKey& k = file.officer_key(i);
    const pb::TextFormat::ParseInfoTree* nested = tree.GetTreeForNested(key_field, i);
    auto at = [&](const char* field) { return Where(nested, key_type, field, display, -1); };
    OfficerKey key;
    key.key_id = k.key_id();
    key.principal = k.principal();
    key.valid_from_text = k.valid_from();
    key.valid_until_text = k.valid_until();
    bool ok = true;
    auto fail = [&](const char* field, std::string message) {
      problems.push_back(at(field) + message);
      ok = false;
    };
    if (!IsKeyId(k.key_id())) {
      fail("key_id", "officer_key.key_id must be 1 to 64 of [A-Za-z0-9._-]");
    } else if (!ids.insert(k.key_id()).second) {
      fail("key_id", "officer key '" + k.key_id() + "' is listed more than once");
    }
    if (k.principal().empty() || !IsLineText(k.principal())) {
      fail("principal", "officer key '" + k.key_id() +
                            "': principal must be the officer's principal id (URI SAN)");
    }
    absl::StatusOr<std::string> raw = crypto::Ed25519PublicKeyFromPem(
        absl::StrCat("-----BEGIN PUBLIC KEY-----\n", k.public_key(), "\n-----END PUBLIC KEY-----\n"));
    if (!raw.ok()) {
      fail("public_key", "officer key '" + k.key_id() +
                             "': public_key must be the base64 line of an Ed25519 PUBLIC KEY PEM");
    } else {
      key.public_key = *raw;
    }
    std::optional<absl::Time> from = ParseDay(k.valid_from());
    std::optional<absl::Time> until = ParseDay(k.valid_until());
    if (!from) fail("valid_from", "officer key '" + k.key_id() + "': valid_from must be YYYY-MM-DD");
    if (!until) {
      fail("valid_until", "officer key '" + k.key_id() + "': valid_until must be YYYY-MM-DD");
    }
    if (from && until && *until < *from) {
      fail("valid_until", "officer key '" + k.key_id() + "': valid_until is before valid_from");
    }
    if (!ok) continue;
    key.valid_from = *from;
    key.valid_until = *until + absl::Hours(24);
    approvers.keys.push_back(std::move(key));
  }
  if (problems.empty() && approvers.keys.empty()) {
    problems.push_back(display + ":1:1: lists no officer_key: no template could be approved");
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return approvers;
}

absl::StatusOr<Approvers> LoadApprovers(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        "approvers_file: " + std::string(text.status().message()));
  }
  return ParseApprovers(*text, path);
}

absl::StatusOr<std::string> FormatOfficerKey(const crypto::Ed25519PrivateKey& key,
                                             const std::string& key_id,
                                             const std::string& principal,
                                             const std::string& valid_from,
                                             const std::string& valid_until) {
  absl::StatusOr<std::string> pem = key.PublicKeyPem();
  if (!pem.ok()) return pem.status();
  // The base64 body of the PEM (one line for a 44-byte Ed25519 SubjectPublicKeyInfo).
  std::string base64;
  std::istringstream lines(*pem);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.front() != '-') base64 += line;
  }
  if (base64.empty()) return absl::InternalError("cannot encode the officer's public key");
  return absl::StrCat("officer_key {\n  key_id: \"", key_id, "\"\n  principal: \"", principal,
                      "\"\n  public_key: \"", base64, "\"\n  valid_from: \"", valid_from,
                      "\"\n  valid_until: \"", valid_until, "\"\n}\n");
}

std::string ApprovalMessage(const Approval& a) {
  return absl::StrCat(kApprovalDomain, "template_id=", a.template_id, "\n",
                      "version=", a.template_version, "\n", "sha256=", a.template_sha256, "\n",
                      "author=", a.author, "\n", "approver=", a.approver, "\n", "key_id=",
                      a.key_id, "\n", "approved_at=", a.approved_at, "\n");
}

std::string ApprovalFileName(std::string_view template_id) {
  return std::string(template_id) + ".approval.textproto";
}

std::string FormatApproval(const Approval& a) {
  v1p::TemplateApproval m;
  m.set_template_id(a.template_id);
  m.set_template_version(a.template_version);
  m.set_template_sha256(a.template_sha256);
  m.set_author(a.author);
  m.set_approver(a.approver);
  m.set_key_id(a.key_id);
  m.set_approved_at(a.approved_at);
  m.set_signature(absl::Base64Escape(a.signature));
  std::string body;
  pb::TextFormat::PrintToString(m, &body);
  return absl::StrCat(
      "# proto-file: proto/enclave/v1/policy.proto\n"
      "# proto-message: enclave.v1.policy.TemplateApproval\n"
      "# Written by `enclavectl template sign` (docs/privacy-officer.md). Any change voids it.\n",
      body);
}

absl::StatusOr<Approval> ParseApproval(std::string_view text, const std::string& display) {
  v1p::TemplateApproval m;
  if (absl::Status s = ParseText(text, display, &m, nullptr); !s.ok()) return s;
  Approval a;
  a.template_id = m.template_id();
  a.template_version = m.template_version();
  a.template_sha256 = m.template_sha256();
  a.author = m.author();
  a.approver = m.approver();
  a.key_id = m.key_id();
  a.approved_at = m.approved_at();
  for (const std::string* field : {&a.template_id, &a.author, &a.approver, &a.key_id}) {
    if (field->empty() || !IsLineText(*field)) {
      return absl::InvalidArgumentError(
          display + ": template_id, author, approver and key_id must be set, on one line each");
    }
  }
  if (!IsSha256Hex(a.template_sha256)) {
    return absl::InvalidArgumentError(display +
                                      ": template_sha256 must be 64 lower-case hex characters");
  }
  if (!ParseApprovedAt(a.approved_at)) {
    return absl::InvalidArgumentError(display +
                                      ": approved_at must be a UTC time like 2026-11-25T15:04:05Z");
  }
  if (!absl::Base64Unescape(m.signature(), &a.signature) ||
      a.signature.size() != crypto::kEd25519SignatureSize) {
    return absl::InvalidArgumentError(display +
                                      ": signature must be base64 of a 64-byte Ed25519 signature");
  }
  return a;
}

absl::StatusOr<TemplateIdentity> IdentifyTemplate(std::string_view bytes,
                                                  const std::string& display) {
  v1p::TemplateFile m;
  if (absl::Status s = ParseText(bytes, display, &m, nullptr); !s.ok()) return s;
  if (m.id().empty()) return absl::InvalidArgumentError(display + ": the template has no id");
  TemplateIdentity t;
  t.id = m.id();
  t.version = m.version();
  t.author = m.author();
  t.sha256 = crypto::Sha256Hex(bytes);
  t.display = display;
  return t;
}

TemplateIdentity IdentityOf(const templates::Template& t) {
  return TemplateIdentity{t.id, t.version, t.author, t.text_sha256, t.source_file};
}

absl::StatusOr<Approval> SignApproval(const TemplateIdentity& identity,
                                      const crypto::Ed25519PrivateKey& key,
                                      const Approvers& approvers, absl::Time now) {
  if (identity.author.empty() || !IsLineText(identity.author)) {
    return Refuse(identity, "it declares no author (add `author: \"<principal id>\"`); four eyes "
                            "needs an author other than the approver");
  }
  if (!IsLineText(identity.id)) return Refuse(identity, "its id spans more than one line");
  const OfficerKey* officer = approvers.FindByPublicKey(key.public_key());
  if (officer == nullptr) {
    return absl::FailedPreconditionError(
        "this signing key is not an officer key in the approvers file");
  }
  if (!officer->ValidAt(now)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "officer key '", officer->key_id, "' is valid from ", officer->valid_from_text, " to ",
        officer->valid_until_text, " only"));
  }
  if (officer->principal == identity.author) {
    return Refuse(identity, absl::StrCat("its author ", identity.author,
                                         " may not approve it (four eyes: another privacy officer "
                                         "must)"));
  }
  Approval a;
  a.template_id = identity.id;
  a.template_version = identity.version;
  a.template_sha256 = identity.sha256;
  a.author = identity.author;
  a.approver = officer->principal;
  a.key_id = officer->key_id;
  a.approved_at = absl::FormatTime(kTimeFormat, now, absl::UTCTimeZone());
  absl::StatusOr<std::string> signature = key.Sign(ApprovalMessage(a));
  if (!signature.ok()) return signature.status();
  a.signature = *std::move(signature);
  return a;
}

absl::Status VerifyApproval(const TemplateIdentity& identity, const Approval& a,
                            const Approvers& approvers, absl::Time now) {
  if (identity.author.empty()) {
    return Refuse(identity, "it declares no author, so four eyes cannot be checked");
  }
  if (a.template_id != identity.id) {
    return Refuse(identity, absl::StrCat("its approval is for template '", a.template_id, "'"));
  }
  if (a.template_version != identity.version) {
    return Refuse(identity, absl::StrCat("its approval is for version ", a.template_version,
                                         "; a new version needs a new approval"));
  }
  if (a.template_sha256 != identity.sha256) {
    return Refuse(identity, absl::StrCat("the file changed after it was approved (SHA-256 ",
                                         identity.sha256, ", approved ", a.template_sha256,
                                         "); a privacy officer must approve the new text"));
  }
  if (a.author != identity.author) {
    return Refuse(identity, absl::StrCat("its approval names author ", a.author,
                                         " but the template's author is ", identity.author));
  }
  if (a.approver == identity.author) {
    return Refuse(identity, absl::StrCat("it was approved by its own author ", a.approver,
                                         " (four eyes: another privacy officer must approve it)"));
  }
  const OfficerKey* officer = approvers.Find(a.key_id);
  if (officer == nullptr) {
    return Refuse(identity, absl::StrCat("its approval names officer key '", a.key_id,
                                         "', which the approvers file does not list"));
  }
  if (officer->principal != a.approver) {
    return Refuse(identity, absl::StrCat("officer key '", a.key_id, "' belongs to ",
                                         officer->principal, ", not to the approver ",
                                         a.approver));
  }
  std::optional<absl::Time> approved_at = ParseApprovedAt(a.approved_at);
  if (!approved_at.has_value()) {
    return Refuse(identity, "its approval time is not a UTC time like 2026-11-25T15:04:05Z");
  }
  if (!officer->ValidAt(*approved_at) || !officer->ValidAt(now)) {
    return Refuse(identity,
                  absl::StrCat("officer key '", a.key_id, "' is valid from ",
                               officer->valid_from_text, " to ", officer->valid_until_text,
                               " only (approved ", a.approved_at, "); it must be valid when the "
                               "template is approved and when it is loaded"));
  }
  if (*approved_at > now + kClockSkew) {
    return Refuse(identity, absl::StrCat("its approval time ", a.approved_at, " is in the future"));
  }
  if (absl::Status s = crypto::Ed25519Verify(officer->public_key, ApprovalMessage(a), a.signature);
      !s.ok()) {
    return Refuse(identity, absl::StrCat("the approval's signature does not verify under officer "
                                         "key '", a.key_id, "' (signed with another key, or a "
                                         "field of the approval was changed)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Approval> CheckApproval(const TemplateIdentity& identity,
                                       const std::string& approvals_dir,
                                       const Approvers& approvers, absl::Time now) {
  const std::filesystem::path path =
      std::filesystem::path(approvals_dir) / ApprovalFileName(identity.id);
  std::error_code ec;
  if (!IsLineText(identity.id) || identity.id.find('/') != std::string::npos ||
      !std::filesystem::is_regular_file(path, ec)) {
    return Refuse(identity, absl::StrCat("it is not approved: no ", ApprovalFileName(identity.id),
                                         " in the approvals directory (a privacy officer other "
                                         "than the author runs `enclavectl template sign`)"));
  }
  absl::StatusOr<std::string> text = ReadWholeFile(path.string());
  if (!text.ok()) return Refuse(identity, "its approval file cannot be read");
  absl::StatusOr<Approval> approval = ParseApproval(*text, ApprovalFileName(identity.id));
  if (!approval.ok()) {
    return Refuse(identity, absl::StrCat("its approval file is malformed: ",
                                         approval.status().message()));
  }
  if (absl::Status s = VerifyApproval(identity, *approval, approvers, now); !s.ok()) return s;
  return approval;
}

templates::TemplateApproval ToTemplateApproval(const Approval& approval) {
  templates::TemplateApproval out;
  out.approver = approval.approver;
  out.key_id = approval.key_id;
  out.approved_at = approval.approved_at;
  out.digest = crypto::Sha256Hex(approval.signature);
  return out;
}

std::vector<ApprovalRefusal> ApplyApprovals(
    std::vector<templates::Template>* templates, const std::string& approvals_dir,
    const Approvers& approvers, const std::function<bool(const std::string&)>& is_privacy_officer,
    absl::Time now) {
  std::vector<ApprovalRefusal> refused;
  for (templates::Template& t : *templates) {
    const TemplateIdentity identity = IdentityOf(t);
    absl::StatusOr<Approval> approval = CheckApproval(identity, approvals_dir, approvers, now);
    absl::Status status = approval.status();
    if (status.ok() && !(is_privacy_officer && is_privacy_officer(approval->approver))) {
      status = Refuse(identity, absl::StrCat("its approver ", approval->approver,
                                             " is not a privacy officer in principals.textproto"));
    }
    if (!status.ok()) {
      t.approval.reset();
      refused.push_back(ApprovalRefusal{t.id, t.version, t.text_sha256, std::move(status)});
      continue;
    }
    t.approval = ToTemplateApproval(*approval);
  }
  return refused;
}

}  // namespace enclave::adapters::policy_files
