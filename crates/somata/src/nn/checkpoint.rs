//! Checkpoints of a [`Sequential`] network in the [safetensors] format.
//!
//! Every trainable tensor is stored as a 1-D `f32` tensor named `"{layer index}.{param name}"`
//! (`"0.W"`, `"0.b"`, `"2.W"`, ...). The header's metadata holds
//!
//! * `format`: `somata-checkpoint-1`;
//! * `architecture`: [`Sequential::describe`] of the saved network, which a load must match;
//! * `checksum`: FNV-1a (64 bit, hex) over the tensors' names and bytes, in name order, so that
//!   flipped bytes in the data are detected (safetensors itself only checks the header);
//! * `hyperparams`: the hyper-parameters that change what the network computes, as JSON
//!   `{"dt_ms": 1.0, "layers": {"1": {"kind": "LIF", "params": {"tau": [10.0], ...}}}}`: the
//!   network's `dt` and each layer's [`Layer::hyper_params`](super::Layer::hyper_params) (every
//!   model parameter of a neuron layer and its `spk_reset`, a readout's `tau`), canonical units,
//!   one value when shared, one per neuron otherwise;
//! * whatever the caller adds (the [`Trainer`](super::train::Trainer) adds `epoch`, `step`,
//!   `config`, `optimizer`).
//!
//! [`save`] is atomic: it writes `<path>.tmp` in the same directory, fsyncs it, and renames it
//! over `path`, so an interrupted or failed save leaves the previous checkpoint intact.
//! [`load`] (and [`Checkpoint::read`]) never panic: a missing or unreadable file is
//! [`SomataError::Io`]; a truncated or corrupted file, another architecture, a missing, extra or
//! wrongly sized tensor is [`SomataError::Format`] naming the path and what mismatched. A failed
//! load leaves the network untouched.
//!
//! **Hyper-parameters are compared on load.** The same architecture with another `tau`, `V_th`,
//! `V_reset`, ..., `spk_reset` or `dt` computes something else with the same weights (a network
//! trained at 96.7% drops to 69.4% silently), so [`Checkpoint::apply`] refuses it with
//! [`SomataError::HyperParameterMismatch`] naming the layer, the parameter, the stored and the
//! given value. A parameter the checkpoint holds as a trained tensor (`"1.tau"`, from
//! [`Neurons::train`](super::Neurons::train)) is not compared: after training it legitimately
//! differs from the value the network was built with, and the stored tensor is what is loaded
//! (the layer uses it from its next forward pass). A checkpoint written before
//! hyper-parameters were stored (no `hyperparams` key; the format is unchanged, the key is
//! optional) still loads, with a warning on stderr, and so does one lacking a parameter the
//! model has since gained.
//!
//! ```
//! use somata::nn::{checkpoint, Linear, Sequential};
//! use somata::units::ms;
//! let path = std::env::temp_dir().join(format!("somata-doc-{}.safetensors", std::process::id()));
//! let mut a = Sequential::new(1.0 * ms).push(Linear::new(3, 2, 7));
//! checkpoint::save(&path, &mut a, &[("epoch".into(), "1".into())])?;
//! let mut b = Sequential::new(1.0 * ms).push(Linear::new(3, 2, 8));
//! let meta = checkpoint::load(&path, &mut b)?;
//! assert_eq!(meta["epoch"], "1");
//! assert_eq!(a.params()[0].value, b.params()[0].value);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), somata::SomataError>(())
//! ```
//!
//! [safetensors]: https://huggingface.co/docs/safetensors

use super::Sequential;
use crate::error::{Result, SomataError};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The value of the `format` metadata key.
pub const FORMAT: &str = "somata-checkpoint-1";
/// Metadata keys written by this module (a caller's entries of the same name are replaced).
pub const RESERVED_KEYS: [&str; 4] = ["format", "architecture", "checksum", HYPERPARAMS_KEY];
/// The metadata key of the stored hyper-parameters (see the module doc).
pub const HYPERPARAMS_KEY: &str = "hyperparams";

