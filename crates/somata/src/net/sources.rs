//! Spike sources: populations that emit given or random spikes and ignore their input, so that a
//! network can be driven by data.
//!
//! | Type | Network file `model` | Spikes at step `s` (time `t = s·dt`) |
//! |---|---|---|
//! | [`PoissonSource`] | `"PoissonSpike"` | BrainPy's `PoissonSpike`: neuron `i` when `u <= 1 − e^{−f_i·dt}` (one uniform per neuron and step, seeded) |
//! | [`SpikeTimeSource`] | `"SpikeTime"` | BrainPy's `SpikeTime`: the events whose time rounds to step `s` (`round(t/dt)` in `f32`, or floor/ceil) |
//! | [`SpikeFileSource`] | `"SpikeFile"` | a recorded spike file replayed: the rows whose step is `s` |
//!
//! Each exposes one state, `spike` (the 0/1 spikes of the last step; all zero before the first),
//! so monitors record it as any population's spikes. Projections from a source read its spikes as
//! from any population; whatever drives a source (projections onto it, `[[input]]`s) is ignored.
//!
//! # Spike files ([`read_spike_file`])
//! * `.npy`, integer (`<i8`, `<i4`, also `<u8`/`<u4`), shape `(k, 2)`: rows `(step, neuron)`, the
//!   recorded spike file a network writes; the steps are the replaying network's steps (its `dt`),
//!   not times;
//! * `.npy`, float (`<f8`, `<f4`), shape `(k, 2)`: rows `(time_ms, neuron)`, turned into steps by
//!   [`TimeRounding`] (default: nearest step, as BrainPy's `SpikeTime`);
//! * `.csv` with a header line `time_ms,neuron` or `t,i` (times in ms), or `step,neuron`
//!   (steps); blank lines and lines starting with `#` are skipped.
//!
//! Rows need not be sorted. A neuron must be a non-negative integer below the population's size,
//! a time finite and `>= 0`, a step `>= 0`. Every problem is a [`SomataError::Format`] naming the
//! file, the row (1-based, counting data rows of a `.npy`, lines of a `.csv`) and the problem.
//!
//! ```
//! use somata::net::Network;
//! use somata::input::TimeRounding;
//! let mut net = Network::from_ms(0.1)?;
//! let p = net.add_poisson("P", 100, &[20.0], 7)?; // 100 neurons at 20 Hz, seed 7
//! let s = net.add_spike_times("S", 2, &[0, 1], &[0.5, 1.0], TimeRounding::Round)?;
//! net.monitor_spikes("S", s, None, 1)?;
//! net.run(20)?;
//! let (data, cols) = net.monitor_data("S")?;
//! assert_eq!((data[5 * cols], data[10 * cols + 1]), (1.0, 1.0)); // 0.5 ms → step 5, 1 ms → step 10
//! assert_eq!(data.iter().sum::<f32>(), 2.0);
//! # let _ = p;
//! # Ok::<(), somata::SomataError>(())
//! ```

use super::{Network, PopId, Population};
use crate::dynamics::Clock;
use crate::error::{Result, SomataError};
use crate::input::{InputGen, PoissonSpike, SpikeTime, TimeRounding};
use crate::units::Dim;
use std::path::Path;

fn unknown_state(model: &str, name: &str) -> SomataError {
    SomataError::UnknownState { model: model.into(), name: name.into(), known: "spike".into() }
}

/// The `spike` state and the shared parts of the [`Population`] impls.
macro_rules! source_common {
    ($model:literal) => {
        fn model_name(&self) -> &'static str {
            $model
        }
        fn n(&self) -> usize {
            self.spike.len()
        }
        fn state_names(&self) -> Vec<&'static str> {
            vec!["spike"]
        }
        fn spikes_of_state(&self, clock: &Clock, out: &mut [f32]) -> Result<bool> {
            if clock.step() == 0 {
                out.fill(0.0);
            } else {
                out.copy_from_slice(&self.spike);
            }
            Ok(true)
        }
        fn state(&self, name: &str) -> Result<&[f32]> {
            if name == "spike" {
                Ok(&self.spike)
            } else {
                Err(unknown_state($model, name))
            }
        }
        fn state_mut(&mut self, name: &str) -> Result<&mut [f32]> {
            if name == "spike" {
                Err(SomataError::Format(format!(
                    "{} is a spike source: its `spike` state is its output and cannot be set or driven (delta projections onto a source are not supported)",
                    $model
                )))
            } else {
                Err(unknown_state($model, name))
            }
        }
        fn state_dim(&self, name: &str) -> Option<Dim> {
            (name == "spike").then_some(Dim::ONE)
        }
    };
}

