#!/usr/bin/env bash
# Installs what `just fuzz` needs: cargo-fuzz (from crates.io, built locally).
# Idempotent: does nothing when a cargo-fuzz is already on PATH.
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, -Cpasses=sancov-module, ...);
# the pinned toolchain is stable, so `just fuzz` runs it with RUSTC_BOOTSTRAP=1, which lets a
# stable compiler accept them. libFuzzer itself is compiled from source by libfuzzer-sys (it
# needs a C++ compiler: Debian's g++/clang).
set -euo pipefail

if command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz: $(cargo fuzz --version 2>/dev/null || echo present)"
    exit 0
fi
if ! command -v c++ >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q g++
fi
cargo install cargo-fuzz --locked
