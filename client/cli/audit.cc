// enclavectl audit: checkpoint, log, verify, export, verify-bundle.
#include "client/cli/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>
#include <utility>

#include "client/cli/output.h"
#include "client/verifier/verifier.h"
#include "enclave/base/file.h"
#include "enclave/base/hex.h"
#include "enclave/base/json.h"
#include "enclave/client/cell_rules.h"

namespace enclave::client::cli {
namespace {

constexpr std::string_view kBundleHeader = "enclave-log-bundle/1\n";

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(std::string(what) + ": '" + path + "' does not exist");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::UnavailableError(std::string(what) + ": cannot read '" + path + "'");
  }
  return s.str();
}

using base::Hex;

// The first line of a note (its origin), unverified: used only to pick the origin when none is
// pinned, and the note is then verified against it.
std::string FirstLine(std::string_view note) { return std::string(note.substr(0, note.find('\n'))); }

// The checkpoint note inside a bundle's bytes, or "" if the head is malformed (the verifier then
// reports the problem).
std::string NoteOfBundle(std::string_view bundle) {
  if (bundle.substr(0, kBundleHeader.size()) != kBundleHeader) return "";
  std::size_t pos = kBundleHeader.size();
  if (bundle.size() < pos + 4) return "";
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(bundle[pos++]);
  if (bundle.size() - pos < length) return "";
  return std::string(bundle.substr(pos, length));
}

// UTC, ISO 8601 with milliseconds (H. Hinnant's civil_from_days).
std::string TimeText(std::int64_t ms) {
  std::int64_t days = ms / 86400000;
  std::int64_t rest = ms % 86400000;
  if (rest < 0) {
    rest += 86400000;
    --days;
  }
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rest / 3600000), static_cast<long long>(rest / 60000 % 60),
                static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return buffer;
}

// Also DEL escaped: the JSON lines are read on terminals.
std::string JsonString(std::string_view s) { return base::JsonString(s, {.escape_del = true}); }

// One table cell: tabs and newlines (the only control characters a leaf may hold) as spaces.
std::string Cell(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '\t', ' ');
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out.empty() ? "-" : out;
}

// The canonical parameters split into [{"name":…,"value":…}] (issue 12).
std::string ParametersJson(std::string_view canonical_params) {
  std::string out = "[";
  for (const auto& [name, value] : SplitCanonicalParams(canonical_params)) {
    if (out.size() > 1) out += ",";
    out += "{\"name\":" + JsonString(name) + ",\"value\":" + JsonString(value) + "}";
  }
  return out + "]";
}

std::string TextJson(const Text& t) {
  return "{\"nl\":" + JsonString(t.nl) + ",\"en\":" + JsonString(t.en) + "}";
}

// A decoded cell as GET /api/audit/entries shows it (docs/web-api.md).
std::string CellJson(const DecodedCell& c) {
  std::string nl = "[", en = "[", codes = "[";
  for (std::size_t d = 0; d < c.labels.size(); ++d) {
    const std::string sep = d == 0 ? "" : ",";
    nl += sep + JsonString(c.labels[d].nl);
    en += sep + JsonString(c.labels[d].en);
    codes += sep + JsonString(c.codes[d]);
  }
  return "{\"labels\":{\"nl\":" + nl + "],\"en\":" + en + "]},\"codes\":" + codes +
         "],\"statistic\":{\"name\":" + JsonString(c.statistic.name) +
         ",\"label\":" + TextJson(c.statistic.label) + "},\"rule\":" + JsonString(c.rule) +
         ",\"detail\":" + JsonString(c.detail) + ",\"explanation\":" + TextJson(c.explanation) +
         ",\"withheld\":" + (c.withheld ? "true" : "false") +
         ",\"known\":" + (c.known ? "true" : "false") + "}";
}

std::string LeafJson(const verifier::LeafView& l, bool checkpointed) {
  std::string o = "{";
  const auto field = [&](std::string_view name, const std::string& json_value) {
    if (o.size() > 1) o += ",";
    o += JsonString(name) + ":" + json_value;
  };
  field("sequence", std::to_string(l.sequence));
  field("time", JsonString(TimeText(l.time_unix_ms)));
  field("time_unix_ms", std::to_string(l.time_unix_ms));
  field("type", JsonString(l.type_name));
  field("request_id", JsonString(l.request_id));
  field("caller", JsonString(l.caller));
  field("caller_cert_sha256", JsonString(Hex(l.caller_cert_sha256)));
  field("role", JsonString(l.role));
  field("project", JsonString(l.project));
  field("rpc", JsonString(l.rpc));
  field("template_id", JsonString(l.template_id));
  field("template_version", std::to_string(l.template_version));
  field("template_sha256", JsonString(Hex(l.template_sha256)));
  field("canonical_params", JsonString(l.canonical_params));
  field("parameters", ParametersJson(l.canonical_params));
  field("decision", JsonString(l.decision));
  field("reason", JsonString(l.reason));
  field("rule_set", JsonString(l.rule_set));
  field("rules_applied", JsonString(l.rules_applied));
  field("data_version", JsonString(l.data_version));
  std::string counts = "{";
  for (const auto& [status, count] : l.cell_counts) {
    if (counts.size() > 1) counts += ",";
    counts += JsonString(status) + ":" + std::to_string(count);
  }
  field("cell_counts", counts + "}");
  field("cell_rules", JsonString(l.cell_rules));
  field("result_sha256", JsonString(Hex(l.result_sha256)));
  std::string related = "[";
  for (std::uint64_t r : l.related) {
    if (related.size() > 1) related += ",";
    related += std::to_string(r);
  }
  field("related", related + "]");
  field("detail", JsonString(l.detail));
  field("checkpointed", checkpointed ? "true" : "false");
  return o + "}";
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

absl::StatusOr<verifier::PinnedKey> PinnedKeyOf(const AuditTrust& trust) {
  if (trust.log_key.empty()) {
    return absl::InvalidArgumentError(
        "no log key: give --log-key KEY or set 'log_key = ...' in the config file (the verifier "
        "key of the enclave's log, received out of band)");
  }
  absl::StatusOr<verifier::PinnedKey> key = verifier::ParseVerifierKey(trust.log_key);
  if (!key.ok()) {
    return absl::InvalidArgumentError("--log-key: " + std::string(key.status().message()));
  }
  return key;
}

absl::StatusOr<verifier::Hash> HashOf(std::string_view bytes, std::string_view what) {
  verifier::Hash h{};
  if (bytes.size() != h.size()) {
    return absl::DataLossError(std::string(what) + " is not a 32-byte hash");
  }
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(h.data()));
  return h;
}

