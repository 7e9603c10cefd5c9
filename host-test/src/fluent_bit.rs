//! The Fluent Bit module ([`FLUENT_BIT`]) driven exactly as Fluent Bit's
//! `wasm` filter drives it in `event_format json` (`flb_wasm.c`,
//! `flb_wasm_call_function_format_json`): the tag and the record are copied
//! into guest memory through the module's own `malloc`, each with a trailing
//! NUL; the filter is called with six i32 (`tag, tag_len, sec, nsec, record,
//! record_len`); the result is read up to its NUL; both copies are given back
//! with `free`. The module is instantiated with no imports at all.
//!
//! Fuel (wasm instructions, as wasmtime counts them) can be metered per call
//! for the benchmark, and the wasm stack and memory limited to find what the
//! module needs and how it fails.
//!
//! The module runs as it ships: snapshotted ([`snapshot`], what
//! `just build-fluent-bit` writes), unless [`Options::as_built`] asks for the
//! module as cargo built it, which builds the engine on its first record.

pub mod process;
pub mod snapshot;

use std::sync::OnceLock;

use anyhow::{Context as _, bail};
use wasmtime::{Config, Engine, Instance, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};

/// The Fluent Bit module (`plugin/fluent-bit`) as cargo builds it for
/// `wasm32-unknown-unknown` with `--profile wasm`, the built-in rule pack and
/// the default config embedded; not yet snapshotted.
pub const FLUENT_BIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/modwatch_fluent_bit.wasm"));

/// [`FLUENT_BIT`] built with the config `{"output":{"routing_fields":true}}`
/// embedded: every record of a recognised format gets its principal key and
/// partition token.
pub const FLUENT_BIT_ROUTING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/modwatch_fluent_bit_routing.wasm"));

/// The same module built with [`FLUENT_BIT_SIGMA_RULES`] embedded, not yet
/// snapshotted.
pub const FLUENT_BIT_SIGMA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/modwatch_fluent_bit_sigma.wasm"));

/// The rule text embedded in [`FLUENT_BIT_SIGMA`]: the Sigma parity pack
/// (`tests/sigma/formats.yml`) and the correlation pack
/// (`tests/sigma/correlations.yml`), each after a `# modwatch-file:` line.
pub const FLUENT_BIT_SIGMA_RULES: &str = include_str!(concat!(env!("OUT_DIR"), "/sigma-packs.yml"));

/// [`FLUENT_BIT`] snapshotted with its engine built: the module
/// `just build-fluent-bit` ships.
pub fn snapshotted() -> anyhow::Result<&'static [u8]> {
    static SNAPSHOT: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(module) = SNAPSHOT.get() {
        return Ok(module);
    }
    let module = snapshot::snapshot(FLUENT_BIT)?;
    Ok(SNAPSHOT.get_or_init(|| module))
}

/// The filter function to name in Fluent Bit's `function_name`.
pub const FILTER: &str = "modwatch_filter";

/// What Fluent Bit does with the record after the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The module returned the record's own pointer, its bytes untouched.
    Unchanged,
    /// The module returned another string: it replaces the record.
    Replaced(Vec<u8>),
    /// The module returned `""`, or a pointer Fluent Bit would refuse: the
    /// record is dropped.
    Dropped,
}

/// How to run the module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Meter fuel, so [`FluentBit::fuel`] reports each call's instructions.
    pub fuel: bool,
    /// Limit the wasm stack to this many bytes (wasmtime's default otherwise).
    pub max_wasm_stack: Option<usize>,
    /// Limit linear memory to this many bytes ([`FluentBit::set_max_memory`]
    /// changes it later).
    pub max_memory: Option<usize>,
    /// Run the module as cargo built it ([`FLUENT_BIT`]), which builds the
    /// engine on its first record, instead of the snapshot.
    pub as_built: bool,
    /// Run [`FLUENT_BIT_ROUTING`] (snapshotted, unless `as_built`) instead.
    pub routing: bool,
}

/// Fuel spent by the last [`FluentBit::filter`] call, in wasm instructions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fuel {
    /// The module's `malloc` for the tag and the record.
    pub malloc: u64,
    /// The filter function itself.
    pub filter: u64,
    /// The module's `free` for both copies.
    pub free: u64,
}

impl Fuel {
    /// Everything Fluent Bit makes the module run for one record.
    pub fn total(&self) -> u64 {
        self.malloc + self.filter + self.free
    }
}

type Filter = TypedFunc<(u32, u32, u32, u32, u32, u32), u32>;

/// One instance of the Fluent Bit module, as Fluent Bit keeps one for every
/// record of a filter (state persists across calls).
pub struct FluentBit {
    store: Store<StoreLimits>,
    memory: Memory,
    malloc: TypedFunc<u32, u32>,
    free: TypedFunc<u32, ()>,
    filter: Filter,
    touch: Filter,
    errors: TypedFunc<(), u32>,
    fuel: Option<Fuel>,
}

