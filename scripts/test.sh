#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the tools the tests
# need (nats-server; the Rust toolchain and wasm target come from rust-toolchain.toml),
# then runs `just test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v just >/dev/null 2>&1; then
    # `just` from PyPI installs in seconds; `cargo install just` takes minutes.
    python3 -m pip install --quiet --disable-pip-version-check rust-just
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
    export PATH
fi
# rustup installs the pinned toolchain with rust-toolchain.toml's targets and
# components only when the toolchain is missing; a machine that already has
# that toolchain without the wasm target (seen on a fresh machine) needs them
# added, so add them every time (a no-op when present).
rustup show active-toolchain >/dev/null
toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
rustup target add --toolchain "$toolchain" wasm32-unknown-unknown
rustup component add --toolchain "$toolchain" rustfmt clippy

# nats-server for the `modwatch worker` tests (cli/tests/worker.rs).
bash scripts/setup-nats.sh
# pySigma for the `modwatch export sigma` tests (cli/tests/export_sigma.rs).
bash scripts/setup-sigma.sh

exec just test
