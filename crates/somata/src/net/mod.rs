//! Networks: populations, projections with synapses, outputs, short-term plasticity and delays,
//! external inputs and monitors, stepped in BrainPy's order with no allocation per step.
//!
//! # Step order (BrainPy 2.9, spec §5.10)
//! At every step `i` (time `t = f32(i)·f32(dt)`):
//! 1. **Projections**, in the order they were added, read the spikes their presynaptic
//!    population produced at the previous step (at step 0: the spikes of the initial state,
//!    BrainPy's `get_spike()`) — except same-step projections ([`Projection::same_step`]), which
//!    run in step 3 —, pass them through short-term plasticity (STP/STD, on the
//!    presynaptic side) and the delay, then through the connectivity (event-driven) into the
//!    target:
//!    * **align-post** ([`ProjKind::AlignPost`]): the delta conductance of a synapse that lives on
//!      the postsynaptic side (Expon, DualExpon, Alpha). Projections onto the same population
//!      with an identical synapse and output share one synapse (BrainPy merges them by
//!      descriptor), so 10 projections of the same kind cost one synapse update;
//!    * **align-pre** ([`ProjKind::AlignPre`]): a synapse per presynaptic neuron (any of the six,
//!      including AMPA, GABAa and BioNMDA, which take spikes), whose conductance is projected;
//!    * **current** ([`ProjKind::Current`], BrainPy's `CurrentProj`): the projected value is the
//!      conductance bound to the output for this step, with no synapse dynamics;
//!    * **delta** ([`ProjKind::Delta`]): added to the postsynaptic V after its integration.
//!
//!    A delay ([`Projection::delay`], [`Projection::delays_per_pre`],
//!    [`Projection::delays_per_synapse`]) follows BrainPy's `InputDelay`: the current value is
//!    pushed before the delayed one is read, and a delay of `d` steps that is not whole is read
//!    at `⌊d⌋` and `⌈d⌉` steps, linearly interpolated (`(1 − f)·x[t − ⌊d⌋] + f·x[t − ⌈d⌉]`,
//!    `f = d − ⌊d⌋`). Delays are delivered event-driven: a spike is scheduled into the slots
//!    of the steps it arrives at, so the cost is spikes × fan-out at any delay.
//! 2. **Gap junctions** ([`GapJunction`]), in the order they were added, read the coupled states
//!    at the start of the step and add `w·(x_pre − x_post)` to the postsynaptic population's
//!    input current and its negative (or `−w_pre·(x_pre − x_post)`, asymmetric) to the
//!    presynaptic one's.
//! 3. **Populations**, in the update order (the order they were added, or
//!    [`Network::update_order`], changed only where a same-step projection needs its
//!    presynaptic population first): the same-step projections into the population run (on the
//!    spikes their presynaptic population produced in this step), then its synapses decay and
//!    take the delta input, the outputs give the drive
//!    `I(V) = I_ext + Σ CUBA g·scale + Σ COBA g·(E − V)`, which the neuron integrates **inside**
//!    its membrane equation (exponential Euler's Jacobian includes the conductances, as
//!    BrainPy), then delta inputs are added to V.
//! 4. **Monitors** record spikes (dense, or `(step, neuron)` events), states, synapse and STP
//!    states, conductances and currents ([`Var`]), in memory or streamed to files
//!    ([`Network::record_to`]).
//!
//! # Units
//! Canonical units throughout (spec §8): mV, ms, mA, S (so that S·mV = mA), Hz for rates. The
//! API takes typed quantities: a weight onto a conductance synapse is a conductance
//! ([`Weight`]: `0.6 * mS`), onto a delta projection a voltage (`0.5 * mV`), of an align-pre
//! projection a bare number; a wrong dimension is an error naming the projection. Raw numbers
//! remain where a name says the unit (`input_constant_ma`, `delay_ms`) and in explicit
//! matrices ([`Conn::dense`], canonical units unless [`Conn::unit`] gives one).
//!
//! ```
//! use somata::prelude::*;
//! use somata::net::{Conn, Network, Output, ProjKind, Projection};
//! let mut net = Network::new(0.1 * ms).unwrap();
//! let lif = LifRef::builder(100).v_rest(-60.0 * mV).v_th(-50.0 * mV).v_reset(-60.0 * mV)
//!     .tau(20.0 * ms).tau_ref(5.0 * ms).init_with("V", Init::constant_q(-55.0 * mV)).build().unwrap();
//! let e = net.add(lif, "E").unwrap();
//! let syn = somata::synapse::by_name("Expon").unwrap();   // tau = 8 ms by default
//! net.connect(Projection::new(e, e, Conn::fixed_prob(100, 100, 0.1, 0.6 * siemens, 1).unwrap(),
//!     ProjKind::AlignPost { syn, out: Output::coba(0.0 * mV) })).unwrap();
//! net.input_constant(e, 20.0 * mA).unwrap();               // 20 mA into every neuron
//! net.monitor_spikes("E", e, None, 1).unwrap();
//! let summary = net.run(1000).unwrap();                    // 100 ms
//! assert!(summary.rates_hz[0] > 0.0);
//! assert_eq!(net.monitor_data("E").unwrap().0.len(), 1000 * 100);
//! ```

mod conn;
pub mod dist;
mod fast;
pub mod microcircuit;
pub mod models;
mod pop;
mod record;
mod sources;
mod span;
pub mod toml_net;

pub use conn::{Conn, Dist, Weight, Weights};
pub use pop::{Pop, Population, RangeStep};
pub use record::{available_memory, human_bytes, MemoryBudget, MonitorFormat, MonitorInfo, Var, DENSE_AUTO_LIMIT};
use record::{Monitor, Src};
pub use sources::{read_spike_file, PoissonSource, SpikeEvents, SpikeFileSource, SpikeTimeSource};

use crate::dynamics::{Clock, NeuronModel, Scalar};
use crate::engine::NeuronLayer;
use crate::error::{Result, SomataError};
use crate::synapse::Synapse;
use crate::units::{Conductance, Current, Dim, Time, Voltage};
use std::ops::Range;

crate::synapse::multiversion!(coba_acc(i: &mut [f32], g: &mut [f32], gk: &[f32], e: f32) {
    for ((i, g), &gv) in i.iter_mut().zip(g.iter_mut()).zip(gk) {
        *i += gv * e;
        *g += gv;
    }
});
crate::synapse::multiversion!(expon_coba(g: &mut [f32], x: &mut [f32], i: &mut [f32], gs: &mut [f32], c: [f32; 4]) {
    let [k, dt, tau, e] = c;
    for (((g, x), i), gs) in g.iter_mut().zip(x.iter_mut()).zip(i.iter_mut()).zip(gs.iter_mut()) {
        let gn = crate::synapse::expon_step(*g, *x, k, dt, tau);
        *g = gn;
        *x = 0.0;
        *i += gn * e;
        *gs += gn;
    }
});
crate::synapse::multiversion!(expon_cuba(g: &mut [f32], x: &mut [f32], i: &mut [f32], c: [f32; 4]) {
    let [k, dt, tau, s] = c;
    for ((g, x), i) in g.iter_mut().zip(x.iter_mut()).zip(i.iter_mut()) {
        let gn = crate::synapse::expon_step(*g, *x, k, dt, tau);
        *g = gn;
        *x = 0.0;
        *i += gn * s;
    }
});
crate::synapse::multiversion!(cuba_acc(i: &mut [f32], gk: &[f32], s: f32) {
    for (i, &gv) in i.iter_mut().zip(gk) {
        *i += gv * s;
    }
});

/// A synaptic output: how a conductance becomes a current (spec §5.7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output {
    /// `g·(E − V)`: `e` in mV.
    Coba {
        /// Reversal potential (mV).
        e: f64,
    },
    /// `g·scale`, V ignored: `scale` in mV (BrainPy's default `1 V` = 1000 mV).
    Cuba {
        /// Scale (mV).
        scale: f64,
    },
    /// NMDA-type block: `g·(E − V)/(1 + cc_Mg/β·exp(α·(V_offset − V)))` (BrainPy's `MgBlock`;
    /// defaults E = 0, cc_Mg = 1.2, α = 0.062, β = 3.57, V_offset = 0). The block is evaluated at
    /// the V of the start of the step (the neuron then sees `g_eff·(E − V)` with
    /// `g_eff = g·B(V₀)` inside its equation).
    MgBlock {
        /// Reversal potential (mV).
        e: f64,
        /// Magnesium concentration.
        cc_mg: f64,
        /// α (1/mV).
        alpha: f64,
        /// β.
        beta: f64,
        /// V offset (mV).
        v_offset: f64,
    },
}

impl Output {
    /// COBA with reversal potential `e` (`Output::coba(-80.0 * mV)`).
    pub fn coba(e: Voltage) -> Output {
        Output::Coba { e: e.canonical() }
    }
    /// CUBA with `scale` (BrainPy's default 1 V: [`Output::CUBA`]).
    pub fn cuba(scale: Voltage) -> Output {
        Output::Cuba { scale: scale.canonical() }
    }
    /// MgBlock with reversal potential `e` and BrainPy's other defaults.
    pub fn mg_block(e: Voltage) -> Output {
        Output::MgBlock { e: e.canonical(), cc_mg: 1.2, alpha: 0.062, beta: 3.57, v_offset: 0.0 }
    }
    /// BrainPy's CUBA default (`scale = 1 V`).
    pub const CUBA: Output = Output::Cuba { scale: 1000.0 };
    /// BrainPy's MgBlock defaults.
    pub const MG_BLOCK: Output = Output::MgBlock { e: 0.0, cc_mg: 1.2, alpha: 0.062, beta: 3.57, v_offset: 0.0 };
    fn key(&self) -> String {
        format!("{self:?}")
    }
    fn check(&self) -> Result<()> {
        let vals: Vec<f64> = match *self {
            Output::Coba { e } => vec![e],
            Output::Cuba { scale } => vec![scale],
            Output::MgBlock { e, cc_mg, alpha, beta, v_offset } => vec![e, cc_mg, alpha, beta, v_offset],
        };
        if vals.iter().all(|v| v.is_finite()) && !matches!(*self, Output::MgBlock { beta, .. } if beta == 0.0) {
            Ok(())
        } else {
            Err(SomataError::param("output", "E/scale", vals[0], "output parameters must be finite (MgBlock: beta ≠ 0)"))
        }
    }
}

/// Index of a population in a [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PopId(pub usize);

/// What a projection drives.
pub enum ProjKind {
    /// A synapse on the postsynaptic side (Expon, DualExpon, Alpha: its input is the projected
    /// delta conductance) and its output.
    AlignPost {
        /// The synapse (parameters set; its state is created by the network).
        syn: Box<dyn Synapse>,
        /// The output.
        out: Output,
    },
    /// A synapse per presynaptic neuron (input: the presynaptic spike, or its STP-scaled value
    /// for the linear synapses), whose conductance is projected onto the output.
    AlignPre {
        /// The synapse.
        syn: Box<dyn Synapse>,
        /// The output.
        out: Output,
    },
    /// BrainPy's `CurrentProj`: the projected value (`Σ spike·w`, a conductance in S) is bound
    /// to the output for this step, with no synapse dynamics (COBA: `g·(E − V)` during the step
    /// of arrival only).
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{Conn, ExtInput, Network, Output, ProjKind, Projection, Var};
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let pre = net.add(Lif::builder(1).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    /// let post = net.add(Lif::builder(1).v_th(100.0 * mV).build().unwrap(), "post").unwrap();
    /// net.input(pre, ExtInput::PerStep { data: vec![1e3], steps: 1 }).unwrap(); // one spike at step 0
    /// net.connect(Projection::new(pre, post, Conn::all_to_all(1, 1, 0.5 * siemens).unwrap(),
    ///     ProjKind::Current { out: Output::CUBA }).name("p")).unwrap();
    /// net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    /// net.run(3).unwrap();
    /// assert_eq!(net.monitor_data("g").unwrap().0, &[0.0, 0.5, 0.0]); // g = 0.5 S at step 1 only
    /// ```
    Current {
        /// The output.
        out: Output,
    },
    /// Added to a postsynaptic state (default `"V"`, mV) after its integration (BrainPy's
    /// `DeltaProj`).
    Delta {
        /// The state that receives the input.
        state: String,
    },
}

/// The transmission delay of a projection (BrainPy's `InputDelay`, spec §5.10), in ms. A delay
/// that is not a whole number of steps is linearly interpolated between the two neighbouring
/// steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    /// One delay for every synapse (default 0).
    Global(f64),
    /// One delay per presynaptic neuron of the projection's range (axonal delays), `(N_pre,)`.
    PerPre(Vec<f64>),
    /// One delay per synapse, in the connectivity's storage order ([`Conn::synapses`];
    /// [`Conn::from_triplets_with_delays`] returns them in that order).
    PerSynapse(Vec<f64>),
    /// One delay per synapse in whole steps of the network's `dt`, in storage order: the compact
    /// form (2 bytes per synapse) of delays drawn from a distribution and rounded to the time
    /// grid, as NEST rounds them ([`Delay::steps_from_dist`]).
    PerSynapseSteps(Vec<u16>),
}