impl std::fmt::Debug for FluentBit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FluentBit").field("fuel", &self.fuel).finish_non_exhaustive()
    }
}

/// Fuel the store starts with: far more than any record needs.
pub const TANK: u64 = u64::MAX / 2;

/// The snapshotted module compiled with the default options, shared by
/// every instance.
fn default_module() -> anyhow::Result<&'static (Engine, Module)> {
    static COMPILED: OnceLock<(Engine, Module)> = OnceLock::new();
    if let Some(compiled) = COMPILED.get() {
        return Ok(compiled);
    }
    let engine = Engine::default();
    let module = Module::new(&engine, snapshotted()?)?;
    Ok(COMPILED.get_or_init(|| (engine, module)))
}

/// Memory limits for the store: `max` bytes of linear memory, or none.
fn limits(max: Option<usize>) -> StoreLimits {
    let builder = StoreLimitsBuilder::new();
    match max {
        Some(bytes) => builder.memory_size(bytes),
        None => builder,
    }
    .build()
}

impl FluentBit {
    /// Instantiates the snapshotted module with the default options.
    pub fn new() -> anyhow::Result<FluentBit> {
        let (engine, module) = default_module()?;
        FluentBit::instantiate(engine, module, Options::default())
    }

    /// Compiles and instantiates the module with these options.
    pub fn with_options(options: Options) -> anyhow::Result<FluentBit> {
        let mut config = Config::new();
        config.consume_fuel(options.fuel);
        if let Some(bytes) = options.max_wasm_stack {
            config.max_wasm_stack(bytes);
        }
        let engine = Engine::new(&config)?;
        let module = match (options.routing, options.as_built) {
            (false, false) => Module::new(&engine, snapshotted()?)?,
            (false, true) => Module::new(&engine, FLUENT_BIT)?,
            (true, false) => Module::new(&engine, snapshot::snapshot(FLUENT_BIT_ROUTING)?)?,
            (true, true) => Module::new(&engine, FLUENT_BIT_ROUTING)?,
        };
        FluentBit::instantiate(&engine, &module, options)
    }

    /// Snapshots another build of the module (e.g. [`FLUENT_BIT_SIGMA`]) as
    /// `just build-fluent-bit` would, and instantiates it with the default
    /// options.
    pub fn from_build(module: &[u8]) -> anyhow::Result<FluentBit> {
        let engine = Engine::default();
        let module = Module::new(&engine, snapshot::snapshot(module)?)?;
        FluentBit::instantiate(&engine, &module, Options::default())
    }

    fn instantiate(engine: &Engine, module: &Module, options: Options) -> anyhow::Result<FluentBit> {
        let fuel = options.fuel;
        let mut store = Store::new(engine, limits(options.max_memory));
        store.limiter(|limits| limits);
        if fuel {
            store.set_fuel(TANK)?;
        }
        // Fluent Bit's WAMR provides no host functions to this module, and
        // modwatch needs none: instantiate with no imports at all.
        let instance = Instance::new(&mut store, module, &[])?;
        let memory = instance.get_memory(&mut store, "memory").context("the module exports no `memory`")?;
        Ok(FluentBit {
            malloc: instance.get_typed_func(&mut store, "malloc")?,
            free: instance.get_typed_func(&mut store, "free")?,
            filter: instance.get_typed_func(&mut store, FILTER)?,
            touch: instance.get_typed_func(&mut store, "modwatch_touch")?,
            errors: instance.get_typed_func(&mut store, "modwatch_errors")?,
            fuel: fuel.then(Fuel::default),
            store,
            memory,
        })
    }

    /// Filters one record as Fluent Bit would. An error is a trap, which
    /// Fluent Bit turns into a dropped record.
    pub fn filter(&mut self, tag: &str, sec: u32, nsec: u32, record: &[u8]) -> anyhow::Result<Answer> {
        self.call(self.filter.clone(), tag, sec, nsec, record)
    }

    /// Runs `modwatch_touch` (one pass over the record's bytes) the same way;
    /// its fuel is the benchmark's floor.
    pub fn touch(&mut self, record: &[u8]) -> anyhow::Result<Answer> {
        self.call(self.touch.clone(), "bench", 0, 0, record)
    }

    /// Sets the fuel left (with [`Options::fuel`]): a call that runs out of
    /// it traps, as one that runs out of stack or memory does.
    pub fn set_fuel(&mut self, fuel: u64) -> anyhow::Result<()> {
        Ok(self.store.set_fuel(fuel)?)
    }

    /// Fuel spent by the last call (`None` without [`Options::fuel`]).
    pub fn fuel(&self) -> Option<Fuel> {
        self.fuel
    }