/// The `hyperparams` metadata of `net` (JSON, see the module doc).
fn hyper_params_json(net: &Sequential) -> String {
    let mut layers = serde_json::Map::new();
    for (k, l) in net.layers().iter().enumerate() {
        let hp = l.hyper_params();
        if hp.is_empty() {
            continue;
        }
        let params: serde_json::Map<String, serde_json::Value> = hp.into_iter().map(|(n, v)| (n, serde_json::json!(v))).collect();
        layers.insert(k.to_string(), serde_json::json!({ "kind": l.kind(), "params": params }));
    }
    serde_json::json!({ "dt_ms": net.dt_ms(), "layers": layers }).to_string()
}

/// Equal up to the last bits (the values go through JSON and back exactly; this only forgives
/// a value recomputed with another rounding).
fn same(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// The parameters of `net`, in order, with their checkpoint names.
fn named_params(net: &mut Sequential) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    for (k, l) in net.layers_mut().iter_mut().enumerate() {
        for p in l.params() {
            out.push((format!("{k}.{}", p.name), p.value.to_vec()));
        }
    }
    out
}

/// FNV-1a over `(name, bytes)` pairs in the given order.
fn checksum<'a>(items: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, data) in items {
        eat(name.as_bytes());
        eat(&[0]);
        eat(&(data.len() as u64).to_le_bytes());
        eat(data);
    }
    format!("{h:016x}")
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> SomataError {
    SomataError::Io(format!("{what} {}: {e}", path.display()))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Write every parameter of `net` and `meta` to `path`, atomically (see the module doc).
pub fn save(path: impl AsRef<Path>, net: &mut Sequential, meta: &[(String, String)]) -> Result<()> {
    let path = path.as_ref();
    if path.file_name().is_none() {
        return Err(SomataError::Io(format!("checkpoint path `{}` names no file", path.display())));
    }
    let arch = net.describe();
    let mut params = named_params(net);
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let bytes: Vec<(String, Vec<u8>)> = params.into_iter().map(|(n, v)| (n, v.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let mut info: HashMap<String, String> = meta.iter().cloned().collect();
    info.insert("format".into(), FORMAT.into());
    info.insert("architecture".into(), arch);
    info.insert("checksum".into(), checksum(bytes.iter().map(|(n, b)| (n.as_str(), b.as_slice()))));
    info.insert(HYPERPARAMS_KEY.into(), hyper_params_json(net));
    let views = bytes
        .iter()
        .map(|(n, b)| Ok((n.clone(), TensorView::new(Dtype::F32, vec![b.len() / 4], b)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| SomataError::Format(format!("checkpoint {}: {e}", path.display())))?;
    let buf = safetensors::serialize(views, Some(info)).map_err(|e| SomataError::Format(format!("checkpoint {}: {e}", path.display())))?;

    let tmp = tmp_path(path);
    let write = || -> Result<()> {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, "creating", e))?;
        f.write_all(&buf).map_err(|e| io_err(&tmp, "writing", e))?;
        f.sync_all().map_err(|e| io_err(&tmp, "syncing", e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, &format!("renaming {} over", tmp.display()), e))
    };
    if let Err(e) = write() {
        if tmp.is_file() {
            std::fs::remove_file(&tmp).ok();
        }
        return Err(e);
    }
    // make the rename itself durable (best effort: not every platform can open a directory)
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().ok();
        }
    }
    Ok(())
}

/// A checkpoint read and verified (format, checksum, tensor types), not yet applied to a network.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Where it was read from.
    pub path: PathBuf,
    /// All metadata, the reserved keys included.
    pub meta: BTreeMap<String, String>,
    /// The tensors, by name.
    pub tensors: BTreeMap<String, Vec<f32>>,
}

