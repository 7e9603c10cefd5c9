#!/usr/bin/env bash
# Installs what the web build and the playground's tests need, and nothing
# else; each step only when it is missing, so a second run takes a second:
#   - Debian's Chromium (/usr/bin/chromium), for the browser test. Never a
#     browser downloaded by a test tool: playwright-core drives this one.
#   - wasm-bindgen-cli at exactly the version of the wasm-bindgen crate
#     (Cargo.toml [workspace.dependencies]); the two must match.
#   - playwright-core and jco-transpile (jco's transpiler, for the component
#     in Node and Chromium), from playground/package-lock.json.
# `--build-only`: only what `just build-web` needs (wasm-bindgen-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=false
if [ "${1:-}" = "--build-only" ]; then build_only=true; fi

if ! $build_only && [ ! -x /usr/bin/chromium ]; then
    echo "setup-web: installing Debian's chromium" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y --no-install-recommends chromium; then
        $sudo apt-get update
        $sudo apt-get install -y --no-install-recommends chromium
    fi
fi

want=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
if [ -z "$want" ]; then
    echo "setup-web: no pinned wasm-bindgen version in Cargo.toml" >&2
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    echo "setup-web: installing wasm-bindgen-cli $want (found: ${have:-none}); this takes about 6 minutes" >&2
    # `--locked` first; its lock file has pinned a crate version the registry
    # no longer serves (webpki-roots 1.0.11), so fall back to a fresh resolve
    # of the same CLI version.
    cargo install wasm-bindgen-cli --version "$want" --locked \
        || cargo install wasm-bindgen-cli --version "$want"
fi

# Every package of the lock file's devDependencies, at the locked version.
if ! $build_only && ! node -e '
    const lock = require("./playground/package-lock.json").packages;
    const want = Object.keys(lock[""].devDependencies);
    const ok = want.every((name) => {
        try { return require(`./playground/node_modules/${name}/package.json`).version === lock[`node_modules/${name}`].version; }
        catch { return false; }
    });
    process.exit(ok ? 0 : 1);'; then
    echo "setup-web: installing playwright-core and jco-transpile (npm ci)" >&2
    (cd playground && npm ci --no-audit --no-fund)
fi