impl Delay {
    fn values(&self) -> &[f64] {
        match self {
            Delay::Global(d) => std::slice::from_ref(d),
            Delay::PerPre(v) | Delay::PerSynapse(v) => v,
            Delay::PerSynapseSteps(_) => &[],
        }
    }
    fn len(&self) -> usize {
        match self {
            Delay::PerSynapseSteps(v) => v.len(),
            d => d.values().len(),
        }
    }
    /// `n` per-synapse delays drawn from `d` (ms; a normal's redraws included), each rounded
    /// to the nearest whole step of `dt_ms` and at least one step (NEST's delays live on the
    /// time grid and are ≥ one resolution step), seeded.
    ///
    /// ```
    /// use somata::net::{Delay, Dist};
    /// let d = Delay::steps_from_dist(1000, Dist::Normal { mean: 1.5, std: 0.75, min: 0.1, max: f64::INFINITY }, 0.1, 3).unwrap();
    /// let Delay::PerSynapseSteps(k) = d else { unreachable!() };
    /// assert!(k.iter().all(|&s| s >= 1));
    /// let mean = k.iter().map(|&s| s as f64 * 0.1).sum::<f64>() / 1000.0;
    /// assert!((mean - 1.5).abs() < 0.1, "{mean}");
    /// ```
    pub fn steps_from_dist(n: usize, d: Dist, dt_ms: f64, seed: u64) -> Result<Delay> {
        d.check("delay")?;
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(SomataError::InvalidDt(dt_ms));
        }
        let mut rng = crate::init::Rng::new(seed);
        let k = (0..n).map(|_| delay_steps(d.sample(&mut rng), dt_ms)).collect::<Result<_>>()?;
        Ok(Delay::PerSynapseSteps(k))
    }
}

/// A delay drawn from a distribution (ms) in whole steps of `dt_ms`: rounded to the nearest
/// and at least one step (NEST's time grid), below 2¹⁶ steps.
pub(crate) fn delay_steps(ms: f64, dt_ms: f64) -> Result<u16> {
    let steps = (ms / dt_ms).round().max(1.0);
    if !(steps.is_finite() && steps <= u16::MAX as f64) {
        return Err(SomataError::param("projection", "delay", ms, "must be finite and below 65536 steps in a per-synapse distribution"));
    }
    Ok(steps as u16)
}

/// A projection from a range of a presynaptic population to a postsynaptic population.
pub struct Projection {
    pre: PopId,
    pre_range: Option<Range<usize>>,
    post: PopId,
    conn: Conn,
    kind: ProjKind,
    stp: Option<Box<dyn Synapse>>,
    delay: Delay,
    name: String,
    same_step: bool,
}

impl Projection {
    /// A projection `pre → post` through `conn` driving `kind`.
    pub fn new(pre: PopId, post: PopId, conn: Conn, kind: ProjKind) -> Projection {
        Projection { pre, pre_range: None, post, conn, kind, stp: None, delay: Delay::Global(0.0), name: String::new(), same_step: false }
    }
    /// Read the spikes the presynaptic population produced **in the same step** (BrainPy's
    /// `s = pre(x); proj(s); post(y)`), instead of the previous step's (the default, BrainPy's
    /// `proj(pre.get_spike()); pre(x); post(y)`). The presynaptic population must then update
    /// before the postsynaptic one: the network orders its populations so that every
    /// same-step projection's `pre` comes first ([`Network::update_order`]); a cycle of
    /// same-step projections is an error naming them. Short-term plasticity and the delay act
    /// on the same-step spikes in that step.
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{Conn, ExtInput, Network, Output, ProjKind, Projection, Var};
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let pre = net.add(Lif::builder(1).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    /// let post = net.add(Lif::builder(1).v_th(100.0 * mV).build().unwrap(), "post").unwrap();
    /// net.input(pre, ExtInput::PerStep { data: vec![1e3], steps: 1 }).unwrap(); // pre spikes at step 0
    /// net.connect(Projection::new(pre, post, Conn::all_to_all(1, 1, 0.5 * siemens).unwrap(),
    ///     ProjKind::Current { out: Output::CUBA }).same_step(true).name("p")).unwrap();
    /// net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    /// net.run(3).unwrap();
    /// // the spike of step 0 reaches post in step 0 (one step earlier than the default)
    /// assert_eq!(net.monitor_data("g").unwrap().0, &[0.5, 0.0, 0.0]);
    /// ```
    pub fn same_step(mut self, on: bool) -> Projection {
        self.same_step = on;
        self
    }
    /// Take the presynaptic spikes from neurons `range` of `pre` only (ei_net's `N[:16]`).
    pub fn pre_range(mut self, range: Range<usize>) -> Projection {
        self.pre_range = Some(range);
        self
    }
    /// Short-term plasticity on the presynaptic side (an `STP` or `STD` module): the spikes are
    /// replaced by `released·spike`.
    pub fn stp(mut self, stp: Box<dyn Synapse>) -> Projection {
        self.stp = Some(stp);
        self
    }
    /// A transmission delay (≥ 0) for every synapse. A delay of `k·dt` shifts the spikes by
    /// exactly `k` steps; one between `k·dt` and `(k + 1)·dt` delivers `(1 − f)` of each spike
    /// after `k` steps and `f` after `k + 1`, `f = delay/dt − k` (BrainPy's linear
    /// interpolation of its delay buffer).
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{Conn, ExtInput, Network, Output, ProjKind, Projection, Var};
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let pre = net.add(Lif::builder(1).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    /// let post = net.add(Lif::builder(1).v_th(100.0 * mV).build().unwrap(), "post").unwrap();
    /// net.input(pre, ExtInput::PerStep { data: vec![1e3], steps: 1 }).unwrap(); // spike at step 0
    /// net.connect(Projection::new(pre, post, Conn::all_to_all(1, 1, 1.0 * siemens).unwrap(),
    ///     ProjKind::Current { out: Output::CUBA }).delay(0.15 * ms).name("p")).unwrap();
    /// net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    /// net.run(5).unwrap();
    /// // without delay the spike arrives at step 1; 1.5 steps later: half at 2, half at 3
    /// assert_eq!(net.monitor_data("g").unwrap().0, &[0.0, 0.0, 0.5, 0.5, 0.0]);
    /// ```
    pub fn delay(mut self, d: Time) -> Projection {
        self.delay = Delay::Global(d.canonical());
        self
    }
    /// The same, in ms.
    pub fn delay_ms(mut self, d: f64) -> Projection {
        self.delay = Delay::Global(d);
        self
    }
    /// One delay per presynaptic neuron of the range (axonal delays; BrainPy's `(N_pre,)`
    /// delay array), each interpolated as in [`Projection::delay`].
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{Conn, ExtInput, Network, Output, ProjKind, Projection, Var};
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let pre = net.add(Lif::builder(2).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    /// let post = net.add(Lif::builder(1).v_th(100.0 * mV).build().unwrap(), "post").unwrap();
    /// net.input(pre, ExtInput::PerStep { data: vec![1e3, 1e3], steps: 1 }).unwrap(); // both spike at step 0
    /// net.connect(Projection::new(pre, post, Conn::dense(2, 1, vec![1.0, 10.0]).unwrap(),
    ///     ProjKind::Current { out: Output::CUBA }).delays_per_pre(&[0.0 * ms, 0.2 * ms]).name("p")).unwrap();
    /// net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    /// net.run(5).unwrap();
    /// assert_eq!(net.monitor_data("g").unwrap().0, &[0.0, 1.0, 0.0, 10.0, 0.0]);
    /// ```
    pub fn delays_per_pre(self, d: &[Time]) -> Projection {
        self.delays_per_pre_ms(Time::canonical_slice(d).to_vec())
    }
    /// The same, in ms.
    pub fn delays_per_pre_ms(mut self, d: Vec<f64>) -> Projection {
        self.delay = Delay::PerPre(d);
        self
    }
    /// One delay per synapse, in the connectivity's storage order ([`Conn::synapses`]), each
    /// interpolated as in [`Projection::delay`]. Not for align-pre projections (their synapse
    /// is per presynaptic neuron, before the connectivity).
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{Conn, ExtInput, Network, Output, ProjKind, Projection, Var};
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let pre = net.add(Lif::builder(1).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    /// let post = net.add(Lif::builder(2).v_th(100.0 * mV).build().unwrap(), "post").unwrap();
    /// net.input(pre, ExtInput::PerStep { data: vec![1e3], steps: 1 }).unwrap(); // spike at step 0
    /// // 0 → 0 with weight 1 after 0.1 ms, 0 → 1 with weight 2 after 0.25 ms
    /// let (conn, d) = Conn::from_triplets_with_delays(1, 2, &[(0, 0, 1.0, 0.1), (0, 1, 2.0, 0.25)]).unwrap();
    /// net.connect(Projection::new(pre, post, conn, ProjKind::Current { out: Output::CUBA })
    ///     .delays_per_synapse_ms(d).name("p")).unwrap();
    /// net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    /// net.run(5).unwrap();
    /// let g = net.monitor_data("g").unwrap().0; // [step][post]
    /// assert_eq!(&g[4..], &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0]); // steps 2, 3, 4
    /// assert_eq!(&g[..4], &[0.0; 4]);
    /// ```
    pub fn delays_per_synapse(self, d: &[Time]) -> Projection {
        self.delays_per_synapse_ms(Time::canonical_slice(d).to_vec())
    }
    /// The same, in ms.
    pub fn delays_per_synapse_ms(mut self, d: Vec<f64>) -> Projection {
        self.delay = Delay::PerSynapse(d);
        self
    }
    /// Any [`Delay`].
    pub fn delays(mut self, d: Delay) -> Projection {
        self.delay = d;
        self
    }
    /// A name for errors and summaries.
    pub fn name(mut self, n: impl Into<String>) -> Projection {
        self.name = n.into();
        self
    }
}

/// Symmetric or asymmetric gap junctions (BrainPy's `SymmetryGapJunction` and
/// `AsymmetryGapJunction`, spec §5.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// `diff = (x_pre − x_post)·w`: the postsynaptic neuron receives `diff`, the presynaptic one
    /// `−diff`. Weights: one, or one per pair.
    Symmetric,
    /// `diff = x_pre − x_post`: the postsynaptic neuron receives `diff·w[0]`, the presynaptic one
    /// `−diff·w[1]`. Weights: `(2,)` for every pair, or `(n, 2)` row-major.
    Asymmetric,
}

/// Gap junctions between pairs of neurons of two populations (or of one population with
/// itself): at every step, before the populations update, the coupled states (default `V`) at
/// the start of the step give currents that are added to the populations' input for that
/// update. With the default state `V` (mV) the weights are conductances and `g·ΔV` is a
/// current (`1 nS · 1 mV = 1 pA`); for another state they must have the dimension
/// `input / state` of the coupled models (checked when added: a wrong dimension is
/// [`SomataError::DimensionMismatch`]).
///
/// ```
/// use somata::prelude::*;
/// use somata::net::{GapJunction, Network};
/// let mut net = Network::new(0.1 * ms).unwrap();
/// let lif = Lif::builder(2).v_rest(-65.0 * mV).v_th(0.0 * mV).v_reset(-65.0 * mV).tau(10.0 * ms)
///     .r(100.0 * Mohm).init_q("V", &[-50.0 * mV, -70.0 * mV]).build().unwrap();
/// let p = net.add(lif, "P").unwrap();
/// // neuron 0 ↔ neuron 1 through 5 nS: R·g = 0.5, so ΔV decays 1 + 2·R·g = 2 times faster
/// net.gap_junction(GapJunction::symmetric(p, p, vec![(0, 1)], 5.0 * nS)).unwrap();
/// net.run(100).unwrap(); // 10 ms = τ
/// let v = net.population(p).state("V").unwrap();
/// let dv = (v[0] - v[1]) as f64;
/// assert!((dv - 20.0 * (-2.0f64).exp()).abs() < 0.05, "{dv}");
/// ```
#[derive(Debug, Clone)]
pub struct GapJunction {
    kind: GapKind,
    pre: PopId,
    post: PopId,
    pre_state: String,
    post_state: String,
    pairs: Vec<(usize, usize)>,
    /// Canonical numbers of dimension `dim`.
    w: Vec<f64>,
    dim: Dim,
    name: String,
}

impl GapJunction {
    /// Gap junctions of any kind from canonical numbers of dimension `dim` (symmetric: 1 or `n`
    /// weights; asymmetric: 2 or `2n`, row-major `(n, 2)`); `pairs` are `(pre index, post
    /// index)`.
    pub fn new(kind: GapKind, pre: PopId, post: PopId, pairs: Vec<(usize, usize)>, weights: Vec<f64>, dim: Dim) -> GapJunction {
        GapJunction { kind, pre, post, pre_state: "V".into(), post_state: "V".into(), pairs, w: weights, dim, name: String::new() }
    }
    /// BrainPy's `SymmetryGapJunction` with one conductance for every pair.
    pub fn symmetric(pre: PopId, post: PopId, pairs: Vec<(usize, usize)>, w: Conductance) -> GapJunction {
        GapJunction::new(GapKind::Symmetric, pre, post, pairs, vec![w.canonical()], Dim::CONDUCTANCE)
    }
    /// The same with one conductance per pair.
    pub fn symmetric_per_pair(pre: PopId, post: PopId, pairs: Vec<(usize, usize)>, w: &[Conductance]) -> GapJunction {
        GapJunction::new(GapKind::Symmetric, pre, post, pairs, Conductance::canonical_slice(w).to_vec(), Dim::CONDUCTANCE)
    }
    /// BrainPy's `AsymmetryGapJunction` with weights `(2,)`: the postsynaptic neuron receives
    /// `w_post·(x_pre − x_post)`, the presynaptic one `−w_pre·(x_pre − x_post)`.
    pub fn asymmetric(pre: PopId, post: PopId, pairs: Vec<(usize, usize)>, w_post: Conductance, w_pre: Conductance) -> GapJunction {
        GapJunction::new(GapKind::Asymmetric, pre, post, pairs, vec![w_post.canonical(), w_pre.canonical()], Dim::CONDUCTANCE)
    }
    /// The same with weights `(n, 2)`: `(w_post, w_pre)` per pair.
    pub fn asymmetric_per_pair(pre: PopId, post: PopId, pairs: Vec<(usize, usize)>, w: &[(Conductance, Conductance)]) -> GapJunction {
        let w = w.iter().flat_map(|&(a, b)| [a.canonical(), b.canonical()]).collect();
        GapJunction::new(GapKind::Asymmetric, pre, post, pairs, w, Dim::CONDUCTANCE)
    }
    /// Couple state `s` (default `"V"`) on both sides.
    pub fn state(self, s: &str) -> GapJunction {
        self.states(s, s)
    }
    /// Couple `pre_state` of the presynaptic population with `post_state` of the postsynaptic one.
    pub fn states(mut self, pre_state: &str, post_state: &str) -> GapJunction {
        self.pre_state = pre_state.into();
        self.post_state = post_state.into();
        self
    }
    /// A name for errors.
    pub fn name(mut self, n: impl Into<String>) -> GapJunction {
        self.name = n.into();
        self
    }
}

/// Gap junctions as the network runs them.
struct Gap {
    pre: usize,
    post: usize,
    pre_state: String,
    post_state: String,
    pre_ids: Vec<u32>,
    post_ids: Vec<u32>,
    /// Factor of `x_pre − x_post` for the postsynaptic / presynaptic side (1 or n values).
    w_post: Vec<f32>,
    w_pre: Vec<f32>,
    diff: Vec<f32>,
}

/// A synapse + output on a postsynaptic population, shared by every align-post projection with
/// an identical descriptor.
struct Channel {
    key: String,
    /// Align-post: the synapse (its input is `buf`). Align-pre: `None`, `buf` is the conductance.
    syn: Option<Box<dyn Synapse>>,
    out: Output,
    buf: Vec<f32>,
    /// The conductance given to the output at the last step, for synapses whose output is not
    /// their first state (DualExpon), align-pre and current projections (empty for Expon and
    /// Alpha: their output is their state `g`).
    last_g: Vec<f32>,
    /// The current delivered at the last step (kept when a monitor asks, else empty).
    last_i: Vec<f32>,
}

impl Channel {
    /// A channel without a synapse of its own (align-pre and current projections): `buf` holds
    /// what the output is given, never shared with another projection.
    fn direct(out: Output, n_post: usize) -> Channel {
        Channel { key: String::new(), syn: None, out, buf: vec![0.0; n_post], last_g: vec![0.0; n_post], last_i: vec![] }
    }
    /// The conductance its output was given at the last step.
    fn conductance(&self) -> &[f32] {
        match &self.syn {
            Some(s) if self.last_g.is_empty() => s.state(0),
            _ => &self.last_g,
        }
    }
}

struct Proj {
    pre: usize,
    range: Range<usize>,
    post: usize,
    conn: Conn,
    stp: Option<Box<dyn Synapse>>,
    /// Align-pre synapse.
    pre_syn: Option<Box<dyn Synapse>>,
    /// Target: channel index on the post population, or delta state.
    target: Target,
    delay: Delay,
    /// The delay compiled for the run's dt (`None`: no delay); built at the first prepare.
    line: Option<DelayLine>,
    compiled: bool,
    /// No STP, no align-pre synapse, no delay: spikes go straight through the rows.
    fast: bool,
    name: String,
    /// Reads the spikes of the same step ([`Projection::same_step`]).
    same_step: bool,
    /// Scratch of the presynaptic size.
    scratch: Vec<f32>,
    events: u64,
}

enum Target {
    Channel(usize),
    Delta(String),
}

fn target_buf<'a>(post: &'a mut PopEntry, t: &Target) -> &'a mut [f32] {
    match t {
        Target::Channel(c) => &mut post.channels[*c].buf,
        Target::Delta(s) => &mut post.deltas.iter_mut().find(|(n, _)| n == s).expect("delta target registered").1,
    }
}

/// A delay compiled for one dt: whole steps `k` and interpolation fraction `f` (one, or one per
/// presynaptic neuron, or one per synapse), and the events in flight: `slots[(head + s) % L]`
/// holds what arrives `s` steps from now, as `(presynaptic index, value)` (global and per-pre
/// delays: the row is propagated on arrival) or `(postsynaptic index, value·w)` (per-synapse).
/// The slots keep their capacity, so a run allocates only while they grow to their peak.
struct DelayLine {
    per_syn: bool,
    k: Vec<u32>,
    f: Vec<f32>,
    /// Per-synapse whole steps ([`Delay::PerSynapseSteps`]; then `k` and `f` are empty).
    k16: Vec<u16>,
    slots: Vec<Vec<(u32, f32)>>,
    head: usize,
}

impl DelayLine {
    /// Compile `d` for `dt_ms`; `None` when every delay is 0.
    fn compile(d: &mut Delay, dt_ms: f64) -> Result<Option<DelayLine>> {
        if let Delay::PerSynapseSteps(v) = d {
            // moved, not copied: 2 bytes per synapse held once (the projection keeps an empty list)
            let k16 = std::mem::take(v);
            let reach = k16.iter().copied().max().unwrap_or(0) as usize;
            if reach == 0 {
                return Ok(None);
            }
            return Ok(Some(DelayLine {
                per_syn: true,
                k: vec![],
                f: vec![],
                k16,
                slots: (0..=reach).map(|_| Vec::new()).collect(),
                head: 0,
            }));
        }
        let vals = d.values();
        let (mut k, mut f) = (Vec::with_capacity(vals.len()), Vec::with_capacity(vals.len()));
        let mut reach = 0u32;
        for &ms in vals {
            let mut x = ms / dt_ms;
            let r = x.round();
            // a delay given as a multiple of dt is that many steps (0.3 / 0.1 = 2.9999999999999996)
            if (x - r).abs() <= 1e-6 * r.max(1.0) {
                x = r;
            }
            if x > 1e7 {
                return Err(SomataError::param("projection", "delay", ms, "needs more than 10⁷ steps of history"));
            }
            let kk = x.floor();
            let ff = (x - kk) as f32;
            k.push(kk as u32);
            f.push(ff);
            reach = reach.max(kk as u32 + u32::from(ff > 0.0));
        }
        if reach == 0 {
            return Ok(None);
        }
        Ok(Some(DelayLine {
            per_syn: matches!(d, Delay::PerSynapse(_)),
            k,
            f,
            k16: vec![],
            slots: (0..=reach).map(|_| Vec::new()).collect(),
            head: 0,
        }))
    }

