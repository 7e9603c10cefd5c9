//! Pre-initialises the Fluent Bit module: runs its `modwatch_init` export
//! (which builds the engine from the embedded pack) in wasmtime and writes a
//! module whose memory and globals start where that call left them, so
//! Fluent Bit builds nothing at run time. Building the engine is the deepest
//! and longest thing the module does (about 0.2 s of CPU in WAMR's
//! interpreter, and more wasm stack than Fluent Bit's default
//! `wasm_stack_size` gives); a snapshotted module starts tagging on its first
//! record.
//!
//! The same idea as Wizer, with the wasmtime the harness already links, and
//! one thing Wizer does not do: every exported function is wrapped so that
//! it first resets the shadow stack pointer (`__stack_pointer`) to the top.
//! Fluent Bit only ever calls the module from outside, so that is where the
//! pointer is at the start of every call; a call that traps skips the
//! epilogues that would give its frames back, and without the reset each
//! trap would leave the stack lower for good.

use anyhow::{Context as _, bail, ensure};
use wasm_encoder::{
    CodeSection, ConstExpr, DataCountSection, DataSection, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, MemorySection, MemoryType, RawSection, ValType,
};
use wasmparser::{Operator, Parser, Payload};
use wasmtime::{Engine, Instance, Module, Store, Val};

/// The export that builds the engine (1 when it is ready).
const INIT: &str = "modwatch_init";

/// Zero bytes inside a run of data worth keeping in one segment rather
/// than starting another (a segment's header costs about this much).
const MAX_GAP: usize = 16;

/// What the rewriting needs to know about the module.
struct Layout {
    /// The parameter count of every type (0 for non-function types).
    type_params: Vec<u32>,
    /// The type of every defined function.
    func_types: Vec<u32>,
    /// The type and initial `i32.const` (if it is one) of every global.
    globals: Vec<(wasmparser::GlobalType, Option<i32>)>,
    /// Where the data segments start.
    lowest_data: Option<u64>,
}

