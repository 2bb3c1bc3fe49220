//! Networks described in TOML files (`somata run FILE`). The format is a contract: it is
//! documented in full in `docs/network-format.md` (also [`crate::network_format`]).

use super::dist::Part;
use super::{
    Conn, Delay, Dist, ExtInput, GapJunction, GapKind, MemoryBudget, MonitorFormat, Network, Output, PopId, ProjKind, Projection, Var,
    Weight,
};
use crate::dynamics::{NeuronModel, SpikeReset};
use crate::engine::LayerBuilder;
use crate::error::{Result, SomataError};
use crate::init::Init;
use crate::neurons::registry::{dispatch, ModelFn};
use crate::units::{Dim, Unit};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// A network file, parsed and built: the network, the steps to run and what to write.
pub struct NetFile {
    /// The network, monitors attached.
    pub net: Network,
    /// Steps to run (`duration / dt`, or `steps`).
    pub steps: usize,
    /// The file's `name` (default: the file stem).
    pub name: String,
    /// Write the raster (`plot = true`, the default) of each spike monitor with `somata run --out`.
    pub plot: bool,
}

fn err(path: &str, msg: impl std::fmt::Display) -> SomataError {
    SomataError::Format(format!("network file: {path}: {msg}"))
}

/// A quantity: a number in canonical units, or a string `"<number> <unit>"` checked against `dim`.
fn quantity(v: &Value, dim: Dim, path: &str) -> Result<f64> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| c.is_whitespace()).unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let x: f64 = num.parse().map_err(|_| err(path, format!("`{s}` is not a number followed by a unit")))?;
            let unit = unit.trim();
            let u = if unit.is_empty() { Unit::ONE } else { Unit::parse(unit)? };
            u.to_canonical(x, dim, path).map_err(|e| match e {
                SomataError::DimensionMismatch { expected, got, .. } => {
                    SomataError::DimensionMismatch { what: format!("network file: {path} = \"{s}\""), expected, got }
                }
                e => e,
            })
        }
        _ => Err(err(path, "expected a number or a string \"<number> <unit>\"")),
    }
}

fn get<'a>(t: &'a Table, key: &str, path: &str) -> Result<&'a Value> {
    t.get(key).ok_or_else(|| err(path, format!("missing key `{key}`")))
}
fn get_str<'a>(t: &'a Table, key: &str, path: &str) -> Result<&'a str> {
    get(t, key, path)?.as_str().ok_or_else(|| err(&format!("{path}.{key}"), "expected a string"))
}
fn get_usize(t: &Table, key: &str, path: &str) -> Result<usize> {
    match get(t, key, path)? {
        Value::Integer(i) if *i >= 0 => Ok(*i as usize),
        _ => Err(err(&format!("{path}.{key}"), "expected a non-negative integer")),
    }
}
fn table<'a>(v: &'a Value, path: &str) -> Result<&'a Table> {
    v.as_table().ok_or_else(|| err(path, "expected a table"))
}
fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| err(path, "expected an array"))
}
fn check_keys(t: &Table, allowed: &[&str], path: &str) -> Result<()> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(path, format!("unknown key `{k}` (allowed: {})", allowed.join(", "))));
        }
    }
    Ok(())
}

/// Numbers of a flat or nested array (row-major), each a quantity of `dim` or a number in `unit`.
fn numbers(v: &Value, unit: Option<Unit>, dim: Dim, path: &str, out: &mut Vec<f64>) -> Result<usize> {
    match v {
        Value::Array(a) => {
            let mut rows = 0;
            for (k, x) in a.iter().enumerate() {
                if x.is_array() {
                    numbers(x, unit, dim, &format!("{path}[{k}]"), out)?;
                    rows += 1;
                } else {
                    let q = match (x, unit) {
                        (Value::Integer(_) | Value::Float(_), Some(u)) => {
                            u.to_canonical(x.as_float().unwrap_or_else(|| x.as_integer().unwrap_or(0) as f64), dim, path)?
                        }
                        _ => quantity(x, dim, &format!("{path}[{k}]"))?,
                    };
                    out.push(q);
                }
            }
            Ok(rows)
        }
        _ => Err(err(path, "expected an array of numbers")),
    }
}

/// `values = [...]` with optional `unit`, or `npy = "file.npy"` with optional `unit`.
fn value_array(t: &Table, dim: Dim, path: &str, dir: &Path) -> Result<(Vec<f64>, usize)> {
    let unit = match t.get("unit") {
        Some(u) => Some(Unit::parse(u.as_str().ok_or_else(|| err(&format!("{path}.unit"), "expected a string"))?)?),
        None => None,
    };
    if let Some(v) = t.get("values") {
        let mut out = vec![];
        let rows = numbers(v, unit, dim, &format!("{path}.values"), &mut out)?;
        Ok((out, rows))
    } else if let Some(f) = t.get("npy") {
        let f = f.as_str().ok_or_else(|| err(&format!("{path}.npy"), "expected a file name"))?;
        let p: PathBuf = dir.join(f);
        let a = crate::io::npy::read(&p)?;
        let (data, shape) = (a.to_f64(), a.shape.clone());
        let scale = match unit {
            Some(u) => u.to_canonical(1.0, dim, path)?,
            None => 1.0,
        };
        let rows = if shape.len() == 2 { shape[0] } else { 0 };
        Ok((data.into_iter().map(|x| x * scale).collect(), rows))
    } else {
        Err(err(path, "expected `values = [...]` or `npy = \"file.npy\"`"))
    }
}

struct BuildPop<'a> {
    t: &'a Table,
    path: String,
    n: usize,
    /// This rank's block (`None`: the whole population).
    window: Option<std::ops::Range<usize>>,
    dir: &'a Path,
    net: &'a mut Network,
    name: String,
    budget: &'a mut MemoryBudget,
}

impl ModelFn for BuildPop<'_> {
    type Out = Result<PopId>;
    fn call<M: NeuronModel + Default>(self) -> Result<PopId> {
        // the layer's states and its copy for a run, per-neuron parameters and constants, the
        // network's spike, current, conductance and input buffers: f32 each
        let per_neuron = 4 * (2 * M::STATES.len() as u64 + M::PARAMS.len() as u64 + 8);
        let local = self.window.as_ref().map_or(self.n, |w| w.len());
        self.budget.take(
            &format!("population `{}` ({} {} neurons × {per_neuron} bytes)", self.name, local, M::NAME),
            (local as u64).saturating_mul(per_neuron),
        )?;
        let Some(win) = self.window.clone() else {
            let layer = self.builder::<M>(None)?.build()?;
            return self.net.add(layer, &self.name);
        };
        // one rank's block: the whole population's initial state is drawn (as on one rank)
        // and cut, so it does not depend on the number of ranks
        let mut whole = self.builder::<M>(None)?.build()?;
        whole.init_state(None)?;
        let mut b = self.builder::<M>(Some(win.clone()))?;
        for st in M::STATES {
            let v = whole.state(st.name)?;
            b = b.init(st.name, Init::Values(v.iter().skip(win.start).take(win.len()).map(|&x| f64::from(x)).collect()));
        }
        drop(whole);
        let id = self.net.add(b.build()?, &self.name)?;
        self.net.set_window(id, self.n, win.start)?;
        Ok(id)
    }
}

