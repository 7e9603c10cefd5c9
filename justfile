# modwatch workflows. `just --list` is the help.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The wasm target every artefact is built for (no WASI: the component imports nothing).
wasm_target := "wasm32-unknown-unknown"

# List the recipes.
default:
    @just --list

# Run the bundled sample through the component and explain what it shows.
run:
    cargo run --release -p modwatch-host

# Scan files (NDJSON, JSON array or batch object) and write tagged NDJSON.
scan *ARGS:
    cargo run --release -p modwatch-host -- scan {{ARGS}}

# Everything CI runs: formatting, lints, every test.
test: fmt-check lint test-rust

# Formatting check.
fmt-check:
    cargo fmt --all --check

# Clippy on every target, warnings are errors.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, integration and artefact tests (the host's build compiles the component).
test-rust:
    cargo test --workspace

# Build the core module of the component (the host embeds the componentized form).
build-component:
    cargo build -p modwatch-component --target {{wasm_target}} --profile wasm
    mkdir -p target/artefacts
    cargo run --release -p modwatch-host -- component --out target/artefacts/modwatch.component.wasm
    @ls -l target/artefacts/modwatch.component.wasm

# Benchmarks: native engine, component in wasmtime and a naive serde_json baseline on a generated mix.
bench:
    cargo bench -p modwatch-host --bench throughput
