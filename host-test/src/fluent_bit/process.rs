//! A real Fluent Bit process running a module over an NDJSON file, for the
//! benchmark (`just bench-fluent-bit`): what users pay is the CPU time of
//! the whole process, not the module's instructions.
//!
//! [`run`] writes a classic configuration with the settings
//! `docs/fluent-bit.md` documents (tail with `parser json`, buffers that hold
//! the largest event modwatch accepts, `skip_long_lines on`; the `wasm`
//! filter with `event_format json`), adds `exit_on_eof` and a `file` output,
//! runs `fluent-bit -c`, and reads back what came out. The CPU time is the
//! child's user + system time as the kernel accounts it to the waiting parent
//! (Linux: `cutime` + `cstime` of `/proc/self/stat`, in clock ticks).
//!
//! [`pass_module`] is the do-nothing filter of the same ABI, the baseline:
//! `malloc`, `free` and a filter that returns the record it is given.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType,
    MemorySection, MemoryType, TypeSection, ValType,
};

/// The Fluent Bit binary: `$FLUENT_BIT`, else `fluent-bit` on `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLUENT_BIT").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    on_path("fluent-bit")
}

/// WAMR's AOT compiler as Fluent Bit builds it (`-DFLB_WAMRC=On`):
/// `$FLB_WAMRC`, else `flb-wamrc` beside `fluent_bit` or on `PATH`.
pub fn find_wamrc(fluent_bit: &Path) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLB_WAMRC").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let beside = fluent_bit.with_file_name("flb-wamrc");
    if beside.is_file() {
        return Some(beside);
    }
    on_path("flb-wamrc")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Compiles `wasm` to `aot` with `flb-wamrc` (optimisation level 3, its default).
