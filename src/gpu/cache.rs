//! wgpu's pipeline cache, kept on disk between runs where the backend supports it (Vulkan with
//! `PIPELINE_CACHE`): a run that finds the file skips the driver's shader compilation for every
//! kernel an earlier run built.
//!
//! The file is `<dir>/<wgpu's key for the adapter>.bin`, framed by a magic, the payload's length
//! and its hash, so a truncated or damaged file is ignored (the cache starts empty) rather than
//! handed to the driver. wgpu checks its own header too (version, backend, adapter, driver).
//! Where to keep it: [`GpuOptions::from_env`].

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &[u8; 8] = b"oddityPC";
const HEADER: usize = 24;

/// How [`crate::Gpu::with_options`] opens a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuOptions {
    /// The directory of the pipeline cache file; None: no cache.
    pub pipeline_cache_dir: Option<PathBuf>,
    /// Which GEMM kernels plans use (also `Gpu::set_gemm_policy`).
    pub gemm: super::GemmPolicy,
    /// Use the subgroup variants of the reducing kernels where the adapter has `SUBGROUP`
    /// (default); false keeps the workgroup-memory trees everywhere.
    pub subgroups: bool,
}

impl Default for GpuOptions {
    fn default() -> GpuOptions {
        GpuOptions {
            pipeline_cache_dir: None,
            gemm: super::GemmPolicy::default(),
            subgroups: true,
        }
    }
}

impl GpuOptions {
    /// `ODDITY_PIPELINE_CACHE` names the directory (`off` or empty: no cache); without it,
    /// `$XDG_CACHE_HOME/oddity`, else `$HOME/.cache/oddity`, else no cache. `ODDITY_GEMM`
    /// names the GEMM policy (`auto` unless set; `tuned` for the kernels timed on the device);
    /// a value that is not a policy is an error naming the ones there are. `ODDITY_SUBGROUPS`
    /// is `on` (default: where the adapter has them) or `off`.
    pub fn from_env() -> crate::Result<GpuOptions> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let dir = match std::env::var_os("ODDITY_PIPELINE_CACHE") {
            Some(v) if v.is_empty() || v == "off" => None,
            Some(v) => Some(PathBuf::from(v)),
            None => var("XDG_CACHE_HOME")
                .map(|d| PathBuf::from(d).join("oddity"))
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/oddity"))),
        };
        let gemm = match var("ODDITY_GEMM") {
            None => super::GemmPolicy::default(),
            Some(v) => {
                let v = v.to_string_lossy();
                v.parse().map_err(|_| crate::Error::Invalid {
                    what: "ODDITY_GEMM",
                    detail: format!(
                        "`{v}` is not a GEMM policy; one of {}",
                        super::GemmPolicy::names()
                    ),
                })?
            }
        };
        let subgroups = match var("ODDITY_SUBGROUPS") {
            None => true,
            Some(v) => match v.to_string_lossy().to_ascii_lowercase().as_str() {
                "on" => true,
                "off" => false,
                other => {
                    return Err(crate::Error::Invalid {
                        what: "ODDITY_SUBGROUPS",
                        detail: format!("`{other}` is neither `on` nor `off`"),
                    });
                }
            },
        };
        Ok(GpuOptions {
            pipeline_cache_dir: dir,
            gemm,
            subgroups,
        })
    }
}

/// Where the pipeline cache stands, for `oddity info`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CacheStatus {
    pub path: PathBuf,
    /// The file was there and valid when the device opened.
    pub loaded: bool,
}

pub(crate) struct PipelineCacheFile {
    pub cache: wgpu::PipelineCache,
    path: PathBuf,
    loaded: bool,
    /// Pipelines were built since the cache was loaded or saved.
    dirty: AtomicBool,
    /// The hash of what the file holds (when it was loaded or last written by this run).
    on_disk: Mutex<Option<u64>>,
}

impl PipelineCacheFile {
    /// The cache for `info`'s adapter in `dir`; None when the backend keeps none. The device
    /// must have `PIPELINE_CACHE`.
    pub fn open(device: &wgpu::Device, info: &wgpu::AdapterInfo, dir: &Path) -> Option<Self> {
        let key = wgpu::util::pipeline_cache_key(info)?;
        let path = dir.join(format!("{key}.bin"));
        let bytes = std::fs::read(&path).ok();
        let data = bytes.as_deref().and_then(unframe);
        // SAFETY: `data` is what `PipelineCache::get_data` gave an earlier run, framed by `save`
        // and checked by `unframe` (length and hash); wgpu validates its own header within it
        // and `fallback` starts an empty cache if it does not match this adapter and driver.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("oddity pipeline cache"),
                data,
                fallback: true,
            })
        };
        Some(PipelineCacheFile {
            cache,
            path,
            loaded: data.is_some(),
            dirty: AtomicBool::new(false),
            on_disk: Mutex::new(data.map(hash)),
        })
    }

    pub fn status(&self) -> CacheStatus {
        CacheStatus {
            path: self.path.clone(),
            loaded: self.loaded,
        }
    }

    pub fn built_pipeline(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache when pipelines were built since it was loaded or saved and it differs
    /// from what the file held: to a file of this process, then renamed over the cache file, so
    /// concurrent runs never read half a file. Returns whether it wrote.
    pub fn save(&self) -> std::io::Result<bool> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(false);
        }
        let Some(data) = self.cache.get_data() else {
            return Ok(false);
        };
        let mut on_disk = self.on_disk.lock().unwrap_or_else(|e| e.into_inner());
        if *on_disk == Some(hash(&data)) {
            return Ok(false);
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self
            .path
            .with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, frame(&data))?;
        std::fs::rename(&tmp, &self.path)?;
        *on_disk = Some(hash(&data));
        Ok(true)
    }
}

fn hash(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(data);
    h.finish()
}

fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&hash(data).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The payload of a framed file, or None when it is not one or is damaged.
fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let (head, data) = bytes.split_at_checked(HEADER)?;
    let word = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap_or_default());
    (&head[..8] == MAGIC && word(8) == data.len() as u64 && word(16) == hash(data)).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_refused() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let f = frame(&data);
        assert_eq!(unframe(&f), Some(&data[..]));
        assert_eq!(unframe(&f[..f.len() - 1]), None, "truncated");
        let mut bad = f.clone();
        bad[HEADER + 500] ^= 1;
        assert_eq!(unframe(&bad), None, "a flipped bit");
        let mut longer = f.clone();
        longer.push(0);
        assert_eq!(unframe(&longer), None, "extended");
        assert_eq!(unframe(b"oddity"), None, "shorter than the header");
        assert_eq!(unframe(&[]), None, "empty");
    }
}
