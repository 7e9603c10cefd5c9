//! `just bench-fluent-bit`: what the Fluent Bit module costs per record in an
//! interpreter, measured deterministically as wasmtime fuel (wasm
//! instructions) rather than time, since Fluent Bit runs the module in WAMR's
//! interpreter, where time follows the instruction count.
//!
//! - `touch`: one pass over a 2.4 KB record (`modwatch_touch` sums its
//!   bytes), the floor for anything that reads every byte;
//! - pass-through of that record, which no rule can match (the prefilter
//!   rejects it without parsing): the target is at most 2× `touch`;
//! - a matching record of about the same size (parsed, judged, scored, tagged);
//! - the generated mix (`r#gen::mix`, 1–3 KB events), per KB;
//! - `malloc` and `free`, which Fluent Bit calls twice per record;
//! - the smallest wasm stack (wasmtime, `max_wasm_stack`) the deepest
//!   candidate record the engine parses passes in.

use anyhow::{Context as _, bail};
use modwatch_host_test::fluent_bit::{Answer, FLUENT_BIT, FluentBit, Options};

/// The pass-through cost may be at most this multiple of one pass.
const TARGET: f64 = 2.0;

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

fn main() -> anyhow::Result<()> {
    let mut fb = FluentBit::with_options(Options { fuel: true, ..Options::default() })?;
    let fuel = |fb: &FluentBit| fb.fuel().context("fuel is metered");

    let plain = everyday(2400);
    let matching = terminating(2400);
    // Warm up: the first call builds the engine from the embedded pack.
    fb.filter("bench", 0, 0, &plain)?;
    let build = fuel(&fb)?.filter;

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
    let (mut pass_fuel, mut pass_bytes, mut touch_fuel, mut tag_fuel, mut tag_bytes, mut tagged_n) = (0, 0, 0, 0, 0, 0);
    for event in &mix {
        let answer = fb.filter("bench", 0, 0, event.as_bytes())?;
        let spent = fuel(&fb)?.filter;
        if answer == Answer::Unchanged {
            pass_fuel += spent;
            pass_bytes += event.len() as u64;
            fb.touch(event.as_bytes())?;
            touch_fuel += fuel(&fb)?.filter;
        } else {
            tag_fuel += spent;
            tag_bytes += event.len() as u64;
            tagged_n += 1;
        }
    }

    let ratio = pass.filter as f64 / touch as f64;
    println!("modwatch Fluent Bit module: {} bytes ({:.0} KiB)", FLUENT_BIT.len(), FLUENT_BIT.len() as f64 / 1024.0);
    println!("fuel = wasm instructions counted by wasmtime, per record of {} bytes", plain.len());
    println!("  engine build (first record)          {build:>10}");
    println!("  touch: one pass over the bytes       {touch:>10}  ({:.2}/byte)", touch as f64 / plain.len() as f64);
    println!(
        "  pass-through (non-matching)          {:>10}  ({:.2}/byte)  {ratio:.2}x touch",
        pass.filter,
        pass.filter as f64 / plain.len() as f64
    );
    println!(
        "  matching record, tagged              {:>10}  ({:.1}x pass-through)",
        tagged.filter,
        tagged.filter as f64 / pass.filter as f64
    );
    println!("  malloc x2 + free x2 per record       {:>10}", pass.malloc + pass.free);
    println!(
        "  pass-through split: {per_byte:.2}/byte scanning + {fixed:.0} per record (touch: {touch_per_byte:.2}/byte)"
    );
    println!(
        "  a 24,000-byte record: pass-through {long}, touch {long_touch} ({:.2}x)",
        long as f64 / long_touch as f64
    );
    println!(
        "mix of {} events (1-3 KB): pass-through {:.2}/byte ({:.2}x touch), {tagged_n} tagged at {:.0} per record",
        mix.len(),
        pass_fuel as f64 / pass_bytes as f64,
        pass_fuel as f64 / touch_fuel as f64,
        tag_fuel as f64 / tagged_n.max(1) as f64,
    );
    let _ = tag_bytes;
    println!(
        "target: pass-through <= {TARGET}x touch: {}",
        if ratio <= TARGET { "met" } else { "MISSED (see docs/performance.md#fluent-bit-module)" }
    );

    // The smallest wasm stack the deepest record the engine parses passes
    // in, to 1 KiB (serde_json's own limit stops just short of 128 levels).
    let mut validating = modwatch_engine::Engine::new(Some(r#"{"input":{"validate":true}}"#), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let depth = (1..=127)
        .rev()
        .find(|&d| validating.evaluate(&nested(d))[0].status != modwatch_engine::Status::Error)
        .context("no nesting parses")?;
    let deep = nested(depth);
    let (mut low, mut high) = (1usize << 10, 1usize << 20);
    while high - low > 1 << 10 {
        let mid = (low + high) / 2;
        let mut small = FluentBit::with_options(Options { max_wasm_stack: Some(mid), ..Options::default() })?;
        if small.filter("bench", 0, 0, &deep).is_ok() {
            high = mid;
        } else {
            low = mid;
        }
    }
    println!(
        "stack: the deepest candidate the engine parses ({} levels) needs {} KiB of wasmtime stack (max_wasm_stack)",
        depth + 1,
        high.div_ceil(1024)
    );
    Ok(())
}