pub fn compile_aot(wamrc: &Path, wasm: &Path, aot: &Path) -> anyhow::Result<()> {
    let out = Command::new(wamrc).arg("-o").arg(aot).arg(wasm).output().context("running flb-wamrc")?;
    if !out.status.success() || !aot.is_file() {
        bail!("flb-wamrc failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// One Fluent Bit run.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// The `fluent-bit` binary.
    pub fluent_bit: &'a Path,
    /// The module (`.wasm` or `.aot`).
    pub module: &'a Path,
    /// The filter's `function_name`.
    pub function: &'a str,
    /// `wasm_stack_size` (`None`: unset, Fluent Bit's default).
    pub stack: Option<&'a str>,
    /// The NDJSON file tail reads.
    pub input: &'a Path,
    /// A directory for the configuration, the output and the log (emptied).
    pub dir: &'a Path,
}

/// What a run cost and what came out of it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// User + system CPU time of the whole process.
    pub cpu: Duration,
    /// Wall time from start to exit (includes Fluent Bit's grace period).
    pub wall: Duration,
    /// Records written by the output.
    pub records: usize,
    /// Records carrying `modwatch.matches` (tagged).
    pub tagged: usize,
    /// Records carrying `modwatch.error`, by code.
    pub errors: Vec<(u64, usize)>,
    /// Lines of Fluent Bit's log that report a wasm exception (a trap).
    pub traps: usize,
    /// The output, one record a line.
    pub output: String,
}

impl Outcome {
    /// Records per CPU-second of the whole process.
    pub fn per_cpu_second(&self) -> f64 {
        self.records as f64 / self.cpu.as_secs_f64().max(1e-9)
    }

    /// Records carrying `modwatch.error` with this code.
    pub fn errors_with(&self, code: u64) -> usize {
        self.errors.iter().filter(|(c, _)| *c == code).map(|(_, n)| n).sum()
    }
}

/// The classic configuration of a run: the documented settings, plus
/// `exit_on_eof`, a short grace period and a `file` output.
pub fn config(job: &Job<'_>) -> String {
    let stack = job.stack.map(|s| format!("    wasm_stack_size {s}\n")).unwrap_or_default();
    format!(
        "[SERVICE]\n    flush        1\n    grace        1\n    log_level    info\n    parsers_file parsers.conf\n\n\
         [INPUT]\n    name              tail\n    path              {input}\n    parser            json_event\n    \
         tag               cloud.audit\n    read_from_head    true\n    exit_on_eof       true\n    \
         buffer_chunk_size 64K\n    buffer_max_size   1100K\n    skip_long_lines   on\n\n\
         [FILTER]\n    name            wasm\n    match           cloud.*\n    event_format    json\n    \
         wasm_path       {module}\n    function_name   {function}\n{stack}\n\
         [OUTPUT]\n    name   file\n    match  *\n    path   {dir}\n    file   out.ndjson\n    format plain\n",
        input = job.input.display(),
        module = job.module.display(),
        function = job.function,
        dir = job.dir.display(),
    )
}

/// Runs Fluent Bit over `job.input` until it exits at end of file.
pub fn run(job: &Job<'_>) -> anyhow::Result<Outcome> {
    if job.dir.exists() {
        std::fs::remove_dir_all(job.dir)?;
    }
    std::fs::create_dir_all(job.dir)?;
    let conf = job.dir.join("fluent-bit.conf");
    std::fs::write(&conf, config(job))?;
    std::fs::write(job.dir.join("parsers.conf"), "[PARSER]\n    name   json_event\n    format json\n")?;
    let log = std::fs::File::create(job.dir.join("fluent-bit.log"))?;
    let (user_before, started) = (children_cpu()?, Instant::now());
    let status = Command::new(job.fluent_bit)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("running {}", job.fluent_bit.display()))?;
    let (wall, cpu) = (started.elapsed(), children_cpu()?.saturating_sub(user_before));
    let log = std::fs::read_to_string(job.dir.join("fluent-bit.log"))?;
    if !status.success() {
        bail!("{} exited with {status}; its log:\n{log}", job.fluent_bit.display());
    }
    let output = std::fs::read_to_string(job.dir.join("out.ndjson")).unwrap_or_default();
    let mut outcome = Outcome { cpu, wall, output, ..Outcome::default() };
    outcome.traps = log.lines().filter(|l| l.contains("exception running wasm")).count();
    for line in outcome.output.lines() {
        outcome.records += 1;
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let modwatch = &record["modwatch"];
        if modwatch["matches"].as_array().is_some_and(|m| !m.is_empty()) {
            outcome.tagged += 1;
        }
        if let Some(code) = modwatch["error"]["code"].as_u64() {
            match outcome.errors.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => outcome.errors.push((code, 1)),
            }
        }
    }
    Ok(outcome)
}

/// CPU time (user + system) of this process's children that have been
/// waited for, as the kernel accounts it (`cutime` + `cstime`).
fn children_cpu() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat (Linux only)")?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: the 3rd field of the line is the first here.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("/proc/self/stat has no command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| -> anyhow::Result<u64> {
        Ok(fields.get(field - 3).context("/proc/self/stat is short")?.parse()?)
    };
    // Clock ticks are 1/100 s on Linux (USER_HZ, fixed for user space).
    Ok(Duration::from_millis((ticks(16)? + ticks(17)?) * 10))
}