absl::Status CheckProof(AuditClient& client, const verifier::CheckpointView& older,
                        const verifier::CheckpointView& newer) {
  if (newer.size < older.size) {
    return absl::DataLossError("the log's signed size " + std::to_string(newer.size) +
                               " is below the verified " + std::to_string(older.size) +
                               ": rollback or truncation");
  }
  if (newer.size == older.size) {
    if (newer.root != older.root) {
      return absl::DataLossError("two signed checkpoints of size " + std::to_string(newer.size) +
                                 " have different roots: the log forked (equivocation)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> proof =
      client.GetConsistencyProof(older.size, newer.size);
  if (!proof.ok()) return proof.status();
  std::vector<verifier::Hash> hashes;
  for (const std::string& h : *proof) {
    absl::StatusOr<verifier::Hash> hash = HashOf(h, "a consistency proof element");
    if (!hash.ok()) return hash.status();
    hashes.push_back(*hash);
  }
  absl::Status s =
      verifier::CheckConsistency(older.size, newer.size, hashes, older.root, newer.root);
  if (!s.ok()) {
    return absl::DataLossError("the checkpoint of size " + std::to_string(newer.size) +
                               " is not consistent with the verified one of size " +
                               std::to_string(older.size) + ": " + std::string(s.message()));
  }
  return absl::OkStatus();
}

std::string BundleSummary(const verifier::BundleReport& report) {
  std::string out = "entries " + std::to_string(report.first_index) + ".." +
                    std::to_string(report.first_index + report.leaves) + " verified (" +
                    std::to_string(report.leaves) + " leaves";
  for (const auto& [type, count] : report.by_type) {
    out += ", " + std::to_string(count) + " " + type;
  }
  out += "); requests still open at the checkpoint: " + std::to_string(report.open_requests) + "\n";
  return out;
}


// The officer's stored checkpoint (trust.state_path), verified, if the file exists. `origin` is
// taken from it when empty.
absl::StatusOr<std::optional<verifier::CheckpointView>> StoredCheckpoint(
    const AuditTrust& trust, const verifier::PinnedKey& key, std::string& origin) {
  if (trust.state_path.empty()) return std::optional<verifier::CheckpointView>();
  absl::StatusOr<std::string> text = ReadWholeFile(trust.state_path, "--state");
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) {
      return std::optional<verifier::CheckpointView>();
    }
    return text.status();
  }
  if (origin.empty()) origin = FirstLine(*text);
  absl::StatusOr<verifier::CheckpointView> view = verifier::VerifyCheckpointNote(*text, key, origin);
  if (!view.ok()) {
    return absl::Status(view.status().code(), "the stored checkpoint in '" + trust.state_path +
                                                  "' does not verify: " +
                                                  std::string(view.status().message()));
  }
  return std::optional<verifier::CheckpointView>(*view);
}

// The checkpoint note of the bundle at `path` ("" if its head is malformed).
std::string NoteOfBundleFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(kBundleHeader.size() + 4 + 64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return NoteOfBundle(head);
}

// The origin line of the bundle at `path`, unverified (the verification then pins it).
std::string OriginOfBundleFile(const std::string& path) { return FirstLine(NoteOfBundleFile(path)); }

// Roots of every prefix of a list of leaf hashes, from all perfect subtrees kept in memory (2n
// hashes): for the binary search below.
class PrefixRoots {
 public:
  explicit PrefixRoots(std::vector<verifier::Hash> leaf_hashes) {
    levels_.push_back(std::move(leaf_hashes));
    while (levels_.back().size() > 1) {
      const std::vector<verifier::Hash>& below = levels_.back();
      std::vector<verifier::Hash> level;
      level.reserve(below.size() / 2);
      for (std::size_t i = 0; i + 1 < below.size(); i += 2) {
        level.push_back(verifier::NodeHash(below[i], below[i + 1]));
      }
      levels_.push_back(std::move(level));
    }
  }
  std::uint64_t size() const { return levels_[0].size(); }
  // RFC 9162 MTH of the first k leaves: the perfect subtrees of k's set bits, folded from the right.
  verifier::Hash Root(std::uint64_t k) const {
    std::vector<verifier::Hash> parts;
    std::uint64_t start = 0;
    for (int level = static_cast<int>(levels_.size()) - 1; level >= 0; --level) {
      const std::uint64_t width = std::uint64_t{1} << level;
      if ((k & width) == 0) continue;
      parts.push_back(levels_[static_cast<std::size_t>(level)][start >> level]);
      start += width;
    }
    if (parts.empty()) return verifier::EmptyRoot();
    verifier::Hash h = parts.back();
    for (std::size_t i = parts.size() - 1; i-- > 0;) h = verifier::NodeHash(parts[i], h);
    return h;
  }

 private:
  std::vector<std::vector<verifier::Hash>> levels_;
};

// The first leaf whose bytes do not fold into the signed tree `signed_tree`: the smallest k such
// that the first k local leaves are not a prefix of that tree, by binary search with the
// enclave's consistency proofs (each checked here, so a lying enclave can only make the search
// fail, never clear a leaf). nullopt when the local root matches or a proof cannot be had.
std::optional<std::uint64_t> FirstAlteredLeaf(AuditClient& client, const PrefixRoots& roots,
                                              const verifier::CheckpointView& signed_tree) {
  const std::uint64_t n = signed_tree.size;
  if (n == 0 || n > roots.size() || roots.Root(n) == signed_tree.root) return std::nullopt;
  std::uint64_t good = 0, bad = n;  // the first `good` leaves match; the first `bad` do not
  while (bad - good > 1) {
    const std::uint64_t mid = good + (bad - good) / 2;
    absl::StatusOr<std::vector<std::string>> proof = client.GetConsistencyProof(mid, n);
    if (!proof.ok()) return std::nullopt;
    std::vector<verifier::Hash> hashes;
    for (const std::string& h : *proof) {
      if (h.size() != 32) return std::nullopt;
      verifier::Hash hash{};
      std::copy(h.begin(), h.end(), reinterpret_cast<char*>(hash.data()));
      hashes.push_back(hash);
    }
    if (verifier::CheckConsistency(mid, n, hashes, roots.Root(mid), signed_tree.root).ok()) {
      good = mid;
    } else {
      bad = mid;
    }
  }
  return bad - 1;
}

// A failed verification of the bundle at `bundle_path` (a whole-log bundle), with the first
// altered entry named when the failure is that the bytes do not fold into a signed root.
absl::Status NameAlteredEntry(AuditClient& client, const std::string& bundle_path,
                              const verifier::BundleOptions& options, absl::Status failure) {
  if (failure.code() != absl::StatusCode::kDataLoss) return failure;
  absl::StatusOr<verifier::BundleLeaves> leaves = verifier::BundleLeafHashesFile(bundle_path);
  if (!leaves.ok() || leaves->first_index != 0) return failure;
  absl::StatusOr<verifier::CheckpointView> signed_tree =
      verifier::VerifyCheckpointNote(NoteOfBundleFile(bundle_path), options.key, options.origin);
  if (!signed_tree.ok()) return failure;
  std::vector<verifier::CheckpointView> trees = {*signed_tree};
  if (options.trusted.has_value()) trees.push_back(*options.trusted);
  const PrefixRoots roots(std::move(leaves->leaf_hashes));
  for (const verifier::CheckpointView& tree : trees) {
    if (std::optional<std::uint64_t> entry = FirstAlteredLeaf(client, roots, tree)) {
      return absl::DataLossError(
          "entry " + std::to_string(*entry) +
          ": its bytes are not the ones under the signed checkpoint of size " +
          std::to_string(tree.size) +
          ", so the entry was altered after it was written (the first such entry, located with "
          "the enclave's consistency proofs; " + std::string(failure.message()) + ")");
    }
  }
  return failure;
}

// Streams the export bundle from `from_size` into a new temporary file beside `near` (mode 0666
// minus the umask), flushed. Returns its path; nothing is left behind on failure.
absl::StatusOr<std::string> DownloadBundle(AuditClient& client, std::uint64_t from_size,
                                           const std::string& near, std::string_view what) {
  std::string pattern = near + ".tmp.XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    return absl::InvalidArgumentError(std::string(what) + ": cannot create a temporary file '" +
                                      pattern + "': " + std::strerror(errno));
  }
  const std::string temp(name.data());
  absl::Status s = ::fchmod(fd, base::DefaultFileMode()) == 0
                       ? absl::OkStatus()
                       : absl::UnavailableError(std::string(what) + ": cannot set the mode of '" +
                                                temp + "'");
  if (s.ok()) {
    s = client.ExportBundle(from_size, [&](std::string_view chunk) -> absl::Status {
      absl::Status w = base::WriteAll(fd, chunk, "'" + temp + "'");
      if (!w.ok()) return absl::UnavailableError(std::string(what) + ": " + std::string(w.message()));
      return absl::OkStatus();
    });
  }
  if (s.ok() && ::fsync(fd) != 0) {
    s = absl::UnavailableError(std::string(what) + ": cannot flush '" + temp +
                               "': " + std::strerror(errno));
  }
  if (::close(fd) != 0 && s.ok()) {
    s = absl::UnavailableError(std::string(what) + ": cannot write '" + temp +
                               "': " + std::strerror(errno));
  }
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return temp;
}