impl Layout {
    fn read(module: &[u8]) -> anyhow::Result<Layout> {
        let mut layout =
            Layout { type_params: Vec::new(), func_types: Vec::new(), globals: Vec::new(), lowest_data: None };
        for payload in Parser::new(0).parse_all(module) {
            match payload? {
                Payload::ImportSection(imports) if imports.count() > 0 => {
                    bail!("the module imports something; it must import nothing");
                }
                Payload::TypeSection(types) => {
                    for group in types {
                        for ty in group?.into_types() {
                            let params = ty.unwrap_func().params().len();
                            layout.type_params.push(u32::try_from(params)?);
                        }
                    }
                }
                Payload::FunctionSection(funcs) => {
                    for ty in funcs {
                        layout.func_types.push(ty?);
                    }
                }
                Payload::GlobalSection(globals) => {
                    for global in globals {
                        let global = global?;
                        let mut ops = global.init_expr.get_operators_reader();
                        let init = match ops.read()? {
                            Operator::I32Const { value } => Some(value),
                            _ => None,
                        };
                        layout.globals.push((global.ty, init));
                    }
                }
                Payload::DataSection(data) => {
                    for segment in data {
                        let wasmparser::DataKind::Active { offset_expr, .. } = segment?.kind else {
                            bail!("the module has a passive data segment")
                        };
                        let Operator::I32Const { value } = offset_expr.get_operators_reader().read()? else {
                            bail!("a data segment's offset is not a constant")
                        };
                        let at = u64::from(value.cast_unsigned());
                        layout.lowest_data = Some(layout.lowest_data.map_or(at, |low| low.min(at)));
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    /// `__stack_pointer`: by the linker's convention the first global, a
    /// mutable `i32`.
    fn stack_pointer(&self) -> anyhow::Result<(u32, i32)> {
        match self.globals.first() {
            Some((ty, Some(top))) if ty.mutable && ty.content_type == wasmparser::ValType::I32 => Ok((0, *top)),
            _ => bail!("the module's first global is not a mutable i32 stack pointer"),
        }
    }
}

fn global_name(index: usize) -> String {
    format!("modwatch-snapshot-global-{index}")
}

/// The module with its engine built: see the module's documentation.
pub fn snapshot(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    let layout = Layout::read(module)?;
    let (sp_index, sp_top) = layout.stack_pointer()?;

    // Run the build in a copy that exports every global, to read them after.
    let instrumented = rewrite(module, &layout, None)?;
    let engine = Engine::default();
    let compiled = Module::new(&engine, &instrumented)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &compiled, &[])?;
    let init = instance.get_typed_func::<(), u32>(&mut store, INIT)?;
    ensure!(init.call(&mut store, ())? == 1, "{INIT} could not build the engine");
    let memory = instance.get_memory(&mut store, "memory").context("the module exports no `memory`")?;
    let data = memory.data(&store).to_vec();
    let mut globals = Vec::with_capacity(layout.globals.len());
    for index in 0..layout.globals.len() {
        let global = instance.get_global(&mut store, &global_name(index)).context("an instrumented global")?;
        globals.push(global.get(&mut store));
    }
    ensure!(
        matches!(globals.get(sp_index as usize), Some(Val::I32(sp)) if *sp == sp_top),
        "the stack pointer did not come back to its top after {INIT}"
    );
    rewrite(module, &layout, Some(Snapshot { memory: &data, globals: &globals, sp_index, sp_top }))
}

/// The state to write into the module.
struct Snapshot<'a> {
    memory: &'a [u8],
    globals: &'a [Val],
    sp_index: u32,
    sp_top: i32,
}

/// Copies `module`, section by section. Without a snapshot, every global is
/// also exported (to be read); with one, memory, globals and data are the
/// snapshot's and each exported function resets the stack pointer first.
fn rewrite(module: &[u8], layout: &Layout, snapshot: Option<Snapshot<'_>>) -> anyhow::Result<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    let defined = u32::try_from(layout.func_types.len())?;
    // (original function, its type) of each export, each to get a wrapper.
    let exported = exported_funcs(module, layout)?;
    let segments = snapshot.as_ref().map(|s| segments(s.memory, live_from(s, layout)));
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        match (&payload, &snapshot) {
            (Payload::ExportSection(exports), _) => {
                let mut section = ExportSection::new();
                let mut wrappers = defined..;
                for export in exports.clone() {
                    let export = export?;
                    let (kind, index) = match export.kind {
                        wasmparser::ExternalKind::Func => (ExportKind::Func, export.index),
                        wasmparser::ExternalKind::Memory => (ExportKind::Memory, export.index),
                        wasmparser::ExternalKind::Global => (ExportKind::Global, export.index),
                        wasmparser::ExternalKind::Table => (ExportKind::Table, export.index),
                        other => bail!("an export of kind {other:?}"),
                    };
                    let index = if kind == ExportKind::Func && snapshot.is_some() {
                        wrappers.next().context("too many functions")?
                    } else {
                        index
                    };
                    section.export(export.name, kind, index);
                }
                if snapshot.is_none() {
                    for index in 0..layout.globals.len() {
                        section.export(&global_name(index), ExportKind::Global, u32::try_from(index)?);
                    }
                }
                out.section(&section);
            }
            (Payload::FunctionSection(_), Some(_)) => {
                let mut section = FunctionSection::new();
                for &ty in layout.func_types.iter().chain(exported.iter().map(|(_, ty)| ty)) {
                    section.function(ty);
                }
                out.section(&section);
            }
            (Payload::MemorySection(memories), Some(s)) => {
                let mut section = MemorySection::new();
                for memory in memories.clone() {
                    let memory = memory?;
                    section.memory(MemoryType {
                        minimum: u64::try_from(s.memory.len())? >> 16,
                        maximum: memory.maximum,
                        memory64: memory.memory64,
                        shared: memory.shared,
                        page_size_log2: memory.page_size_log2,
                    });
                }
                out.section(&section);
            }
            (Payload::GlobalSection(_), Some(s)) => {
                let mut section = GlobalSection::new();
                for ((ty, _), value) in layout.globals.iter().zip(s.globals) {
                    let (val_type, init) = match value {
                        Val::I32(v) => (ValType::I32, ConstExpr::i32_const(*v)),
                        Val::I64(v) => (ValType::I64, ConstExpr::i64_const(*v)),
                        other => bail!("a global of type {other:?}"),
                    };
                    section.global(GlobalType { val_type, mutable: ty.mutable, shared: ty.shared }, &init);
                }
                out.section(&section);
            }
            (Payload::DataCountSection { .. }, Some(_)) => {
                let count = segments.as_ref().map_or(0, Vec::len);
                out.section(&DataCountSection { count: u32::try_from(count)? });
            }
            (Payload::CodeSectionStart { .. }, Some(s)) => {
                let mut section = CodeSection::new();
                for payload in Parser::new(0).parse_all(module) {
                    if let Payload::CodeSectionEntry(body) = payload? {
                        section.raw(&module[body.range()]);
                    }
                }
                for &(func, ty) in &exported {
                    let mut wrapper = Function::new([]);
                    let mut sink = wrapper.instructions();
                    sink.i32_const(s.sp_top).global_set(s.sp_index);
                    for param in 0..layout.type_params.get(ty as usize).copied().unwrap_or(0) {
                        sink.local_get(param);
                    }
                    sink.call(func).end();
                    section.function(&wrapper);
                }
                out.section(&section);
            }
            (Payload::DataSection(_), Some(_)) => {
                let mut section = DataSection::new();
                for (at, bytes) in segments.as_deref().unwrap_or_default() {
                    section.active(0, &ConstExpr::i32_const(i32::try_from(*at)?), bytes.iter().copied());
                }
                out.section(&section);
            }
            (Payload::CodeSectionEntry(_) | Payload::Version { .. } | Payload::End(_), _) => {}
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    out.section(&RawSection { id, data: &module[range] });
                }
            }
        }
    }
    Ok(out.finish())
}

