//! Monitors: what they record ([`Var`]), how ([`MonitorFormat`]: dense samples or spike events),
//! and where (in memory, or streamed to `.npy` files while the run goes).

use crate::error::{Result, SomataError};
use crate::io::npy_stream::NpyStream;
use std::path::{Path, PathBuf};

/// What a monitor records. In a network file, `var` names it: `"spike"`, a state name (`"V"`),
/// or `"<quantity>@<projection>"` (see [`Var::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    /// Spikes (0/1 per neuron and step in dense form; `(step, neuron)` events in event form).
    Spike,
    /// A state variable of the population by name, canonical units.
    State(String),
    /// `g@<projection>`: the conductance (S, one per postsynaptic neuron) that the projection's
    /// synapse gives its output: Expon's and Alpha's `g`, DualExpon's `scale·(g_decay −
    /// g_rise)`, an align-pre projection's projected conductance, a current projection's bound
    /// value. Projections that share one synapse (identical align-post descriptors) report the
    /// shared synapse.
    Conductance(String),
    /// `I@<projection>`: the current (mA, per postsynaptic neuron) its output delivers at this
    /// step, evaluated at the V of the start of the step as BrainPy's `out(V)` is: COBA
    /// `g·(E − V)`, CUBA `g·scale`, MgBlock `g·(E − V)/(1 + cc_Mg/β·exp(α·(V_offset − V)))`.
    Current(String),
    /// `<state>@<projection>`: a state of the projection's modules: its align-post synapse's
    /// (`g_rise`, `g_decay`, Alpha's `h`, `g`; one per postsynaptic neuron), its align-pre
    /// synapse's (AMPA/GABAa `g`, `spike_arrival_time`, BioNMDA `g`, `x`; one per presynaptic
    /// neuron of the range) or its STP/STD module's (`u`, `x`; one per presynaptic neuron of the
    /// range). Prefix `stp.` or `syn.` (`"stp.x@p"`) where STP and the synapse both have the
    /// name.
    SynState {
        /// The projection's name.
        proj: String,
        /// The state's name, with an optional `stp.`/`syn.` prefix.
        state: String,
    },
    /// `I_ext`: the sum of the population's external inputs at this step (mA).
    InputCurrent,
    /// `I_gap`: the sum of the gap-junction currents into each neuron at this step (mA).
    GapCurrent,
}

impl Var {
    /// Parse a monitor's `var`: `"spike"`, `"I_ext"`, `"I_gap"`, `"g@p"`, `"I@p"`,
    /// `"<state>@p"`, else a population state name.
    ///
    /// ```
    /// use somata::net::Var;
    /// assert_eq!(Var::parse("g@E"), Var::Conductance("E".into()));
    /// assert_eq!(Var::parse("u@ee"), Var::SynState { proj: "ee".into(), state: "u".into() });
    /// assert_eq!(Var::parse("V"), Var::State("V".into()));
    /// assert_eq!(Var::parse("I@E").name(), "I@E");
    /// ```
    pub fn parse(s: &str) -> Var {
        match s {
            "spike" => Var::Spike,
            "I_ext" => Var::InputCurrent,
            "I_gap" => Var::GapCurrent,
            _ => match s.split_once('@') {
                Some(("g", p)) => Var::Conductance(p.into()),
                Some(("I", p)) => Var::Current(p.into()),
                Some((st, p)) => Var::SynState { proj: p.into(), state: st.into() },
                None => Var::State(s.into()),
            },
        }
    }
    /// The name [`Var::parse`] reads back.
    pub fn name(&self) -> String {
        match self {
            Var::Spike => "spike".into(),
            Var::State(s) => s.clone(),
            Var::Conductance(p) => format!("g@{p}"),
            Var::Current(p) => format!("I@{p}"),
            Var::SynState { proj, state } => format!("{state}@{proj}"),
            Var::InputCurrent => "I_ext".into(),
            Var::GapCurrent => "I_gap".into(),
        }
    }
}

/// How a monitor stores what it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorFormat {
    /// Spike monitors: events, plus the dense `[samples][neurons]` array when it takes at most
    /// [`DENSE_AUTO_LIMIT`] bytes for the run; other monitors: dense.
    Auto,
    /// `[samples][neurons]` float32 (`<name>.npy`).
    Dense,
    /// Spike monitors only: `(step, neuron)` int64 pairs (`<name>.events.npy`), as NEST's
    /// spike recorder and Brian2's `SpikeMonitor` keep them.
    Events,
    /// Both.
    Both,
}