/// The do-nothing filter with the modwatch module's ABI: it exports `memory`,
/// `malloc`, `free` and `pass_filter`, which returns the record it is given,
/// so Fluent Bit keeps every record as it was. `malloc` takes from the top of
/// a stack of blocks (growing memory as needed, 0 when it cannot) and `free`
/// gives back the block and everything above it, which is how Fluent Bit
/// uses them: the tag and the record in, the call, both freed.
pub fn pass_module() -> Vec<u8> {
    const I32: ValType = ValType::I32;
    let mut types = TypeSection::new();
    types.ty().function([I32], [I32]);
    types.ty().function([I32], []);
    types.ty().function([I32; 6], [I32]);
    let mut funcs = FunctionSection::new();
    for ty in 0..3 {
        funcs.function(ty);
    }
    let mut memory = MemorySection::new();
    memory.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
    // The top of the stack of blocks; below 1,024 nothing is handed out (0 is NULL).
    let mut globals = GlobalSection::new();
    globals.global(GlobalType { val_type: I32, mutable: true, shared: false }, &ConstExpr::i32_const(1024));
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("malloc", ExportKind::Func, 0);
    exports.export("free", ExportKind::Func, 1);
    exports.export(PASS_FILTER, ExportKind::Func, 2);

    let mut code = CodeSection::new();
    // malloc(size): locals 1 = block, 2 = its end (8-aligned).
    let mut malloc = Function::new([(2, I32)]);
    malloc
        .instructions()
        .local_get(0)
        .i32_const(0x7fff_0000)
        .i32_gt_u()
        .if_(BlockType::Empty)
        .i32_const(0)
        .return_()
        .end()
        .global_get(0)
        .local_set(1)
        .local_get(1)
        .local_get(0)
        .i32_add()
        .i32_const(7)
        .i32_add()
        .i32_const(-8)
        .i32_and()
        .local_set(2)
        .local_get(2)
        .memory_size(0)
        .i32_const(16)
        .i32_shl()
        .i32_gt_u()
        .if_(BlockType::Empty)
        .local_get(2)
        .memory_size(0)
        .i32_const(16)
        .i32_shl()
        .i32_sub()
        .i32_const(16)
        .i32_shr_u()
        .i32_const(1)
        .i32_add()
        .memory_grow(0)
        .i32_const(-1)
        .i32_eq()
        .if_(BlockType::Empty)
        .i32_const(0)
        .return_()
        .end()
        .end()
        .local_get(2)
        .global_set(0)
        .local_get(1)
        .end();
    code.function(&malloc);
    // free(ptr): the top comes down to the block, if it is below the top.
    let mut free = Function::new([]);
    free.instructions()
        .local_get(0)
        .global_get(0)
        .i32_lt_u()
        .local_get(0)
        .i32_const(0)
        .i32_ne()
        .i32_and()
        .if_(BlockType::Empty)
        .local_get(0)
        .global_set(0)
        .end()
        .end();
    code.function(&free);
    let mut pass = Function::new([]);
    pass.instructions().local_get(4).end();
    code.function(&pass);

    let mut module = wasm_encoder::Module::new();
    module.section(&types).section(&funcs).section(&memory).section(&globals).section(&exports).section(&code);
    module.finish()
}

/// The filter function of [`pass_module`].
pub const PASS_FILTER: &str = "pass_filter";

#[cfg(test)]
mod tests {
    use super::*;

    /// The do-nothing module is valid, hands out blocks that do not overlap,
    /// gives them back, and returns the record it is given.
    #[test]
    fn pass_module_keeps_records_and_reuses_memory() -> anyhow::Result<()> {
        let wasm = pass_module();
        wasmparser::validate(&wasm)?;
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, &wasm)?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        let malloc = instance.get_typed_func::<u32, u32>(&mut store, "malloc")?;
        let free = instance.get_typed_func::<u32, ()>(&mut store, "free")?;
        let filter = instance.get_typed_func::<(u32, u32, u32, u32, u32, u32), u32>(&mut store, PASS_FILTER)?;
        let tag = malloc.call(&mut store, 12)?;
        let record = malloc.call(&mut store, 200_000)?;
        assert!(tag >= 1024 && record >= tag + 12, "{tag} {record}");
        let memory = instance.get_memory(&mut store, "memory").context("memory")?;
        assert!(memory.data_size(&store) >= record as usize + 200_000, "memory grew");
        assert_eq!(filter.call(&mut store, (tag, 11, 0, 0, record, 199_999))?, record);
        free.call(&mut store, tag)?;
        free.call(&mut store, record)?;
        assert_eq!(malloc.call(&mut store, 12)?, tag, "both blocks given back");
        assert_eq!(malloc.call(&mut store, u32::MAX)?, 0, "too large: NULL, no trap");
        Ok(())
    }
}
