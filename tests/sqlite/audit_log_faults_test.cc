// I/O faults under the audit log (docs/security.md §7.2, item 11): a VFS shim over "unix" fails
// the k-th write or sync from the moment it is armed with SQLITE_IOERR. The log must fail closed:
// no Append reports success for an entry that is not in the database after a restart, nothing is
// acknowledged after the first failure, and a restart with the fault cleared resumes.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/leaf.h"
#include "tests/testing/temp_dir.h"

namespace enclave::adapters::sqlite {
namespace {

using ::enclave::testing::TempDir;

// --- A fault-injecting VFS --------------------------------------------------------------------

std::atomic<int> g_countdown{-1};  // < 0: disarmed; 0: every write and sync fails
std::atomic<int> g_faults{0};

bool Fault() {
  int v = g_countdown.load();
  while (v > 0) {
    if (g_countdown.compare_exchange_weak(v, v - 1)) return false;
  }
  if (v == 0) {
    ++g_faults;
    return true;
  }
  return false;
}

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int XClose(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int XRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int XWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (Fault()) return SQLITE_IOERR_WRITE;
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int XTruncate(sqlite3_file* f, sqlite3_int64 size) {
  if (Fault()) return SQLITE_IOERR_TRUNCATE;
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int XSync(sqlite3_file* f, int flags) {
  if (Fault()) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int XFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int XLock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int XUnlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int XCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int XFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int XSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int XDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int XShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, out);
}
int XShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void XShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int XShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kMethods = {
    2,          XClose,       XRead,      XWrite,     XTruncate,   XSync,
    XFileSize,  XLock,        XUnlock,    XCheckReservedLock,      XFileControl,
    XSectorSize, XDeviceCharacteristics, XShmMap, XShmLock, XShmBarrier, XShmUnmap,
    nullptr,    nullptr};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;

int XOpen(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(f);
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  const int rc = g_real->xOpen(g_real, name, ff->real, flags, out_flags);
  ff->base.pMethods = (rc == SQLITE_OK && ff->real->pMethods != nullptr) ? &kMethods : nullptr;
  return rc;
}

const char* RegisterFaultVfs() {
  if (g_real == nullptr) {
    g_real = sqlite3_vfs_find(nullptr);
    g_vfs = *g_real;
    g_vfs.zName = "enclave-fault";
    g_vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real->szOsFile;
    g_vfs.xOpen = XOpen;
    sqlite3_vfs_register(&g_vfs, 0);
  }
  return g_vfs.zName;
}

core::QueryLogEntry Entry(const std::string& request_id, core::QueryLogEntry::Type type) {
  core::QueryLogEntry e;
  e.type = type;
  e.request_id = request_id;
  e.rpc = "RunQuery";
  e.template_id = "zzp_aantal_per_wijk";
  e.decision = "allowed";
  return e;
}

TEST_CASE("I/O faults at the k-th write or sync: fail closed, nothing acknowledged is lost") {
  const char* vfs = RegisterFaultVfs();
  int trials = 0, total_faults = 0;
  for (int k = 0; k < 60; k += 3) {
    CAPTURE(k);
    TempDir dir;
    AuditLogOptions o;
    o.state_dir = dir.path().string();
    o.checkpoint_interval = std::chrono::milliseconds(0);
    o.checkpoint_every_entries = 7;  // checkpoint writes are exposed to the fault too
    o.vfs_for_test = vfs;
    std::set<std::string> acknowledged;
    std::atomic<int> acknowledged_after_failure{0};
    {
      g_countdown = -1;
      auto store = AuditLogStore::Open(o);
      REQUIRE_MESSAGE(store.ok(), store.status().ToString());
      g_faults = 0;
      g_countdown = k;
      std::atomic<bool> failed{false};
      std::mutex mu;
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 15; ++i) {
            const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
            const bool failed_before = failed.load();
            absl::Status s = (*store)->Append(Entry(id, core::QueryLogEntry::Type::kAccepted));
            if (s.ok()) {
              if (failed_before) ++acknowledged_after_failure;
              std::lock_guard<std::mutex> lock(mu);
              acknowledged.insert(id);
            } else {
              CHECK(s.code() == absl::StatusCode::kUnavailable);
              failed = true;
            }
          }
        });
      }
      for (auto& th : threads) th.join();
      total_faults += g_faults.load();
      (*store)->Close().IgnoreError();  // may fail: the fault is still armed
      g_countdown = -1;
    }
    CHECK(acknowledged_after_failure.load() == 0);
    // Restart with the fault cleared: the log opens, and every acknowledged entry is there.
    o.vfs_for_test.clear();
    auto store = AuditLogStore::Open(o);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    auto leaves = (*store)->ReadLeaves(0, (*store)->Size());
    REQUIRE(leaves.ok());
    std::set<std::string> stored;
    for (const std::string& bytes : *leaves) {
      auto leaf = audit::DecodeLeaf(bytes);
      REQUIRE(leaf.ok());
      stored.insert(leaf->request_id);
    }
    for (const std::string& id : acknowledged) CHECK_MESSAGE(stored.contains(id), id);
    CHECK((*store)->Append(Entry("after", core::QueryLogEntry::Type::kAccepted)).ok());
    ++trials;
  }
  MESSAGE("trials: ", trials, ", injected faults: ", total_faults);
  CHECK(total_faults > 0);  // the shim did inject
}

}  // namespace
}  // namespace enclave::adapters::sqlite
