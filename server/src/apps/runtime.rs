//! The wasmtime side: one engine (async, epoch interruption, pooling allocator), the
//! linker with WASI and the host interfaces, and a compile cache on disk keyed by
//! the component's hash and the engine configuration, so a restart does not
//! recompile.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::host::bindings::{App, AppPre};
use super::host::state::HostState;
use super::limits::AppLimits;

/// How often the engine's epoch advances; deadlines are checked at this grain.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Instances the pooling allocator has room for, across all apps.
const POOL_INSTANCES: u32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("wasmtime configuration: {0}")]
    Config(String),
    /// The bytes are not a component, or it does not fit the `palaver:apps` world.
    #[error("{0}")]
    Component(String),
    #[error("compile cache: {0}")]
    Cache(String),
}

/// The shared wasmtime engine and linker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: PathBuf,
}

fn engine_config(limits: &AppLimits) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Deep recursion must trap cleanly, well before the host stack is at risk.
    config.max_wasm_stack(512 * 1024);
    let memory = limits.memory_bytes();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_memory_size(memory)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .max_core_instances_per_component(16)
        .table_elements(20_000);
    // Reserve only what a memory may use: thousands of 4 GiB reservations would
    // exhaust the address space; bounds checks are the price.
    config.memory_reservation(memory as u64);
    config.memory_guard_size(64 * 1024);
    config.memory_reservation_for_growth(0);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

impl Runtime {
    pub fn new(limits: &AppLimits, cache_dir: &Path) -> Result<Runtime, RuntimeError> {
        let engine = Engine::new(&engine_config(limits))
            .map_err(|e| RuntimeError::Config(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Config(format!("{e:#}")))?;
        App::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Config(format!("{e:#}")))?;
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| RuntimeError::Cache(format!("{}: {e}", cache_dir.display())))?;
        spawn_epoch_ticker(&engine);
        Ok(Runtime {
            engine,
            linker,
            cache_dir: cache_dir.to_path_buf(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles `wasm` (or loads it from the cache) and checks it against the world
    /// without running it: every import must be one the host provides and every
    /// export the world requires must be there.
    pub fn prepare(&self, wasm: &[u8]) -> Result<(AppPre<HostState>, bool), RuntimeError> {
        let (component, cached) = self.component(wasm)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            RuntimeError::Component(format!(
                "the component's imports do not match the palaver:apps world: {e:#}"
            ))
        })?;
        let pre = AppPre::new(pre).map_err(|e| {
            RuntimeError::Component(format!(
                "the component's exports do not match the palaver:apps world: {e:#}"
            ))
        })?;
        Ok((pre, cached))
    }

    fn cache_path(&self, wasm: &[u8]) -> PathBuf {
        let mut h = Sha256::new();
        h.update(wasm);
        // The engine's compatibility hash changes with its version and settings.
        std::hash::Hash::hash(
            &self.engine.precompile_compatibility_hash(),
            &mut HashWriter(&mut h),
        );
        self.cache_dir
            .join(format!("{}.cwasm", hex::encode(h.finalize())))
    }

    /// The compiled component, from the cache when possible; returns whether it was.
    fn component(&self, wasm: &[u8]) -> Result<(Component, bool), RuntimeError> {
        if !wasm.starts_with(b"\0asm") {
            return Err(RuntimeError::Component(
                "app.wasm is not WebAssembly".into(),
            ));
        }
        let path = self.cache_path(wasm);
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of this engine
            // configuration (the name includes its compatibility hash) into our own
            // data directory.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unusable compile cache entry; recompiling");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(&self.engine, wasm).map_err(|e| {
            RuntimeError::Component(format!("app.wasm is not a valid component: {e:#}"))
        })?;
        match component.serialize() {
            Ok(bytes) => {
                let tmp = path.with_extension("tmp");
                if let Err(e) =
                    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &path))
                {
                    tracing::warn!(error = %e, "cannot write the compile cache");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot serialize a compiled component"),
        }
        Ok((component, false))
    }
}

/// Feeds `Hash` output into SHA-256.
struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own, for as
/// long as the engine lives.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the wasm epoch ticker: app deadlines will not be enforced");
    }
}
