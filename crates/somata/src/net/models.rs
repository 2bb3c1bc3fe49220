//! Reference networks: the Brette et al. (2007) benchmarks as BrainPy's examples build them
//! ([`coba`], [`cuba`], [`coba_hh`]).

use super::{Conn, Network, Output, PopId, ProjKind, Projection};
use crate::engine::Build;
use crate::error::Result;
use crate::init::Init;
use crate::neurons::{LifRef, TraubHh};
use crate::units::{mV, ms, ohm};

/// The sizes and seed of an E/I benchmark network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EiConfig {
    /// Excitatory neurons (default 3200).
    pub n_exc: usize,
    /// Inhibitory neurons (default 800).
    pub n_inh: usize,
    /// Expected number of synapses each neuron receives from the whole network (default 80,
    /// i.e. connection probability 80/N = 2% at N = 4000).
    pub in_degree: f64,
    /// Seed of the connectivity and the initial potentials.
    pub seed: u64,
}

impl Default for EiConfig {
    fn default() -> Self {
        EiConfig { n_exc: 3200, n_inh: 800, in_degree: 80.0, seed: 42 }
    }
}

impl EiConfig {
    /// `n` neurons (80% excitatory), the default in-degree.
    pub fn with_size(n: usize) -> EiConfig {
        EiConfig { n_exc: n * 4 / 5, n_inh: n - n * 4 / 5, ..Default::default() }
    }
    fn p(&self) -> f64 {
        (self.in_degree / (self.n_exc + self.n_inh) as f64).min(1.0)
    }
}

fn lif_pops(net: &mut Network, c: &EiConfig, v_rest: f64, v_std: f64) -> Result<(PopId, PopId)> {
    let mk = |n: usize, seed: u64| {
        LifRef::builder(n)
            .v_rest(v_rest * mV)
            .v_th(-50.0 * mV)
            .v_reset(-60.0 * mV)
            .tau(20.0 * ms)
            .tau_ref(5.0 * ms)
            .r(1.0 * ohm)
            .init_with("V", Init::normal_q(-55.0 * crate::units::mV, v_std * crate::units::mV))
            .seed(seed)
            .build()
    };
    let e = net.add(mk(c.n_exc, c.seed)?, "E")?;
    let i = net.add(mk(c.n_inh, c.seed.wrapping_add(1))?, "I")?;
    Ok((e, i))
}

fn expon(tau: f64) -> Result<Box<dyn crate::synapse::Synapse>> {
    let mut s = crate::synapse::by_name("Expon")?;
    s.set_param("tau", tau)?;
    Ok(s)
}

fn ei_projections(net: &mut Network, c: &EiConfig, (e, i): (PopId, PopId), w: (f64, f64), out: (Output, Output)) -> Result<()> {
    let p = c.p();
    let mut k = 10u64;
    for (pre, tau, wv, o, tag) in [(e, 5.0, w.0, out.0, "E"), (i, 10.0, w.1, out.1, "I")] {
        for post in [e, i] {
            k += 1;
            let (n_pre, n_post) = (net.size(pre), net.size(post));
            let conn = Conn::fixed_prob(n_pre, n_post, p, wv * crate::units::siemens, c.seed.wrapping_mul(31).wrapping_add(k))?;
            let name = format!("{tag}→{}", if post == e { "E" } else { "I" });
            net.connect(Projection::new(pre, post, conn, ProjKind::AlignPost { syn: expon(tau)?, out: o }).name(name))?;
        }
    }
    Ok(())
}

/// COBA (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1), as BrainPy's example: LIFRef
/// neurons (V_rest −60, V_th −50, V_reset −60 mV, τ 20 ms, τ_ref 5 ms, R 1 Ω, V₀ ~ N(−55, 2) mV),
/// constant input 20 mA, exponential conductances (τ 5 ms, E 0 mV, weight 0.6 S from excitatory
/// neurons; τ 10 ms, E −80 mV, weight 6.7 S from inhibitory ones; weights in units of the leak
/// conductance 1/R), each pair connected with probability `in_degree/N`. dt 0.1 ms. Fires at
/// about 15–25 Hz.
///
/// ```
/// use somata::net::models::{coba, EiConfig};
/// let mut net = coba(&EiConfig::with_size(400)).unwrap();
/// let s = net.run(100).unwrap(); // 10 ms
/// assert_eq!(s.names, ["E", "I"]);
/// ```
pub fn coba(c: &EiConfig) -> Result<Network> {
    let mut net = Network::new(0.1 * ms)?;
    let pops = lif_pops(&mut net, c, -60.0, 2.0)?;
    ei_projections(&mut net, c, pops, (0.6, 6.7), (Output::Coba { e: 0.0 }, Output::Coba { e: -80.0 }))?;
    net.input_constant(pops.0, 20.0 * crate::units::mA)?;
    net.input_constant(pops.1, 20.0 * crate::units::mA)?;
    Ok(net)
}