/// A population of independent Poisson spike trains (BrainPy's `PoissonSpike` as a network
/// population): at every step neuron `i` spikes when `u <= 1 − e^{−f_i·dt}` (f in Hz, dt in ms),
/// one uniform per neuron in neuron order from the seeded RNG, so the spikes are exactly those
/// of [`PoissonSpike`] with the same rates and seed, step by step. Input is ignored.
///
/// ```
/// use somata::input::{InputGen, PoissonSpike};
/// use somata::net::{Network, PoissonSource};
/// let mut net = Network::from_ms(1.0)?;
/// let p = net.add_boxed(Box::new(PoissonSource::new(50, &[100.0], 3)?), "P")?;
/// net.monitor_spikes("P", p, None, 1)?;
/// net.run(10)?;
/// let expect = PoissonSpike::new(50, &[100.0], 3)?.generate(10, 1.0)?;
/// assert_eq!(net.monitor_data("P")?.0, &expect[..]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PoissonSource {
    r#gen: PoissonSpike,
    spike: Vec<f32>,
}

impl PoissonSource {
    /// `n` neurons at `rates_hz` (one shared rate or one per neuron), RNG `seed`. Errors: a rate
    /// that is negative, NaN or infinite ([`SomataError::InvalidParameter`]), another number of
    /// rates ([`SomataError::ShapeMismatch`]).
    pub fn new(n: usize, rates_hz: &[f64], seed: u64) -> Result<PoissonSource> {
        Ok(PoissonSource { r#gen: PoissonSpike::new(n, rates_hz, seed)?, spike: vec![0.0; n] })
    }
    /// The rates, Hz (one shared, or one per neuron).
    pub fn rates_hz(&self) -> &[f64] {
        self.r#gen.freqs()
    }
}

impl Population for PoissonSource {
    source_common!("PoissonSpike");
    fn init(&mut self) -> Result<()> {
        self.r#gen.reset();
        self.spike.fill(0.0);
        Ok(())
    }
    fn prepare(&mut self, _clock: &Clock) -> Result<()> {
        Ok(())
    }
    fn step(&mut self, clock: &Clock, _i: &[f32], _g: Option<&[f32]>, spk: &mut [f32]) -> Result<()> {
        self.r#gen.fill(clock.step(), clock.dt_ms(), spk)?;
        self.spike.copy_from_slice(spk);
        Ok(())
    }
}

/// Spikes at given times (BrainPy's `SpikeTime` as a network population): event `k` fires
/// neuron `indices[k]` at step `rounding(times_ms[k]/dt)` (computed in `f32`; events at a
/// negative step never fire). Two events of one neuron at one step give a spike value of 2.0,
/// as BrainPy's (the summed CSR row). Input is ignored.
///
/// ```
/// use somata::input::TimeRounding;
/// use somata::net::{Network, SpikeTimeSource};
/// let mut net = Network::from_ms(0.1)?;
/// let src = SpikeTimeSource::new(3, &[2, 0], &[0.3, 0.25], TimeRounding::Round)?;
/// let s = net.add_boxed(Box::new(src), "S")?;
/// net.monitor_spikes("S", s, None, 1)?;
/// net.run(5)?;
/// let (d, _) = net.monitor_data("S")?;
/// assert_eq!(d[2 * 3], 1.0); // 0.25 ms → 2.5 → step 2 (ties to even)
/// assert_eq!(d[3 * 3 + 2], 1.0); // 0.3 ms → step 3
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpikeTimeSource {
    r#gen: SpikeTime,
    spike: Vec<f32>,
}

impl SpikeTimeSource {
    /// `n` neurons firing at `(indices[k], times_ms[k])`. Errors: lengths that differ
    /// ([`SomataError::ShapeMismatch`]), an index `>= n`, a time that is negative, NaN or
    /// infinite ([`SomataError::InvalidParameter`]).
    pub fn new(n: usize, indices: &[usize], times_ms: &[f64], rounding: TimeRounding) -> Result<SpikeTimeSource> {
        if let Some(&t) = times_ms.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(SomataError::param("SpikeTime", "times", t, "must be finite and >= 0 ms"));
        }
        Ok(SpikeTimeSource { r#gen: SpikeTime::new(n, indices, times_ms, &[], rounding)?, spike: vec![0.0; n] })
    }
    /// The events of a spike file with times ([`read_spike_file`]: a float `.npy` or a CSV
    /// `time_ms,neuron`) for `n` neurons. A file of steps is refused: replay it with
    /// [`SpikeFileSource`].
    pub fn from_file(n: usize, path: impl AsRef<Path>, rounding: TimeRounding) -> Result<SpikeTimeSource> {
        let path = path.as_ref();
        match read_spike_file(path, n)? {
            SpikeEvents::Times { times_ms, neurons } => SpikeTimeSource::new(n, &neurons, &times_ms, rounding),
            SpikeEvents::Steps { .. } => Err(SomataError::Format(format!(
                "spike file {}: holds steps, not times: replay it with a SpikeFile source",
                path.display()
            ))),
        }
    }
}

impl Population for SpikeTimeSource {
    source_common!("SpikeTime");
    fn init(&mut self) -> Result<()> {
        self.spike.fill(0.0);
        Ok(())
    }
    fn prepare(&mut self, clock: &Clock) -> Result<()> {
        // builds the step table for this dt now, not at the first step
        self.r#gen.n_steps(clock.dt_ms()).map(|_| ())
    }
    fn step(&mut self, clock: &Clock, _i: &[f32], _g: Option<&[f32]>, spk: &mut [f32]) -> Result<()> {
        self.r#gen.fill(clock.step(), clock.dt_ms(), spk)?;
        self.spike.copy_from_slice(spk);
        Ok(())
    }
}

/// The events of a spike file ([`read_spike_file`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SpikeEvents {
    /// Rows `(step, neuron)` (an integer `.npy`, a CSV `step,neuron`).
    Steps {
        /// Steps, one per event.
        steps: Vec<u64>,
        /// Neurons, one per event.
        neurons: Vec<usize>,
    },
    /// Rows `(time_ms, neuron)` (a float `.npy`, a CSV `time_ms,neuron` or `t,i`).
    Times {
        /// Times (ms), one per event.
        times_ms: Vec<f64>,
        /// Neurons, one per event.
        neurons: Vec<usize>,
    },
}

impl SpikeEvents {
    /// Number of events.
    pub fn len(&self) -> usize {
        match self {
            SpikeEvents::Steps { neurons, .. } | SpikeEvents::Times { neurons, .. } => neurons.len(),
        }
    }
    /// True without events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn file_err(path: &Path, msg: impl std::fmt::Display) -> SomataError {
    SomataError::Format(format!("spike file {}: {msg}", path.display()))
}

/// A neuron index from a file value: a non-negative integer below `n`.
fn neuron_of(x: f64, n: usize, path: &Path, row: usize) -> Result<usize> {
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
        return Err(file_err(path, format!("row {row}: neuron `{x}` is not a non-negative integer")));
    }
    if x >= n as f64 {
        return Err(file_err(path, format!("row {row}: neuron {x} out of range for a population of {n}")));
    }
    Ok(x as usize)
}

fn time_of(x: f64, path: &Path, row: usize) -> Result<f64> {
    if !(x.is_finite() && x >= 0.0) {
        return Err(file_err(path, format!("row {row}: time {x} ms must be finite and >= 0")));
    }
    Ok(x)
}

/// Read a spike file for a population of `n` neurons: an integer `.npy` `(k, 2)` of
/// `(step, neuron)` rows, a float `.npy` `(k, 2)` of `(time_ms, neuron)` rows, or a CSV with the
/// header `time_ms,neuron`, `t,i` or `step,neuron` (the [module](self) documents the formats).
/// Errors name the file, the row and the problem: a bad header, shape or dtype, a neuron that is
/// not an integer in `0..n`, a negative or non-finite time, a negative step.
///
/// ```
/// use somata::net::{read_spike_file, SpikeEvents};
/// let dir = std::env::temp_dir().join(format!("somata-spikefile-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let f = dir.join("s.csv");
/// std::fs::write(&f, "time_ms,neuron\n1.5,0\n0.5,3\n")?;
/// assert_eq!(read_spike_file(&f, 4)?, SpikeEvents::Times { times_ms: vec![1.5, 0.5], neurons: vec![0, 3] });
/// let e = read_spike_file(&f, 3).unwrap_err().to_string();
/// assert!(e.contains("s.csv") && e.contains("row 3") && e.contains("out of range"), "{e}");
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_spike_file(path: impl AsRef<Path>, n: usize) -> Result<SpikeEvents> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| SomataError::Io(format!("reading spike file {}: {e}", path.display())))?;
    if bytes.starts_with(crate::io::npy::MAGIC) {
        read_npy(&bytes, path, n)
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| file_err(path, "neither a .npy file nor UTF-8 CSV text"))?;
        read_csv(text, path, n)
    }
}