impl MonitorFormat {
    /// `"auto"`, `"dense"`, `"events"` or `"both"`.
    pub fn parse(s: &str) -> Result<MonitorFormat> {
        Ok(match s {
            "auto" => MonitorFormat::Auto,
            "dense" => MonitorFormat::Dense,
            "events" => MonitorFormat::Events,
            "both" => MonitorFormat::Both,
            _ => return Err(SomataError::Format(format!("monitor format `{s}` (auto, dense, events, both)"))),
        })
    }
}

/// The largest dense spike array ([`MonitorFormat::Auto`]) a spike monitor keeps besides its
/// events: 256 MiB.
pub const DENSE_AUTO_LIMIT: u64 = 256 << 20;

/// Where a monitor's values come from, resolved when it is added.
#[derive(Debug, Clone)]
pub(super) enum Src {
    Spike,
    State(String),
    /// Channel `chan` of the population: conductance, current, synapse state `k`.
    ChanG(usize),
    ChanI(usize),
    ChanSyn(usize, usize),
    /// Projection `proj`: align-pre synapse state `k`, STP state `k`.
    PreSyn(usize, usize),
    Stp(usize, usize),
    Ext,
    Gap,
}

/// Streamed files of a monitor.
pub(super) struct Files {
    pub dense: Option<NpyStream>,
    pub events: Option<NpyStream>,
}

pub(super) struct Monitor {
    pub name: String,
    /// The population whose neurons (or, for presynaptic quantities, the projection's range)
    /// index the columns.
    pub pop: usize,
    pub var: Var,
    pub src: Src,
    pub neurons: Option<Vec<usize>>,
    /// Columns per sample.
    pub cols: usize,
    /// `mask[j]`: neuron `j` is recorded (event monitors with `neurons`).
    pub mask: Option<Vec<bool>>,
    pub every: usize,
    pub format: MonitorFormat,
    /// Resolved at the first run.
    pub dense: bool,
    pub events: bool,
    /// Dense samples held in memory (since the last flush when streaming).
    pub data: Vec<f32>,
    /// Samples taken in all.
    pub samples: usize,
    /// Events held in memory, flat `(step, neuron)` pairs.
    pub ev: Vec<i64>,
    /// Events recorded in all.
    pub n_events: u64,
    pub files: Option<Files>,
    /// Added to the neuron index of each event (the first neuron of this rank's block).
    pub offset: i64,
    /// On a rank of a spread network: each column's position in the whole monitor, and the
    /// whole monitor's columns.
    pub placed: Option<(Vec<u32>, usize)>,
}

impl Monitor {
    /// Resolve [`MonitorFormat::Auto`] for a run of `steps` steps.
    pub fn resolve(&mut self, steps: usize) {
        if self.dense || self.events {
            return;
        }
        let spike = self.var == Var::Spike;
        let (d, e) = match self.format {
            MonitorFormat::Dense => (true, false),
            MonitorFormat::Events => (false, true),
            MonitorFormat::Both => (true, true),
            MonitorFormat::Auto if spike => (self.dense_bytes(steps) <= DENSE_AUTO_LIMIT, true),
            MonitorFormat::Auto => (true, false),
        };
        self.dense = d;
        self.events = e && spike;
    }
    /// Bytes of the dense samples of `steps` more steps.
    pub fn dense_bytes(&self, steps: usize) -> u64 {
        (steps.div_ceil(self.every) as u64).saturating_mul(self.cols as u64).saturating_mul(4)
    }
    /// Open the files in `dir` (after [`Monitor::resolve`]).
    pub fn open(&mut self, dir: &Path) -> Result<()> {
        if self.files.is_some() {
            return Ok(());
        }
        let dense = if self.dense { Some(NpyStream::create(dir.join(format!("{}.npy", self.name)), "<f4", self.cols)?) } else { None };
        let events = if self.events { Some(NpyStream::create(dir.join(format!("{}.events.npy", self.name)), "<i8", 2)?) } else { None };
        if let Some(d) = &dense
            && self.samples > 0
        {
            return Err(SomataError::Format(format!(
                "monitor `{}`: {} samples were taken before recording to {} began",
                self.name,
                self.samples,
                d.path().display()
            )));
        }
        self.files = Some(Files { dense, events });
        Ok(())
    }
    /// Write what is held in memory to the files (when streaming) and make them valid.
    pub fn flush(&mut self) -> Result<()> {
        let Some(f) = self.files.as_mut() else { return Ok(()) };
        if let Some(d) = f.dense.as_mut() {
            d.append_f32(&self.data)?;
            d.flush()?;
            self.data.clear();
        }
        if let Some(e) = f.events.as_mut() {
            e.append_i64(&self.ev)?;
            e.flush()?;
            self.ev.clear();
        }
        Ok(())
    }
    /// The files written (streaming only).
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.as_ref().map(|f| f.dense.iter().chain(f.events.iter()).map(|s| s.path().to_path_buf()).collect()).unwrap_or_default()
    }
    /// Record the spikes `active` (ascending indices) of step `step` as events.
    #[inline]
    pub fn push_events(&mut self, step: i64, active: &[u32]) {
        match &self.mask {
            None => {
                for &j in active {
                    self.ev.extend_from_slice(&[step, j as i64 + self.offset]);
                }
                self.n_events += active.len() as u64;
            }
            Some(m) => {
                for &j in active {
                    if m[j as usize] {
                        self.ev.extend_from_slice(&[step, j as i64 + self.offset]);
                        self.n_events += 1;
                    }
                }
            }
        }
    }
}

