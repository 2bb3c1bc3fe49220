//! Reference networks: the Brette et al. (2007) benchmarks as BrainPy's examples build them.

use super::{Conn, Network, Output, PopId, ProjKind, Projection};
use crate::engine::Build;
use crate::error::Result;
use crate::init::Init;
use crate::neurons::LifRef;
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
            .init("V", Init::Normal { mean: -55.0, std: v_std })
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
            let conn = Conn::fixed_prob(n_pre, n_post, p, wv, c.seed.wrapping_mul(31).wrapping_add(k))?;
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
    net.input_constant(pops.0, 20.0)?;
    net.input_constant(pops.1, 20.0)?;
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
