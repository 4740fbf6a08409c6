//! Compiled components on disk, so a restart does not recompile every plugin.
//!
//! An entry is keyed by the BLAKE3 hash of the `.wasm` file and wasmtime's compatibility
//! hash (engine version and settings), and carries the BLAKE3 hash of its own bytes,
//! which is checked before the bytes are handed to wasmtime: deserialising trusts its
//! input, so a truncated or tampered file must never reach it.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The on-disk cache of one engine.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    engine_key: String,
}

impl Cache {
    /// A cache in `dir` for `engine`'s settings.
    pub fn new(dir: &Path, engine: &Engine) -> Cache {
        // SipHash with fixed keys: stable across runs, which is all a cache key needs.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Cache { dir: dir.to_owned(), engine_key: format!("{:016x}", hasher.finish()) }
    }

    fn entry(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `bytes` (whose hash is `digest`): from the cache when
    /// possible, else compiled and stored. The flag says whether it came from the cache.
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8], digest: &str) -> wasmtime::Result<(Component, bool)> {
        let path = self.entry(digest);
        if let Some(component) = self.read(engine, &path) {
            return Ok((component, true));
        }
        let component = Component::from_binary(engine, bytes)?;
        if let Ok(serialized) = component.serialize() {
            self.write(&path, &serialized);
        }
        Ok((component, false))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let data = std::fs::read(path).ok()?;
        let expected = std::fs::read_to_string(path.with_extension("cwasm.b3")).ok()?;
        if blake3::hash(&data).to_hex().as_str() != expected.trim() {
            tracing::warn!(file = %path.display(), "plugin cache entry does not match its checksum; recompiling");
            return None;
        }
        deserialize(engine, &data)
    }

    fn write(&self, path: &Path, data: &[u8]) {
        // Write under temporary names and rename, so a crash never leaves a half entry
        // under the real name; the checksum goes last and makes the entry valid.
        let result = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            // Per-process temporary names: several postfachd processes may share a cache.
            let pid = std::process::id();
            let tmp = path.with_extension(format!("cwasm.{pid}.tmp"));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, path)?;
            let sum = path.with_extension("cwasm.b3");
            let tmp_sum = path.with_extension(format!("cwasm.b3.{pid}.tmp"));
            std::fs::write(&tmp_sum, blake3::hash(data).to_hex().as_str())?;
            std::fs::rename(&tmp_sum, sum)
        })();
        if let Err(e) = result {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the plugin cache; plugins will be recompiled on restart");
        }
    }
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, data: &[u8]) -> Option<Component> {
    // SAFETY: `data` was produced by `Component::serialize` of this same engine
    // configuration (the file name carries the compatibility hash) and its BLAKE3 checksum,
    // written after the data, matched above, so the bytes are exactly what we wrote.
    // wasmtime additionally checks the header and version.
    unsafe { Component::deserialize(engine, data) }.ok()
}