/// What a monitor recorded (`Network::monitor_info`).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorInfo {
    /// Monitor name.
    pub name: String,
    /// The population whose neurons index the columns (the presynaptic one for `u@`, `x@` and
    /// align-pre synapse states).
    pub population: String,
    /// What it records ([`Var::name`]).
    pub var: String,
    /// Columns per sample.
    pub cols: usize,
    /// Record every `every` steps.
    pub every: usize,
    /// Dense samples taken (0 when it keeps no dense array).
    pub samples: usize,
    /// Whether it keeps the dense `[samples][cols]` array.
    pub dense: bool,
    /// Spike events recorded (`None`: not an event monitor).
    pub events: Option<u64>,
    /// Files it streams to ([`crate::net::Network::record_to`]).
    pub files: Vec<PathBuf>,
}

/// The memory this machine can still give (Linux: `MemAvailable` of `/proc/meminfo`), `None`
/// where unknown. `SOMATA_MEMORY_LIMIT` (bytes, or with a suffix `K`, `M`, `G`) overrides it.
pub fn available_memory() -> Option<u64> {
    if let Ok(v) = std::env::var("SOMATA_MEMORY_LIMIT") {
        let v = v.trim();
        let (num, mult) = match v.chars().last() {
            Some('K' | 'k') => (&v[..v.len() - 1], 1u64 << 10),
            Some('M' | 'm') => (&v[..v.len() - 1], 1 << 20),
            Some('G' | 'g') => (&v[..v.len() - 1], 1 << 30),
            _ => (v, 1),
        };
        if let Ok(n) = num.trim().parse::<f64>() {
            return Some((n * mult as f64) as u64);
        }
    }
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Bytes as text: `"4.0 GB"`, `"812.5 MB"`, `"2.1 kB"`, `"12 bytes"` (decimal units).
pub fn human_bytes(b: u64) -> String {
    let f = b as f64;
    if f >= 1e12 {
        format!("{:.1} TB", f / 1e12)
    } else if f >= 1e9 {
        format!("{:.1} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} kB", f / 1e3)
    } else {
        format!("{b} bytes")
    }
}

/// A memory budget: parts are added before they are allocated, and the first part that takes
/// the total past the machine's available memory is refused with
/// [`SomataError::TooLarge`], naming it and its bytes.
///
/// ```
/// use somata::net::MemoryBudget;
/// let mut b = MemoryBudget::with_limit(Some(1000));
/// b.take("population `E` (10 neurons)", 400).unwrap();
/// let e = b.take("population `I` (100 neurons)", 4000).unwrap_err();
/// assert!(e.to_string().contains("population `I`") && e.to_string().contains("4.0 kB"));
/// ```
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    limit: Option<u64>,
    used: u64,
}

impl MemoryBudget {
    /// The machine's available memory ([`available_memory`]).
    pub fn new() -> MemoryBudget {
        MemoryBudget { limit: available_memory(), used: 0 }
    }
    /// A given limit (`None`: unlimited).
    pub fn with_limit(limit: Option<u64>) -> MemoryBudget {
        MemoryBudget { limit, used: 0 }
    }
    /// Bytes taken so far.
    pub fn used(&self) -> u64 {
        self.used
    }
    /// Take `bytes` for `what`, or refuse.
    pub fn take(&mut self, what: &str, bytes: u64) -> Result<()> {
        let total = self.used.saturating_add(bytes);
        if let Some(limit) = self.limit
            && total > limit
        {
            return Err(SomataError::TooLarge {
                what: what.to_string(),
                bytes,
                total,
                available: limit,
                text: format!(
                    "{what} needs {} ({bytes} bytes; {} in all so far) but this machine has {} available",
                    human_bytes(bytes),
                    human_bytes(total),
                    human_bytes(limit)
                ),
            });
        }
        self.used = total;
        Ok(())
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new()
    }
}
