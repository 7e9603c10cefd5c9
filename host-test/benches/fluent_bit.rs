//! `just bench-fluent-bit`: what the Fluent Bit module costs per record.
//!
//! **In a real Fluent Bit** (`FLUENT_BIT=/path/to/fluent-bit`, or
//! `fluent-bit` on `PATH`): the process runs the documented configuration
//! (tail → `wasm` filter → file) over 50,000 generated records of CloudTrail
//! and Azure, raw and ECS (`MODWATCH_FB_RECORDS` changes the count), in three
//! mixes: no record matches, 1% match, 16% match (records the built-in pack
//! tags, spread evenly among ones it does not). Each mix runs with the snapshotted modwatch
//! module and with a do-nothing filter of the same ABI
//! ([`process::pass_module`]); the figure is records per CPU-second of the
//! whole process (user + system), and their ratio. From these: the CPU a
//! matching record adds, and the no-match path against one read of the
//! record (the module's `modwatch_touch` as the filter function), both net
//! of the do-nothing run. With `flb-wamrc` beside Fluent Bit (or
//! `FLB_WAMRC=/path`) the module is also compiled ahead of time and
//! measured the same way. Then the stack: the corpus and records nested 1 to
//! 127 levels at several `wasm_stack_size` values, unset (Fluent Bit's 8 KiB
//! default) first. `MODWATCH_FB_STACK` is the filter's `wasm_stack_size` for
//! the cost runs (default `96K`, the documented setting; empty: unset).
//!
//! **Always** (no Fluent Bit needed): wasmtime fuel (wasm instructions),
//! deterministic:
//!
//! - `touch`: one pass over a 2.4 KB record (`modwatch_touch` sums its
//!   bytes), the floor for anything that reads every byte;
//! - pass-through of that record, which no rule can match (the prefilter
//!   rejects it without parsing): the target is at most 2× `touch`;
//! - a matching record of about the same size (parsed, judged, scored, tagged);
//! - the generated mix (`r#gen::mix`, 1–3 KB events), per KB;
//! - `malloc` and `free`, which Fluent Bit calls twice per record;
//! - the engine build, which the module as cargo built it does on its first
//!   record and the snapshot (what ships) does not;
//! - the smallest wasm stack (wasmtime, `max_wasm_stack`) the deepest
//!   candidate record the engine parses passes in, and the engine build;
//! - each figure as CPU time in WAMR's fast interpreter, as Fluent Bit runs
//!   the module, from one calibration ([`WAMR_NS_PER_INSTRUCTION`]) made in
//!   a real Fluent Bit by the part above.
//!
//! `MODWATCH_FB_DUMP=DIR` also writes the records as NDJSON (`DIR/*.ndjson`)
//! to run through a real Fluent Bit or WAMR by hand.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

use modwatch_engine::{Engine, Output};
use modwatch_host_test::fluent_bit::process::{self, Job, Outcome, PASS_FILTER};
use modwatch_host_test::fluent_bit::{Answer, FLUENT_BIT, FluentBit, Options};

/// The pass-through cost may be at most this multiple of one pass.
const TARGET: f64 = 2.0;

/// CPU nanoseconds of the whole Fluent Bit process per wasm instruction
/// (wasmtime fuel) the module runs in WAMR's fast interpreter: a matching
/// record's extra process CPU over the extra fuel it takes, measured once by
/// the real-process part of this bench (Fluent Bit 5.1.1, WAMR 2.4.1;
/// 2026-12-03, code `b05d172`, the mean of two runs on the project's 2-core
/// machine at load 3.5–4;
/// docs/performance.md#in-a-real-fluent-bit), and used to turn fuel into
/// the CPU time Fluent Bit pays when no Fluent Bit is at hand. A model:
/// per-byte loops run faster per instruction in WAMR than call-heavy code.
const WAMR_NS_PER_INSTRUCTION: f64 = 2.96;

