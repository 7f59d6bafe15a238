#!/bin/sh
# Install the gateway alone (no extras, so no TensorFlow) into the Python that
# runs this script, from the source tree given as $1 (default: the current
# directory), then prove TensorFlow is absent. The gateway image runs exactly
# this; tests/deploy/test_gateway_install.py runs it in a fresh virtualenv.
set -eu
src="${1:-.}"
python="${PYTHON:-python}"
"$python" -m pip install --disable-pip-version-check "$src"
"$python" - <<'PY'
import importlib.util
import sys

import gateway.serve  # noqa: F401  (the entry point's imports resolve)

if importlib.util.find_spec("tensorflow") is not None:
    sys.exit("install-gateway: tensorflow is importable; the gateway image must not carry it")
if "tensorflow" in sys.modules:
    sys.exit("install-gateway: importing the gateway imported tensorflow")
print("install-gateway: ok (no tensorflow)")
PY
