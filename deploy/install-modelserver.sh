#!/bin/sh
# Install the gateway with the bundled ModelServer (tensorflow-cpu) into the
# Python that runs this script, from the source tree given as $1 (default: the
# current directory). For development images only; production serves with
# TensorFlow Serving.
set -eu
src="${1:-.}"
python="${PYTHON:-python}"
"$python" -m pip install --disable-pip-version-check "$src[modelserver]"
"$python" -c "import tensorflow, gateway.modelserver.main; print('install-modelserver: ok, tensorflow', tensorflow.__version__)"
