#!/usr/bin/env bash
# Installs the Debian 12 packages the enclave needs to build, test and run (deploy/debian-packages.txt).
# Run as root. Used by the README's quick start and by CI (.ci/run), so a missing package shows in CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get install)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2046
apt-get install -y -q --no-install-recommends $(grep -v '^\s*#' "$here/debian-packages.txt")

# The browser tests (tests/browser, docs/web-page.md) need Node.js with npm, and their npm packages
# (playwright-core, axe-core; pinned in tests/browser/package-lock.json; no browser is downloaded:
# they drive the chromium installed above). Node.js comes from Debian only when no `node`/`npm` is
# installed yet: a nodesource nodejs bundles npm, and Debian's npm package would conflict with it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get install -y -q --no-install-recommends nodejs npm
fi
(cd "$here/../tests/browser" && npm ci --no-audit --no-fund --ignore-scripts)
