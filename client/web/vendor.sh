#!/usr/bin/env bash
# Re-creates client/web/assets/vendor/ from the npm packages pinned in package-lock.json:
#   cd client/web && ./vendor.sh
# Runs `npm ci` (registry access needed), then copies each package's minified CSS and its licence.
# The vendored files are committed: the build and the page need no network.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
out=assets/vendor
rm -rf "$out"
mkdir -p "$out"
for pkg in alert button form-label select table textbox; do
  dir="node_modules/@utrecht/${pkg}-css"
  version="$(node -p "require('./${dir}/package.json').version")"
  cp "$dir/dist/index.min.css" "$out/utrecht-${pkg}.css"
  cp "$dir/LICENSE.md" "$out/utrecht-${pkg}.LICENSE.txt"
  echo "@utrecht/${pkg}-css ${version} EUPL-1.2 -> ${out}/utrecht-${pkg}.css" >> "$out/VERSIONS.txt"
done
echo "vendored into $out:"
cat "$out/VERSIONS.txt"
