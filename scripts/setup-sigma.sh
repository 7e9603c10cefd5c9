#!/usr/bin/env bash
# pySigma, for the test that loads `modwatch export sigma`'s rules with it and
# runs its validators (tests/sigma/pysigma_check.py). Pinned: the validators
# change between releases. Idempotent.
set -euo pipefail

version=2.0.1
if python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('pysigma') != '$version')" 2>/dev/null; then
    exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check "pysigma==$version"