/// CUBA (Brette et al. 2007, benchmark 2), as BrainPy's example: LIFRef neurons with V_rest
/// −49 mV (above threshold: the drive), V₀ ~ N(−55, 5) mV, current synapses (Expon τ 5/10 ms,
/// CUBA output with BrainPy's scale 1 V, weights 1.62 mS and −9 mS), no external input.
pub fn cuba(c: &EiConfig) -> Result<Network> {
    let mut net = Network::new(0.1 * ms)?;
    let pops = lif_pops(&mut net, c, -49.0, 5.0)?;
    ei_projections(&mut net, c, pops, (1.62e-3, -9.0e-3), (Output::CUBA, Output::CUBA))?;
    Ok(net)
}

/// COBA-HH (Brette et al. 2007, benchmark 3), as BrainPy's COBA-HH example: Traub–Miles HH
/// neurons ([`TraubHh`]: 20,000 µm², C 0.2 nF, g_L 10 nS, g_Na 20 µS, g_Kd 6 µS, E_L −60,
/// E_Na 50, E_K −90, VT −63 mV, spike at the rising edge through −20 mV), exponential
/// conductances (τ 5 ms, E 0 mV, weight 6 nS from excitatory neurons; τ 10 ms, E −80 mV,
/// weight 67 nS from inhibitory ones), each pair connected with probability `in_degree/N`
/// (2% at the default 4000 neurons: 3200 E, 800 I), no external input, initial state
/// V₀ ~ N(−65, 5) mV and m = h = n = 0 (BrainPy's). dt 0.1 ms. Over 1 s of the default network
/// (seed 42) both populations fire asynchronously, E at 41.9 Hz and I at 38.2 Hz
/// (`tests/all/traub.rs`). With these parameters an unconnected neuron fires at 13 Hz on its own
/// (its sodium window current at E_L = −60 mV outweighs the leak: without input it has no
/// stable rest), so the network shapes an intrinsic activity rather than sustaining one. Exponential Euler at 0.1 ms lengthens a
/// single neuron's spike period by about 9% against converged dynamics (`tests/all/traub.rs`): at
/// dt 0.01 ms the same network fires at 48.5 and 43.9 Hz.
///
/// BrainPy's example differs in two places that are noted rather than copied: its leak reads
/// `5 nS/cm²·area` (1 pS; Brette et al. and Brian have 5e-5 S/cm², 10 nS, used here), and it
/// runs at dt 0.04 ms (this network runs at 0.1 ms, as [`coba`] and [`cuba`]).
/// BrainPy keeps one population of 4000 with two presynaptic slices; here `E` and `I` are two
/// populations with four projections, the same network (projections onto a population with
/// the same synapse and output share one conductance, as BrainPy merges them).
///
/// ```
/// use somata::net::models::{coba_hh, EiConfig};
/// let mut net = coba_hh(&EiConfig::with_size(400)).unwrap();
/// let s = net.run(100).unwrap(); // 10 ms
/// assert_eq!(s.names, ["E", "I"]);
/// ```
pub fn coba_hh(c: &EiConfig) -> Result<Network> {
    let mut net = Network::new(0.1 * ms)?;
    let mk = |n: usize, seed: u64| {
        TraubHh::builder(n)
            .init_with("V", Init::normal_q(-65.0 * crate::units::mV, 5.0 * crate::units::mV))
            .init("m", Init::Constant(0.0))
            .init("h", Init::Constant(0.0))
            .init("n", Init::Constant(0.0))
            .seed(seed)
            .build()
    };
    let e = net.add(mk(c.n_exc, c.seed)?, "E")?;
    let i = net.add(mk(c.n_inh, c.seed.wrapping_add(1))?, "I")?;
    // 6 nS and 67 nS, in S
    ei_projections(&mut net, c, (e, i), (6e-9, 67e-9), (Output::Coba { e: 0.0 }, Output::Coba { e: -80.0 }))?;
    Ok(net)
}