// Verifies a downloaded whole-log bundle against the pinned key, the origin and the officer's
// stored checkpoint, naming the first altered entry when the bytes do not fold into a signed root.
absl::StatusOr<verifier::BundleReport> VerifyDownloaded(AuditClient& client,
                                                        const std::string& bundle_path,
                                                        const verifier::BundleOptions& options) {
  absl::StatusOr<verifier::BundleReport> report =
      verifier::VerifyBundleFile(bundle_path, options);
  if (!report.ok()) return NameAlteredEntry(client, bundle_path, options, report.status());
  return report;
}

}  // namespace

std::string DefaultCheckpointStatePath(std::string_view home) {
  if (home.empty()) return "";
  return (std::filesystem::path(std::string(home)) / ".config" / "enclavectl" / "checkpoint")
      .string();
}

absl::StatusOr<std::string> ShowCheckpoint(AuditClient& client, const AuditTrust& trust) {
  absl::StatusOr<AuditCheckpoint> cp = client.GetCheckpoint();
  if (!cp.ok()) return cp.status();
  std::string out;
  if (!trust.log_key.empty()) {
    absl::StatusOr<verifier::PinnedKey> key = PinnedKeyOf(trust);
    if (!key.ok()) return key.status();
    const std::string origin = trust.origin.empty() ? FirstLine(cp->note) : trust.origin;
    absl::StatusOr<verifier::CheckpointView> view =
        verifier::VerifyCheckpointNote(cp->note, *key, origin);
    if (!view.ok()) return view.status();
    out += "origin:    " + view->origin + (trust.origin.empty() ? " (not pinned)" : "") + "\n";
    out += "tree size: " + std::to_string(view->size) + "\n";
    out += "root:      " + Hex(view->root) + "\n";
    out += "signature: verified with the pinned key '" + key->name + "'\n";
  } else {
    out += "origin:    " + cp->origin + "\n";
    out += "tree size: " + std::to_string(cp->tree_size) + "\n";
    out += "root:      " + Hex(cp->root_hash) + "\n";
    out += "signature: NOT verified (no log key: use --log-key or 'log_key' in the config)\n";
  }
  out += "log size:  " + std::to_string(cp->log_size) + " entries\n\n" + cp->note;
  return out;
}

