#!/usr/bin/env bash
# Install the pinned front-end packages and put what the pages need under services/api/static/vendor.
# Run at setup (make install, .ci/run); the service never fetches anything at run time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../static/vendor"
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
rm -rf "$out.tmp" && mkdir -p "$out.tmp/govuk" "$out.tmp/autocomplete"
npx --no-install sass --pkg-importer=node --no-source-map --style=compressed \
  app.scss "$out.tmp/govuk/govuk-frontend.min.css"
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js "$out.tmp/govuk/"
cp node_modules/accessible-autocomplete/dist/accessible-autocomplete.min.js \
   node_modules/accessible-autocomplete/dist/accessible-autocomplete.min.css "$out.tmp/autocomplete/"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.built"
echo "front-end assets built into services/api/static/vendor"