fn read_csv(text: &str, path: &Path, n: usize) -> Result<SpikeEvents> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (_, header) = lines.next().ok_or_else(|| file_err(path, "empty: expected the header `time_ms,neuron`, `t,i` or `step,neuron`"))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let steps = match cols.as_slice() {
        ["time_ms", "neuron"] | ["t", "i"] => false,
        ["step", "neuron"] => true,
        _ => return Err(file_err(path, format!("header `{}`: expected `time_ms,neuron`, `t,i` or `step,neuron`", header.trim()))),
    };
    let (mut a, mut neurons) = (vec![], vec![]);
    for (l, line) in lines {
        let row = l + 1;
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 2 {
            return Err(file_err(path, format!("row {row}: expected 2 values, got {}", f.len())));
        }
        let num = |s: &str| s.parse::<f64>().map_err(|_| file_err(path, format!("row {row}: `{s}` is not a number")));
        let (x, j) = (num(f[0])?, num(f[1])?);
        neurons.push(neuron_of(j, n, path, row)?);
        if steps {
            if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 2f64.powi(63)) {
                return Err(file_err(path, format!("row {row}: step `{x}` is not a non-negative integer")));
            }
            a.push(x);
        } else {
            a.push(time_of(x, path, row)?);
        }
    }
    Ok(if steps {
        SpikeEvents::Steps { steps: a.into_iter().map(|x| x as u64).collect(), neurons }
    } else {
        SpikeEvents::Times { times_ms: a, neurons }
    })
}