impl BuildPop<'_> {
    /// The layer's builder: parameters (per-neuron arrays cut to `cut`), reset, seed, and the
    /// initializers (none when cut: the caller gives the block's values).
    fn builder<M: NeuronModel + Default>(&self, cut: Option<std::ops::Range<usize>>) -> Result<LayerBuilder<M, f32>> {
        let size = cut.as_ref().map_or(self.n, |c| c.len());
        let mut b = LayerBuilder::<M, f32>::new(M::default(), size).name(self.name.clone());
        if let Some(ps) = self.t.get("params") {
            for (k, v) in table(ps, &format!("{}.params", self.path))? {
                let path = format!("{}.params.{k}", self.path);
                let idx = M::param_index(k).ok_or_else(|| SomataError::UnknownParameter {
                    model: M::NAME.into(),
                    name: k.to_string(),
                    known: M::PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
                })?;
                let dim = M::PARAMS[idx].dim;
                match v {
                    Value::Boolean(on) => b = b.flag(k, *on),
                    Value::Table(t) => {
                        let (vals, _) = value_array(t, dim, &path, self.dir)?;
                        if vals.len() != self.n {
                            return Err(SomataError::ShapeMismatch { what: path, expected: vec![self.n], got: vec![vals.len()] });
                        }
                        let vals = match &cut {
                            Some(c) => vals[c.clone()].to_vec(),
                            None => vals,
                        };
                        b = b.set_per_neuron(k, vals);
                    }
                    _ => b = b.set_raw(k, quantity(v, dim, &path)?),
                }
            }
        }
        if let Some(r) = self.t.get("spk_reset") {
            b = b.spk_reset(SpikeReset::parse(r.as_str().unwrap_or(""))?);
        }
        if let Some(s) = self.t.get("seed") {
            b = b.seed(s.as_integer().ok_or_else(|| err(&format!("{}.seed", self.path), "expected an integer"))? as u64);
        }
        if let Some(inits) = self.t.get("init").filter(|_| cut.is_none()) {
            for (k, v) in table(inits, &format!("{}.init", self.path))? {
                let path = format!("{}.init.{k}", self.path);
                let j = M::state_index(k).ok_or_else(|| SomataError::UnknownState {
                    model: M::NAME.into(),
                    name: k.to_string(),
                    known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
                })?;
                let dim = M::STATES[j].dim;
                let init = match v {
                    Value::Table(t) => {
                        if let Some(a) = t.get("normal") {
                            let a = array(a, &path)?;
                            if a.len() != 2 {
                                return Err(err(&path, "normal = [mean, std]"));
                            }
                            Init::Normal { mean: quantity(&a[0], dim, &path)?, std: quantity(&a[1], dim, &path)? }
                        } else if let Some(a) = t.get("uniform") {
                            let a = array(a, &path)?;
                            if a.len() != 2 {
                                return Err(err(&path, "uniform = [low, high]"));
                            }
                            Init::Uniform { low: quantity(&a[0], dim, &path)?, high: quantity(&a[1], dim, &path)? }
                        } else {
                            let (vals, _) = value_array(t, dim, &path, self.dir)?;
                            if vals.len() != self.n {
                                return Err(SomataError::ShapeMismatch { what: path, expected: vec![self.n], got: vec![vals.len()] });
                            }
                            Init::Values(vals)
                        }
                    }
                    _ => Init::Constant(quantity(v, dim, &path)?),
                };
                b = b.init(k, init);
            }
        }
        Ok(b)
    }
}

fn synapse(v: &Value, path: &str) -> Result<Box<dyn crate::synapse::Synapse>> {
    let (name, t) = match v {
        Value::String(s) => (s.as_str(), None),
        Value::Table(t) => (get_str(t, "model", path)?, Some(t)),
        _ => return Err(err(path, "expected a model name or a table with `model`")),
    };
    let mut s = crate::synapse::by_name(name)?;
    if let Some(t) = t {
        for (k, v) in t {
            if k == "model" {
                continue;
            }
            let p = format!("{path}.{k}");
            if let Value::Boolean(on) = v {
                s.set_flag(k, *on)?;
                continue;
            }
            let spec =
                s.params().iter().find(|q| q.name == k).copied().ok_or_else(|| crate::synapse::unknown_param(s.name(), k, s.params()))?;
            s.set_param(k, quantity(v, spec.dim, &p)?)?;
        }
    }
    Ok(s)
}

fn output(v: &Value, path: &str) -> Result<Output> {
    let (name, t) = match v {
        Value::String(s) => (s.as_str(), None),
        Value::Table(t) => (get_str(t, "model", path)?, Some(t)),
        _ => return Err(err(path, "expected an output name or a table with `model`")),
    };
    let q = |key: &str, dim: Dim, default: Option<f64>| -> Result<f64> {
        match t.and_then(|t| t.get(key)) {
            Some(v) => quantity(v, dim, &format!("{path}.{key}")),
            None => default.ok_or_else(|| err(path, format!("{name} needs `{key}`"))),
        }
    };
    let allowed: &[&str] = match name {
        "COBA" => &["model", "E"],
        "CUBA" => &["model", "scale"],
        "MgBlock" => &["model", "E", "cc_Mg", "alpha", "beta", "V_offset"],
        _ => return Err(SomataError::UnknownModel { name: name.into(), known: "COBA, CUBA, MgBlock".into() }),
    };
    if let Some(t) = t {
        check_keys(t, allowed, path)?;
    }
    Ok(match name {
        "COBA" => Output::Coba { e: q("E", Dim::VOLTAGE, None)? },
        "CUBA" => Output::Cuba { scale: q("scale", Dim::VOLTAGE, Some(1000.0))? },
        _ => Output::MgBlock {
            e: q("E", Dim::ONE, Some(0.0))?,
            cc_mg: q("cc_Mg", Dim::ONE, Some(1.2))?,
            alpha: q("alpha", Dim::ONE, Some(0.062))?,
            beta: q("beta", Dim::ONE, Some(3.57))?,
            v_offset: q("V_offset", Dim::ONE, Some(0.0))?,
        },
    })
}

/// A per-synapse distribution: `{ normal = [mean, std], min = .., max = .. }` (redrawn outside
/// `[min, max]`) or `{ uniform = [low, high] }`, quantities of `dim`; `None` for any other value.
fn dist(v: &Value, dim: Dim, path: &str, default_min: f64) -> Result<Option<Dist>> {
    let Some(t) = v.as_table() else { return Ok(None) };
    if !(t.contains_key("normal") || t.contains_key("uniform")) {
        return Ok(None);
    }
    let pair = |key: &str| -> Result<(f64, f64)> {
        let p = format!("{path}.{key}");
        let a = array(get(t, key, path)?, &p)?;
        if a.len() != 2 {
            return Err(err(&p, "expected two quantities"));
        }
        Ok((quantity(&a[0], dim, &format!("{p}[0]"))?, quantity(&a[1], dim, &format!("{p}[1]"))?))
    };
    let d = if t.contains_key("normal") {
        check_keys(t, &["normal", "min", "max"], path)?;
        let (mean, std) = pair("normal")?;
        let bound = |k: &str, d: f64| -> Result<f64> { t.get(k).map(|v| quantity(v, dim, &format!("{path}.{k}"))).unwrap_or(Ok(d)) };
        Dist::Normal { mean, std, min: bound("min", default_min)?, max: bound("max", f64::INFINITY)? }
    } else {
        check_keys(t, &["uniform"], path)?;
        let (low, high) = pair("uniform")?;
        Dist::Uniform { low, high }
    };
    d.check(path).map_err(|e| err(path, e))?;
    Ok(Some(d))
}

/// A `conn` table's `seed`, or the file's default for it.
fn conn_seed(t: &Table, path: &str, default: u64) -> Result<u64> {
    match t.get("seed") {
        Some(s) => Ok(s.as_integer().ok_or_else(|| err(&format!("{path}.seed"), "expected an integer"))? as u64),
        None => Ok(default),
    }
}