/// A matching record's CPU time in the interpreter may be at most this.
const MATCH_TARGET_MS: f64 = 0.2;

/// A CloudTrail record of everyday traffic (an S3 read), 2,400 bytes, ASCII:
/// Fluent Bit escapes non-ASCII as `\uXXXX`, which the prefilter treats as a
/// candidate (an escape could hide an operation name).
fn everyday(len: usize) -> Vec<u8> {
    let head = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLEID:etl-job","arn":"arn:aws:sts::111122223333:assumed-role/etl-reader/etl-job","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEKEY","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEID","arn":"arn:aws:iam::111122223333:role/etl-reader","accountId":"111122223333","userName":"etl-reader"},"attributes":{"creationDate":"2024-03-01T09:55:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"10.20.30.40","userAgent":"[aws-sdk-java/2.25.1 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.9]","requestParameters":{"bucketName":"analytics-landing","Host":"analytics-landing.s3.eu-west-1.amazonaws.com","key":"year=2024/month=03/day=01/part-00042.parquet"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"exampleid2","bytesTransferredOut":1048576},"requestID":"EXAMPLEREQ","eventID":"3f0e5a2c-0000-4000-8000-000000000042","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::analytics-landing/year=2024/month=03/day=01/part-00042.parquet"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::analytics-landing"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"analytics-landing.s3.eu-west-1.amazonaws.com"},"note":""#;
    let pad = len.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "lorem ipsum dolor sit amet ".repeat(pad / 27 + 1).get(..pad).unwrap_or_default())
        .into_bytes()
}