namespace {

// One verified entry, as ListLog and AuditEntriesJson show it.
struct Shown {
  verifier::LeafView leaf;
  bool checkpointed = false;
};

// What the verification of the entries matching a filter gives: the entries (each re-hashed and
// proven included, or beyond the latest checkpoint), the largest checkpoint the pages came under.
struct Verified {
  std::vector<Shown> shown;
  std::optional<verifier::CheckpointView> latest;
  std::string key_name;
  std::string origin;
  std::string origin_note;  // "" when the origin was pinned
  std::uint64_t log_size = 0;
};

// The one verification path of ListLog and AuditEntriesJson (see ListLog in audit.h). A failure
// that is the verification's (a bad key, signature, proof or leaf) sets *verification_failed; a
// failure of the call itself (refused, unavailable, a bad filter) does not.
absl::StatusOr<Verified> FetchVerified(AuditClient& client, const AuditFilter& filter,
                                       const AuditTrust& trust, bool* verification_failed) {
  *verification_failed = true;
  absl::StatusOr<verifier::PinnedKey> key = PinnedKeyOf(trust);
  if (!key.ok()) return key.status();
  Verified v;
  v.key_name = key->name;
  std::string& origin = v.origin;
  origin = trust.origin;
  std::string& origin_note = v.origin_note;
  if (origin.empty() && !trust.state_path.empty()) origin_note = "stored checkpoint";
  absl::StatusOr<std::optional<verifier::CheckpointView>> stored =
      StoredCheckpoint(trust, *key, origin);
  if (!stored.ok()) return stored.status();
  if (origin.empty()) origin_note.clear();

  std::vector<Shown>& shown = v.shown;
  std::optional<verifier::CheckpointView>& latest = v.latest;
  std::uint64_t token = 0;
  for (;;) {
    absl::StatusOr<AuditPage> page = client.ListEntries(0, 0, filter, 0, token);
    if (!page.ok()) {
      *verification_failed = false;
      return page.status();
    }
    v.log_size = std::max(v.log_size, page->log_size);
    std::optional<verifier::CheckpointView> cp;
    if (page->checkpoint.has_value()) {
      if (origin.empty()) {
        origin = FirstLine(page->checkpoint->note);
        origin_note = "signed checkpoint";
      }
      absl::StatusOr<verifier::CheckpointView> view =
          verifier::VerifyCheckpointNote(page->checkpoint->note, *key, origin);
      if (!view.ok()) {
        return absl::Status(view.status().code(),
                            "the enclave's checkpoint does not verify: " +
                                std::string(view.status().message()));
      }
      // Each new checkpoint extends the officer's stored one (never below it: rollback) and is
      // consistent with the one the pages before it came under.
      if (!latest.has_value() || !(*latest == *view)) {
        if (stored->has_value()) {
          if (absl::Status s = CheckProof(client, **stored, *view); !s.ok()) return s;
        }
        if (latest.has_value()) {
          absl::Status s = view->size >= latest->size ? CheckProof(client, *latest, *view)
                                                      : CheckProof(client, *view, *latest);
          if (!s.ok()) return s;
        }
      }
      if (!latest || view->size > latest->size) latest = *view;
      cp = *view;
    }
    for (const AuditLogEntry& e : page->entries) {
      const std::string at = "entry " + std::to_string(e.sequence);
      absl::StatusOr<verifier::LeafView> leaf = verifier::ParseLeaf(e.leaf);
      if (!leaf.ok()) {
        return absl::DataLossError(at + " does not decode: " + std::string(leaf.status().message()));
      }
      if (leaf->sequence != e.sequence) {
        return absl::DataLossError(at + " carries sequence number " +
                                   std::to_string(leaf->sequence));
      }
      const bool checkpointed = cp.has_value() && e.sequence < cp->size;
      if (!checkpointed && stored->has_value() && e.sequence < (*stored)->size) {
        return absl::DataLossError(at + " is covered by your stored checkpoint of size " +
                                   std::to_string((*stored)->size) +
                                   " but came without a proof under a signed checkpoint");
      }
      if (checkpointed) {
        std::vector<verifier::Hash> path;
        for (const std::string& h : e.inclusion_path) {
          absl::StatusOr<verifier::Hash> hash = HashOf(h, at + ": an inclusion proof element");
          if (!hash.ok()) return hash.status();
          path.push_back(*hash);
        }
        if (absl::Status s = verifier::CheckInclusion(e.sequence, cp->size,
                                                      verifier::LeafHash(e.leaf), path, cp->root);
            !s.ok()) {
          return absl::DataLossError(
              at + ": its bytes are not the ones under the signed checkpoint of size " +
              std::to_string(cp->size) + " (" + std::string(s.message()) +
              "), so the entry was altered after it was written; nothing is shown");
        }
      }
      shown.push_back(Shown{*std::move(leaf), checkpointed});
    }
    if (page->next_page_token == 0) break;
    if (page->next_page_token <= token) {
      return absl::DataLossError("the enclave's page token went backwards");
    }
    token = page->next_page_token;
  }
  *verification_failed = false;
  return v;
}

// Whether a failure of FetchVerified is the verification's, as the officer view reports it
// ("ok": false), rather than the call's (refused, unavailable: an HTTP error).
bool IsVerificationFailure(const absl::Status& s, bool verification_failed) {
  if (!verification_failed) return false;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
      return false;
    default:
      return true;
  }
}

