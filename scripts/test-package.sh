#!/usr/bin/env bash
# The npm package as users get it: `npm pack` (prepack builds a clean dist/), the tarball holds the
# CLI and only what it needs, and the command works installed globally and through npx.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s)
tarball="$dir/$(npm pack --silent --pack-destination "$dir" | tail -n 1)"
files=$(tar -tzf "$tarball" | sed 's#^package/##' | sort)
unexpected=$(printf '%s\n' "$files" | grep -vE '^(dist/.*\.(js|d\.ts)|schema/hooks\.schema\.json|docs/[A-Za-z-]+\.md|package\.json|README\.md|LICENSE)$' || true)
if [ -n "$unexpected" ]; then
  echo "package check: the tarball holds files users do not need:" >&2
  printf '  %s\n' $unexpected >&2
  exit 1
fi
printf '%s\n' "$files" | grep -qx 'dist/cli/main.js' || { echo "package check: dist/cli/main.js is missing" >&2; exit 1; }
quiet=(--no-audit --no-fund --loglevel=error --prefer-offline)
# npm install -g
npm install -g --prefix "$dir/global" "${quiet[@]}" "$tarball"
version=$("$dir/global/bin/resource-hooks" --version)
[ "$version" = "$(node -p 'require("./package.json").version')" ] ||
  { echo "package check: the global resource-hooks printed '$version'" >&2; exit 1; }
"$dir/global/bin/resource-hooks" validate -f examples/hooks.yaml >/dev/null
# npx in a project that depends on it
mkdir "$dir/project"
(cd "$dir/project" && npm init -y >/dev/null && npm install "${quiet[@]}" "$tarball" && npx --no-install resource-hooks --help | grep -q "serve") ||
  { echo "package check: npx resource-hooks --help did not list serve" >&2; exit 1; }
echo "package check: $(printf '%s\n' "$files" | wc -l) files, $(du -h "$tarball" | cut -f1) packed;" \
  "npm install -g and npx resource-hooks work ($(($(date +%s) - start)) s)"
