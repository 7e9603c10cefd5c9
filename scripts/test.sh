#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the tools the tests
# need (the Rust toolchain and wasm target come from rust-toolchain.toml),
# then runs `just test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v just >/dev/null 2>&1; then
    # `just` from PyPI installs in seconds; `cargo install just` takes minutes.
    python3 -m pip install --quiet --disable-pip-version-check rust-just
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
    export PATH
fi
rustup show active-toolchain >/dev/null  # installs the pinned toolchain and targets if missing

exec just test