fn read_npy(bytes: &[u8], path: &Path, n: usize) -> Result<SpikeEvents> {
    use crate::io::npy::dict_value;
    // the integer dtypes are read here; floats by io::npy
    let bad = |m: &str| file_err(path, m);
    if bytes.len() < 10 {
        return Err(bad("truncated .npy header"));
    }
    let (hlen, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(file_err(path, format!("unsupported .npy version {v} or truncated header"))),
    };
    let end = start.checked_add(hlen).filter(|&e| e <= bytes.len()).ok_or_else(|| bad("truncated .npy header"))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad(".npy header is not text"))?;
    let descr = dict_value(header, "descr").map(|d| d.trim().trim_matches('\'')).unwrap_or("");
    let int = match descr {
        "<i8" | "=i8" | "i8" => Some((8, true)),
        "<i4" | "=i4" | "i4" => Some((4, true)),
        "<u8" | "=u8" | "u8" => Some((8, false)),
        "<u4" | "=u4" | "u4" => Some((4, false)),
        _ => None,
    };
    let Some((size, signed)) = int else {
        let a = crate::io::npy::from_bytes(bytes, &path.display().to_string()).map_err(|e| {
            file_err(path, format!("{e} (spike files are (k, 2) arrays of int64 (step, neuron) or float (time_ms, neuron))"))
        })?;
        let k = shape_k2(&a.shape, path)?;
        let v = a.to_f64();
        let (mut times_ms, mut neurons) = (Vec::with_capacity(k), Vec::with_capacity(k));
        for (r, row) in v.chunks_exact(2).enumerate() {
            times_ms.push(time_of(row[0], path, r + 1)?);
            neurons.push(neuron_of(row[1], n, path, r + 1)?);
        }
        return Ok(SpikeEvents::Times { times_ms, neurons });
    };
    if dict_value(header, "fortran_order").map(str::trim) != Some("False") {
        return Err(bad("a C-order .npy array is expected (fortran_order False)"));
    }
    let shape_txt = dict_value(header, "shape").ok_or_else(|| bad("malformed .npy header, no 'shape'"))?;
    let shape: Option<Vec<usize>> = shape_txt
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .map(|s| s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| t.parse().ok()).collect())
        .unwrap_or(None);
    let shape = shape.ok_or_else(|| file_err(path, format!("malformed .npy shape {}", shape_txt.trim())))?;
    let k = shape_k2(&shape, path)?;
    let body = &bytes[end..];
    let need = k.checked_mul(2 * size).ok_or_else(|| bad("shape too large"))?;
    if body.len() != need {
        return Err(file_err(path, format!("shape ({k}, 2) needs {need} data bytes, the file has {}", body.len())));
    }
    let val = |c: &[u8]| -> i128 {
        match (size, signed) {
            (8, true) => i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as i128,
            (8, false) => u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as i128,
            (_, true) => i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i128,
            (_, false) => u32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i128,
        }
    };
    let (mut steps, mut neurons) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for (r, row) in body.chunks_exact(2 * size).enumerate() {
        let (s, j) = (val(&row[..size]), val(&row[size..]));
        let row = r + 1;
        if s < 0 {
            return Err(file_err(path, format!("row {row}: step {s} is negative")));
        }
        if j < 0 || j >= n as i128 {
            return Err(file_err(path, format!("row {row}: neuron {j} out of range for a population of {n}")));
        }
        steps.push(s as u64);
        neurons.push(j as usize);
    }
    Ok(SpikeEvents::Steps { steps, neurons })
}