/// The same record as a matching one: the operation is the only change.
fn terminating(len: usize) -> Vec<u8> {
    let record = String::from_utf8(everyday(len)).unwrap_or_default();
    record
        .replace(
            r#""eventSource":"s3.amazonaws.com","eventName":"GetObject""#,
            r#""eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances""#,
        )
        .replace(r#""bucketName":"analytics-landing""#, r#""instancesSet":{"items":[{"instanceId":"i-0abc"}]}"#)
        .into_bytes()
}

fn nested(depth: usize) -> Vec<u8> {
    let ec2 = r#""eventSource":"ec2.amazonaws.com","eventName":"RunInstances""#;
    format!("{{{ec2},\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

/// CPU microseconds in WAMR's fast interpreter for `fuel` instructions.
fn wamr_us(fuel: u64) -> f64 {
    fuel as f64 * WAMR_NS_PER_INSTRUCTION / 1000.0
}

/// The smallest `max_wasm_stack`, to 1 KiB, at which `record` passes in a
/// fresh instance (of the module as built when `as_built`).
fn min_stack(record: &[u8], as_built: bool) -> anyhow::Result<usize> {
    let (mut low, mut high) = (1usize << 10, 1usize << 20);
    while high - low > 1 << 10 {
        let mid = (low + high) / 2;
        let mut small = FluentBit::with_options(Options { max_wasm_stack: Some(mid), as_built, ..Options::default() })?;
        if small.filter("bench", 0, 0, record).is_ok() && small.errors()? == 0 {
            high = mid;
        } else {
            low = mid;
        }
    }
    Ok(high.div_ceil(1024))
}

/// Fuel per record on the generated mix, for the calibration.
#[derive(Debug, Clone, Copy)]
struct FuelFigures {
    /// Whole calls (malloc, filter, free) of a record the module tags.
    tagged: f64,
    /// Whole calls of a record that passes through.
    passed: f64,
}

fn main() -> anyhow::Result<()> {
    let fuel = fuel_report()?;
    match process::find() {
        Some(fluent_bit) => fluent_bit_report(&fluent_bit, fuel)?,
        None => println!(
            "\nno Fluent Bit (FLUENT_BIT=/path/to/fluent-bit, or fluent-bit on PATH): the CPU figures above are the \
             model's (fuel x {WAMR_NS_PER_INSTRUCTION} ns)"
        ),
    }
    wasmtime_stack()
}

fn fuel_report() -> anyhow::Result<FuelFigures> {
    let mut fb = FluentBit::with_options(Options { fuel: true, ..Options::default() })?;
    let fuel = |fb: &FluentBit| fb.fuel().context("fuel is metered");

    let plain = everyday(2400);
    let matching = terminating(2400);
    // The snapshot's first record: nothing is built.
    fb.filter("bench", 0, 0, &plain)?;
    let first = fuel(&fb)?.filter;
    // The module as cargo built it builds the engine on its first record.
    let mut as_built = FluentBit::with_options(Options { fuel: true, as_built: true, ..Options::default() })?;
    as_built.filter("bench", 0, 0, &plain)?;
    let build = fuel(&as_built)?.filter;

    fb.touch(&plain)?;
    let touch = fuel(&fb)?.filter;
    if fb.filter("bench", 0, 0, &plain)? != Answer::Unchanged {
        bail!("the everyday record must pass through unchanged");
    }
    let pass = fuel(&fb)?;
    let Answer::Replaced(_) = fb.filter("bench", 0, 0, &matching)? else { bail!("the matching record must be tagged") };
    let tagged = fuel(&fb)?;

    // Per byte and per record: the same record ten times longer.
    fb.filter("bench", 0, 0, &everyday(24_000))?;
    let long = fuel(&fb)?.filter;
    fb.touch(&everyday(24_000))?;
    let long_touch = fuel(&fb)?.filter;
    let per_byte = (long - pass.filter) as f64 / 21_600.0;
    let touch_per_byte = (long_touch - touch) as f64 / 21_600.0;
    let fixed = pass.filter as f64 - per_byte * plain.len() as f64;

    let mix = modwatch_testkit::r#gen::mix(2_000, 1578);
    let (mut pass_fuel, mut pass_bytes, mut pass_n, mut touch_fuel, mut tag_fuel, mut tagged_n) = (0, 0, 0, 0, 0, 0);
    let mut matches = Vec::new();
    for event in &mix {
        let answer = fb.filter("bench", 0, 0, event.as_bytes())?;
        let spent = fuel(&fb)?.total();
        if answer == Answer::Unchanged {
            pass_fuel += spent;
            pass_bytes += event.len() as u64;
            pass_n += 1;
            fb.touch(event.as_bytes())?;
            touch_fuel += fuel(&fb)?.total();
        } else {
            tag_fuel += spent;
            tagged_n += 1;
            matches.push(event.clone());
        }
    }
    let tag_mean = tag_fuel as f64 / tagged_n.max(1) as f64;

    if let Some(dir) = std::env::var_os("MODWATCH_FB_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let lines = |events: &[String]| events.iter().map(|e| format!("{e}\n")).collect::<String>();
        std::fs::write(dir.join("mix.ndjson"), lines(&mix))?;
        std::fs::write(dir.join("matches.ndjson"), lines(&matches))?;
        let plain_only: Vec<String> = mix.iter().filter(|e| !matches.contains(e)).cloned().collect();
        std::fs::write(dir.join("no-match.ndjson"), lines(&plain_only))?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        std::fs::write(dir.join("everyday.ndjson"), lines(&[text(&plain)]))?;
        std::fs::write(dir.join("terminating.ndjson"), lines(&[text(&matching)]))?;
        let deep: Vec<String> = (1..=127).map(|d| text(&nested(d))).collect();
        std::fs::write(dir.join("nested-1-to-127.ndjson"), lines(&deep))?;
        println!("records written to {}", dir.display());
    }

    let ratio = pass.filter as f64 / touch as f64;
    println!("modwatch Fluent Bit module: {} bytes ({:.0} KiB)", FLUENT_BIT.len(), FLUENT_BIT.len() as f64 / 1024.0);
    let snapshot = modwatch_host_test::fluent_bit::snapshotted()?;
    println!("snapshotted (what ships): {} bytes ({:.0} KiB)", snapshot.len(), snapshot.len() as f64 / 1024.0);
    println!(
        "fuel = wasm instructions counted by wasmtime, per record of {} bytes; CPU = fuel x {WAMR_NS_PER_INSTRUCTION} ns (WAMR fast interpreter)",
        plain.len()
    );
    println!("  engine build (as built, first record) {build:>10}  {:>9.0} us", wamr_us(build));
    println!("  snapshot's first record               {first:>10}  {:>9.1} us", wamr_us(first));
    println!(
        "  touch: one pass over the bytes        {touch:>10}  {:>9.1} us  ({:.2}/byte)",
        wamr_us(touch),
        touch as f64 / plain.len() as f64
    );
    println!(
        "  pass-through (non-matching)           {:>10}  {:>9.1} us  ({:.2}/byte)  {ratio:.2}x touch",
        pass.filter,
        wamr_us(pass.filter),
        pass.filter as f64 / plain.len() as f64
    );
    println!(
        "  matching record, tagged               {:>10}  {:>9.1} us  ({:.1}x pass-through)",
        tagged.filter,
        wamr_us(tagged.filter),
        tagged.filter as f64 / pass.filter as f64
    );
    println!("  malloc x2 + free x2 per record        {:>10}", pass.malloc + pass.free);
    println!(
        "  pass-through split: {per_byte:.2}/byte scanning + {fixed:.0} per record (touch: {touch_per_byte:.2}/byte)"
    );
    println!(
        "  a 24,000-byte record: pass-through {long}, touch {long_touch} ({:.2}x)",
        long as f64 / long_touch as f64
    );
    println!(
        "mix of {} events (1-3 KB), whole calls: pass-through {:.2}/byte ({:.2}x touch), {tagged_n} tagged at {tag_mean:.0} \
         per record ({:.0} us)",
        mix.len(),
        pass_fuel as f64 / pass_bytes as f64,
        pass_fuel as f64 / touch_fuel as f64,
        wamr_us(tag_mean as u64),
    );
    println!(
        "target: pass-through <= {TARGET}x touch: {}",
        if ratio <= TARGET { "met" } else { "MISSED (see docs/performance.md#fluent-bit-module)" }
    );
    let match_ms = wamr_us(tag_mean as u64) / 1000.0;
    println!(
        "target: a matching record <= {MATCH_TARGET_MS} ms CPU in the interpreter: {match_ms:.3} ms, {}",
        if match_ms <= MATCH_TARGET_MS { "met" } else { "MISSED (see docs/performance.md#fluent-bit-module)" }
    );
    Ok(FuelFigures { tagged: tag_mean, passed: pass_fuel as f64 / f64::from(pass_n.max(1)) })
}

/// The smallest wasm stack the deepest record the engine parses passes in,
/// to 1 KiB (serde_json's own limit stops just short of 128 levels).
fn wasmtime_stack() -> anyhow::Result<()> {
    let (plain, matching) = (everyday(2400), terminating(2400));
    let mut validating = modwatch_engine::Engine::new(Some(r#"{"input":{"validate":true}}"#), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let depth = (1..=127)
        .rev()
        .find(|&d| validating.evaluate(&nested(d))[0].status != modwatch_engine::Status::Error)
        .context("no nesting parses")?;
    println!("wasmtime stack (max_wasm_stack) needed, KiB:");
    println!(
        "  the deepest candidate the engine parses ({} levels)  {:>4}",
        depth + 1,
        min_stack(&nested(depth), false)?
    );
    println!("  a matching 2,400-byte record                        {:>4}", min_stack(&matching, false)?);
    println!("  the engine build (the module as built)              {:>4}", min_stack(&plain, true)?);
    Ok(())
}

/// One mix of the real-process runs.
struct Mix {
    name: &'static str,
    file: PathBuf,
    /// Records the engine tags (judged natively, as `modwatch scan` would).
    tagged: usize,
}

/// What a module costs in a real Fluent Bit over the three mixes, against
/// the do-nothing filter; interpreted, and AOT if `flb-wamrc` is there.
fn fluent_bit_report(fluent_bit: &Path, fuel: FuelFigures) -> anyhow::Result<()> {
    let n: usize = match std::env::var("MODWATCH_FB_RECORDS") {
        Ok(v) => v.parse().context("MODWATCH_FB_RECORDS is a number of records")?,
        Err(_) => 50_000,
    };
    let stack = match std::env::var("MODWATCH_FB_STACK") {
        Ok(v) if v.is_empty() => None,
        Ok(v) => Some(v),
        Err(_) => Some("96K".to_string()),
    };
    let dir = std::env::temp_dir().join("modwatch-bench-fluent-bit");
    std::fs::create_dir_all(&dir)?;
    let mixes = write_mixes(&dir, n)?;
    let wasm = dir.join("modwatch_fluent_bit.wasm");
    std::fs::write(&wasm, modwatch_host_test::fluent_bit::snapshotted()?)?;
    let pass = dir.join("pass.wasm");
    std::fs::write(&pass, process::pass_module())?;
    let version = std::process::Command::new(fluent_bit).arg("--version").output()?;
    println!(
        "\nreal Fluent Bit: {} ({}), {n} records a mix, wasm_stack_size {}, process CPU = user + system",
        fluent_bit.display(),
        String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or("?").trim(),
        stack.as_deref().unwrap_or("unset (8 KiB)"),
    );
    let run = |module: &Path, function: &str, mix: &Mix, stack: Option<&str>| -> anyhow::Result<Outcome> {
        let job = Job { fluent_bit, module, function, stack, input: &mix.file, dir: &dir.join("run") };
        let outcome = process::run(&job)?;
        if outcome.records != n {
            println!(
                "  !! {} of {n} records came out ({function} on {}, {} traps)",
                outcome.records, mix.name, outcome.traps
            );
        }
        Ok(outcome)
    };
    let baseline: Vec<Outcome> =
        mixes.iter().map(|mix| run(&pass, PASS_FILTER, mix, None)).collect::<anyhow::Result<_>>()?;
    let interpreted = modes(&wasm, "interpreter", &mixes, &baseline, fuel, &|module, function, mix| {
        run(module, function, mix, stack.as_deref())
    })?;
    if let Some(wamrc) = process::find_wamrc(fluent_bit) {
        let aot = dir.join("modwatch_fluent_bit.aot");
        process::compile_aot(&wamrc, &wasm, &aot)?;
        println!("AOT: {} -> {} bytes", wamrc.display(), std::fs::metadata(&aot)?.len());
        // The do-nothing filter compiled the same way is the AOT baseline.
        let pass_aot = dir.join("pass.aot");
        process::compile_aot(&wamrc, &pass, &pass_aot)?;
        let baseline: Vec<Outcome> =
            mixes.iter().map(|mix| run(&pass_aot, PASS_FILTER, mix, None)).collect::<anyhow::Result<_>>()?;
        let compiled = modes(&aot, "AOT", &mixes, &baseline, fuel, &|module, function, mix| {
            run(module, function, mix, stack.as_deref())
        })?;
        if compiled > 0.0 {
            println!("  AOT vs interpreter, CPU a matching record adds: {:.1}x less", interpreted / compiled);
        }
    } else {
        println!("AOT: no flb-wamrc (FLB_WAMRC=/path, or beside fluent-bit)");
    }
    stack_report(fluent_bit, &wasm, &dir)
}

/// Runs the module over every mix and prints the table; returns the CPU a
/// matching record adds, in seconds.
fn modes(
    module: &Path,
    mode: &str,
    mixes: &[Mix],
    baseline: &[Outcome],
    fuel: FuelFigures,
    run: &dyn Fn(&Path, &str, &Mix) -> anyhow::Result<Outcome>,
) -> anyhow::Result<f64> {
    println!("{mode}: records per CPU-second of the whole Fluent Bit process");
    println!(
        "  {:<10} {:>8} {:>8}  {:>12} {:>12}  {:>6}  {:>8} {:>8}",
        "mix", "tagged", "want", "do-nothing", "modwatch", "ratio", "CPU s", "CPU s"
    );
    let mut outcomes = Vec::new();
    for (mix, pass) in mixes.iter().zip(baseline) {
        let outcome = run(module, process_filter(), mix)?;
        println!(
            "  {:<10} {:>8} {:>8}  {:>12.0} {:>12.0}  {:>5.2}x  {:>8.2} {:>8.2}",
            mix.name,
            outcome.tagged,
            mix.tagged,
            pass.per_cpu_second(),
            outcome.per_cpu_second(),
            outcome.per_cpu_second() / pass.per_cpu_second(),
            secs(pass.cpu),
            secs(outcome.cpu),
        );
        if outcome.tagged != mix.tagged {
            println!("  !! {} records tagged, the engine tags {} ({})", outcome.tagged, mix.tagged, mix.name);
        }
        outcomes.push(outcome);
    }
    // Net of the do-nothing filter: what the module itself costs a record.
    let net = |i: usize| secs(outcomes[i].cpu) - secs(baseline[i].cpu);
    let per_match = |i: usize| (net(i) - net(0)) / outcomes[i].tagged.max(1) as f64;
    for (i, mix) in mixes.iter().enumerate().skip(1) {
        println!(
            "  CPU a matching record adds over a non-matching one ({} mix): {:.3} ms",
            mix.name,
            per_match(i) * 1e3
        );
    }
    let touch = run(module, "modwatch_touch", &mixes[0])?;
    let read = secs(touch.cpu) - secs(baseline[0].cpu);
    println!(
        "  no-match path vs one read of the record, net of the do-nothing filter: {:.1} us vs {:.1} us a record: {:.2}x",
        net(0) / mixes_len(&mixes[0]) * 1e6,
        read / mixes_len(&mixes[0]) * 1e6,
        net(0) / read
    );
    let last = mixes.len() - 1;
    // The model is of the interpreter: AOT runs no wasm instruction as such.
    if mode == "interpreter" {
        println!(
            "  calibration: {:.2} ns per wasm instruction (a matching record's CPU over its fuel; the model uses \
         {WAMR_NS_PER_INSTRUCTION})",
            per_match(last) * 1e9 / (fuel.tagged - fuel.passed)
        );
    }
    Ok(per_match(last))
}

fn process_filter() -> &'static str {
    modwatch_host_test::fluent_bit::FILTER
}

fn mixes_len(mix: &Mix) -> f64 {
    std::fs::read(&mix.file).map_or(1.0, |b| b.iter().filter(|&&c| c == b'\n').count().max(1) as f64)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Writes the three mixes of `n` records: none matching, 1% and 16%
/// matching. The records come from the generated mix, sorted by whether the
/// engine tags them (about 1% it does).
fn write_mixes(dir: &Path, n: usize) -> anyhow::Result<Vec<Mix>> {
    let mut engine = Engine::new(None, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut size = n;
    let (tagged, plain) = loop {
        let events = modwatch_testkit::r#gen::mix(size, 1578);
        let matches: Vec<bool> =
            events.iter().map(|e| matches!(engine.tag(e.as_bytes()).output, Output::Replaced(_))).collect();
        let plain: Vec<&String> = events.iter().zip(&matches).filter(|(_, m)| !**m).map(|(e, _)| e).collect();
        if plain.len() >= n {
            let tagged: Vec<&String> = events.iter().zip(&matches).filter(|(_, m)| **m).map(|(e, _)| e).collect();
            let plain: Vec<String> = plain.into_iter().take(n).cloned().collect();
            let tagged: Vec<String> = tagged.into_iter().cloned().collect();
            break (tagged, plain);
        }
        size += n / 2;
    };
    // Matching records (the generated ones, in turn) at `per` of every 100
    // places, spread evenly; the others from the non-matching ones.
    let spread = |per: usize| -> (Vec<&String>, usize) {
        let mut picked = 0;
        let records = (0..n)
            .map(|i| match tagged.get(picked % tagged.len().max(1)) {
                Some(record) if (i * per / 100) != ((i + 1) * per / 100) => {
                    picked += 1;
                    record
                }
                _ => &plain[i],
            })
            .collect();
        (records, picked)
    };
    let write = |name: &'static str, (records, tagged): (Vec<&String>, usize)| -> anyhow::Result<Mix> {
        let file = dir.join(format!("{}.ndjson", name.trim_end_matches('%')));
        std::fs::write(&file, records.iter().map(|r| format!("{r}\n")).collect::<String>())?;
        Ok(Mix { name, file, tagged })
    };
    Ok(vec![write("no-match", spread(0))?, write("1%", spread(1))?, write("16%", spread(16))?])
}

/// The corpus and records nested 1 to 127 levels at several stack sizes,
/// unset (Fluent Bit's default) first: what is tagged against the engine.
fn stack_report(fluent_bit: &Path, wasm: &Path, dir: &Path) -> anyhow::Result<()> {
    let mut engine = Engine::new(None, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let corpus: Vec<Vec<u8>> = modwatch_testkit::corpus::events().into_iter().map(|e| e.event).collect();
    let want = corpus.iter().filter(|e| matches!(engine.tag(e).output, Output::Replaced(_))).count();
    let corpus_file = dir.join("corpus.ndjson");
    std::fs::write(&corpus_file, corpus.iter().flat_map(|e| e.iter().copied().chain([b'\n'])).collect::<Vec<u8>>())?;
    let nested_file = dir.join("nested.ndjson");
    std::fs::write(&nested_file, (1..=127).flat_map(|d| nested(d).into_iter().chain([b'\n'])).collect::<Vec<u8>>())?;
    println!(
        "stack (interpreter): the corpus ({} records, {want} tagged by the engine) and records nested 1-127 levels",
        corpus.len()
    );
    println!(
        "  {:<16} {:>12} {:>6} {:>10}  {:>30}",
        "wasm_stack_size", "corpus", "traps", "code 500", "nested: tagged / deepest tagged"
    );
    let run_dir = dir.join("stack");
    for stack in [None, Some("16K"), Some("32K"), Some("64K"), Some("96K")] {
        let run = |input: &Path| {
            process::run(&Job {
                fluent_bit,
                module: wasm,
                function: modwatch_host_test::fluent_bit::FILTER,
                stack,
                input,
                dir: &run_dir,
            })
        };
        let corpus_run = run(&corpus_file)?;
        let nested_run = run(&nested_file)?;
        let depths: Vec<usize> = nested_run
            .output
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["modwatch"]["matches"].as_array().is_some_and(|m| !m.is_empty()))
            .map(|r| depth(&r["x"]))
            .collect();
        println!(
            "  {:<16} {:>5} of {:<4} {:>6} {:>10}  {:>22} / {}",
            stack.unwrap_or("unset (8 KiB)"),
            corpus_run.tagged,
            want,
            corpus_run.traps + nested_run.traps,
            corpus_run.errors_with(500) + nested_run.errors_with(500),
            depths.len(),
            depths.iter().max().copied().unwrap_or(0),
        );
    }
    Ok(())
}

/// Levels of arrays in `value` (`[[1]]` is 2).
fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.first().map_or(0, depth),
        _ => 0,
    }
}