// Release layouts asked of the enclave, one request per template and parameters.
class LayoutCache {
 public:
  explicit LayoutCache(EnclaveClient& client) : client_(client) {}
  const absl::StatusOr<ReleaseLayout>& Get(const std::string& template_id,
                                           const std::string& canonical_params) {
    const auto key = std::make_pair(template_id, canonical_params);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      it = cache_.emplace(key, client_.DescribeLayout(template_id,
                                                      SplitCanonicalParams(canonical_params)))
               .first;
    }
    return it->second;
  }

 private:
  EnclaveClient& client_;
  std::map<std::pair<std::string, std::string>, absl::StatusOr<ReleaseLayout>> cache_;
};

bool HasCellRules(const verifier::LeafView& l) {
  return l.type_name == "query-result" && !l.cell_rules.empty();
}

std::string ShortHash(const std::string& hex) { return hex.substr(0, 12) + "…"; }

// A query-result entry's cells, decoded with the layout the enclave gives for its template and
// parameters; an error naming why not (the layout cannot be had, the template changed since,
// or the rules do not match the layout).
absl::StatusOr<DecodedCellRules> DecodeEntryCells(const verifier::LeafView& l,
                                                  LayoutCache& layouts) {
  const absl::StatusOr<ReleaseLayout>& layout = layouts.Get(l.template_id, l.canonical_params);
  if (!layout.ok()) {
    return absl::Status(layout.status().code(),
                        "the release layout of " + l.template_id + " for these parameters "
                        "cannot be had from the enclave: " + std::string(layout.status().message()));
  }
  std::string entry_sha = Hex(l.template_sha256);
  std::string layout_sha = layout->template_sha256;
  std::transform(layout_sha.begin(), layout_sha.end(), layout_sha.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (entry_sha != layout_sha) {
    return absl::FailedPreconditionError(
        "this entry was released by " + l.template_id + " version " +
        std::to_string(l.template_version) + " (template_sha256 " + ShortHash(entry_sha) +
        "), but the enclave's current version is " + std::to_string(layout->template_version) +
        " (template_sha256 " + ShortHash(layout_sha) +
        "): its layout may differ, so the cells are not decoded");
  }
  return DecodeCellRules(l.cell_rules, *layout);
}

std::string CheckpointJson(const std::optional<verifier::CheckpointView>& cp) {
  if (!cp.has_value()) return "null";
  return "{\"origin\":" + JsonString(cp->origin) + ",\"tree_size\":" + std::to_string(cp->size) +
         ",\"root_hash\":" + JsonString(Hex(cp->root)) + "}";
}

// What was verified, in the words ListLog uses.
std::string VerificationMessage(const Verified& v, std::size_t shown) {
  std::size_t unsigned_count = 0;
  for (const Shown& s : v.shown) unsigned_count += s.checkpointed ? 0 : 1;
  std::string out = std::to_string(v.shown.size()) + " matching entries";
  if (shown < v.shown.size()) out += " (the newest " + std::to_string(shown) + " shown)";
  if (v.shown.size() > unsigned_count && v.latest.has_value()) {
    out += "; " + std::to_string(v.shown.size() - unsigned_count) +
           " re-hashed and proven included in the checkpoint of size " +
           std::to_string(v.latest->size) + " signed by '" + v.key_name + "', root " +
           Hex(v.latest->root);
  }
  if (unsigned_count > 0) {
    out += "; " + std::to_string(unsigned_count) +
           " not yet covered by a signed checkpoint (decoded, not proven)";
  }
  if (!v.origin_note.empty()) {
    out += "; origin " + v.origin + " (not pinned; taken from the " + v.origin_note + ")";
  }
  return out;
}


// An entry as JSON; with `layouts`, a query result's cells decoded (or why not).
std::string EntryJson(const Shown& s, LayoutCache* layouts) {
  std::string entry = LeafJson(s.leaf, s.checkpointed);
  if (layouts == nullptr || !HasCellRules(s.leaf)) return entry;
  entry.pop_back();  // the closing brace: the cells follow
  absl::StatusOr<DecodedCellRules> cells = DecodeEntryCells(s.leaf, *layouts);
  if (cells.ok()) {
    entry += ",\"rules_header\":" + JsonString(cells->header) + ",\"cells\":[";
    for (std::size_t i = 0; i < cells->cells.size(); ++i) {
      entry += (i == 0 ? "" : ",") + CellJson(cells->cells[i]);
    }
    entry += "]";
  } else {
    const std::string_view rules = s.leaf.cell_rules;
    const std::size_t at = rules.find(" cells{");
    if (at != std::string_view::npos) {
      entry += ",\"rules_header\":" + JsonString(rules.substr(0, at));
    }
    entry += ",\"cells_error\":" + JsonString(std::string(cells.status().message()));
  }
  return entry + "}";
}

// The lines under a query result in the table: its withheld cells, or why they are not decoded.
std::string CellLines(const verifier::LeafView& l, LayoutCache& layouts, bool dutch) {
  absl::StatusOr<DecodedCellRules> cells = DecodeEntryCells(l, layouts);
  if (!cells.ok()) {
    return std::string(dutch ? "    cellen niet gedecodeerd: " : "    cells not decoded: ") +
           Cell(std::string(cells.status().message())) + "\n";
  }
  std::size_t statistics = 0;
  for (const DecodedCell& c : cells->cells) statistics = std::max(statistics, c.statistic_index + 1);
  std::string out;
  std::size_t withheld = 0;
  for (const DecodedCell& c : cells->cells) {
    if (!c.withheld) continue;
    ++withheld;
    out += "    " + Cell(CellDescription(c, dutch, statistics > 1)) + "\n";
  }
  const std::string total = std::to_string(cells->cells.size());
  if (withheld == 0) {
    return std::string(dutch ? "    geen cel geheim (" : "    no cell withheld (") + total +
           (dutch ? " cellen)\n" : " cells)\n");
  }
  return out + "    " + std::to_string(withheld) + (dutch ? " van " : " of ") + total +
         (dutch ? " cellen geheim; " : " cells withheld; ") + Cell(cells->header) + "\n";
}

}  // namespace

