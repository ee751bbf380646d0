// The one check every secret file on disk passes before it is read (security.md §3.3): the TLS
// server key, the query log's signing key and the record-key secret; the same check guards the
// state files (query log, release history, budget ledger: adapters/sqlite/durable_database.h) and
// the state directory.
//
// A secret or state file must be a regular file reached without a symbolic link, readable and writable by
// its owner only (mode 0600 or narrower: no group or other bits), and owned by the user the server
// runs as. A file that systemd delivered as a credential (in $CREDENTIALS_DIRECTORY, a private
// read-only directory of the unit) is exempt from the mode and owner rules, since systemd decides
// both there.
//
//   ENCLAVE_ASSIGN_OR_RETURN(std::string pem,
//                            crypto::ReadSecretFile("tls.server_key_file", path, 64 * 1024));
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::crypto {

// "0644": the permission bits of `mode` as four octal digits.
std::string ModeText(mode_t mode);

// True when `path` lies directly in $CREDENTIALS_DIRECTORY (a systemd credential).
bool IsSystemdCredential(const std::string& path);

// The checks on a file already opened without following links (fstat of an O_NOFOLLOW descriptor,
// or lstat). kFailedPrecondition naming `what`, the path, what was found and what is allowed:
//   "<what> <path> is not a regular file; allowed: a regular file (not a directory, device or
//    symbolic link)"
//   "<what> <path> has mode 0644; allowed: 0600 or narrower, readable by its owner only
//    (chmod 600 <path>)"
//   "<what> <path> is owned by uid 0; allowed: the user enclaved runs as (uid 998)"
// The mode and owner checks are skipped for `systemd_credential`.
absl::Status CheckPrivateFileStat(std::string_view what, const std::string& path,
                                  const struct stat& st, bool systemd_credential);

// The same for a directory that holds private files (the state directory): a directory, mode
// 0700 or narrower, owned by the user the server runs as. kFailedPrecondition
//   "<what> <path> has mode 0777; allowed: 0700 or narrower, usable by its owner only
//    (chmod 700 <path>)"
absl::Status CheckPrivateDirStat(std::string_view what, const std::string& path,
                                 const struct stat& st);

// Opens `path` with O_NOFOLLOW, checks it with CheckPrivateFileStat (systemd credentials detected
// with IsSystemdCredential) and returns its content. Errors:
//   kNotFound            the file does not exist ("<what>: cannot read <path>: <reason>");
//   kFailedPrecondition  a symbolic link ("<what> <path> is a symbolic link; allowed: a regular
//                        file"), a failed check above, or more than `max_bytes` bytes;
//   kUnavailable         it cannot be opened or read ("<what>: cannot read <path>: <reason>").
// Messages name `what` and the path, never the content.
absl::StatusOr<std::string> ReadSecretFile(std::string_view what, const std::string& path,
                                           std::size_t max_bytes);

}  // namespace enclave::crypto