impl Checkpoint {
    /// Read and verify `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let bad = |what: String| SomataError::Format(format!("checkpoint {}: {what}", path.display()));
        let buf = std::fs::read(path).map_err(|e| io_err(path, "reading checkpoint", e))?;
        let corrupt = |e: safetensors::SafeTensorError| bad(format!("not a valid safetensors file (truncated or corrupted?): {e}"));
        let (_, header) = SafeTensors::read_metadata(&buf).map_err(corrupt)?;
        let st = SafeTensors::deserialize(&buf).map_err(corrupt)?;
        let meta: BTreeMap<String, String> =
            header.metadata().as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
        match meta.get("format") {
            Some(f) if f == FORMAT => {}
            Some(f) => return Err(bad(format!("format `{f}`, expected `{FORMAT}`"))),
            None => return Err(bad(format!("no `format` metadata: not a somata checkpoint ({FORMAT})"))),
        }
        if !meta.contains_key("architecture") {
            return Err(bad("no `architecture` metadata".into()));
        }
        let mut views: Vec<(String, TensorView<'_>)> = st.tensors();
        views.sort_by(|a, b| a.0.cmp(&b.0));
        let sum = checksum(views.iter().map(|(n, v)| (n.as_str(), v.data())));
        match meta.get("checksum") {
            Some(c) if *c == sum => {}
            Some(c) => return Err(bad(format!("checksum mismatch (stored {c}, computed {sum}): the file is corrupted"))),
            None => return Err(bad("no `checksum` metadata".into())),
        }
        let mut tensors = BTreeMap::new();
        for (name, v) in views {
            if v.dtype() != Dtype::F32 {
                return Err(bad(format!("tensor `{name}` has dtype {:?}, expected F32", v.dtype())));
            }
            let vals: Vec<f32> = v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            tensors.insert(name, vals);
        }
        Ok(Checkpoint { path: path.to_path_buf(), meta, tensors })
    }

    /// The saved architecture string ([`Sequential::describe`]).
    pub fn architecture(&self) -> &str {
        self.meta.get("architecture").map(String::as_str).unwrap_or("")
    }

    /// Whether the checkpoint stores its network's hyper-parameters (`hyperparams`; those
    /// written before they were stored do not, and load with a warning).
    pub fn stores_hyper_params(&self) -> bool {
        self.meta.contains_key(HYPERPARAMS_KEY)
    }