absl::StatusOr<std::string> ListLog(AuditClient& client, const AuditFilter& filter, bool json,
                                    const AuditTrust& trust) {
  ListOptions options;
  options.json = json;
  return ListLog(client, filter, options, trust);
}

absl::StatusOr<std::string> ListLog(AuditClient& client, const AuditFilter& filter,
                                    const ListOptions& options, const AuditTrust& trust) {
  if (options.cells && options.templates == nullptr) {
    return absl::InternalError("ListLog: --cells needs a connection for the release layouts");
  }
  std::optional<LayoutCache> layouts;
  if (options.cells) layouts.emplace(*options.templates);
  bool verification_failed = false;
  absl::StatusOr<Verified> verified = FetchVerified(client, filter, trust, &verification_failed);
  if (!verified.ok()) return verified.status();
  const std::vector<Shown>& shown = verified->shown;
  const std::optional<verifier::CheckpointView>& latest = verified->latest;
  const std::string& origin = verified->origin;
  const std::string& origin_note = verified->origin_note;
  const std::string& key_name = verified->key_name;
  if (options.json) {
    std::string out = "[";
    for (std::size_t i = 0; i < shown.size(); ++i) {
      out += (i == 0 ? "\n  " : ",\n  ") + EntryJson(shown[i], layouts ? &*layouts : nullptr);
    }
    return out + (shown.empty() ? "]\n" : "\n]\n");
  }
  std::vector<std::vector<std::string>> rows = {{"SEQ", "TIME (UTC)", "TYPE", "CALLER", "ROLE",
                                                 "RPC", "TEMPLATE", "PARAMETERS", "DECISION",
                                                 "REQUEST", "SIGNED"}};
  std::size_t unsigned_count = 0;
  for (const Shown& s : shown) {
    const verifier::LeafView& l = s.leaf;
    if (!s.checkpointed) ++unsigned_count;
    std::string params = l.canonical_params;
    std::replace(params.begin(), params.end(), '&', ' ');
    rows.push_back({std::to_string(l.sequence), TimeText(l.time_unix_ms), Cell(l.type_name),
                    Cell(l.caller), Cell(l.role), Cell(l.rpc), Cell(l.template_id), Cell(params),
                    Cell(l.decision), Cell(l.request_id),
                    s.checkpointed ? "yes" : "NOT YET CHECKPOINTED"});
  }
  std::string table = Table(rows);
  if (layouts.has_value()) {
    // Under each query result, its withheld cells.
    std::string with_cells;
    std::size_t line_start = 0;
    for (std::size_t row = 0; line_start < table.size(); ++row) {
      const std::size_t end = table.find('\n', line_start);
      with_cells += table.substr(line_start, end - line_start + 1);
      line_start = end + 1;
      if (row == 0 || !HasCellRules(shown[row - 1].leaf)) continue;
      with_cells += CellLines(shown[row - 1].leaf, *layouts, options.dutch);
    }
    table = std::move(with_cells);
  }
  std::string out = table + std::to_string(shown.size()) + " entries";
  if (shown.size() > unsigned_count) {
    out += "; " + std::to_string(shown.size() - unsigned_count) +
           " re-hashed and proven included in the checkpoint of size " +
           std::to_string(latest->size) + " signed by '" + key_name + "', root " +
           Hex(latest->root);
  }
  if (unsigned_count > 0) {
    out += "; " + std::to_string(unsigned_count) +
           " not yet covered by a signed checkpoint (marked NOT YET CHECKPOINTED: decoded, not "
           "proven)";
  }
  out += "\n";
  if (!origin_note.empty()) {
    out += "origin " + origin + " (not pinned; taken from the " + origin_note + ")\n";
  }
  return out;
}