    /// Schedule the value `s` of presynaptic neuron `i` (local index) pushed at this step;
    /// returns the synapses visited (per-synapse delays).
    #[inline]
    fn push(&mut self, conn: &Conn, i: usize, s: f32) -> usize {
        self.push_late(conn, i, s, 0)
    }

    /// [`DelayLine::push`] of a spike that reaches this rank `lag` steps after the step it
    /// would have been pushed at (spikes of other ranks, exchanged once per minimum delay):
    /// it is scheduled `lag` steps sooner, so it arrives at the same step. `lag` never exceeds
    /// the smallest delay ([`DelayLine::min_steps`]).
    #[inline]
    fn push_late(&mut self, conn: &Conn, i: usize, s: f32, lag: usize) -> usize {
        let l = self.slots.len();
        let head = self.head + l - lag;
        if self.per_syn {
            let (k, f, k16, slots) = (&self.k, &self.f, &self.k16, &mut self.slots);
            if !k16.is_empty() {
                return conn.visit_row(i, |pos, j, w| slots[(head + k16[pos] as usize) % l].push((j as u32, s * w)));
            }
            return conn.visit_row(i, |pos, j, w| {
                let (kk, ff) = (k[pos] as usize, f[pos]);
                let a = (head + kk) % l;
                if ff == 0.0 {
                    slots[a].push((j as u32, s * w));
                } else {
                    slots[a].push((j as u32, (s * (1.0 - ff)) * w));
                    slots[(a + 1) % l].push((j as u32, (s * ff) * w));
                }
            });
        }
        let (kk, ff) = if self.k.len() == 1 { (self.k[0], self.f[0]) } else { (self.k[i], self.f[i]) };
        let a = (head + kk as usize) % l;
        if ff == 0.0 {
            self.slots[a].push((i as u32, s));
        } else {
            self.slots[a].push((i as u32, s * (1.0 - ff)));
            self.slots[(a + 1) % l].push((i as u32, s * ff));
        }
        0
    }

    /// The smallest whole-step delay of any synapse (`u64::MAX` when there is none).
    fn min_steps(&self) -> u64 {
        if !self.k16.is_empty() {
            return self.k16.iter().copied().min().map_or(u64::MAX, u64::from);
        }
        self.k.iter().copied().min().map_or(u64::MAX, u64::from)
    }