fn shape_k2(shape: &[usize], path: &Path) -> Result<usize> {
    match shape {
        [k, 2] => Ok(*k),
        // an empty recording may be saved as shape (0,)
        [0] => Ok(0),
        s => Err(file_err(path, format!("shape {s:?}: expected (k, 2) rows of (step or time_ms, neuron)"))),
    }
}

/// A recorded spike file replayed as a population: a file of `(step, neuron)` rows fires
/// `neuron` at `step` of the replaying network (the file's steps are taken at the network's
/// `dt`); a file of `(time_ms, neuron)` rows fires at `rounding(time/dt)`, as
/// [`SpikeTimeSource`]. Several rows of one neuron and step give one spike (1.0). Input is
/// ignored. [`read_spike_file`] documents the formats and errors.
///
/// ```
/// use somata::net::{Network, SpikeFileSource};
/// let dir = std::env::temp_dir().join(format!("somata-replay-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let f = dir.join("E_spikes.csv");
/// std::fs::write(&f, "step,neuron\n0,1\n3,0\n3,1\n")?;
/// let mut net = Network::from_ms(0.1)?;
/// let e = net.add_spike_file("E", 2, &f)?;
/// net.monitor_spikes("E", e, None, 1)?;
/// net.run(5)?;
/// assert_eq!(net.monitor_data("E")?.0, [0., 1., 0., 0., 0., 0., 1., 1., 0., 0.]);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpikeFileSource {
    events: SpikeEvents,
    rounding: TimeRounding,
    /// `(step, neuron)` sorted by step, for the prepared dt.
    table: Vec<(u64, u32)>,
    table_dt: f64,
    spike: Vec<f32>,
}

impl SpikeFileSource {
    /// Replay the spike file at `path` ([`read_spike_file`]) as a population of `n` neurons;
    /// times are rounded to the nearest step.
    pub fn open(n: usize, path: impl AsRef<Path>) -> Result<SpikeFileSource> {
        SpikeFileSource::open_with(n, path, TimeRounding::Round)
    }
    /// The same, with the rounding of times to steps.
    pub fn open_with(n: usize, path: impl AsRef<Path>, rounding: TimeRounding) -> Result<SpikeFileSource> {
        SpikeFileSource::from_events(n, read_spike_file(path, n)?, rounding)
    }
    /// Replay events given in memory. Errors: neurons `>= n`, negative or non-finite times,
    /// lengths that differ.
    ///
    /// ```
    /// use somata::input::TimeRounding;
    /// use somata::net::{SpikeEvents, SpikeFileSource};
    /// let ev = SpikeEvents::Steps { steps: vec![2, 0], neurons: vec![0, 5] };
    /// assert!(SpikeFileSource::from_events(4, ev, TimeRounding::Round).is_err()); // neuron 5
    /// ```
    pub fn from_events(n: usize, events: SpikeEvents, rounding: TimeRounding) -> Result<SpikeFileSource> {
        let (len, neurons) = match &events {
            SpikeEvents::Steps { steps, neurons } => (steps.len(), neurons),
            SpikeEvents::Times { times_ms, neurons } => {
                if let Some(&t) = times_ms.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
                    return Err(SomataError::param("SpikeFile", "times", t, "must be finite and >= 0 ms"));
                }
                (times_ms.len(), neurons)
            }
        };
        if neurons.len() != len {
            return Err(SomataError::ShapeMismatch {
                what: "SpikeFile neurons (one per event)".into(),
                expected: vec![len],
                got: vec![neurons.len()],
            });
        }
        if let Some(&j) = neurons.iter().find(|&&j| j >= n || j > u32::MAX as usize) {
            return Err(SomataError::param("SpikeFile", "neuron", j as f64, format!("out of range for a population of {n}")));
        }
        Ok(SpikeFileSource { events, rounding, table: vec![], table_dt: f64::NAN, spike: vec![0.0; n] })
    }
    /// The events as read.
    pub fn events(&self) -> &SpikeEvents {
        &self.events
    }
}