absl::StatusOr<std::string> VerifyLog(AuditClient& client, const AuditTrust& trust) {
  absl::StatusOr<verifier::PinnedKey> key = PinnedKeyOf(trust);
  if (!key.ok()) return key.status();
  if (trust.state_path.empty()) {
    return absl::InvalidArgumentError("no checkpoint file: give --state FILE (HOME is not set)");
  }
  std::string origin = trust.origin;
  const bool had_origin = !origin.empty();
  absl::StatusOr<std::optional<verifier::CheckpointView>> stored =
      StoredCheckpoint(trust, *key, origin);
  if (!stored.ok()) return stored.status();
  const std::optional<verifier::CheckpointView> trusted = *stored;
  absl::StatusOr<AuditCheckpoint> cp = client.GetCheckpoint();
  if (!cp.ok()) return cp.status();

  std::string out;
  if (!had_origin) {
    if (origin.empty()) origin = FirstLine(cp->note);
    out += "origin " + origin + " (not pinned; taken from the " +
           (trusted.has_value() ? "stored" : "signed") + " checkpoint)\n";
  }
  absl::StatusOr<verifier::CheckpointView> latest =
      verifier::VerifyCheckpointNote(cp->note, *key, origin);
  if (!latest.ok()) {
    return absl::Status(latest.status().code(), "the enclave's latest checkpoint does not verify: " +
                                                    std::string(latest.status().message()));
  }
  out += "checkpoint of size " + std::to_string(latest->size) + " signed by '" + key->name +
         "', root " + Hex(latest->root) + "\n";
  if (trusted.has_value()) {
    if (absl::Status s = CheckProof(client, *trusted, *latest); !s.ok()) return s;
    out += "consistent with the stored checkpoint of size " + std::to_string(trusted->size) + "\n";
  } else {
    out += "no stored checkpoint in '" + trust.state_path + "': checking the whole log\n";
  }

  // Every entry, not only those after the stored checkpoint: their bytes are re-read, re-hashed
  // and must fold to the stored root at its size and to the new root (an entry rewritten in the
  // database after an earlier verify is caught here, and named).
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / "enclavectl-verify.bundle";
  absl::StatusOr<std::string> bundle_path =
      DownloadBundle(client, 0, scratch.string(), "audit verify");
  if (!bundle_path.ok()) return bundle_path.status();
  verifier::BundleOptions options;
  options.key = *key;
  options.origin = origin;
  options.trusted = trusted;
  absl::StatusOr<verifier::BundleReport> report = VerifyDownloaded(client, *bundle_path, options);
  const std::string note = report.ok() ? NoteOfBundleFile(*bundle_path) : std::string();
  ::unlink(bundle_path->c_str());
  if (!report.ok()) return report.status();
  // A checkpoint may have been signed between the two calls: the export's must extend `latest`.
  if (absl::Status s = CheckProof(client, *latest, report->checkpoint); !s.ok()) return s;
  out += BundleSummary(*report);

  if (note.empty()) return absl::DataLossError("the export has no checkpoint note");
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(trust.state_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (absl::Status s = WriteFileAtomically(trust.state_path, note); !s.ok()) {
    return absl::UnavailableError("--state: cannot store the verified checkpoint: " +
                                  std::string(s.message()));
  }
  out += "stored the checkpoint of size " + std::to_string(report->checkpoint.size) + " in '" +
         trust.state_path + "'\n";
  return out;
}

absl::StatusOr<std::string> ExportLog(AuditClient& client, const std::string& path,
                                      const AuditTrust& trust) {
  // Streamed: each chunk goes to a temporary file beside `path` as it arrives (a large log's
  // bundle never sits in memory); verified, then renamed into place: nothing unverified is left.
  if (path.empty()) return absl::InvalidArgumentError("--output: empty file name");
  absl::StatusOr<verifier::PinnedKey> key = PinnedKeyOf(trust);
  if (!key.ok()) return key.status();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError("--output: '" + path + "' is a directory");
  }
  std::string origin = trust.origin;
  absl::StatusOr<std::optional<verifier::CheckpointView>> stored =
      StoredCheckpoint(trust, *key, origin);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<std::string> temp = DownloadBundle(client, 0, path, "--output");
  if (!temp.ok()) return temp.status();
  std::string out;
  if (origin.empty()) {
    origin = OriginOfBundleFile(*temp);
    out += "origin " + origin + " (not pinned; taken from the bundle)\n";
  }
  verifier::BundleOptions options;
  options.key = *key;
  options.origin = origin;
  options.trusted = *stored;
  absl::StatusOr<verifier::BundleReport> report = VerifyDownloaded(client, *temp, options);
  absl::Status s = report.status();
  if (s.ok()) {
    s = base::ReplaceFile(*temp, path);
    if (!s.ok()) s = absl::UnavailableError("--output: " + std::string(s.message()));
  }
  if (!s.ok()) {
    ::unlink(temp->c_str());
    return s;
  }
  out += "wrote the export bundle to '" + path + "': " + BundleSummary(*report);
  out += "every entry re-hashed and proven under the checkpoint of size " +
         std::to_string(report->checkpoint.size) + " signed by '" + key->name + "', root " +
         Hex(report->checkpoint.root) +
         (options.trusted.has_value() ? ", consistent with your stored checkpoint of size " +
                                            std::to_string(options.trusted->size)
                                      : std::string()) +
         "; entries after it are not in the bundle until a later checkpoint covers them\n";
  return out;
}