    /// Deliver what arrives at this step into `dst` (through `pre_syn` when given, with
    /// `scratch` as its presynaptic input), then advance; returns the synapses visited.
    fn deliver(
        &mut self,
        conn: &Conn,
        pre_syn: Option<&mut Box<dyn Synapse>>,
        scratch: &mut [f32],
        step: u64,
        dt: f32,
        dst: &mut [f32],
    ) -> usize {
        let mut slot = std::mem::take(&mut self.slots[self.head]);
        let mut ev = 0;
        if self.per_syn {
            for &(j, v) in &slot {
                dst[j as usize] += v;
            }
        } else if let Some(syn) = pre_syn {
            scratch.iter_mut().for_each(|v| *v = 0.0);
            for &(i, v) in &slot {
                scratch[i as usize] += v;
            }
            ev = conn.propagate(syn.update(step, dt, scratch), dst);
        } else {
            for &(i, v) in &slot {
                ev += conn.propagate_row(i as usize, v, dst);
            }
        }
        slot.clear();
        self.slots[self.head] = slot;
        self.head = (self.head + 1) % self.slots.len();
        ev
    }
}

/// A per-step input generator: `f(step, dt_ms, out)` adds this step's current (mA) to `out`.
pub type GenFn = Box<dyn FnMut(u64, f64, &mut [f32]) + Send>;

/// An external input of a population (canonical: mA).
pub enum ExtInput {
    /// One value for every neuron, or one per neuron.
    Constant(Vec<f32>),
    /// A value per step and neuron, row-major `[steps][n]`; zero after the last row.
    PerStep {
        /// Values.
        data: Vec<f32>,
        /// Steps given.
        steps: usize,
    },
    /// A generator called every step with the step index and dt (ms); it adds to `out`.
    Generator(GenFn),
    /// A generator whose values are added to the state `state` (canonical units of that
    /// state, e.g. mV onto `V`) just before the population updates, as BrainPy's
    /// `PoissonInput(target=neuron.prefetch('V'), ...)` called before `neuron.update()`:
    /// the neuron then integrates from the raised state.
    OnState {
        /// The state name (`"V"`).
        state: String,
        /// Adds this step's increments to its `out` (zeroed before each call).
        generator: GenFn,
        /// Scratch of the population's size (allocated once, when the input is added).
        buf: Vec<f32>,
    },
}

struct PopEntry {
    name: String,
    pop: Box<dyn Population>,
    channels: Vec<Channel>,
    inputs: Vec<ExtInput>,
    spk: Vec<f32>,
    i: Vec<f32>,
    g: Vec<f32>,
    has_cond: bool,
    deltas: Vec<(String, Vec<f32>)>,
    /// Gap-junction currents for the next update (empty when no gap junction couples it).
    gap: Vec<f32>,
    count: u64,
    /// Spikes of the initial state (BrainPy's `get_spike()` before the first update), which
    /// the projections read at step 0.
    initial: u64,
    /// Indices of the neurons with a nonzero spike at the last step (ascending).
    active: Vec<u32>,
    /// External input and gap currents of the last step (kept when a monitor asks).
    last_ext: Vec<f32>,
    last_gap: Vec<f32>,
    /// This rank's block of a population spread over ranks ([`Network::set_window`]).
    win: Option<Window>,
}

/// A rank's block `lo..lo + n_local` of a population of `n` neurons, and the population's
/// spikes as the exchange gave them.
struct Window {
    n: usize,
    lo: usize,
    /// Global id of the population's neuron 0 (ids count the spread populations in order).
    gid0: u32,
    /// The whole population's spikes of the last step (when the exchange runs every step).
    spk: Vec<f32>,
    active: Vec<u32>,
    /// The records injected at this step: (step, neuron, value), in step and neuron order.
    arrived: Vec<(i64, u32, f32)>,
}

impl PopEntry {
    /// The population's spikes to propagate: the whole population's when it is spread over
    /// ranks, else its own.
    fn pre_spikes(&self) -> (&[u32], &[f32]) {
        match &self.win {
            Some(w) => (&w.active, &w.spk),
            None => (&self.active, &self.spk),
        }
    }
}

impl PopEntry {
    /// Rebuild `active` from `spk` and count the spikes.
    fn collect_active(&mut self) {
        self.active.clear();
        let active = &mut self.active;
        for_each_spike(&self.spk, |j, _| active.push(j as u32));
        self.count += self.active.len() as u64;
    }
}

/// `f(j, v)` for every nonzero `v = spk[j]` (NaN included, as `v != 0.0`), in order, testing 16
/// values at a time: spikes are sparse, and a branch per neuron cost a fifth of a step.
#[inline]
fn for_each_spike(spk: &[f32], mut f: impl FnMut(usize, f32)) {
    for (k, c) in spk.chunks(16).enumerate() {
        // the sign bit shifted out: −0.0 counts as zero, as in `v != 0.0`
        if c.iter().fold(0u32, |acc, v| acc | (v.to_bits() << 1)) != 0 {
            for (j, &v) in c.iter().enumerate() {
                if v != 0.0 {
                    f(k * 16 + j, v);
                }
            }
        }
    }
}

/// What [`Network::run`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Steps run.
    pub steps: usize,
    /// Population names.
    pub names: Vec<String>,
    /// Spikes per population during the run.
    pub spikes: Vec<u64>,
    /// Spikes of the initial state per population (neurons that start at or above threshold:
    /// BrainPy's projections read them at step 0; recorded as events of step −1), counted in
    /// the first run from step 0 only.
    pub initial_spikes: Vec<u64>,
    /// Mean firing rate per population during the run (Hz).
    pub rates_hz: Vec<f64>,
    /// Synapses visited by spike propagation during the run.
    pub synaptic_events: u64,
    /// Whether the fused runner ran the steps (else the one-step reference loop;
    /// [`Network::threads`]).
    pub fused: bool,
    /// Threads that ran the steps (1 on the reference loop).
    pub threads: usize,
}

/// A network of populations and projections on one clock.
pub struct Network {
    clock: Clock,
    pops: Vec<PopEntry>,
    projs: Vec<Proj>,
    gaps: Vec<Gap>,
    monitors: Vec<Monitor>,
    prepared: bool,
    check_finite: bool,
    /// Threads of the fused runner (0: automatic).
    threads: usize,
    /// Always use the one-step reference loop.
    reference: bool,
    /// The population update order the user gave ([`Network::update_order`]).
    order: Option<Vec<usize>>,
    /// The order populations update in (computed by prepare).
    sched: Vec<usize>,
    /// Stream the monitors into this directory ([`Network::record_to`]).
    record_dir: Option<std::path::PathBuf>,
    /// Warnings given (also printed to stderr once).
    warnings: Vec<String>,
    /// The exchange with the other ranks, when the network is spread ([`Network::distribute`]).
    dist: Option<dist::DistRun>,
}

impl Network {
    /// An empty network with time step `dt`.
    pub fn new(dt: Time) -> Result<Network> {
        Network::from_ms(dt.canonical())
    }
    /// The same, dt in ms.
    pub fn from_ms(dt_ms: f64) -> Result<Network> {
        Ok(Network {
            clock: Clock::from_ms(dt_ms)?,
            pops: vec![],
            projs: vec![],
            gaps: vec![],
            monitors: vec![],
            prepared: false,
            check_finite: false,
            threads: 0,
            reference: false,
            order: None,
            sched: vec![],
            record_dir: None,
            warnings: vec![],
            dist: None,
        })
    }
    /// The clock (its step is the next step to run).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
    /// Stop with [`SomataError::Diverged`] (naming step, population and neuron) as soon as a state
    /// becomes non-finite.
    pub fn check_finite(&mut self, on: bool) {
        self.check_finite = on;
    }
    /// Threads of the fused runner (0, the default: `SOMATA_THREADS` if set, else one per
    /// core, at most 8, with at least 8192 neurons each, and the reference loop where that
    /// makes one thread: coba-40k runs on two threads, coba-4k on the reference loop).
    /// Results do not depend on it.
    ///
    /// Networks of event-driven projections (no delay, STP or align-pre synapse) into Expon
    /// synapses with COBA or CUBA outputs, with constant external inputs, no gap junctions or
    /// delta projections and no divergence check (the Brette et al. benchmarks, most E/I
    /// networks) run on a fused runner: each thread owns a range of every population's neurons
    /// and a step costs one barrier. Its arithmetic is the reference loop's, in the same order,
    /// so spikes, states and monitors are bitwise the same. Other networks run the reference
    /// loop on one thread.
    ///
    /// ```
    /// use somata::net::models::{coba, EiConfig};
    /// let cfg = EiConfig::with_size(400);
    /// let (mut a, mut b) = (coba(&cfg).unwrap(), coba(&cfg).unwrap());
    /// a.threads(2);
    /// b.reference_runner(true);
    /// let (sa, sb) = (a.run(500).unwrap(), b.run(500).unwrap());
    /// assert_eq!(sa.spikes, sb.spikes);
    /// ```
    pub fn threads(&mut self, threads: usize) {
        self.threads = threads;
    }
    /// Step this network with the one-step reference loop (single thread), for checks
    /// (`SOMATA_REFERENCE=1` does it for every network, e.g. to time both runners).
    pub fn reference_runner(&mut self, on: bool) {
        self.reference = on;
    }

    /// Add a population (a layer of any model, f32, no batch axis); its state is created now
    /// from its initializers.
    pub fn add<M: NeuronModel>(&mut self, layer: NeuronLayer<M, f32>, name: &str) -> Result<PopId> {
        self.add_boxed(Box::new(Pop::new(layer)), name)
    }

    /// Add a population given as a [`Population`] object.
    pub fn add_boxed(&mut self, mut pop: Box<dyn Population>, name: &str) -> Result<PopId> {
        if self.pops.iter().any(|p| p.name == name) {
            return Err(SomataError::Format(format!("a population named `{name}` already exists")));
        }
        pop.init()?;
        let n = pop.n();
        self.pops.push(PopEntry {
            name: name.into(),
            pop,
            channels: vec![],
            inputs: vec![],
            spk: vec![0.0; n],
            i: vec![0.0; n],
            g: vec![0.0; n],
            has_cond: false,
            deltas: vec![],
            gap: vec![],
            count: 0,
            initial: 0,
            active: vec![],
            last_ext: vec![],
            last_gap: vec![],
            win: None,
        });
        self.prepared = false;
        Ok(PopId(self.pops.len() - 1))
    }