    /// Compare the stored hyper-parameters with `net`'s (see the module doc):
    /// [`SomataError::HyperParameterMismatch`] at the first difference of `dt` or of an
    /// untrained layer parameter; trained ones (a tensor `"{layer}.{name}"`) are skipped, their
    /// stored value is what [`Checkpoint::apply`] loads. Without stored hyper-parameters, a
    /// warning on stderr and `Ok`.
    pub fn check_hyper_params(&self, net: &Sequential) -> Result<()> {
        let path = self.path.display().to_string();
        let Some(text) = self.meta.get(HYPERPARAMS_KEY) else {
            eprintln!(
                "somata: warning: checkpoint {path} stores no hyper-parameters (written by an older somata): its tau, V_th, dt, ... cannot be compared with the network's"
            );
            return Ok(());
        };
        let bad = |what: String| SomataError::Format(format!("checkpoint {path}: malformed `{HYPERPARAMS_KEY}` metadata: {what}"));
        let hp: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mismatch = |layer: String, name: String, stored: f64, given: f64| SomataError::HyperParameterMismatch {
            path: path.clone(),
            layer,
            name,
            stored,
            given,
        };
        if let Some(dt) = hp.get("dt_ms").and_then(|v| v.as_f64())
            && !same(dt, net.dt_ms())
        {
            return Err(mismatch("the network".into(), "dt (ms)".into(), dt, net.dt_ms()));
        }
        let mut missing = Vec::new();
        for (k, l) in net.layers().iter().enumerate() {
            let stored = hp.get("layers").and_then(|ls| ls.get(k.to_string())).and_then(|l| l.get("params"));
            for (name, given) in l.hyper_params() {
                if self.tensors.contains_key(&format!("{k}.{name}")) {
                    continue; // trained: the stored tensor is loaded, not compared
                }
                let Some(st) = stored.and_then(|s| s.get(&name)) else {
                    missing.push(format!("{k}.{name}"));
                    continue;
                };
                let st: Vec<f64> = st
                    .as_array()
                    .and_then(|a| a.iter().map(|x| x.as_f64()).collect::<Option<Vec<f64>>>())
                    .ok_or_else(|| bad(format!("layer {k} parameter `{name}` is not an array of numbers")))?;
                let layer = || format!("layer {k} ({})", l.kind());
                let n = st.len().max(given.len());
                if st.is_empty() || given.is_empty() || (st.len() != 1 && given.len() != 1 && st.len() != given.len()) {
                    return Err(bad(format!("layer {k} parameter `{name}` has {} values, the network's has {}", st.len(), given.len())));
                }
                for i in 0..n {
                    let (a, b) = (st[i.min(st.len() - 1)], given[i.min(given.len() - 1)]);
                    if !same(a, b) {
                        let name = if n > 1 { format!("{name} [neuron {i}]") } else { name.clone() };
                        return Err(mismatch(layer(), name, a, b));
                    }
                }
            }
        }
        if !missing.is_empty() {
            eprintln!("somata: warning: checkpoint {path} stores no value of {} (not compared)", missing.join(", "));
        }
        Ok(())
    }

    /// Check that the checkpoint fits `net` (architecture, tensor names and lengths, and the
    /// hyper-parameters: [`Checkpoint::check_hyper_params`]) and copy its values into `net`; on
    /// any mismatch `net` is left untouched.
    pub fn apply(&self, net: &mut Sequential) -> Result<()> {
        let bad = |what: String| SomataError::Format(format!("checkpoint {}: {what}", self.path.display()));
        let expected = net.describe();
        if self.architecture() != expected {
            return Err(bad(format!("architecture mismatch: the network is `{expected}`, the checkpoint holds `{}`", self.architecture())));
        }
        let ps = net.params_named();
        for (name, p) in &ps {
            match self.tensors.get(name) {
                None => return Err(bad(format!("tensor `{name}` is missing"))),
                Some(v) if v.len() != p.len() => {
                    return Err(bad(format!("tensor `{name}` has {} values, the network's has {}", v.len(), p.len())));
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = self.tensors.keys().find(|k| !ps.iter().any(|(n, _)| n == *k)) {
            return Err(bad(format!("tensor `{extra}` has no parameter in the network")));
        }
        drop(ps);
        self.check_hyper_params(net)?;
        let mut ps = net.params_named();
        for (name, p) in ps.iter_mut() {
            p.copy_from_slice(&self.tensors[name.as_str()]);
        }
        Ok(())
    }
}

/// The parameters of a network by checkpoint name (a private helper on `Sequential`).
trait ParamsNamed {
    fn params_named(&mut self) -> Vec<(String, &mut [f32])>;
}
impl ParamsNamed for Sequential {
    fn params_named(&mut self) -> Vec<(String, &mut [f32])> {
        let mut out = Vec::new();
        for (k, l) in self.layers_mut().iter_mut().enumerate() {
            for p in l.params() {
                out.push((format!("{k}.{}", p.name), p.value));
            }
        }
        out
    }
}

/// Read `path`, check it against `net` (architecture, every tensor's name and length) and load
/// its values; returns the metadata. On error `net` is unchanged.
pub fn load(path: impl AsRef<Path>, net: &mut Sequential) -> Result<BTreeMap<String, String>> {
    let ck = Checkpoint::read(path)?;
    ck.apply(net)?;
    Ok(ck.meta)
}
