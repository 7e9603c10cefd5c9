# modwatch workflows. `just --list` is the help.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The wasm target every artefact is built for (no WASI: the component imports nothing).
wasm_target := "wasm32-unknown-unknown"

# List the recipes.
default:
    @just --list

# Run the bundled sample through the component and explain what it shows.
run:
    cargo run --release -p modwatch

# Scan files (NDJSON, JSON array or batch object) and write tagged NDJSON.
scan *ARGS:
    cargo run --release -p modwatch -- scan {{ARGS}}

# The sidecar for Vector's `http` sink (docs/vector.md): tags each batch, forwards it to FORWARD (e.g. Vector's `http_server` source); more options after it (--state FILE, --only-matches, --rules FILE …).
serve forward="http://127.0.0.1:8688/" *ARGS:
    cargo run --release -p modwatch -- serve --forward {{quote(forward)}} {{ARGS}}

# Everything CI runs: formatting, lints, every test.
test: fmt-check lint lint-fluent-bit test-rust test-web

# Formatting check.
fmt-check:
    cargo fmt --all --check

# Clippy on every target, warnings are errors.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, integration and artefact tests (the CLI's build compiles the component, host-test's the Fluent Bit module).
test-rust:
    cargo test --workspace

# Print the VRL program for Vector's `remap` transform: stateless tagging with no sidecar (docs/vrl.md). ARGS: `--rules FILE [--with-builtin]`, `--config FILE`, `--out FILE`.
export-vrl *ARGS:
    cargo run --release -p modwatch -- export vrl {{ARGS}}

# Build the core module of the component (the CLI embeds the componentized form).
build-component:
    cargo build -p modwatch-component --target {{wasm_target}} --profile wasm
    mkdir -p target/artefacts
    cargo run --release -p modwatch -- component --out target/artefacts/modwatch.component.wasm
    @ls -l target/artefacts/modwatch.component.wasm

# Benchmarks: throughput of the native engine, the component in wasmtime and a naive serde_json
# baseline on a generated mix; scoring memory per principal, under spraying, and cost per event;
# the cost of output.routing_fields; the VRL export's compile time and events/s on Vector's VRL engine against a parse-only program; then bench-serve.
bench: && bench-serve
    cargo bench -p modwatch-engine --bench scoring
    cargo bench -p modwatch-engine --bench routing
    cargo bench -p modwatch-host-test --bench throughput
    cargo bench -p modwatch-vrl --bench program

# Events/s through `modwatch serve` (the Vector sidecar; the bench builds the real binary first) on the same mix, batches of 1,000, to a receiver on loopback.
bench-serve:
    cargo bench -p modwatch-host-test --bench serve

# Events/s through `modwatch worker` (NATS JetStream, docs/scale.md) on the same mix: one nats-server on loopback, 4 partitions, one worker; broker share per event, checkpoint time and bytes per principal.
bench-worker:
    bash scripts/setup-nats.sh
    cargo bench -p modwatch-host-test --bench worker

# Install what the web build and its tests need (Chromium from Debian, wasm-bindgen-cli, playwright-core); idempotent.
setup-web *ARGS:
    ./scripts/setup-web.sh {{ARGS}}

# The web build has its own target dir, so the component's wasm build keeps its cache: it differs
# from the wasm profile in strip = "debuginfo", which keeps the target_features section that
# wasm-bindgen reads to use reference types (wasm-bindgen drops the names itself).
# No wasm-opt: Debian's binaryen breaks the output.

# The browser build into playground/pkg/: the wasm-bindgen skin, its JS glue, the page's samples.
build-web: (setup-web "--build-only")
    CARGO_TARGET_DIR=target/web CARGO_PROFILE_WASM_STRIP=debuginfo cargo build -p modwatch-web --target {{wasm_target}} --profile wasm
    wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir playground/pkg target/web/{{wasm_target}}/wasm/modwatch_web.wasm
    node playground/tools/samples.mjs
    @ls -l playground/pkg/modwatch_web_bg.wasm

# Serve the rule playground on http://127.0.0.1:PORT/ (offline: every file is in the repository or built by it).
playground port="8700": build-web
    node playground/serve.mjs --port {{port}}

# Clippy on the web skin for its real target.
lint-web:
    CARGO_TARGET_DIR=target/web cargo clippy -p modwatch-web --target {{wasm_target}} -- -D warnings