    fn call(&mut self, func: Filter, tag: &str, sec: u32, nsec: u32, record: &[u8]) -> anyhow::Result<Answer> {
        let mut fuel = Fuel::default();
        let tag_ptr = self.metered(&mut fuel.malloc, |s| s.copy_in(tag.as_bytes()))?;
        let record_ptr = self.metered(&mut fuel.malloc, |s| s.copy_in(record))?;
        let args = (tag_ptr, len(tag.as_bytes())?, sec, nsec, record_ptr, len(record)?);
        let result = self.metered(&mut fuel.filter, |s| Ok(func.call(&mut s.store, args)?))?;
        let answer = self.answer(result, record_ptr, record)?;
        for ptr in [tag_ptr, record_ptr] {
            if ptr != 0 {
                self.metered(&mut fuel.free, |s| Ok(s.free.call(&mut s.store, ptr)?))?;
            }
        }
        if self.fuel.is_some() {
            self.fuel = Some(fuel);
        }
        Ok(answer)
    }

    /// Runs `f`, adding the fuel it spent to `spent`.
    fn metered<T>(&mut self, spent: &mut u64, f: impl FnOnce(&mut Self) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let before = if self.fuel.is_some() { self.store.get_fuel()? } else { 0 };
        let value = f(self)?;
        if self.fuel.is_some() {
            *spent += before - self.store.get_fuel()?;
        }
        Ok(value)
    }

    /// `wasm_runtime_module_dup_data(data, len + 1)`: the module's `malloc`,
    /// then the bytes and a NUL. 0 when `malloc` fails, as in WAMR.
    fn copy_in(&mut self, bytes: &[u8]) -> anyhow::Result<u32> {
        let ptr = self.malloc.call(&mut self.store, len(bytes)? + 1)?;
        if ptr != 0 {
            let at = ptr as usize;
            self.memory.write(&mut self.store, at, bytes)?;
            self.memory.write(&mut self.store, at + bytes.len(), &[0])?;
        }
        Ok(ptr)
    }

    /// What Fluent Bit makes of the result: an address it cannot read as a
    /// NUL-terminated string is dropped (`wasm_runtime_validate_app_str_addr`).
    fn answer(&self, result: u32, record_ptr: u32, record: &[u8]) -> anyhow::Result<Answer> {
        let memory = self.memory.data(&self.store);
        let Some(tail) = memory.get(result as usize..).filter(|_| result != 0) else { return Ok(Answer::Dropped) };
        let Some(end) = tail.iter().position(|&b| b == 0) else { return Ok(Answer::Dropped) };
        let string = &tail[..end];
        // The record's own pointer first: an empty record (Fluent Bit never
        // sends one, a record is at least `{}`) returned as itself is kept.
        Ok(if result == record_ptr && string == record {
            Answer::Unchanged
        } else if string.is_empty() {
            Answer::Dropped
        } else {
            Answer::Replaced(string.to_vec())
        })
    }
}

fn len(bytes: &[u8]) -> anyhow::Result<u32> {
    match u32::try_from(bytes.len()) {
        Ok(n) if n < u32::MAX => Ok(n),
        _ => bail!("{} bytes do not fit a wasm32 module", bytes.len()),
    }
}

/// Direct access to the module's allocator and memory, for tests.
impl FluentBit {
    /// The module's error counter (`modwatch_errors`): calls that trapped
    /// and engine builds refused.
    pub fn errors(&mut self) -> anyhow::Result<u32> {
        Ok(self.errors.call(&mut self.store, ())?)
    }

    /// Limits linear memory to `max` bytes from now on (`None`: no limit);
    /// memory already grown stays.
    pub fn set_max_memory(&mut self, max: Option<usize>) {
        *self.store.data_mut() = limits(max);
    }

    /// Calls the module's `malloc`.
    pub fn malloc(&mut self, size: u32) -> anyhow::Result<u32> {
        Ok(self.malloc.call(&mut self.store, size)?)
    }

    /// Calls the module's `free`.
    pub fn free(&mut self, ptr: u32) -> anyhow::Result<()> {
        Ok(self.free.call(&mut self.store, ptr)?)
    }

    /// The size of the module's linear memory.
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// Calls the filter as Fluent Bit does when it could not copy the record
    /// in: a NULL `record` with its length.
    pub fn filter_null_record(&mut self, tag: &str, record_len: u32) -> anyhow::Result<Answer> {
        let tag_ptr = self.copy_in(tag.as_bytes())?;
        let result = self.filter.call(&mut self.store, (tag_ptr, len(tag.as_bytes())?, 0, 0, 0, record_len))?;
        let answer = self.answer(result, 0, &[])?;
        self.free.call(&mut self.store, tag_ptr)?;
        Ok(answer)
    }
}
