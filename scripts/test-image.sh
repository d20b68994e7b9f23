#!/usr/bin/env bash
# No Docker engine runs here, so this replays the runtime stage of the Dockerfile by hand: a clean
# directory with package.json, the lock file, dist/ and schema/, `npm ci --omit=dev
# --ignore-scripts` exactly as the image does, then the CLI as the image's ENTRYPOINT runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp package.json package-lock.json "$dir"/
cp -r dist schema "$dir"/
cp examples/hooks.yaml "$dir"/hooks.yaml
(cd "$dir" && NODE_ENV=production npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
if [ -d "$dir/node_modules/typescript" ] || [ -d "$dir/node_modules/vitest" ]; then
  echo "image check: dev dependencies were installed" >&2; exit 1
fi
entry=(node "$dir/dist/cli/main.js")
"${entry[@]}" --help | grep -q "serve" || { echo "image check: --help does not list serve" >&2; exit 1; }
"${entry[@]}" validate -f "$dir/hooks.yaml"
echo "image check: production install ($(du -sh "$dir/node_modules" | cut -f1) node_modules) runs resource-hooks --help and validate"
