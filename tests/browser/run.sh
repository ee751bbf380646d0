#!/usr/bin/env bash
# CTest's entry to the browser tests (tests/browser/CMakeLists.txt): fails, never skips, when
# Node.js, tests/browser/node_modules or chromium is missing, saying how to install them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hint="run deploy/install-deps.sh (as root: installs chromium, Node.js if missing, and runs npm ci in tests/browser)"
if ! command -v node >/dev/null; then
  echo "browser tests: node not found: $hint" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/axe-core" ]; then
  echo "browser tests: $here/node_modules is missing (playwright-core, axe-core): $hint" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "browser tests: /usr/bin/chromium not found: $hint" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
exec node "$here/run.mjs" "$@"