# The component transpiled by jco (jco-transpile from playground/package.json) into playground/pkg/jco/: an ES module and its core wasm, for Node and browsers.
build-jco: setup-web
    mkdir -p target/artefacts
    cargo run -q -p modwatch -- component --out target/artefacts/modwatch.component.wasm
    node playground/tools/jco.mjs target/artefacts/modwatch.component.wasm

# Web build tests: golden-verdict parity in Node (the wasm-bindgen build and the component in jco), the page and the jco build in headless Chromium (target/playground/).
test-web: setup-web lint-web build-web build-jco
    cd playground && node --test tests/split.test.mjs tests/parity.test.mjs tests/jco.test.mjs
    cd playground && node --test tests/browser.test.mjs

# Events/s of the web build in headless Chromium on the mix of `just bench`, and page load to first result; then the wasm-bindgen build beside the component in jco, in Node.
bench-web events="100000": setup-web build-web build-jco
    CARGO_TARGET_DIR=target/web cargo run --release -p modwatch-web --example mix -- target/web/mix-{{events}}.ndjson {{events}} 1578
    node playground/bench/bench.mjs target/web/mix-{{events}}.ndjson
    node playground/bench/jco.mjs target/web/mix-{{events}}.ndjson

# The Fluent Bit filter module into target/artefacts/ (core wasm, no imports), snapshotted with its engine built so Fluent Bit builds nothing at run time (docs/fluent-bit.md). RULES (a TOML pack) and CONFIG (JSON) are embedded instead of the built-in pack and the defaults; both are checked at build time.
build-fluent-bit rules="" config="":
    MODWATCH_FB_RULES={{ if rules == "" { "''" } else { quote(join(invocation_directory(), rules)) } }} \
    MODWATCH_FB_CONFIG={{ if config == "" { "''" } else { quote(join(invocation_directory(), config)) } }} \
        cargo build -p modwatch-fluent-bit --target {{wasm_target}} --profile wasm
    mkdir -p target/artefacts
    cargo run -q -p modwatch-host-test --bin snapshot-fluent-bit -- target/{{wasm_target}}/wasm/modwatch_fluent_bit.wasm target/artefacts/modwatch_fluent_bit.wasm
    @ls -l target/artefacts/modwatch_fluent_bit.wasm

# Clippy on the Fluent Bit skin for its real target (its exports exist only on wasm32).
lint-fluent-bit:
    cargo clippy -p modwatch-fluent-bit --target {{wasm_target}} -- -D warnings

# The Fluent Bit module's cost per record: wasm instructions (wasmtime fuel) and the wasm stack it needs; with a real Fluent Bit (FLUENT_BIT=/path/to/fluent-bit, or fluent-bit on PATH) also records per CPU-second of the whole process against a do-nothing filter over three 50,000-record mixes, AOT when flb-wamrc is beside it, and the stack at several wasm_stack_size values (docs/performance.md#in-a-real-fluent-bit).
bench-fluent-bit:
    cargo bench -p modwatch-host-test --bench fluent_bit

# Fuzzing (cargo-fuzz and libFuzzer, `fuzz/`): builds the seed corpora (`fuzz/seed.sh`), then runs
# every target for SECONDS each, one after another on one core: event (sniff, normalise, evaluate,
# tag), eql (query parser and compiler), rules (rule packs), config, state (`import_state`) and
# fluent_bit (the Fluent Bit export, natively). Stops at the first crash, hang (5 s) or blow-up
# (2 GiB). Corpora grow in fuzz/corpus/, crashes land in fuzz/artifacts/, logs in fuzz/logs/. For a
# crash: `RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir fuzz NAME fuzz/artifacts/NAME/crash-…`, fix
# it, keep the minimised input under tests/fuzz/NAME/ with a row in tests/fuzz/README.md.
# Every fuzz target for SECONDS each, one after another, after seeding (details above).
fuzz seconds="60": setup-fuzz
    fuzz/seed.sh
    for t in event eql rules config state fluent_bit; do fuzz/run.sh "$t" {{seconds}}; done

# One fuzz target (event, eql, rules, config, state, fluent_bit) for SECONDS.
fuzz-target name seconds="60": setup-fuzz
    fuzz/run.sh {{name}} {{seconds}}

# Install cargo-fuzz (idempotent; `just fuzz` runs it on the stable toolchain with RUSTC_BOOTSTRAP=1).
setup-fuzz:
    ./scripts/setup-fuzz.sh

# Rewrite the rule table of rules/README.md from the built-in packs (a test fails when it is stale).
rules-table:
    cargo run -q -p modwatch-testkit --bin rules-table