/// The connectivity of one rank's postsynaptic block `posts` (all of `0..n_post` on one
/// rank): `fixed_total_number` draws the block's synapses from streams keyed by postsynaptic
/// neuron; the other rules build the whole matrix (the same on every rank) and keep the block.
#[allow(clippy::too_many_arguments)]
fn connectivity(
    t: &Table,
    n_pre: usize,
    n_post: usize,
    posts: std::ops::Range<usize>,
    wdim: Dim,
    path: &str,
    dir: &Path,
    seed: u64,
    dt_ms: f64,
) -> Result<(Conn, Option<Delay>)> {
    let ty = get_str(t, "type", path)?;
    if ty == "fixed_total_number" {
        let s = conn_seed(t, path, seed)?;
        let delays = match t.get("delays") {
            Some(v) => Some(dist(v, Dim::TIME, &format!("{path}.delays"), dt_ms)?.ok_or_else(|| {
                err(
                    &format!("{path}.delays"),
                    "fixed_total_number draws its delays: give a distribution ({ normal = [mean, std] } or { uniform = [low, high] })",
                )
            })?),
            None => None,
        };
        let wv = get(t, "weight", path)?;
        let wd = dist(wv, wdim, &format!("{path}.weight"), f64::NEG_INFINITY)?;
        let w = match wd {
            Some(_) => Weight::new(0.0, wdim),
            None => Weight::new(quantity(wv, wdim, &format!("{path}.weight"))?, wdim),
        };
        let count = get_usize(t, "count", path)?;
        let (conn, k) =
            Conn::fixed_total_number_posts(n_pre, n_post, count, w, s, posts, wd, delays.map(|d| (d, dt_ms))).map_err(|e| err(path, e))?;
        return Ok((conn, k.map(Delay::PerSynapseSteps)));
    }
    let (conn, delays) = connectivity_whole(t, ty, n_pre, n_post, wdim, path, dir, seed, dt_ms)?;
    if posts == (0..n_post) {
        return Ok((conn, delays));
    }
    let (conn, keep) = conn.restrict_posts(posts);
    let delays = delays.map(|d| match d {
        Delay::PerSynapse(v) => Delay::PerSynapse(keep.iter().map(|&p| v[p]).collect()),
        Delay::PerSynapseSteps(v) => Delay::PerSynapseSteps(keep.iter().map(|&p| v[p]).collect()),
        other => other,
    });
    Ok((conn, delays))
}

/// The connectivity of `conn` and its per-synapse delays (ms, storage order) when it gives them
/// (`delays` of a dense matrix or of triplets, or a fourth element of each triplet).
#[allow(clippy::too_many_arguments)]
fn connectivity_whole(
    t: &Table,
    ty: &str,
    n_pre: usize,
    n_post: usize,
    wdim: Dim,
    path: &str,
    dir: &Path,
    seed: u64,
    dt_ms: f64,
) -> Result<(Conn, Option<Delay>)> {
    // per-synapse delays drawn from a distribution (generated rules), rounded to whole steps
    let delay_dist = match t.get("delays") {
        Some(v) => dist(v, Dim::TIME, &format!("{path}.delays"), dt_ms)?,
        None => None,
    };
    // per-synapse weights drawn from a distribution (generated rules)
    let weight_dist = match t.get("weight") {
        Some(v) => dist(v, wdim, &format!("{path}.weight"), f64::NEG_INFINITY)?,
        None => None,
    };
    if (delay_dist.is_some() || weight_dist.is_some()) && matches!(ty, "dense" | "triplets") {
        return Err(err(path, "distributions of weights or delays go with generated connectivity (fixed_prob, fixed_in_degree, fixed_out_degree, fixed_total_number, all_to_all, one_to_one); dense and triplets give their values"));
    }
    if delay_dist.is_some() || weight_dist.is_some() {
        let s = conn_seed(t, path, seed)?;
        let mut tt = t.clone();
        tt.remove("delays");
        if let Some(wd) = weight_dist {
            // the rule is built with the mean weight, then every synapse draws its own
            let mean = match wd {
                Dist::Normal { mean, .. } => mean,
                Dist::Uniform { low, high } => 0.5 * (low + high),
            };
            tt.insert("weight".into(), Value::Float(mean));
        }
        let (mut conn, _) = connectivity_only(&tt, ty, n_pre, n_post, wdim, path, dir, s, None)?;
        if let Some(wd) = weight_dist {
            conn = conn.with_weight_dist(wd, s ^ 0x5757_5757_0000_0001).map_err(|e| err(&format!("{path}.weight"), e))?;
        }
        let delays = match delay_dist {
            Some(dd) => Some(
                Delay::steps_from_dist(conn.num_synapses(), dd, dt_ms, s ^ 0xDE1A_7000_0000_0002)
                    .map_err(|e| err(&format!("{path}.delays"), e))?,
            ),
            None => None,
        };
        return Ok((conn, delays));
    }
    let delays = match t.get("delays") {
        None => None,
        Some(v) => {
            if !matches!(ty, "dense" | "triplets") {
                return Err(err(&format!("{path}.delays"), "per-synapse delays go with `dense` or `triplets` connectivity"));
            }
            let dpath = format!("{path}.delays");
            let vals = match v {
                Value::Table(dt) => value_array(dt, Dim::TIME, &dpath, dir)?.0,
                Value::Array(_) => {
                    let mut out = vec![];
                    numbers(v, None, Dim::TIME, &dpath, &mut out)?;
                    out
                }
                _ => return Err(err(&dpath, "expected an array of delays or `{ unit = \"ms\", values = [...] }` / `{ npy = ... }`")),
            };
            Some(vals)
        }
    };
    let (conn, d) = connectivity_only(t, ty, n_pre, n_post, wdim, path, dir, seed, delays)?;
    Ok((conn, d.map(Delay::PerSynapse)))
}

