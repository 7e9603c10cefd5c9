#!/usr/bin/env bash
# pySigma for the test that loads `modwatch export sigma`'s rules with it and
# runs its validators (cli/tests/export_sigma.rs, tests/sigma/pysigma_check.py),
# installed into target/pysigma (the test puts it on PYTHONPATH), not into the
# machine's Python. Idempotent.
#
# Pinned to pySigma 0.11.23, the last release that carries the MITRE ATT&CK
# data its tag validator checks against (ATT&CK 17.0): later releases download
# it from GitHub while validating, so the check would need the network and
# could change with ATT&CK's master branch. pyparsing 3.1.4: with pyparsing
# 3.3, pySigma 0.11.23 misreads `not` in conditions.
set -euo pipefail
cd "$(dirname "$0")/.."

pysigma=0.11.23
pyparsing=3.1.4
dir="${CARGO_TARGET_DIR:-target}/pysigma"
marker="$dir/.modwatch-pysigma-$pysigma-pyparsing-$pyparsing"
if [ -f "$marker" ]; then
    exit 0
fi
rm -rf "$dir"
python3 -m pip install --quiet --disable-pip-version-check --target "$dir" "pysigma==$pysigma" "pyparsing==$pyparsing"
touch "$marker"