    /// A population by name.
    pub fn pop_id(&self, name: &str) -> Result<PopId> {
        self.pops.iter().position(|p| p.name == name).map(PopId).ok_or_else(|| {
            SomataError::Format(format!(
                "no population named `{name}`; populations: {}",
                self.pops.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
    /// Number of neurons of a population.
    pub fn size(&self, p: PopId) -> usize {
        self.pops[p.0].pop.n()
    }
    /// The population object (states, model name).
    pub fn population(&self, p: PopId) -> &dyn Population {
        self.pops[p.0].pop.as_ref()
    }
    /// The population object, mutable (to set states before a run).
    pub fn population_mut(&mut self, p: PopId) -> &mut dyn Population {
        self.pops[p.0].pop.as_mut()
    }
    /// Number of synapses over all projections and the largest bytes per synapse they store.
    pub fn synapse_stats(&self) -> (usize, usize) {
        (self.projs.iter().map(|p| p.conn.num_synapses()).sum(), self.projs.iter().map(|p| p.conn.bytes_per_synapse()).max().unwrap_or(0))
    }
    /// Population names in order.
    pub fn names(&self) -> Vec<String> {
        self.pops.iter().map(|p| p.name.clone()).collect()
    }

    fn check_pop(&self, p: PopId) -> Result<()> {
        if p.0 < self.pops.len() {
            Ok(())
        } else {
            Err(SomataError::Format(format!("population id {} does not exist", p.0)))
        }
    }

    /// Add a projection. Checks sizes (the connectivity must be `[pre range][post]`), the delay
    /// and the synapse/output combination.
    pub fn connect(&mut self, p: Projection) -> Result<()> {
        self.check_pop(p.pre)?;
        self.check_pop(p.post)?;
        // a population spread over ranks sends from all its neurons (global rows)
        let n_pre_pop = self.global_size(p.pre);
        let range = p.pre_range.clone().unwrap_or(0..n_pre_pop);
        let pname =
            if p.name.is_empty() { format!("{} → {}", self.pops[p.pre.0].name, self.pops[p.post.0].name) } else { p.name.clone() };
        if range.start > range.end || range.end > n_pre_pop {
            return Err(SomataError::ShapeMismatch {
                what: format!("presynaptic range of projection {pname}"),
                expected: vec![n_pre_pop],
                got: vec![range.start, range.end],
            });
        }
        let n_pre = range.len();
        let n_post = self.size(p.post);
        if p.conn.n_pre() != n_pre || p.conn.n_post() != n_post {
            return Err(SomataError::ShapeMismatch {
                what: format!("connectivity of projection {pname} (presynaptic × postsynaptic)"),
                expected: vec![n_pre, n_post],
                got: vec![p.conn.n_pre(), p.conn.n_post()],
            });
        }
        if let Some(got) = p.conn.dim() {
            let (want, what) = match &p.kind {
                ProjKind::AlignPost { .. } => (Some(Dim::CONDUCTANCE), "an align-post projection's weights are conductances"),
                ProjKind::Current { .. } => (Some(Dim::CONDUCTANCE), "a current projection's weights are conductances"),
                ProjKind::AlignPre { .. } => (Some(Dim::ONE), "an align-pre projection's weights scale the synapse's conductance"),
                ProjKind::Delta { state } => {
                    (self.pops[p.post.0].pop.state_dim(state), "a delta projection's weights have the state's unit")
                }
            };
            if let Some(want) = want.filter(|w| *w != got) {
                return Err(SomataError::DimensionMismatch {
                    what: format!("weights of projection {pname} ({what})"),
                    expected: want.describe(),
                    got: got.describe(),
                });
            }
        }
        if let Some(bad) = p.delay.values().iter().find(|d| !(d.is_finite() && **d >= 0.0)) {
            return Err(SomataError::param("projection", "delay", *bad, "must be finite and ≥ 0 ms"));
        }
        let want = match &p.delay {
            Delay::Global(_) => 1,
            Delay::PerPre(_) => n_pre,
            Delay::PerSynapse(_) | Delay::PerSynapseSteps(_) => p.conn.num_synapses(),
        };
        if p.delay.len() != want {
            return Err(SomataError::ShapeMismatch {
                what: format!(
                    "delays of projection {pname} ({})",
                    if matches!(p.delay, Delay::PerPre(_)) { "one per presynaptic neuron" } else { "one per synapse" }
                ),
                expected: vec![want],
                got: vec![p.delay.len()],
            });
        }
        if matches!(p.delay, Delay::PerSynapse(_) | Delay::PerSynapseSteps(_)) && matches!(p.kind, ProjKind::AlignPre { .. }) {
            return Err(SomataError::Format(format!(
                "projection {pname}: per-synapse delays need an align-post, current or delta projection (an align-pre synapse is per presynaptic neuron, before the connectivity); use a global or per-presynaptic delay"
            )));
        }
        let mut stp = p.stp;
        if let Some(s) = stp.as_mut() {
            if !matches!(s.name(), "STP" | "STD") {
                return Err(SomataError::Format(format!("projection {pname}: `stp` must be an STP or STD module, got {}", s.name())));
            }
            s.init_state(n_pre)?;
        }
        let post = &mut self.pops[p.post.0];
        let (target, pre_syn) = match p.kind {
            ProjKind::AlignPost { mut syn, out } => {
                out.check()?;
                if !matches!(syn.name(), "Expon" | "DualExpon" | "Alpha") {
                    return Err(SomataError::Format(format!(
                        "projection {pname}: an align-post synapse takes a projected conductance (Expon, DualExpon, Alpha); {} takes spikes: use align-pre",
                        syn.name()
                    )));
                }
                let key = format!("{}{:?}//{}", syn.name(), syn.params().iter().map(|q| syn.param(q.name)).collect::<Vec<_>>(), out.key());
                let idx = match post.channels.iter().position(|c| c.syn.is_some() && c.key == key) {
                    Some(i) => i,
                    None => {
                        syn.init_state(n_post)?;
                        // Expon's and Alpha's output is their state `g`; DualExpon's is kept
                        let last_g = if syn.name() == "DualExpon" { vec![0.0; n_post] } else { vec![] };
                        post.channels.push(Channel { key, syn: Some(syn), out, buf: vec![0.0; n_post], last_g, last_i: vec![] });
                        post.channels.len() - 1
                    }
                };
                (Target::Channel(idx), None)
            }
            ProjKind::AlignPre { mut syn, out } => {
                out.check()?;
                if matches!(syn.name(), "STP" | "STD") {
                    return Err(SomataError::Format(format!(
                        "projection {pname}: {} is short-term plasticity, give it with `stp`",
                        syn.name()
                    )));
                }
                syn.init_state(n_pre)?;
                post.channels.push(Channel::direct(out, n_post));
                (Target::Channel(post.channels.len() - 1), Some(syn))
            }
            ProjKind::Current { out } => {
                out.check()?;
                post.channels.push(Channel::direct(out, n_post));
                (Target::Channel(post.channels.len() - 1), None)
            }
            ProjKind::Delta { state } => {
                post.pop.state(&state)?;
                if !post.deltas.iter().any(|(s, _)| *s == state) {
                    post.deltas.push((state.clone(), vec![0.0; n_post]));
                }
                (Target::Delta(state), None)
            }
        };
        post.has_cond = post.channels.iter().any(|c| !matches!(c.out, Output::Cuba { .. }));
        self.projs.push(Proj {
            pre: p.pre.0,
            range,
            post: p.post.0,
            conn: p.conn,
            stp,
            pre_syn,
            target,
            delay: p.delay,
            line: None,
            compiled: false,
            fast: false,
            name: pname,
            same_step: p.same_step,
            scratch: vec![0.0; n_pre],
            events: 0,
        });
        self.prepared = false;
        Ok(())
    }

    /// Add gap junctions. Checks the populations, the pair indices, the coupled states, the
    /// weights' count and their dimension against `input / state` of both populations.
    pub fn gap_junction(&mut self, gj: GapJunction) -> Result<()> {
        self.check_pop(gj.pre)?;
        self.check_pop(gj.post)?;
        let name = if gj.name.is_empty() {
            format!("gap junction {} ↔ {}", self.pops[gj.pre.0].name, self.pops[gj.post.0].name)
        } else {
            format!("gap junction {}", gj.name)
        };
        let (n_pre, n_post) = (self.size(gj.pre), self.size(gj.post));
        for &(i, j) in &gj.pairs {
            if i >= n_pre || j >= n_post {
                return Err(SomataError::ShapeMismatch {
                    what: format!("{name}: pair ({i}, {j}) (presynaptic × postsynaptic size)"),
                    expected: vec![n_pre, n_post],
                    got: vec![i, j],
                });
            }
        }
        let n = gj.pairs.len();
        for (p, st) in [(gj.pre, &gj.pre_state), (gj.post, &gj.post_state)] {
            let pop = self.pops[p.0].pop.as_ref();
            pop.state(st)?;
            // w·state must be the model's input: dim(w) = dim(input) − dim(state) (exponents)
            if let Some(sd) = pop.state_dim(st) {
                let id = pop.input_dim();
                let want = Dim(std::array::from_fn(|k| id.0[k] - sd.0[k]));
                if gj.dim != want {
                    return Err(SomataError::DimensionMismatch {
                        what: format!("{name}: weights coupling state `{st}` of {} ({})", self.pops[p.0].name, pop.model_name()),
                        expected: want.describe(),
                        got: gj.dim.describe(),
                    });
                }
            }
        }
        let (shared, per_pair) = match gj.kind {
            GapKind::Symmetric => (1, n),
            GapKind::Asymmetric => (2, 2 * n),
        };
        if gj.w.len() != shared && gj.w.len() != per_pair {
            return Err(SomataError::ShapeMismatch {
                what: format!(
                    "{name}: weights ({})",
                    if gj.kind == GapKind::Symmetric { "one, or one per pair" } else { "(2,) or (pairs, 2)" }
                ),
                expected: vec![per_pair],
                got: vec![gj.w.len()],
            });
        }
        if let Some(bad) = gj.w.iter().find(|w| !w.is_finite()) {
            return Err(SomataError::param("gap junction", "weight", *bad, "must be finite"));
        }
        let w: Vec<f32> = gj.w.iter().map(|&x| x as f32).collect();
        let (w_post, w_pre) = match gj.kind {
            GapKind::Symmetric => (w.clone(), w),
            GapKind::Asymmetric => (w.iter().step_by(2).copied().collect(), w.iter().skip(1).step_by(2).copied().collect()),
        };
        for p in [gj.pre, gj.post] {
            let e = &mut self.pops[p.0];
            if e.gap.is_empty() {
                e.gap = vec![0.0; e.pop.n()];
            }
        }
        self.gaps.push(Gap {
            pre: gj.pre.0,
            post: gj.post.0,
            pre_state: gj.pre_state,
            post_state: gj.post_state,
            pre_ids: gj.pairs.iter().map(|p| p.0 as u32).collect(),
            post_ids: gj.pairs.iter().map(|p| p.1 as u32).collect(),
            w_post,
            w_pre,
            diff: vec![0.0; n],
        });
        self.prepared = false;
        Ok(())
    }

    /// A constant current into every neuron of `p` (`20.0 * mA`); a population whose model
    /// takes another input than a current (a dimensionless drive) is a
    /// [`SomataError::DimensionMismatch`]: give it [`ExtInput::Constant`] in its input unit.
    pub fn input_constant(&mut self, p: PopId, current: Current) -> Result<()> {
        self.check_pop(p)?;
        let d = self.pops[p.0].pop.input_dim();
        if d != Dim::CURRENT {
            return Err(SomataError::DimensionMismatch {
                what: format!("constant input of population `{}` ({})", self.pops[p.0].name, self.pops[p.0].pop.model_name()),
                expected: d.describe(),
                got: Dim::CURRENT.describe(),
            });
        }
        self.input_constant_ma(p, current.canonical())
    }

    /// The same in mA (the canonical current), for any population: the number is the model's
    /// canonical input.
    pub fn input_constant_ma(&mut self, p: PopId, current_ma: f64) -> Result<()> {
        self.check_pop(p)?;
        if !current_ma.is_finite() {
            return Err(SomataError::param("input", "value", current_ma, "must be finite"));
        }
        self.pops[p.0].inputs.push(ExtInput::Constant(vec![current_ma as f32]));
        Ok(())
    }

    /// Add an external input to `p` (checked against the population's size).
    pub fn input(&mut self, p: PopId, x: ExtInput) -> Result<()> {
        self.check_pop(p)?;
        let n = self.size(p);
        match &x {
            ExtInput::Constant(v) if v.len() != 1 && v.len() != n => {
                return Err(SomataError::ShapeMismatch {
                    what: format!("constant input of {}", self.pops[p.0].name),
                    expected: vec![n],
                    got: vec![v.len()],
                });
            }
            ExtInput::PerStep { data, steps } if data.len() != steps * n => {
                return Err(SomataError::ShapeMismatch {
                    what: format!("per-step input of {}", self.pops[p.0].name),
                    expected: vec![*steps, n],
                    got: vec![data.len()],
                });
            }
            _ => {}
        }
        if let ExtInput::Constant(v) | ExtInput::PerStep { data: v, .. } = &x
            && let Some(bad) = v.iter().find(|v| !v.is_finite())
        {
            return Err(SomataError::param("input", "value", *bad as f64, "must be finite"));
        }
        let mut x = x;
        if let ExtInput::OnState { state, buf, .. } = &mut x {
            // the state must exist (the error lists the ones that do)
            self.pops[p.0].pop.state(state)?;
            buf.resize(n, 0.0);
        }
        self.pops[p.0].inputs.push(x);
        Ok(())
    }

    /// Record the spikes of `p` (all neurons, or `neurons`) every `every` steps under `name`.
    pub fn monitor_spikes(&mut self, name: &str, p: PopId, neurons: Option<Vec<usize>>, every: usize) -> Result<()> {
        self.add_monitor(name, p, Var::Spike, neurons, every)
    }

    /// Record a monitor of any variable ([`Var`]) every `every` steps, in
    /// [`MonitorFormat::Auto`]. `p` is the population whose neurons index the columns: the
    /// postsynaptic one for `g@`, `I@` and align-post synapse states, the presynaptic one for
    /// STP's `u`/`x` and align-pre synapse states (one column per neuron of the projection's
    /// range; [`Network::monitor_population`] gives it). `neurons` picks columns.
    pub fn add_monitor(&mut self, name: &str, p: PopId, var: Var, neurons: Option<Vec<usize>>, every: usize) -> Result<()> {
        self.add_monitor_as(name, p, var, neurons, every, MonitorFormat::Auto)
    }

    /// [`Network::add_monitor`] in a given [`MonitorFormat`] (events are for spike monitors).
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{MonitorFormat, Network, Var};
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let p = net.add(Lif::builder(3).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "P").unwrap();
    /// net.input(p, somata::net::ExtInput::Constant(vec![0.0, 30.0, 0.0])).unwrap();
    /// net.add_monitor_as("s", p, Var::Spike, None, 1, MonitorFormat::Events).unwrap();
    /// net.run(20).unwrap();
    /// let ev = net.spike_events("s").unwrap(); // (step, neuron) pairs, in step order
    /// assert!(!ev.is_empty() && ev.iter().all(|e| e[1] == 1));
    /// assert!(net.monitor_data("s").is_err()); // no dense array kept
    /// ```
    pub fn add_monitor_as(
        &mut self,
        name: &str,
        p: PopId,
        var: Var,
        neurons: Option<Vec<usize>>,
        every: usize,
        format: MonitorFormat,
    ) -> Result<()> {
        self.check_pop(p)?;
        if self.monitors.iter().any(|m| m.name == name) {
            return Err(SomataError::Format(format!("a monitor named `{name}` already exists")));
        }
        if every == 0 {
            return Err(SomataError::param("monitor", "every", 0.0, "must be ≥ 1 step"));
        }
        if var != Var::Spike && matches!(format, MonitorFormat::Events | MonitorFormat::Both) {
            return Err(SomataError::Format(format!("monitor {name}: only spike monitors record events; `{}` is dense", var.name())));
        }
        let (src, pop, n) = self.resolve_var(name, p.0, &var)?;
        if pop != p.0 {
            return Err(SomataError::Format(format!(
                "monitor {name}: `{}` has one column per neuron of population `{}`, not `{}`",
                var.name(),
                self.pops[pop].name,
                self.pops[p.0].name
            )));
        }
        // a population spread over ranks: `neurons` are global indices; this rank records its
        // own, and remembers where each of its columns goes in the whole monitor
        let (neurons, offset, placed) = match &self.pops[pop].win {
            None => (neurons, 0, None),
            Some(w) => {
                if matches!(src, Src::PreSyn(..) | Src::Stp(..)) {
                    return Err(SomataError::Format(format!(
                        "monitor {name}: `{}` is a presynaptic quantity of a population spread over ranks; record it on one rank",
                        var.name()
                    )));
                }
                let local = w.lo..w.lo + n;
                match neurons {
                    None => (None, w.lo, Some((local.map(|i| i as u32).collect::<Vec<_>>(), w.n))),
                    Some(ix) => {
                        if let Some(bad) = ix.iter().find(|&&i| i >= w.n) {
                            return Err(SomataError::ShapeMismatch {
                                what: format!("monitor {name}: neuron index {bad}"),
                                expected: vec![w.n],
                                got: vec![*bad],
                            });
                        }
                        let pos: Vec<u32> = (0..ix.len()).filter(|&k| local.contains(&ix[k])).map(|k| k as u32).collect();
                        let loc = pos.iter().map(|&k| ix[k as usize] - w.lo).collect();
                        (Some(loc), w.lo, Some((pos, ix.len())))
                    }
                }
            }
        };
        if let Some(ix) = &neurons
            && let Some(bad) = ix.iter().find(|&&i| i >= n)
        {
            return Err(SomataError::ShapeMismatch {
                what: format!("monitor {name}: neuron index {bad}"),
                expected: vec![n],
                got: vec![*bad],
            });
        }
        match src {
            Src::ChanI(c) => {
                let e = &mut self.pops[pop];
                if !matches!(e.channels[c].out, Output::Cuba { .. }) {
                    e.pop.state("V").map_err(|_| {
                        SomataError::Format(format!("monitor {name}: `{}` needs the postsynaptic state V (g·(E − V))", var.name()))
                    })?;
                }
                e.channels[c].last_i = vec![0.0; n];
            }
            Src::Ext => self.pops[pop].last_ext = vec![0.0; n],
            Src::Gap => self.pops[pop].last_gap = vec![0.0; n],
            _ => {}
        }
        let mask = neurons.as_ref().map(|ix| {
            let mut m = vec![false; n];
            ix.iter().for_each(|&i| m[i] = true);
            m
        });
        let cols = neurons.as_ref().map_or(n, |v| v.len());
        self.monitors.push(Monitor {
            name: name.into(),
            pop,
            var,
            src,
            neurons,
            cols,
            mask,
            every,
            format,
            dense: false,
            events: false,
            data: vec![],
            samples: 0,
            ev: vec![],
            n_events: 0,
            files: None,
            offset: offset as i64,
            placed,
        });
        Ok(())
    }

    /// The population whose neurons index a monitor of `var` when the variable fixes it (the
    /// projection's postsynaptic population for `g@`/`I@`/align-post synapse states, its
    /// presynaptic one for STP and align-pre synapse states), `None` for population variables.
    pub fn monitor_population(&self, var: &Var) -> Result<Option<PopId>> {
        Ok(match var {
            Var::Conductance(p) | Var::Current(p) => Some(PopId(self.channel_of(p)?.0)),
            Var::SynState { .. } => Some(PopId(self.resolve_var("", usize::MAX, var)?.1)),
            _ => None,
        })
    }

    /// The projection named `proj` (its index).
    fn proj_index(&self, proj: &str) -> Result<usize> {
        self.projs.iter().position(|p| p.name == proj).ok_or_else(|| {
            SomataError::Format(format!(
                "no projection named `{proj}`; projections: {}",
                self.projs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// Where `var` is read, the population that indexes it and its column count (`p` is the
    /// population asked for; `usize::MAX` when it is derived).
    fn resolve_var(&self, mname: &str, p: usize, var: &Var) -> Result<(Src, usize, usize)> {
        let n_of = |q: usize| self.pops[q].pop.n();
        Ok(match var {
            Var::Spike => (Src::Spike, p, n_of(p)),
            Var::State(s) => {
                self.pops[p].pop.state(s)?;
                (Src::State(s.clone()), p, n_of(p))
            }
            Var::InputCurrent => (Src::Ext, p, n_of(p)),
            Var::GapCurrent => (Src::Gap, p, n_of(p)),
            Var::Conductance(proj) => {
                let (post, c) = self.channel_of(proj)?;
                (Src::ChanG(c), post, n_of(post))
            }
            Var::Current(proj) => {
                let (post, c) = self.channel_of(proj)?;
                (Src::ChanI(c), post, n_of(post))
            }
            Var::SynState { proj, state } => {
                let q = self.proj_index(proj)?;
                let pr = &self.projs[q];
                let (want, st) = match state.split_once('.') {
                    Some(("stp", s)) => (Some(true), s),
                    Some(("syn", s)) => (Some(false), s),
                    _ => (None, state.as_str()),
                };
                let stp = pr.stp.as_ref().and_then(|s| s.states().iter().position(|x| x.name == st));
                let syn: Option<Src> = match &pr.target {
                    Target::Channel(c) => match (&pr.pre_syn, &self.pops[pr.post].channels[*c].syn) {
                        (Some(s), _) => s.states().iter().position(|x| x.name == st).map(|k| Src::PreSyn(q, k)),
                        (None, Some(s)) => s.states().iter().position(|x| x.name == st).map(|k| Src::ChanSyn(*c, k)),
                        _ => None,
                    },
                    Target::Delta(_) => None,
                };
                let pick = match (want, stp, syn) {
                    (None, Some(_), Some(_)) => {
                        return Err(SomataError::Format(format!(
                            "monitor {mname}: both the STP module and the synapse of projection `{proj}` have a state `{st}`: write `stp.{st}@{proj}` or `syn.{st}@{proj}`"
                        )));
                    }
                    (None | Some(true), Some(k), _) => Src::Stp(q, k),
                    (None | Some(false), _, Some(src)) => src,
                    _ => {
                        let mut known: Vec<String> = vec![];
                        if let Some(s) = &pr.stp {
                            known.extend(s.states().iter().map(|x| format!("stp.{}", x.name)));
                        }
                        if let Some(s) = &pr.pre_syn {
                            known.extend(s.states().iter().map(|x| x.name.to_string()));
                        }
                        if let Target::Channel(c) = &pr.target
                            && let Some(s) = &self.pops[pr.post].channels[*c].syn
                        {
                            known.extend(s.states().iter().map(|x| x.name.to_string()));
                        }
                        known.extend(["g".to_string(), "I".to_string()]);
                        return Err(SomataError::Format(format!(
                            "monitor {mname}: projection `{proj}` has no state `{state}`; it has: {}",
                            known.join(", ")
                        )));
                    }
                };
                match pick {
                    Src::ChanSyn(..) => (pick, pr.post, n_of(pr.post)),
                    _ => (pick, pr.pre, pr.range.len()),
                }
            }
        })
    }

    /// (population, channel) fed by the projection named `proj`.
    fn channel_of(&self, proj: &str) -> Result<(usize, usize)> {
        let pr = &self.projs[self.proj_index(proj)?];
        match pr.target {
            Target::Channel(c) => Ok((pr.post, c)),
            Target::Delta(_) => Err(SomataError::Format(format!("projection `{proj}` is a delta projection: it has no conductance"))),
        }
    }

    /// The conductance (S, per postsynaptic neuron) that the synapse fed by projection `proj`
    /// gave its output at the last step ([`Var::Conductance`]: DualExpon's is
    /// `scale·(g_decay − g_rise)`).
    pub fn conductance(&self, proj: &str) -> Result<&[f32]> {
        let (p, c) = self.channel_of(proj)?;
        Ok(self.pops[p].channels[c].conductance())
    }

    fn monitor(&self, name: &str) -> Result<&Monitor> {
        self.monitors.iter().find(|m| m.name == name).ok_or_else(|| {
            SomataError::Format(format!(
                "no monitor named `{name}`; monitors: {}",
                self.monitors.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// A monitor's dense data `[samples][columns]` (row-major) held in memory, and its column
    /// count. An error for a monitor that streams to files ([`Network::record_to`]) or keeps
    /// spike events only ([`Network::spike_events`]).
    pub fn monitor_data(&self, name: &str) -> Result<(&[f32], usize)> {
        let m = self.monitor(name)?;
        if let Some(f) = m.files.as_ref().and_then(|f| f.dense.as_ref()) {
            return Err(SomataError::Format(format!("monitor `{name}` streams its samples to {}", f.path().display())));
        }
        if m.events && !m.dense {
            return Err(SomataError::Format(format!("monitor `{name}` keeps spike events only: read them with spike_events")));
        }
        Ok((&m.data, m.cols))
    }

    /// A spike monitor's events held in memory: `(step, neuron)` pairs in step order (neuron:
    /// the index in the population). The spikes of the initial state that the projections read
    /// at step 0 (BrainPy's `get_spike()` of a neuron that starts at or above threshold) are
    /// events of step −1. An error for a monitor that keeps no events or streams them.
    pub fn spike_events(&self, name: &str) -> Result<&[[i64; 2]]> {
        let m = self.monitor(name)?;
        // an auto spike monitor before its first run keeps events (none yet)
        let unresolved_spikes = m.var == Var::Spike && m.format == MonitorFormat::Auto && !m.dense;
        if !(m.events || unresolved_spikes) {
            return Err(SomataError::Format(format!("monitor `{name}` keeps no spike events (format dense, or not a spike monitor)")));
        }
        if let Some(f) = m.files.as_ref().and_then(|f| f.events.as_ref()) {
            return Err(SomataError::Format(format!("monitor `{name}` streams its events to {}", f.path().display())));
        }
        // SAFETY: `ev` holds whole pairs; `[i64; 2]` has the layout of two consecutive i64.
        Ok(unsafe { std::slice::from_raw_parts(m.ev.as_ptr().cast::<[i64; 2]>(), m.ev.len() / 2) })
    }

    /// Monitor names, populations and variables.
    pub fn monitors(&self) -> Vec<(String, String, Var)> {
        self.monitors.iter().map(|m| (m.name.clone(), self.pops[m.pop].name.clone(), m.var.clone())).collect()
    }

    /// What every monitor recorded so far.
    pub fn monitor_info(&self) -> Vec<MonitorInfo> {
        self.monitors
            .iter()
            .map(|m| MonitorInfo {
                name: m.name.clone(),
                population: self.pops[m.pop].name.clone(),
                var: m.var.name(),
                cols: m.cols,
                every: m.every,
                samples: if m.dense { m.samples } else { 0 },
                dense: m.dense,
                events: m.events.then_some(m.n_events),
                files: m.paths(),
            })
            .collect()
    }

    /// Stream every monitor into `dir` (created) while the network runs: a dense monitor to
    /// `<name>.npy` (float32 `[samples][columns]`), a spike monitor's events to
    /// `<name>.events.npy` (int64 `[k][2]`, rows `(step, neuron)`), each flushed with a valid
    /// header at least every 10,000 steps and at the end of every run, so memory stays bounded
    /// for any duration and a run that is stopped keeps what it recorded up to its last flush.
    /// Call before the first run.
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::net::{Network, Var};
    /// let dir = std::env::temp_dir().join(format!("somata-record-doc-{}", std::process::id()));
    /// let mut net = Network::new(0.1 * ms).unwrap();
    /// let p = net.add(Lif::builder(2).v_th(1.0 * mV).build().unwrap(), "P").unwrap();
    /// net.input_constant(p, 20.0 * mA).unwrap();
    /// net.monitor_spikes("s", p, None, 1).unwrap();
    /// net.add_monitor("V", p, Var::State("V".into()), None, 1).unwrap();
    /// net.record_to(&dir).unwrap();
    /// let sum = net.run(100).unwrap();
    /// let ev = somata::io::npy_stream::read_i64_pairs(dir.join("s.events.npy")).unwrap();
    /// assert_eq!(ev.len() as u64, sum.spikes[0]);
    /// assert_eq!(somata::io::npy::read(dir.join("V.npy")).unwrap().shape, vec![100, 2]);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn record_to(&mut self, dir: impl AsRef<std::path::Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| SomataError::Io(format!("{}: {e}", dir.display())))?;
        if let Some(m) = self.monitors.iter().find(|m| m.samples > 0 || m.n_events > 0) {
            return Err(SomataError::Format(format!("monitor `{}` has recorded already: call record_to before the first run", m.name)));
        }
        self.record_dir = Some(dir.to_path_buf());
        Ok(())
    }

    /// Warnings about the network met while preparing it (e.g. neurons that start at or above
    /// threshold and so emit a spike of the initial state at step 0).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Update the populations in this order at every step (all of them, each once). Needed only
    /// with same-step projections ([`Projection::same_step`]), whose presynaptic population
    /// must come before the postsynaptic one; without this order the network finds one (the
    /// order the populations were added in, changed only where a same-step projection needs
    /// it). With projections that read the previous step only, the order does not change any
    /// result.
    pub fn update_order(&mut self, order: &[PopId]) -> Result<()> {
        let n = self.pops.len();
        let mut seen = vec![false; n];
        for p in order {
            self.check_pop(*p)?;
            if std::mem::replace(&mut seen[p.0], true) {
                return Err(SomataError::Format(format!("update order: population `{}` appears twice", self.pops[p.0].name)));
            }
        }
        if let Some(k) = seen.iter().position(|s| !s) {
            return Err(SomataError::Format(format!("update order: population `{}` is missing", self.pops[k].name)));
        }
        self.order = Some(order.iter().map(|p| p.0).collect());
        self.prepared = false;
        Ok(())
    }

    /// The order the populations update in (after the first run or [`Network::update_order`]).
    pub fn schedule(&mut self) -> Result<Vec<PopId>> {
        self.compute_schedule()?;
        Ok(self.sched.iter().map(|&p| PopId(p)).collect())
    }

    /// The population order: the user's (checked against the same-step projections), or a
    /// topological order of the same-step links that keeps the insertion order elsewhere.
    fn compute_schedule(&mut self) -> Result<()> {
        let n = self.pops.len();
        let links: Vec<(usize, usize, &str)> =
            self.projs.iter().filter(|p| p.same_step).map(|p| (p.pre, p.post, p.name.as_str())).collect();
        if let Some(order) = &self.order {
            let mut at = vec![0; n];
            order.iter().enumerate().for_each(|(k, &p)| at[p] = k);
            if let Some(&(a, b, name)) = links.iter().find(|(a, b, _)| at[*a] >= at[*b]) {
                return Err(SomataError::Format(format!(
                    "update order: same-step projection `{name}` reads `{}` in the step it updates, so `{}` must update before `{}`",
                    self.pops[a].name, self.pops[a].name, self.pops[b].name
                )));
            }
            self.sched = order.clone();
            return Ok(());
        }
        // Kahn's algorithm, always taking the earliest-added ready population
        let mut indeg = vec![0usize; n];
        for &(_, b, _) in &links {
            indeg[b] += 1;
        }
        let mut done = vec![false; n];
        let mut sched = Vec::with_capacity(n);
        while sched.len() < n {
            let Some(p) = (0..n).find(|&p| !done[p] && indeg[p] == 0) else {
                // a cycle among the rest: name it
                let rest: Vec<usize> = (0..n).filter(|&p| !done[p]).collect();
                let mut cur = rest[0];
                let mut path = vec![cur];
                while let Some(&(a, _, _)) = links.iter().find(|(a, b, _)| *b == cur && !done[*a]) {
                    if let Some(k) = path.iter().position(|&x| x == a) {
                        path = path[k..].to_vec();
                        break;
                    }
                    path.push(a);
                    cur = a;
                }
                path.reverse();
                // start at the earliest-added population of the cycle
                let k = path.iter().enumerate().min_by_key(|&(_, &p)| p).map_or(0, |(k, _)| k);
                path.rotate_left(k);
                let names: Vec<String> = path.iter().chain(path.first()).map(|&p| format!("`{}`", self.pops[p].name)).collect();
                let projs: Vec<String> = path
                    .iter()
                    .zip(path.iter().cycle().skip(1))
                    .filter_map(|(&a, &b)| links.iter().find(|l| l.0 == a && l.1 == b).map(|l| format!("`{}`", l.2)))
                    .collect();
                return Err(SomataError::Format(format!(
                    "same-step projections form a cycle {} (projections {}): a population cannot read spikes of the step it has not run yet; make one of them read the previous step (same_step = false)",
                    names.join(" → "),
                    projs.join(", ")
                )));
            };
            done[p] = true;
            sched.push(p);
            for &(a, b, _) in &links {
                if a == p {
                    indeg[b] -= 1;
                }
            }
        }
        self.sched = sched;
        Ok(())
    }

    fn prepare(&mut self) -> Result<()> {
        let dt = self.clock.dt_ms();
        self.compute_schedule()?;
        for p in &mut self.pops {
            p.pop.prepare(&self.clock)?;
        }
        for pr in &mut self.projs {
            // compiled once: the clock's dt never changes, and events in flight survive a
            // projection added between runs
            if !pr.compiled {
                pr.line = DelayLine::compile(&mut pr.delay, dt)?;
                pr.compiled = true;
            }
            pr.fast = pr.stp.is_none() && pr.line.is_none() && pr.pre_syn.is_none();
        }
        if self.clock.step() == 0 {
            // BrainPy's projections read `get_spike()` of the initial state at the first step
            for p in &mut self.pops {
                if !p.pop.spikes_of_state(&self.clock, &mut p.spk)? {
                    p.spk.iter_mut().for_each(|s| *s = 0.0);
                }
                let c = p.count;
                p.collect_active();
                p.count = c;
                if p.initial == 0 && !p.active.is_empty() {
                    p.initial = p.active.len() as u64;
                    let w = format!(
                        "population `{}`: {} of {} neurons start at or above threshold; their spike of the initial state (BrainPy's get_spike()) reaches the projections at step 0 and is recorded as an event of step -1",
                        p.name,
                        p.active.len(),
                        p.pop.n()
                    );
                    if !self.warnings.contains(&w) {
                        self.warnings.push(w);
                    }
                }
            }
        }
        self.dist_prepare()?;
        self.prepared = true;
        Ok(())
    }

    /// Run `steps` steps from the clock's current step (continuing a previous run), with no
    /// allocation per step except the monitors' growth (reserved here) and, with delays, the
    /// growth of their event slots until each has held its largest step.
    pub fn run(&mut self, steps: usize) -> Result<RunSummary> {
        self.run_with(steps, |_| {})
    }

    /// [`Network::run`] calling `progress(steps_done)` at least every 1000 steps (progress
    /// bars).
    ///
    /// Monitors held in memory are checked against the machine's available memory before the
    /// run ([`SomataError::TooLarge`] names the monitor and its bytes); monitors that stream
    /// ([`Network::record_to`]) are written at least every 10,000 steps.
    pub fn run_with(&mut self, steps: usize, mut progress: impl FnMut(usize)) -> Result<RunSummary> {
        if !self.prepared {
            self.prepare()?;
        }
        let first = self.clock.step() == 0 && self.monitors.iter().all(|m| m.samples == 0 && m.n_events == 0 && m.ev.is_empty());
        for m in &mut self.monitors {
            m.resolve(steps);
        }
        if let Some(dir) = self.record_dir.clone() {
            for m in &mut self.monitors {
                m.open(&dir)?;
            }
        } else {
            let mut budget = MemoryBudget::new();
            for m in self.monitors.iter().filter(|m| m.dense) {
                budget.take(
                    &format!(
                        "monitor `{}` ({} samples × {} columns held in memory; stream it to files with record_to or `somata run --out`)",
                        m.name,
                        steps.div_ceil(m.every),
                        m.cols
                    ),
                    m.dense_bytes(steps),
                )?;
            }
        }
        if first {
            for m in self.monitors.iter_mut().filter(|m| m.events) {
                let active = &self.pops[m.pop].active;
                if !active.is_empty() {
                    m.push_events(-1, active);
                }
            }
        }
        // segments: monitors are flushed after each, the fused runner restarts with the state
        let per_step: usize = self.monitors.iter().filter(|m| m.dense).map(|m| (m.cols * 4).div_ceil(m.every)).sum();
        let seg = if self.record_dir.is_some() { ((32usize << 20) / per_step.max(1)).clamp(1, 10_000) } else { 10_000 };
        let counts0: Vec<u64> = self.pops.iter().map(|p| p.count).collect();
        let events0: u64 = self.projs.iter().map(|p| p.events).sum();
        let mut done = 0;
        let mut fused_threads = None;
        while done < steps {
            let n = seg.min(steps - done);
            for m in self.monitors.iter_mut().filter(|m| m.dense) {
                let more = n.div_ceil(m.every) * m.cols;
                m.data.try_reserve(more).map_err(|_| SomataError::TooLarge {
                    what: format!("monitor `{}`", m.name),
                    bytes: more as u64 * 4,
                    total: more as u64 * 4,
                    available: available_memory().unwrap_or(0),
                    text: format!("monitor `{}` could not grow by {}", m.name, human_bytes(more as u64 * 4)),
                })?;
            }
            let fused = self.run_fused(n, &mut |k| progress(done + k))?;
            if fused.is_none() {
                for k in 0..n {
                    self.step_once()?;
                    if (k + 1) % 1000 == 0 {
                        progress(done + k + 1);
                    }
                }
            } else {
                fused_threads = fused;
            }
            for m in &mut self.monitors {
                m.flush()?;
            }
            done += n;
            progress(done);
        }
        if steps == 0 {
            progress(0);
        }
        let t_s = steps as f64 * self.clock.dt_ms() * 1e-3;
        let mut spikes: Vec<u64> = self.pops.iter().zip(&counts0).map(|(p, c)| p.count - c).collect();
        let mut initial_spikes: Vec<u64> = self.pops.iter().map(|p| if first { p.initial } else { 0 }).collect();
        let mut synaptic_events = self.projs.iter().map(|p| p.events).sum::<u64>() - events0;
        if self.dist.is_some() {
            self.dist_totals(&mut spikes, &mut initial_spikes, &mut synaptic_events)?;
        }
        Ok(RunSummary {
            steps,
            names: self.names(),
            rates_hz: self
                .pops
                .iter()
                .zip(&spikes)
                .map(|(p, &c)| {
                    let n = p.win.as_ref().map_or(p.pop.n(), |w| w.n);
                    if t_s > 0.0 {
                        c as f64 / (n as f64 * t_s)
                    } else {
                        0.0
                    }
                })
                .collect(),
            spikes,
            initial_spikes,
            synaptic_events,
            fused: fused_threads.is_some(),
            threads: fused_threads.unwrap_or(1),
        })
    }

    fn step_once(&mut self) -> Result<()> {
        let step = self.clock.step();
        let dt = self.clock.dt_ms() as f32;
        if self.dist.is_some() {
            self.dist_inject(step);
        }
        // 1. projections that read the previous step's spikes
        for pr in &mut self.projs {
            if !pr.same_step {
                run_proj(pr, &mut self.pops, step, dt);
            }
        }
        // 2. gap junctions, from the states at the start of the step
        for gj in &mut self.gaps {
            let a = self.pops[gj.pre].pop.state(&gj.pre_state)?;
            let b = self.pops[gj.post].pop.state(&gj.post_state)?;
            for ((d, &i), &j) in gj.diff.iter_mut().zip(&gj.pre_ids).zip(&gj.post_ids) {
                *d = a[i as usize] - b[j as usize];
            }
            let post = &mut self.pops[gj.post].gap;
            if gj.w_post.len() == 1 {
                let w = gj.w_post[0];
                gj.diff.iter().zip(&gj.post_ids).for_each(|(&d, &j)| post[j as usize] += d * w);
            } else {
                gj.diff.iter().zip(&gj.post_ids).zip(&gj.w_post).for_each(|((&d, &j), &w)| post[j as usize] += d * w);
            }
            let pre = &mut self.pops[gj.pre].gap;
            if gj.w_pre.len() == 1 {
                let w = gj.w_pre[0];
                gj.diff.iter().zip(&gj.pre_ids).for_each(|(&d, &i)| pre[i as usize] -= d * w);
            } else {
                gj.diff.iter().zip(&gj.pre_ids).zip(&gj.w_pre).for_each(|((&d, &i), &w)| pre[i as usize] -= d * w);
            }
        }
        // 3. populations, in the schedule's order; a same-step projection runs just before its
        //    postsynaptic population, after its presynaptic one has updated
        for k in 0..self.sched.len() {
            let pi = self.sched[k];
            for pr in &mut self.projs {
                if pr.same_step && pr.post == pi {
                    run_proj(pr, &mut self.pops, step, dt);
                }
            }
            update_pop(&mut self.pops[pi], &self.clock, self.check_finite)?;
        }
        if self.dist.is_some() {
            self.dist_collect(step);
        }
        // 4. monitors
        for m in &mut self.monitors {
            if !(step as usize).is_multiple_of(m.every) {
                continue;
            }
            if m.events {
                m.push_events(step as i64, &self.pops[m.pop].active);
            }
            if m.dense {
                let src = source(&m.src, &self.pops, &self.projs, m.pop)?;
                match &m.neurons {
                    None => m.data.extend_from_slice(src),
                    Some(ix) => m.data.extend(ix.iter().map(|&i| src[i])),
                }
                m.samples += 1;
            }
        }
        if self.dist.is_some() {
            self.dist_end_step(step)?;
        }
        self.clock.advance();
        Ok(())
    }
}

/// The values a monitor reads.
fn source<'a>(src: &Src, pops: &'a [PopEntry], projs: &'a [Proj], pop: usize) -> Result<&'a [f32]> {
    let p = &pops[pop];
    Ok(match src {
        Src::Spike => &p.spk,
        Src::State(s) => p.pop.state(s)?,
        Src::ChanG(c) => p.channels[*c].conductance(),
        Src::ChanI(c) => &p.channels[*c].last_i,
        Src::ChanSyn(c, k) => p.channels[*c].syn.as_ref().map_or(&[][..], |s| s.state(*k)),
        Src::PreSyn(q, k) => projs[*q].pre_syn.as_ref().map_or(&[][..], |s| s.state(*k)),
        Src::Stp(q, k) => projs[*q].stp.as_ref().map_or(&[][..], |s| s.state(*k)),
        Src::Ext => &p.last_ext,
        Src::Gap => &p.last_gap,
    })
}

/// One projection's step: the presynaptic population's current spikes (the previous step's, or
/// this step's for a same-step projection that runs after its `pre` updated) through STP, the
/// delay and the connectivity into the target's buffer.
#[inline]
fn run_proj(pr: &mut Proj, pops: &mut [PopEntry], step: u64, dt: f32) {
    if pr.fast {
        // event-driven: only the rows of the neurons that spiked
        let (pre, post) = if pr.pre == pr.post {
            let p = &mut pops[pr.pre];
            (None, p)
        } else {
            let (a, b) = if pr.pre < pr.post {
                let (l, r) = pops.split_at_mut(pr.post);
                (&l[pr.pre], &mut r[0])
            } else {
                let (l, r) = pops.split_at_mut(pr.pre);
                (&r[0], &mut l[pr.post])
            };
            (Some(a), b)
        };
        let (active, spk): (&[u32], &[f32]) = match pre {
            Some(a) => a.pre_spikes(),
            None => match &post.win {
                Some(w) => (&w.active, &w.spk),
                None => (&post.active, &post.spk),
            },
        };
        let lo = active.partition_point(|&i| (i as usize) < pr.range.start);
        let hi = active.partition_point(|&i| (i as usize) < pr.range.end);
        let dst = match &pr.target {
            Target::Channel(c) => &mut post.channels[*c].buf,
            Target::Delta(s) => &mut post.deltas.iter_mut().find(|(n, _)| n == s).expect("delta target registered").1,
        };
        let mut ev = 0;
        for &i in &active[lo..hi] {
            ev += pr.conn.propagate_row(i as usize - pr.range.start, spk[i as usize], dst);
        }
        pr.events += ev as u64;
        return;
    }
    if let Some(line) = pr.line.as_mut() {
        // delayed: push this step's values (event-driven), deliver what arrives now
        let pre = &pops[pr.pre];
        let mut ev = 0;
        if let Some(stp) = pr.stp.as_mut() {
            pr.scratch.copy_from_slice(&pre.pre_spikes().1[pr.range.clone()]);
            let out = stp.update(step, dt, &pr.scratch);
            for (i, &s) in out.iter().enumerate() {
                if s != 0.0 {
                    ev += line.push(&pr.conn, i, s);
                }
            }
        } else if let Some(w) = &pre.win {
            // spread over ranks: the spikes the exchange delivered at this step, each pushed
            // with the lag it waited
            for &(s, i, v) in &w.arrived {
                if pr.range.contains(&(i as usize)) {
                    let lag = (step as i64 - s - 1) as usize;
                    ev += line.push_late(&pr.conn, i as usize - pr.range.start, v, lag);
                }
            }
        } else {
            let lo = pre.active.partition_point(|&i| (i as usize) < pr.range.start);
            let hi = pre.active.partition_point(|&i| (i as usize) < pr.range.end);
            for &i in &pre.active[lo..hi] {
                ev += line.push(&pr.conn, i as usize - pr.range.start, pre.spk[i as usize]);
            }
        }
        let dst = target_buf(&mut pops[pr.post], &pr.target);
        ev += line.deliver(&pr.conn, pr.pre_syn.as_mut(), &mut pr.scratch, step, dt, dst);
        pr.events += ev as u64;
        return;
    }
    pr.scratch.copy_from_slice(&pops[pr.pre].pre_spikes().1[pr.range.clone()]);
    if let Some(stp) = pr.stp.as_mut() {
        let out = stp.update(step, dt, &pr.scratch);
        pr.scratch.copy_from_slice(out);
    }
    let x: &[f32] = match pr.pre_syn.as_mut() {
        Some(syn) => syn.update(step, dt, &pr.scratch),
        None => &pr.scratch,
    };
    let dst = target_buf(&mut pops[pr.post], &pr.target);
    pr.events += pr.conn.propagate(x, dst) as u64;
}

/// One population's step: inputs, synapses and outputs, the neuron, delta inputs, spikes.
#[inline]
fn update_pop(p: &mut PopEntry, clock: &Clock, check_finite: bool) -> Result<()> {
    let step = clock.step();
    let dt = clock.dt_ms() as f32;
    let n = p.pop.n();
    p.i.iter_mut().for_each(|v| *v = 0.0);
    for inp in &mut p.inputs {
        match inp {
            ExtInput::Constant(v) if v.len() == 1 => {
                let c = v[0];
                p.i.iter_mut().for_each(|x| *x += c);
            }
            ExtInput::Constant(v) => p.i.iter_mut().zip(v.iter()).for_each(|(x, c)| *x += c),
            ExtInput::PerStep { data, steps } => {
                if (step as usize) < *steps {
                    let row = &data[step as usize * n..(step as usize + 1) * n];
                    p.i.iter_mut().zip(row).for_each(|(x, c)| *x += c);
                }
            }
            // the clock's dt in f64, as a generator run on its own gets it
            ExtInput::Generator(f) => {
                f(step, clock.dt_ms(), &mut p.i);
                // constant and per-step inputs are checked when added; a generator, here
                if let Some(j) = p.i.iter().position(|v| !v.is_finite()) {
                    return Err(SomataError::NonFiniteInput {
                        layer: p.name.clone(),
                        model: p.pop.model_name().into(),
                        what: "external input (a generator)".into(),
                        step,
                        batch: 0,
                        neuron: j,
                        value: format!("{}", p.i[j]),
                    });
                }
            }
            // applied to the state below, just before the update
            ExtInput::OnState { .. } => {}
        }
    }
    for inp in &mut p.inputs {
        if let ExtInput::OnState { state, generator, buf } = inp {
            buf.iter_mut().for_each(|v| *v = 0.0);
            generator(step, clock.dt_ms(), buf);
            if let Some(j) = buf.iter().position(|v| !v.is_finite()) {
                return Err(SomataError::NonFiniteInput {
                    layer: p.name.clone(),
                    model: p.pop.model_name().into(),
                    what: format!("input onto state {state} (a generator)"),
                    step,
                    batch: 0,
                    neuron: j,
                    value: format!("{}", buf[j]),
                });
            }
            let st = p.pop.state_mut(state)?;
            st.iter_mut().zip(buf.iter()).for_each(|(s, d)| *s += d);
        }
    }
    if !p.last_ext.is_empty() {
        p.last_ext.copy_from_slice(&p.i);
    }
    if !p.gap.is_empty() {
        if !p.last_gap.is_empty() {
            p.last_gap.copy_from_slice(&p.gap);
        }
        p.i.iter_mut().zip(p.gap.iter_mut()).for_each(|(i, g)| {
            *i += *g;
            *g = 0.0;
        });
    }
    if p.has_cond {
        p.g.iter_mut().for_each(|v| *v = 0.0);
    }
    let need_v = p
        .channels
        .iter()
        .any(|c| matches!(c.out, Output::MgBlock { .. }) || (!c.last_i.is_empty() && !matches!(c.out, Output::Cuba { .. })));
    let v_now = if need_v { Some(p.pop.state("V")?) } else { None };
    for ch in &mut p.channels {
        if let (Some(ex), Output::Coba { e }) = (ch.syn.as_mut().and_then(|s| s.as_expon_mut()), ch.out) {
            // fused: decay + delta input (Expon's exact arithmetic), COBA sums, and the
            // delta buffer cleared, in one pass
            let tau = ex.tau as f32;
            let k = (dt * (-1.0 / tau)).exprel();
            expon_coba(&mut ex.g, &mut ch.buf, &mut p.i, &mut p.g, [k, dt, tau, e as f32]);
            if !ch.last_i.is_empty() {
                let (e, v) = (e as f32, v_now.expect("V read above"));
                ch.last_i.iter_mut().zip(&ex.g).zip(v).for_each(|((o, &g), &vv)| *o = g * (e - vv));
            }
            continue;
        }
        let gk: &[f32] = match ch.syn.as_mut() {
            Some(syn) => {
                let g = syn.update(step, dt, &ch.buf);
                ch.buf.iter_mut().for_each(|v| *v = 0.0);
                if !ch.last_g.is_empty() {
                    ch.last_g.copy_from_slice(g);
                }
                g
            }
            None => &ch.buf,
        };
        match ch.out {
            Output::Coba { e } => {
                coba_acc(&mut p.i, &mut p.g, gk, e as f32);
                if !ch.last_i.is_empty() {
                    let (e, v) = (e as f32, v_now.expect("V read above"));
                    ch.last_i.iter_mut().zip(gk).zip(v).for_each(|((o, &g), &vv)| *o = g * (e - vv));
                }
            }
            Output::Cuba { scale } => {
                cuba_acc(&mut p.i, gk, scale as f32);
                if !ch.last_i.is_empty() {
                    let s = scale as f32;
                    ch.last_i.iter_mut().zip(gk).for_each(|(o, &g)| *o = g * s);
                }
            }
            Output::MgBlock { e, cc_mg, alpha, beta, v_offset } => {
                let v = v_now.expect("V read above");
                let (e, k, a, vo) = (e as f32, (cc_mg / beta) as f32, alpha as f32, v_offset as f32);
                let want_i = !ch.last_i.is_empty();
                for (j, (((i, g), &gv), &vv)) in p.i.iter_mut().zip(p.g.iter_mut()).zip(gk).zip(v).enumerate() {
                    let ge = gv / (1.0 + k * (a * (vo - vv)).exp());
                    *i += ge * e;
                    *g += ge;
                    if want_i {
                        ch.last_i[j] = ge * (e - vv);
                    }
                }
            }
        }
        if ch.syn.is_none() {
            ch.last_g.copy_from_slice(&ch.buf);
            ch.buf.iter_mut().for_each(|v| *v = 0.0);
        }
    }
    let g = if p.has_cond { Some(&p.g[..]) } else { None };
    p.pop.step(clock, &p.i, g, &mut p.spk).map_err(|e| match e {
        SomataError::Diverged { model, variable, step, neuron, value, .. } => {
            SomataError::Diverged { model: format!("{} (population {})", model, p.name), variable, step, batch: 0, neuron, value }
        }
        other => other,
    })?;
    if !p.deltas.is_empty() {
        for (name, buf) in &mut p.deltas {
            let st = p.pop.state_mut(name)?;
            st.iter_mut().zip(buf.iter_mut()).for_each(|(s, d)| {
                *s += *d;
                *d = 0.0;
            });
        }
        // the spike is read from the V that includes the delta input
        p.pop.spikes_of_state(clock, &mut p.spk)?;
    }
    if check_finite {
        for name in p.pop.state_names() {
            let st = p.pop.state(name)?;
            if let Some(j) = st.iter().position(|v| !v.is_finite()) {
                return Err(SomataError::Diverged {
                    model: format!("{} (population {})", p.pop.model_name(), p.name),
                    variable: name.into(),
                    step: step as usize,
                    batch: 0,
                    neuron: j,
                    value: format!("{}", st[j]),
                });
            }
        }
    }
    p.collect_active();
    Ok(())
}