#[allow(clippy::too_many_arguments)]
fn connectivity_only(
    t: &Table,
    ty: &str,
    n_pre: usize,
    n_post: usize,
    wdim: Dim,
    path: &str,
    dir: &Path,
    seed: u64,
    delays: Option<Vec<f64>>,
) -> Result<(Conn, Option<Vec<f64>>)> {
    let w = || -> Result<Weight> { Ok(Weight::new(quantity(get(t, "weight", path)?, wdim, &format!("{path}.weight"))?, wdim)) };
    let seed = conn_seed(t, path, seed)?;
    let prob = || -> Result<f64> {
        let p = get(t, "prob", path)?.as_float().or_else(|| t.get("prob").and_then(Value::as_integer).map(|i| i as f64));
        p.ok_or_else(|| err(&format!("{path}.prob"), "expected a number"))
    };
    // explicit weights are canonical numbers of `wdim`
    let unit = Weight::new(1.0, wdim);
    let plain = |c: Result<Conn>| c.map(|c| (c, None));
    match ty {
        "all_to_all" => plain(Conn::all_to_all(n_pre, n_post, w()?)),
        "one_to_one" => {
            if n_pre != n_post {
                return Err(SomataError::ShapeMismatch {
                    what: format!("{path}: one_to_one needs equal sizes"),
                    expected: vec![n_pre],
                    got: vec![n_post],
                });
            }
            plain(Conn::one_to_one(n_pre, w()?))
        }
        "fixed_prob" => {
            if t.get("no_self").and_then(Value::as_bool).unwrap_or(false) {
                if n_pre != n_post {
                    return Err(SomataError::ShapeMismatch {
                        what: format!("{path}: no_self needs equal sizes"),
                        expected: vec![n_pre],
                        got: vec![n_post],
                    });
                }
                plain(Conn::fixed_prob_no_self(n_pre, prob()?, w()?, seed))
            } else {
                plain(Conn::fixed_prob(n_pre, n_post, prob()?, w()?, seed))
            }
        }
        "fixed_in_degree" => plain(Conn::fixed_in_degree(n_pre, n_post, get_usize(t, "degree", path)?, w()?, seed)),
        "fixed_out_degree" => plain(Conn::fixed_out_degree(n_pre, n_post, get_usize(t, "degree", path)?, w()?, seed)),
        "fixed_total_number" => plain(Conn::fixed_total_number(n_pre, n_post, get_usize(t, "count", path)?, w()?, seed)),
        "dense" => {
            let (vals, _) = value_array(t, wdim, path, dir)?;
            let c = Conn::dense(n_pre, n_post, vals.into_iter().map(|x| x as f32).collect())?.unit(unit)?;
            // a dense matrix stores its synapses row-major, the order of `delays`
            Ok((c, delays))
        }
        "triplets" => {
            let syn = array(get(t, "synapses", path)?, path)?;
            let mut tr = Vec::with_capacity(syn.len());
            let mut inline = Vec::with_capacity(syn.len());
            for (k, s) in syn.iter().enumerate() {
                let p = format!("{path}.synapses[{k}]");
                let a = array(s, &p)?;
                if a.len() != 3 && a.len() != 4 {
                    return Err(err(&p, "expected [pre, post, weight] or [pre, post, weight, delay]"));
                }
                let idx = |v: &Value| {
                    v.as_integer().filter(|i| *i >= 0).map(|i| i as usize).ok_or_else(|| err(&p, "indices must be non-negative integers"))
                };
                tr.push((idx(&a[0])?, idx(&a[1])?, quantity(&a[2], wdim, &p)? as f32));
                if a.len() == 4 {
                    inline.push(quantity(&a[3], Dim::TIME, &format!("{p}[3] (delay)"))?);
                }
            }
            if !inline.is_empty() && inline.len() != tr.len() {
                return Err(err(&format!("{path}.synapses"), "give a delay for every synapse or for none"));
            }
            let given = match (delays, inline.is_empty()) {
                (Some(_), false) => return Err(err(path, "delays are given twice: in `synapses` and in `delays`")),
                (Some(d), true) => Some(d),
                (None, false) => Some(inline),
                (None, true) => None,
            };
            match given {
                Some(d) => {
                    if d.len() != tr.len() {
                        return Err(SomataError::ShapeMismatch {
                            what: format!("{path}.delays (one per synapse)"),
                            expected: vec![tr.len()],
                            got: vec![d.len()],
                        });
                    }
                    let q: Vec<(usize, usize, f32, f64)> = tr.iter().zip(&d).map(|(&(i, j, w), &dk)| (i, j, w, dk)).collect();
                    let (c, d) = Conn::from_triplets_with_delays(n_pre, n_post, &q)?;
                    Ok((c.unit(unit)?, Some(d)))
                }
                None => plain(Conn::from_triplets(n_pre, n_post, &tr).and_then(|c| c.unit(unit))),
            }
        }
        other => Err(err(
            &format!("{path}.type"),
            format!(
                "unknown connectivity `{other}` (all_to_all, one_to_one, fixed_prob, fixed_in_degree, fixed_out_degree, dense, triplets)"
            ),
        )),
    }
}

/// A `[[gap_junction]]` table.
fn gap_junction(t: &Table, path: &str, net: &Network, dir: &Path) -> Result<GapJunction> {
    let kind = match t.get("kind").and_then(Value::as_str).unwrap_or("symmetric") {
        "symmetric" => GapKind::Symmetric,
        "asymmetric" => GapKind::Asymmetric,
        other => return Err(err(&format!("{path}.kind"), format!("unknown kind `{other}` (symmetric, asymmetric)"))),
    };
    let pre = net.pop_id(get_str(t, "pre", path)?)?;
    let post = net.pop_id(get_str(t, "post", path)?)?;
    let state = t.get("state").and_then(Value::as_str).unwrap_or("V");
    let pre_state = t.get("pre_state").and_then(Value::as_str).unwrap_or(state).to_string();
    let post_state = t.get("post_state").and_then(Value::as_str).unwrap_or(state).to_string();
    let ppath = format!("{path}.pairs");
    let pairs: Vec<(usize, usize)> = match get(t, "pairs", path)? {
        Value::String(s) if s == "one_to_one" => {
            let (a, b) = (net.size(pre), net.size(post));
            if a != b {
                return Err(SomataError::ShapeMismatch {
                    what: format!("{ppath}: one_to_one needs equal sizes"),
                    expected: vec![a],
                    got: vec![b],
                });
            }
            (0..a).map(|i| (i, i)).collect()
        }
        Value::Array(a) => a
            .iter()
            .map(|p| {
                let ix: Vec<i64> = p.as_array().map(|q| q.iter().filter_map(Value::as_integer).collect()).unwrap_or_default();
                match (ix.as_slice(), p.as_array().map(Vec::len)) {
                    ([i, j], Some(2)) if *i >= 0 && *j >= 0 => Ok((*i as usize, *j as usize)),
                    _ => Err(err(&ppath, "expected [[pre, post], ...] with non-negative integer indices")),
                }
            })
            .collect::<Result<_>>()?,
        Value::Table(pt) => {
            let (v, _) = value_array(pt, Dim::ONE, &ppath, dir)?;
            if v.len() % 2 != 0 || v.iter().any(|x| *x < 0.0 || x.fract() != 0.0) {
                return Err(err(&ppath, "expected (pairs, 2) non-negative integer indices"));
            }
            v.chunks(2).map(|c| (c[0] as usize, c[1] as usize)).collect()
        }
        _ => return Err(err(&ppath, "expected [[pre, post], ...], \"one_to_one\" or { npy = \"pairs.npy\" }")),
    };
    // the weights' dimension: input / state of the postsynaptic model (checked on both sides
    // when the gap junction is added)
    let p = net.population(post);
    let dim = match p.state_dim(&post_state) {
        Some(sd) => {
            let id = p.input_dim();
            Dim(std::array::from_fn(|k| id.0[k] - sd.0[k]))
        }
        None => Dim::CONDUCTANCE,
    };
    let wpath = format!("{path}.weight");
    let w = match get(t, "weight", path)? {
        v @ Value::Array(_) => {
            let mut out = vec![];
            numbers(v, None, dim, &wpath, &mut out)?;
            out
        }
        Value::Table(wt) => value_array(wt, dim, &wpath, dir)?.0,
        v => vec![quantity(v, dim, &wpath)?],
    };
    let mut gj = GapJunction::new(kind, pre, post, pairs, w, dim).states(&pre_state, &post_state);
    if let Some(n) = t.get("name").and_then(Value::as_str) {
        gj = gj.name(n);
    }
    Ok(gj)
}

/// The keys of a spike-source population (`model = "PoissonSpike"`, `"SpikeTime"`, `"SpikeFile"`),
/// `None` for neuron models.
fn source_keys(model: &str) -> Option<&'static [&'static str]> {
    match model {
        "PoissonSpike" => Some(&["name", "model", "size", "rate", "rates", "seed"]),
        "SpikeTime" => Some(&["name", "model", "size", "times", "indices", "file", "rounding"]),
        "SpikeFile" => Some(&["name", "model", "size", "file", "rounding"]),
        _ => None,
    }
}