absl::StatusOr<std::string> ShowReceipt(AuditClient& client, const std::string& request_id,
                                        const AuditTrust& trust) {
  absl::StatusOr<verifier::PinnedKey> key = PinnedKeyOf(trust);
  if (!key.ok()) return key.status();
  absl::StatusOr<AuditProofs> receipt = client.GetReceipt(request_id);
  if (!receipt.ok()) return receipt.status();
  const std::string origin =
      trust.origin.empty() ? FirstLine(receipt->checkpoint.note) : trust.origin;
  absl::StatusOr<verifier::CheckpointView> cp =
      verifier::VerifyCheckpointNote(receipt->checkpoint.note, *key, origin);
  if (!cp.ok()) {
    return absl::Status(cp.status().code(), "the receipt's checkpoint does not verify: " +
                                                std::string(cp.status().message()));
  }
  if (receipt->proofs.empty()) return absl::DataLossError("the receipt holds no entries");
  std::vector<std::vector<std::string>> rows = {
      {"SEQ", "TIME (UTC)", "TYPE", "TEMPLATE", "DECISION", "LEAF HASH"}};
  for (const AuditLeafProof& proof : receipt->proofs) {
    const std::string at = "receipt entry " + std::to_string(proof.sequence);
    verifier::Hash leaf_hash{};
    std::vector<std::string> row;
    if (proof.redacted) {
      absl::StatusOr<verifier::Hash> h = HashOf(proof.leaf_hash, at + ": the leaf hash");
      if (!h.ok()) return h.status();
      leaf_hash = *h;
      row = {std::to_string(proof.sequence), "-", "(withheld: officer-only fields)", "-", "-"};
    } else {
      leaf_hash = verifier::LeafHash(proof.leaf);
      if (!proof.leaf_hash.empty() &&
          proof.leaf_hash != std::string(reinterpret_cast<const char*>(leaf_hash.data()),
                                         leaf_hash.size())) {
        return absl::DataLossError(at + ": the leaf does not hash to the hash sent with it");
      }
      absl::StatusOr<verifier::LeafView> leaf = verifier::ParseLeaf(proof.leaf);
      if (!leaf.ok()) {
        return absl::DataLossError(at + " does not decode: " + std::string(leaf.status().message()));
      }
      if (leaf->sequence != proof.sequence || leaf->request_id != request_id) {
        return absl::DataLossError(at + ": the leaf is entry " + std::to_string(leaf->sequence) +
                                   " of request '" + leaf->request_id + "'");
      }
      row = {std::to_string(leaf->sequence), TimeText(leaf->time_unix_ms), Cell(leaf->type_name),
             Cell(leaf->template_id), Cell(leaf->decision)};
    }
    std::vector<verifier::Hash> path;
    for (const std::string& h : proof.path) {
      absl::StatusOr<verifier::Hash> hash = HashOf(h, at + ": an inclusion proof element");
      if (!hash.ok()) return hash.status();
      path.push_back(*hash);
    }
    if (proof.sequence >= cp->size) {
      return absl::DataLossError(at + " is not below the checkpoint's size " +
                                 std::to_string(cp->size));
    }
    if (absl::Status s = verifier::CheckInclusion(proof.sequence, cp->size, leaf_hash, path,
                                                  cp->root);
        !s.ok()) {
      return absl::DataLossError(at + " is not included in the signed checkpoint of size " +
                                 std::to_string(cp->size) + ": " + std::string(s.message()));
    }
    row.push_back(Hex(leaf_hash));
    rows.push_back(std::move(row));
  }
  return "request " + request_id + ": " + std::to_string(receipt->proofs.size()) +
         " entries, each proven included in the checkpoint of size " + std::to_string(cp->size) +
         " signed by '" + key->name + "', root " + Hex(cp->root) + "\n" + Table(rows) + "\n" +
         receipt->checkpoint.note;
}

absl::StatusOr<std::string> VerifyBundleOffline(const std::string& bundle_path,
                                                const AuditTrust& trust) {
  absl::StatusOr<verifier::PinnedKey> key = PinnedKeyOf(trust);
  if (!key.ok()) return key.status();
  std::string out;
  std::optional<std::string> stored;
  if (!trust.state_path.empty()) {
    absl::StatusOr<std::string> text = ReadWholeFile(trust.state_path, "--state");
    if (!text.ok()) return text.status();
    stored = *std::move(text);
  }
  std::string origin = trust.origin;
  if (origin.empty()) {
    if (stored.has_value()) {
      origin = FirstLine(*stored);
    } else {
      // Only the head is needed: header, u32 length, note.
      std::ifstream in(bundle_path, std::ios::binary);
      if (!in) return absl::NotFoundError("cannot open the bundle file '" + bundle_path + "'");
      std::string head(kBundleHeader.size() + 4 + 64 * 1024, '\0');
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<std::size_t>(in.gcount()));
      origin = FirstLine(NoteOfBundle(head));
    }
    out += "origin " + origin + " (not pinned; taken from the " +
           (stored.has_value() ? "stored checkpoint" : "bundle") + ")\n";
  }
  verifier::BundleOptions options;
  options.key = *key;
  options.origin = origin;
  if (stored.has_value()) {
    absl::StatusOr<verifier::CheckpointView> view =
        verifier::VerifyCheckpointNote(*stored, *key, origin);
    if (!view.ok()) {
      return absl::Status(view.status().code(), "the stored checkpoint in '" + trust.state_path +
                                                    "' does not verify: " +
                                                    std::string(view.status().message()));
    }
    options.trusted = *view;
  }
  absl::StatusOr<verifier::BundleReport> report =
      verifier::VerifyBundleFile(bundle_path, options);
  if (!report.ok()) return report.status();
  out += "bundle OK: checkpoint of size " + std::to_string(report->checkpoint.size) +
         " signed by '" + key->name + "', root " + Hex(report->checkpoint.root) + "\n";
  if (options.trusted.has_value()) {
    out += "consistent with the stored checkpoint of size " +
           std::to_string(options.trusted->size) + "\n";
  }
  return out + BundleSummary(*report);
}

}  // namespace enclave::client::cli

namespace enclave::client::cli {

absl::StatusOr<std::string> AuditEntriesJson(AuditClient& audit, EnclaveClient& templates,
                                             const AuditFilter& filter, std::size_t limit,
                                             const AuditTrust& trust) {
  bool verification_failed = false;
  absl::StatusOr<Verified> verified = FetchVerified(audit, filter, trust, &verification_failed);
  if (!verified.ok()) {
    if (!IsVerificationFailure(verified.status(), verification_failed)) return verified.status();
    return "{\"entries\":[],\"log_size\":0,\"checkpoint\":null,\"verification\":{\"ok\":false,"
           "\"message\":" +
           JsonString("nothing is shown: " + std::string(verified.status().message())) + "}}\n";
  }
  LayoutCache layouts(templates);
  const std::vector<Shown>& all = verified->shown;
  const std::size_t count = std::min(limit, all.size());
  std::string entries = "[";
  for (std::size_t k = 0; k < count; ++k) {
    const Shown& s = all[all.size() - 1 - k];  // newest first
    entries += (k == 0 ? "" : ",") + EntryJson(s, &layouts);
  }
  entries += "]";
  return "{\"entries\":" + entries + ",\"log_size\":" + std::to_string(verified->log_size) +
         ",\"checkpoint\":" + CheckpointJson(verified->latest) +
         ",\"verification\":{\"ok\":true,\"message\":" +
         JsonString(VerificationMessage(*verified, count)) + "}}\n";
}

}  // namespace enclave::client::cli