impl Population for SpikeFileSource {
    source_common!("SpikeFile");
    fn init(&mut self) -> Result<()> {
        self.spike.fill(0.0);
        Ok(())
    }
    fn prepare(&mut self, clock: &Clock) -> Result<()> {
        let dt = clock.dt_ms();
        if self.table_dt == dt {
            return Ok(());
        }
        self.table = match &self.events {
            SpikeEvents::Steps { steps, neurons } => steps.iter().zip(neurons).map(|(&s, &j)| (s, j as u32)).collect(),
            SpikeEvents::Times { times_ms, neurons } => times_ms
                .iter()
                .zip(neurons)
                .filter_map(|(&t, &j)| {
                    let s = self.rounding.step(t, dt);
                    (s >= 0).then_some((s as u64, j as u32))
                })
                .collect(),
        };
        self.table.sort_by_key(|e| e.0);
        self.table_dt = dt;
        Ok(())
    }
    fn step(&mut self, clock: &Clock, _i: &[f32], _g: Option<&[f32]>, spk: &mut [f32]) -> Result<()> {
        let s = clock.step();
        spk.fill(0.0);
        let lo = self.table.partition_point(|e| e.0 < s);
        let hi = lo + self.table[lo..].partition_point(|e| e.0 <= s);
        for &(_, j) in &self.table[lo..hi] {
            spk[j as usize] = 1.0;
        }
        self.spike.copy_from_slice(spk);
        Ok(())
    }
}

/// Spike sources as populations.
impl Network {
    /// Add a [`PoissonSource`]: `n` neurons at `rates_hz` (one shared or one per neuron), RNG
    /// `seed`.
    ///
    /// ```
    /// let mut net = somata::net::Network::from_ms(0.1)?;
    /// let p = net.add_poisson("P", 1000, &[50.0], 1)?;
    /// let s = net.run(10_000)?; // 1 s
    /// assert!((s.rates_hz[p.0] - 50.0).abs() < 2.0);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn add_poisson(&mut self, name: &str, n: usize, rates_hz: &[f64], seed: u64) -> Result<PopId> {
        self.add_boxed(Box::new(PoissonSource::new(n, rates_hz, seed)?), name)
    }
    /// Add a [`SpikeTimeSource`]: `n` neurons firing at `(indices[k], times_ms[k])`.
    ///
    /// ```
    /// use somata::input::TimeRounding;
    /// let mut net = somata::net::Network::from_ms(1.0)?;
    /// net.add_spike_times("S", 2, &[1, 1], &[2.0, 4.0], TimeRounding::Round)?;
    /// assert_eq!(net.run(10)?.spikes, [2]);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn add_spike_times(&mut self, name: &str, n: usize, indices: &[usize], times_ms: &[f64], rounding: TimeRounding) -> Result<PopId> {
        self.add_boxed(Box::new(SpikeTimeSource::new(n, indices, times_ms, rounding)?), name)
    }
    /// Add a [`SpikeFileSource`]: the spike file at `path` replayed as `n` neurons (times, if
    /// the file has them, rounded to the nearest step).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("somata-add-spike-file-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("s.csv"), "t,i\n0.2,0\n")?;
    /// let mut net = somata::net::Network::from_ms(0.1)?;
    /// net.add_spike_file("S", 1, dir.join("s.csv"))?;
    /// assert_eq!(net.run(5)?.spikes, [1]);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_spike_file(&mut self, name: &str, n: usize, path: impl AsRef<Path>) -> Result<PopId> {
        self.add_boxed(Box::new(SpikeFileSource::open(n, path)?), name)
    }
}
