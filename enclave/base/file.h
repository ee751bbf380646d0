// Durable file writes, the one implementation: every file that must be whole or absent after a
// crash (the audit log's checkpoint, the port file, enclavectl's --output files, the generator's
// database, restored state) goes through here.
//
//   ENCLAVE_RETURN_IF_ERROR(base::WriteFileAtomically(path, text, 0600));
//
// WriteFileAtomically writes a new temporary file beside `path` (mkstemp: "<path>.tmp.XXXXXX"),
// sets `mode`, writes it whole, fsyncs it, renames it over `path` and fsyncs the directory, so a
// reader sees the old file or the new one, never a part. On any error the temporary file is
// removed and `path` is unchanged.
//
// Errors are kUnavailable and say which step failed, the file and the system's reason:
//   "cannot write /state/port.tmp.Ab12Cd: No space left on device"
// Callers prefix them with what the file is ("port_file: ...").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace enclave::base {

// The mode a new file gets from open(..., 0666) under the process umask.
mode_t DefaultFileMode();

// write(2) until all of `data` is written (EINTR retried). kUnavailable "cannot write <what>: ..."
absl::Status WriteAll(int fd, std::string_view data, std::string_view what);

// fsync of the directory `dir` (after a rename or link in it). kUnavailable
// "cannot fsync <dir>: ...".
absl::Status FsyncDirectory(const std::string& dir);

// rename(2) of `from` over `to`, then fsync of `to`'s directory. `from` is removed when the
// rename fails. kUnavailable "cannot rename <from> to <to>: ...".
absl::Status ReplaceFile(const std::string& from, const std::string& to);

// See above. REQUIRES: path names a file (not a directory) in an existing directory.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode);

}  // namespace enclave::base