/// Every exported function and its type, in export order.
fn exported_funcs(module: &[u8], layout: &Layout) -> anyhow::Result<Vec<(u32, u32)>> {
    let mut funcs = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::ExportSection(exports) = payload? {
            for export in exports {
                let export = export?;
                if export.kind == wasmparser::ExternalKind::Func {
                    let ty = *layout.func_types.get(export.index as usize).context("an export of no function")?;
                    funcs.push((export.index, ty));
                }
            }
        }
    }
    Ok(funcs)
}

/// Where live memory begins: with the stack placed first (below the data,
/// as Rust's wasm linker does), everything under the stack's top is dead
/// stack once `modwatch_init` has returned.
fn live_from(s: &Snapshot<'_>, layout: &Layout) -> usize {
    let top = u64::from(s.sp_top.cast_unsigned());
    match layout.lowest_data {
        Some(low) if low >= top => usize::try_from(top).unwrap_or(0),
        _ => 0,
    }
}

/// The non-zero runs of `memory` from `from` on, as (offset, bytes).
fn segments(memory: &[u8], from: usize) -> Vec<(usize, &[u8])> {
    let mut runs = Vec::new();
    let mut at = from;
    while at < memory.len() {
        let Some(start) = memory[at..].iter().position(|&b| b != 0).map(|p| p + at) else { break };
        let mut end = start;
        let mut zeros = 0;
        for (i, &b) in memory[start..].iter().enumerate() {
            if b == 0 {
                zeros += 1;
                if zeros > MAX_GAP {
                    break;
                }
            } else {
                zeros = 0;
                end = start + i + 1;
            }
        }
        runs.push((start, &memory[start..end]));
        at = end;
    }
    runs
}