/// A spike-source population from its `[[population]]` table (keys checked by the caller).
fn spike_source(t: &Table, model: &str, n: usize, path: &str, dir: &Path, seed: u64) -> Result<Box<dyn super::Population>> {
    use super::{PoissonSource, SpikeFileSource, SpikeTimeSource};
    use crate::input::TimeRounding;
    let rounding = match t.get("rounding") {
        Some(v) => {
            let r = v.as_str().ok_or_else(|| err(&format!("{path}.rounding"), "expected \"round\", \"floor\" or \"ceil\""))?;
            TimeRounding::parse(r).map_err(|e| err(&format!("{path}.rounding"), e))?
        }
        None => TimeRounding::Round,
    };
    let file = |key: &str| -> Result<Option<PathBuf>> {
        match t.get(key) {
            Some(v) => Ok(Some(dir.join(v.as_str().ok_or_else(|| err(&format!("{path}.{key}"), "expected a file name"))?))),
            None => Ok(None),
        }
    };
    Ok(match model {
        "PoissonSpike" => {
            let rates = match (t.get("rate"), t.get("rates")) {
                (Some(r), None) => vec![rate_hz(r, &format!("{path}.rate"))?],
                (None, Some(r)) => rates_hz(r, &format!("{path}.rates"), dir)?,
                _ => return Err(err(path, "give `rate` (shared, \"20 Hz\") or `rates` (one per neuron), not both")),
            };
            let seed = match t.get("seed") {
                Some(s) => s.as_integer().ok_or_else(|| err(&format!("{path}.seed"), "expected an integer"))? as u64,
                None => seed,
            };
            Box::new(PoissonSource::new(n, &rates, seed).map_err(|e| err(path, e))?)
        }
        "SpikeTime" => match (file("file")?, t.get("times"), t.get("indices")) {
            (Some(f), None, None) => Box::new(SpikeTimeSource::from_file(n, f, rounding).map_err(|e| err(&format!("{path}.file"), e))?),
            (None, Some(tv), Some(iv)) => {
                let tpath = format!("{path}.times");
                let times = match tv {
                    Value::Table(tt) => value_array(tt, Dim::TIME, &tpath, dir)?.0,
                    _ => {
                        let mut out = vec![];
                        numbers(tv, None, Dim::TIME, &tpath, &mut out)?;
                        out
                    }
                };
                let ipath = format!("{path}.indices");
                let indices = array(iv, &ipath)?
                    .iter()
                    .map(|x| {
                        x.as_integer()
                            .filter(|i| *i >= 0)
                            .map(|i| i as usize)
                            .ok_or_else(|| err(&ipath, "expected non-negative integer neuron indices"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Box::new(SpikeTimeSource::new(n, &indices, &times, rounding).map_err(|e| err(path, e))?)
            }
            _ => return Err(err(path, "give `times` and `indices`, or `file = \"spikes.csv\"` (time_ms,neuron) / `\"spikes.npy\"`")),
        },
        _ => {
            let f = file("file")?.ok_or_else(|| err(path, "missing key `file` (a recorded spike file, e.g. \"E_spikes.npy\")"))?;
            Box::new(SpikeFileSource::open_with(n, f, rounding).map_err(|e| err(&format!("{path}.file"), e))?)
        }
    })
}

/// Per-neuron rates in Hz: an array (`rate_hz` for each element), or a table `{ unit = "Hz",
/// values = [...] }` / `{ npy = "rates.npy", unit = "Hz" }` (bare numbers without `unit`: Hz).
fn rates_hz(v: &Value, path: &str, dir: &Path) -> Result<Vec<f64>> {
    match v {
        Value::Array(a) => a.iter().enumerate().map(|(i, x)| rate_hz(x, &format!("{path}[{i}]"))).collect(),
        Value::Table(t) if t.contains_key("unit") => {
            Ok(value_array(t, Dim::FREQUENCY, path, dir)?.0.into_iter().map(|x| x * 1e3).collect())
        }
        Value::Table(t) => {
            if let Some(vals) = t.get("values") {
                return rates_hz(vals, &format!("{path}.values"), dir);
            }
            // an npy without unit: Hz as given
            Ok(value_array(t, Dim::FREQUENCY, path, dir)?.0)
        }
        _ => Err(err(path, "expected an array of rates or `{ unit = \"Hz\", values = [...] }`")),
    }
}

/// A rate in Hz: a bare number is Hz (as the format's table says), a string is converted from
/// its unit (`"20 Hz"`, `"0.02 kHz"`).
fn rate_hz(v: &Value, path: &str) -> Result<f64> {
    match v {
        Value::String(_) => Ok(quantity(v, Dim::FREQUENCY, path)? * 1e3),
        _ => quantity(v, Dim::FREQUENCY, path),
    }
}

/// A list of quantities of `dim` under `key`.
fn quantities(t: &Table, key: &str, dim: Dim, path: &str) -> Result<Vec<f64>> {
    let p = format!("{path}.{key}");
    array(get(t, key, path)?, &p)?.iter().enumerate().map(|(i, v)| quantity(v, dim, &format!("{p}[{i}]"))).collect()
}

/// The quantity under `key`, or `default` (canonical units) when it is absent.
fn quantity_or(t: &Table, key: &str, dim: Dim, path: &str, default: Option<f64>) -> Result<f64> {
    match (t.get(key), default) {
        (Some(v), _) => quantity(v, dim, &format!("{path}.{key}")),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(err(path, format!("missing key `{key}`"))),
    }
}

/// One of [`crate::input`]'s current generators for `n` neurons, from an `[[input]]` table
/// (currents in mA, times in ms, frequencies in Hz when bare numbers).
fn current_generator(ty: &str, t: &Table, path: &str, n: usize, seed: u64) -> Result<Box<dyn crate::input::InputGen>> {
    use crate::input::{OUProcessInput, RampInput, SectionInput, SinusoidalInput, StepInput, WienerProcessInput};
    let (cur, time) = (Dim::CURRENT, Dim::TIME);
    let q = |key: &str, dim: Dim, default: Option<f64>| quantity_or(t, key, dim, path, default);
    Ok(match ty {
        "section" => Box::new(SectionInput::new(n, &quantities(t, "values", cur, path)?, &quantities(t, "durations", time, path)?)?),
        "step" => Box::new(StepInput::new(n, &quantities(t, "amplitudes", cur, path)?, &quantities(t, "times", time, path)?)?),
        "ramp" => Box::new(RampInput::new(
            n,
            q("start", cur, None)?,
            q("end", cur, None)?,
            q("duration", time, None)?,
            q("t_start", time, Some(0.0))?,
        )?),
        "sinusoidal" => {
            let f = rate_hz(get(t, "frequency", path)?, &format!("{path}.frequency"))?;
            Box::new(SinusoidalInput::new(n, q("amplitude", cur, None)?, f, q("duration", time, None)?, q("bias", cur, Some(0.0))?)?)
        }
        "ou" => Box::new(OUProcessInput::new(
            n,
            q("mean", cur, None)?,
            q("sigma", cur, None)?,
            q("tau", time, None)?,
            q("duration", time, None)?,
            seed,
        )?),
        "wiener" => Box::new(WienerProcessInput::new(n, q("sigma", cur, None)?, q("duration", time, None)?, seed)?),
        other => return Err(err(&format!("{path}.type"), format!("`{other}` is not a current generator"))),
    })
}

/// Bytes a connectivity table will take once generated (indices and weights of its expected
/// synapses, row offsets), estimated before it is generated.
fn conn_bytes(t: &Table, n_pre: u64, n_post: u64) -> u64 {
    let num = |k: &str| t.get(k).and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64))).unwrap_or(0.0).max(0.0);
    let synapses = match t.get("type").and_then(Value::as_str).unwrap_or("") {
        "all_to_all" | "dense" => n_pre.saturating_mul(n_post),
        "one_to_one" => n_pre,
        "fixed_prob" => (num("prob").min(1.0) * n_pre as f64 * n_post as f64) as u64,
        "fixed_in_degree" => (num("degree") as u64).saturating_mul(n_post),
        "fixed_out_degree" => (num("degree") as u64).saturating_mul(n_pre),
        "fixed_total_number" => num("count") as u64,
        _ => 0,
    };
    // an index and a weight per synapse, and 2 bytes of delay when drawn per synapse
    let per_syn =
        8 + if t.get("delays").is_some_and(|d| d.as_table().is_some_and(|d| d.contains_key("normal") || d.contains_key("uniform"))) {
            2
        } else {
            0
        };
    synapses.saturating_mul(per_syn).saturating_add(n_pre.saturating_mul(8)).saturating_add(n_post.saturating_mul(16))
}

/// Parse and build a network file. Relative `npy` paths are read from `dir`. Errors give the
/// line and column of the key (or table) they are about (`line 12, column 1: ...`); a file
/// that is not valid TOML, the TOML parser's line and column.
pub fn parse(text: &str, dir: &Path, default_name: &str) -> Result<NetFile> {
    parse_part(text, dir, default_name, Part::default())
}

/// [`parse`] one rank's part of the network ([`super::dist`]): every population's block
/// [`Part::window`] (spike sources whole), the synapses onto it, its inputs and monitor
/// columns; run it after [`Network::distribute`]. With `Part::default()` (one rank) this is
/// [`parse`].
pub fn parse_part(text: &str, dir: &Path, default_name: &str, part: Part) -> Result<NetFile> {
    let doc: Table = text.parse().map_err(|e: toml::de::Error| SomataError::Format(format!("network file is not valid TOML: {e}")))?;
    parse_inner(&doc, dir, default_name, part).map_err(|e| {
        let msg = e.to_string();
        let culprit = || super::span::culprit(&doc, &msg, |d| parse_inner(d, dir, default_name, part).err().map(|e| e.to_string()));
        super::span::with_line_in(e, text, culprit, true)
    })
}

fn parse_inner(doc: &Table, dir: &Path, default_name: &str, part: Part) -> Result<NetFile> {
    check_keys(
        doc,
        &[
            "name",
            "dt",
            "duration",
            "steps",
            "seed",
            "check_finite",
            "plot",
            "population",
            "projection",
            "gap_junction",
            "input",
            "monitor",
            "order",
        ],
        "top level",
    )?;
    let mut budget = MemoryBudget::new();
    let dt = quantity(get(doc, "dt", "top level")?, Dim::TIME, "dt")?;
    let mut net = Network::from_ms(dt)?;
    let seed = doc.get("seed").and_then(Value::as_integer).unwrap_or(0) as u64;
    let steps = file_steps(doc, dt)?;
    net.check_finite(doc.get("check_finite").and_then(Value::as_bool).unwrap_or(false));
    let empty = vec![];
    let pops = doc.get("population").map(|v| array(v, "population")).transpose()?.unwrap_or(&empty);
    if pops.is_empty() {
        return Err(err("population", "a network needs at least one [[population]]"));
    }
    for (k, p) in pops.iter().enumerate() {
        let path = format!("population[{k}]");
        let t = table(p, &path)?;
        let source = t.get("model").and_then(Value::as_str).and_then(source_keys);
        check_keys(t, source.unwrap_or(&["name", "model", "size", "params", "init", "spk_reset", "seed"]), &path)?;
        let name = get_str(t, "name", &path)?.to_string();
        let path = format!("population `{name}`");
        let model = get_str(t, "model", &path)?;
        let n = get_usize(t, "size", &path)?;
        if n == 0 {
            return Err(err(&path, "size must be ≥ 1"));
        }
        if source.is_some() {
            // a spike source: its spikes and the network's buffers, f32 each
            budget.take(&format!("population `{name}` ({n} {model} neurons × 24 bytes)"), (n as u64).saturating_mul(24))?;
            let src = spike_source(t, model, n, &path, dir, seed.wrapping_add(2000 + k as u64))?;
            net.add_boxed(src, &name)?;
            continue;
        }
        let window = if part.is_whole() { None } else { Some(part.window(n)) };
        dispatch(model, BuildPop { t, path: path.clone(), n, window, dir, net: &mut net, name: name.clone(), budget: &mut budget })?;
    }
    for (k, p) in doc.get("projection").map(|v| array(v, "projection")).transpose()?.unwrap_or(&empty).iter().enumerate() {
        let path = format!("projection[{k}]");
        let t = table(p, &path)?;
        check_keys(
            t,
            &["name", "pre", "post", "pre_range", "kind", "synapse", "output", "stp", "delay", "conn", "state", "same_step"],
            &path,
        )?;
        let pname = t.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| path.clone());
        let path = match t.get("name").and_then(Value::as_str) {
            Some(n) => format!("projection `{n}`"),
            None => path,
        };
        let pre = net.pop_id(get_str(t, "pre", &path)?)?;
        let post = net.pop_id(get_str(t, "post", &path)?)?;
        let range = match t.get("pre_range") {
            Some(r) => {
                let a = array(r, &format!("{path}.pre_range"))?;
                let ix: Vec<usize> = a.iter().filter_map(|v| v.as_integer()).filter(|i| *i >= 0).map(|i| i as usize).collect();
                if ix.len() != 2 || a.len() != 2 || ix[0] > ix[1] {
                    return Err(err(&format!("{path}.pre_range"), "expected [start, end) with 0 ≤ start ≤ end"));
                }
                ix[0]..ix[1]
            }
            None => 0..net.global_size(pre),
        };
        let kind_s = t.get("kind").and_then(Value::as_str).unwrap_or("align_post");
        let (kind, wdim) = match kind_s {
            "align_post" | "align_pre" => {
                let syn = synapse(get(t, "synapse", &path)?, &format!("{path}.synapse"))?;
                let out = output(get(t, "output", &path)?, &format!("{path}.output"))?;
                if kind_s == "align_post" {
                    (ProjKind::AlignPost { syn, out }, Dim::CONDUCTANCE)
                } else {
                    (ProjKind::AlignPre { syn, out }, Dim::ONE)
                }
            }
            "current" => {
                if t.contains_key("synapse") {
                    return Err(err(
                        &path,
                        "a `current` projection has no synapse (BrainPy's CurrentProj binds the projected value to the output)",
                    ));
                }
                let out = output(get(t, "output", &path)?, &format!("{path}.output"))?;
                (ProjKind::Current { out }, Dim::CONDUCTANCE)
            }
            "delta" => {
                let state = t.get("state").and_then(Value::as_str).unwrap_or("V").to_string();
                // the weights have the unit of the state they add to (mV for V)
                let d = net.population(post).state_dim(&state).unwrap_or(Dim::VOLTAGE);
                (ProjKind::Delta { state }, d)
            }
            other => return Err(err(&format!("{path}.kind"), format!("unknown kind `{other}` (align_post, align_pre, current, delta)"))),
        };
        let ct = table(get(t, "conn", &path)?, &format!("{path}.conn"))?;
        let n_pre = range.len();
        // this rank's share of the synapses (the rules spread them evenly over the
        // postsynaptic neurons)
        let share = net.size(post) as f64 / net.global_size(post).max(1) as f64;
        budget.take(
            &format!("the connectivity of {path} ({n_pre} × {} neurons)", net.size(post)),
            (conn_bytes(ct, n_pre as u64, net.global_size(post) as u64) as f64 * share) as u64,
        )?;
        let posts = net.local_range(post);
        let (conn, syn_delays) = connectivity(
            ct,
            n_pre,
            net.global_size(post),
            posts,
            wdim,
            &format!("{path}.conn"),
            dir,
            seed.wrapping_add(1000 + k as u64),
            dt,
        )?;
        let mut proj = Projection::new(pre, post, conn, kind).pre_range(range).name(pname);
        match t.get("same_step") {
            None => {}
            Some(Value::Boolean(b)) => proj = proj.same_step(*b),
            Some(_) => return Err(err(&format!("{path}.same_step"), "expected true or false")),
        }
        if let Some(s) = t.get("stp") {
            proj = proj.stp(synapse(s, &format!("{path}.stp"))?);
        }
        let dpath = format!("{path}.delay");
        let delay = match t.get("delay") {
            None => None,
            // one per presynaptic neuron
            Some(v @ Value::Array(_)) => {
                let mut d = vec![];
                numbers(v, None, Dim::TIME, &dpath, &mut d)?;
                Some(Delay::PerPre(d))
            }
            Some(Value::Table(dt)) => Some(Delay::PerPre(value_array(dt, Dim::TIME, &dpath, dir)?.0)),
            Some(v) => Some(Delay::Global(quantity(v, Dim::TIME, &dpath)?)),
        };
        match (delay, syn_delays) {
            (Some(_), Some(_)) => {
                return Err(err(&path, "give `delay` (global or per presynaptic neuron) or per-synapse delays in `conn`, not both"));
            }
            (Some(d), None) => proj = proj.delays(d),
            (None, Some(d)) => proj = proj.delays(d),
            (None, None) => {}
        }
        net.connect(proj)?;
    }
    if let Some(o) = doc.get("order") {
        let a = array(o, "order")?;
        let ids = a
            .iter()
            .map(|v| v.as_str().ok_or_else(|| err("order", "expected population names")).and_then(|s| net.pop_id(s)))
            .collect::<Result<Vec<_>>>()?;
        net.update_order(&ids).map_err(|e| err("order", e))?;
    }
    for (k, g) in doc.get("gap_junction").map(|v| array(v, "gap_junction")).transpose()?.unwrap_or(&empty).iter().enumerate() {
        let path = format!("gap_junction[{k}]");
        let t = table(g, &path)?;
        check_keys(t, &["name", "kind", "pre", "post", "state", "pre_state", "post_state", "pairs", "weight"], &path)?;
        let path = match t.get("name").and_then(Value::as_str) {
            Some(n) => format!("gap junction `{n}`"),
            None => path,
        };
        net.gap_junction(gap_junction(t, &path, &net, dir)?)?;
    }
    for (k, p) in doc.get("input").map(|v| array(v, "input")).transpose()?.unwrap_or(&empty).iter().enumerate() {
        let path = format!("input[{k}]");
        let t = table(p, &path)?;
        check_keys(
            t,
            &[
                "target",
                "type",
                "value",
                "values",
                "unit",
                "npy",
                "rate",
                "count",
                "weight",
                "seed",
                "durations",
                "amplitudes",
                "times",
                "start",
                "end",
                "duration",
                "t_start",
                "amplitude",
                "frequency",
                "bias",
                "mean",
                "sigma",
                "tau",
                "state",
            ],
            &path,
        )?;
        let target = net.pop_id(get_str(t, "target", &path)?)?;
        // values per neuron are given for the whole population; this rank takes its block
        let n = net.global_size(target);
        let block = net.local_range(target);
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("constant");
        let x = match ty {
            "constant" => {
                if let Some(v) = t.get("value") {
                    ExtInput::Constant(vec![quantity(v, Dim::CURRENT, &format!("{path}.value"))? as f32])
                } else {
                    let (vals, _) = value_array(t, Dim::CURRENT, &path, dir)?;
                    let vals = if vals.len() == n && block.len() != n { vals[block.clone()].to_vec() } else { vals };
                    ExtInput::Constant(vals.into_iter().map(|x| x as f32).collect())
                }
            }
            "per_step" => {
                let (vals, _) = value_array(t, Dim::CURRENT, &path, dir)?;
                if vals.len() % n != 0 {
                    return Err(SomataError::ShapeMismatch {
                        what: format!("{path}: per-step values (steps × {n})"),
                        expected: vec![n],
                        got: vec![vals.len()],
                    });
                }
                let steps = vals.len() / n;
                let data = vals.chunks(n).flat_map(|row| row[block.clone()].iter().map(|&x| x as f32)).collect();
                ExtInput::PerStep { data, steps }
            }
            "poisson" => {
                // `count` independent Poisson sources per neuron at `rate`, each adding `weight`
                // (mA) when it fires (BrainPy's poisson_input onto a current)
                let rate = rate_hz(get(t, "rate", &path)?, &format!("{path}.rate"))?;
                let count = get_usize(t, "count", &path)?;
                // onto a state (BrainPy's PoissonInput(target=pop.prefetch('V'))): weight in the
                // state's dimension, added before the update; else a current
                let on_state = match t.get("state") {
                    None => None,
                    Some(v) => {
                        let name = v.as_str().ok_or_else(|| err(&format!("{path}.state"), "expected a state name"))?.to_string();
                        let dim = net.population(target).state_dim(&name).ok_or_else(|| {
                            err(
                                &format!("{path}.state"),
                                format!(
                                    "`{name}` is not a state of the target (its states: {})",
                                    net.population(target).state_names().join(", ")
                                ),
                            )
                        })?;
                        Some((name, dim))
                    }
                };
                let wdim = on_state.as_ref().map_or(Dim::CURRENT, |(_, d)| *d);
                if on_state.is_some() && t.get("tau").is_some() {
                    return Err(err(&path, "`tau` filters a current; an input onto a state adds its jumps directly"));
                }
                let w = quantity(get(t, "weight", &path)?, wdim, &format!("{path}.weight"))? as f32;
                if !(rate.is_finite() && rate >= 0.0) {
                    return Err(SomataError::param("poisson input", "rate", rate, "must be finite and ≥ 0"));
                }
                // one stream per neuron, keyed by its index in the population: the same counts on
                // any number of ranks and threads
                let in_seed = t.get("seed").and_then(Value::as_integer).unwrap_or((seed as i64).wrapping_add(7 + k as i64)) as u64;
                let mut rngs: Vec<crate::init::Rng> =
                    block.clone().map(|i| crate::init::Rng::new(super::dist::key(in_seed, i as u64))).collect();
                // with `tau`, each spike's current decays exponentially (NEST's exponential PSC
                // of amplitude `weight`): i ← i·e^{−dt/τ} + Σ weight, then i drives the neuron
                let tau = match t.get("tau") {
                    None => None,
                    Some(v) => {
                        let tau = quantity(v, Dim::TIME, &format!("{path}.tau"))?;
                        if !(tau.is_finite() && tau > 0.0) {
                            return Err(SomataError::param("poisson input", "tau", tau, "must be finite and > 0"));
                        }
                        Some(tau)
                    }
                };
                let mut syn = vec![0.0f32; if tau.is_some() { block.len() } else { 0 }];
                // the draw's constants, for the dt they were computed at (the network's: fixed)
                let mut counter: Option<(f64, crate::input::PoissonCounter)> = None;
                let generator: super::GenFn = Box::new(move |_step, dt_ms, out: &mut [f32]| {
                    let pc = match counter {
                        Some((d, c)) if d == dt_ms => c,
                        _ => {
                            let p = -(-rate * dt_ms * 1e-3).exp_m1();
                            // p ∈ [0, 1] because rate ≥ 0 was checked above, so this cannot fail
                            let Ok(c) = crate::input::PoissonCounter::new(count as u64, p) else { return };
                            counter = Some((dt_ms, c));
                            c
                        }
                    };
                    match tau {
                        None => {
                            for (o, rng) in out.iter_mut().zip(rngs.iter_mut()) {
                                *o += pc.sample(rng) as f32 * w;
                            }
                        }
                        Some(tau) => {
                            let decay = (-dt_ms / tau).exp() as f32;
                            for ((o, i), rng) in out.iter_mut().zip(syn.iter_mut()).zip(rngs.iter_mut()) {
                                *i = *i * decay + pc.sample(rng) as f32 * w;
                                *o += *i;
                            }
                        }
                    }
                });
                match on_state {
                    Some((state, _)) => ExtInput::OnState { state, generator, buf: vec![] },
                    None => ExtInput::Generator(generator),
                }
            }
            "section" | "step" | "ramp" | "sinusoidal" | "ou" | "wiener" => {
                let gen_seed = t.get("seed").and_then(Value::as_integer).map_or(seed.wrapping_add(11 + k as u64), |s| s as u64);
                // generated for the whole population (the same values on any number of ranks),
                // this rank's block added
                let mut g = current_generator(ty, t, &path, n, gen_seed)?;
                let mut buf = vec![0.0f32; n];
                let block = block.clone();
                ExtInput::Generator(Box::new(move |step, dt_ms, out: &mut [f32]| {
                    // `fill` fails only for a bad dt or a length other than n: the network's dt
                    // is checked at construction, and `out` is the target population's drive
                    if g.fill(step, dt_ms, &mut buf).is_ok() {
                        out.iter_mut().zip(&buf[block.clone()]).for_each(|(o, v)| *o += v);
                    }
                }))
            }
            other => {
                return Err(err(
                    &format!("{path}.type"),
                    format!("unknown input type `{other}` (constant, per_step, poisson, section, step, ramp, sinusoidal, ou, wiener)"),
                ));
            }
        };
        net.input(target, x)?;
    }
    for (k, m) in doc.get("monitor").map(|v| array(v, "monitor")).transpose()?.unwrap_or(&empty).iter().enumerate() {
        let path = format!("monitor[{k}]");
        let t = table(m, &path)?;
        check_keys(t, &["name", "population", "var", "neurons", "every", "format"], &path)?;
        let var_s = match t.get("var") {
            None => "spike",
            Some(v) => v.as_str().ok_or_else(|| err(&format!("{path}.var"), "expected a string"))?,
        };
        let var = Var::parse(var_s);
        let pop = match (t.get("population"), net.monitor_population(&var).map_err(|e| err(&path, e))?) {
            (Some(p), fixed) => {
                let p = net.pop_id(p.as_str().ok_or_else(|| err(&format!("{path}.population"), "expected a population name"))?)?;
                if let Some(f) = fixed.filter(|f| *f != p) {
                    return Err(err(
                        &path,
                        format!("`{var_s}` has one column per neuron of population `{}`, not `{}`", net.names()[f.0], net.names()[p.0]),
                    ));
                }
                p
            }
            (None, Some(f)) => f,
            (None, None) => return Err(err(&path, "missing key `population`")),
        };
        let format = match t.get("format") {
            None => MonitorFormat::Auto,
            Some(v) => MonitorFormat::parse(v.as_str().ok_or_else(|| err(&format!("{path}.format"), "expected a string"))?)
                .map_err(|e| err(&format!("{path}.format"), e))?,
        };
        let name = match t.get("name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => format!("{}_{}", net.names()[pop.0], var_s),
        };
        let neurons = match t.get("neurons") {
            Some(v) => Some(
                array(v, &format!("{path}.neurons"))?
                    .iter()
                    .map(|x| {
                        x.as_integer()
                            .filter(|i| *i >= 0)
                            .map(|i| i as usize)
                            .ok_or_else(|| err(&format!("{path}.neurons"), "expected neuron indices"))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        let every = match t.get("every") {
            Some(_) => get_usize(t, "every", &path)?,
            None => 1,
        };
        net.add_monitor_as(&name, pop, var, neurons, every, format).map_err(|e| match e {
            SomataError::Format(m) => err(&path, m),
            e => e,
        })?;
    }
    Ok(NetFile {
        net,
        steps,
        name: doc.get("name").and_then(Value::as_str).unwrap_or(default_name).to_string(),
        plot: doc.get("plot").and_then(Value::as_bool).unwrap_or(true),
    })
}

/// Build a network from JSON text with the structure of a network file: the same keys and
/// values, TOML's tables as JSON objects and its arrays of tables as JSON arrays of objects.
/// This is what the Python package's dictionaries and `somata.net` objects become. JSON `null`
/// has no TOML counterpart and is refused; errors name the key, not a line.
///
/// ```
/// let net = somata::net::toml_net::parse_json(
///     r#"{"dt": "0.1 ms", "steps": 10,
///         "population": [{"name": "E", "model": "LIF", "size": 4}]}"#,
///     std::path::Path::new("."),
///     "json",
/// )
/// .unwrap();
/// assert_eq!((net.steps, net.name.as_str()), (10, "json"));
/// assert!(somata::net::toml_net::parse_json("[1, 2]", std::path::Path::new("."), "x").is_err());
/// ```
pub fn parse_json(text: &str, dir: &Path, default_name: &str) -> Result<NetFile> {
    let doc: Table = serde_json::from_str(text).map_err(|e| SomataError::Format(format!("network description (JSON): {e}")))?;
    parse_inner(&doc, dir, default_name, Part::default())
}

/// Read and build a network file.
pub fn load(path: &Path) -> Result<NetFile> {
    let text = std::fs::read_to_string(path).map_err(|e| SomataError::Io(format!("{}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("network");
    parse(&text, dir, stem)
}

/// A network file's time step (ms) and steps, read without building it.
///
/// ```
/// let (dt, steps) = somata::net::toml_net::clock_of("dt = \"0.1 ms\"\nduration = \"50 ms\"").unwrap();
/// assert_eq!((dt, steps), (0.1, 500));
/// ```
pub fn clock_of(text: &str) -> Result<(f64, usize)> {
    let doc: Table = text.parse().map_err(|e: toml::de::Error| SomataError::Format(format!("network file is not valid TOML: {e}")))?;
    let dt = quantity(get(&doc, "dt", "top level")?, Dim::TIME, "dt")?;
    Ok((dt, file_steps(&doc, dt)?))
}

fn file_steps(doc: &Table, dt: f64) -> Result<usize> {
    Ok(match (doc.get("steps"), doc.get("duration")) {
        (Some(s), _) => s.as_integer().filter(|s| *s >= 0).ok_or_else(|| err("steps", "expected a non-negative integer"))? as usize,
        (None, Some(d)) => {
            let d = quantity(d, Dim::TIME, "duration")?;
            if !(d.is_finite() && d >= 0.0) {
                return Err(err("duration", "must be finite and ≥ 0"));
            }
            (d / dt).round() as usize
        }
        (None, None) => return Err(err("top level", "give `duration` (e.g. \"1000 ms\") or `steps`")),
    })
}

/// [`load`] one rank's part ([`parse_part`]).
pub fn load_part(path: &Path, part: Part) -> Result<NetFile> {
    let text = std::fs::read_to_string(path).map_err(|e| SomataError::Io(format!("{}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("network");
    parse_part(&text, dir, stem, part)
}
