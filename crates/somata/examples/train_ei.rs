//! Train a recurrent E/I spiking network with conductance (COBA) synapses by BPTT on the
//! embedded handwritten digits, presented as Poisson spike trains.
//!
//! ```text
//! 64 Poisson channels ──Expon, CUBA──▶ E (80 LIF) ◀──Expon, COBA E = 0 mV (sparse, 1-step delay)──┐
//!                     └─Expon, CUBA──▶ I (20 LIF)                                                  │
//! E ──COBA E = 0 mV──▶ E, I      I ──COBA E = −80 mV──▶ E, I      E spikes ──▶ membrane readout (10)
//! ```
//!
//! Dale's law holds for E and I (their weights are `|θ|`: conductances, the sign of each
//! population's effect is its reversal potential). Trained: every weight, the synaptic time
//! constant of every projection, the membrane time constant of E and I, and the readout.
//! 1437 training and 360 held-out digits (8×8 pixels in [0, 1], 200 Hz at full intensity),
//! 30 steps of 1 ms, batches of 64, Adam.
//!
//! Run: `cargo run --release --example train_ei` (about a minute on 2 cores); the accuracy
//! reached is recorded in `docs/training.md` ("Training a network of populations").

use somata::data::{digits, encode::poisson};
use somata::init::Rng;
use somata::net::Output;
use somata::nn::{Dale, LeakyMembraneReadout, Loss, NetProj, NetReadout, Reduce, SeqBuf, Sequential, Source, SpikingNetwork, SynKind};
use somata::optim::{Adam, Optimizer};
use somata::prelude::*;

const STEPS: usize = 30;
const BATCH: usize = 64;
const N_E: usize = 80;
const N_I: usize = 20;
const EPOCHS: usize = 15;

fn lif(n: usize) -> Result<NeuronLayer<Lif, f32>> {
    Lif::builder(n)
        .v_rest(-60.0 * mV)
        .v_reset(-60.0 * mV)
        .v_th(-50.0 * mV)
        .tau(10.0 * ms)
        .init("V", Init::Uniform { low: -60.0, high: -52.0 })
        .spk_fun(Sigmoid::default())
        .build()
}

fn network() -> Result<SpikingNetwork<f32>> {
    let mut net = SpikingNetwork::<f32>::new(64);
    let e = net.add_pop(lif(N_E)?, "E")?;
    let i = net.add_pop(lif(N_I)?, "I")?;
    net.dale(e, Dale::Excitatory)?;
    net.dale(i, Dale::Inhibitory)?;
    net.train(e, "tau")?;
    net.train(i, "tau")?;
    let syn = SynKind::Expon { tau: 5.0 };
    let (exc, inh) = (Output::Coba { e: 0.0 }, Output::Coba { e: -80.0 });
    // input currents (mA per spike, free sign), then the E/I conductances (S per spike)
    net.connect(NetProj::new(Source::Input, e, syn, Output::Cuba { scale: 1.0 }).init(2.0, 1).train_tau(true))?;
    net.connect(NetProj::new(Source::Input, i, syn, Output::Cuba { scale: 1.0 }).init(2.0, 2).train_tau(true))?;
    net.connect(NetProj::new(e, e, syn, exc).prob(0.2, 3).init(0.02, 3).delay_steps(1).train_tau(true))?;
    net.connect(NetProj::new(e, i, syn, exc).prob(0.5, 4).init(0.02, 4).train_tau(true))?;
    net.connect(NetProj::new(i, e, syn, inh).prob(0.5, 5).init(0.03, 5).train_tau(true))?;
    net.connect(NetProj::new(i, i, syn, inh).prob(0.5, 6).init(0.02, 6).train_tau(true))?;
    net.output(e, NetReadout::Spikes)?;
    Ok(net)
}

fn main() -> somata::Result<()> {
    let data = digits();
    let (train, test) = data.split(0.2, 0);
    let ei = network()?;
    println!("{}", ei.describe());
    let mut model = Sequential::new(1.0 * ms).push(ei).push(LeakyMembraneReadout::new(N_E, 10, 7).tau(10.0 * ms)?);
    let loss = Loss::CrossEntropy(Reduce::Max);
    // conductances (~0.02 S) and the rest (currents ~1 mA, time constants ~10 ms) take steps of
    // their own size: two Adam optimizers over the two groups
    let cond: Vec<bool> = {
        let ps = model.params();
        // population taus (2), then W (+ tau_syn) per projection: the last four projections' W
        let mut k = 0;
        ps.iter()
            .map(|p| {
                if p.name == "W" {
                    k += 1;
                    (3..=6).contains(&k)
                } else {
                    false
                }
            })
            .collect()
    };
    let mut opt_g = Adam::new(1e-3);
    let mut opt = Adam::new(5e-3);
    let mut rng = Rng::new(42);
    let evaluate = |model: &mut Sequential, rng: &mut Rng| -> somata::Result<f64> {
        let mut right = 0;
        for b in test.batches(BATCH, None) {
            let n = b.labels.len();
            let x = poisson(&b.features, 64, STEPS, 200.0 * Hz, 1.0 * ms, rng)?;
            let y = model.forward(&SeqBuf::dense(x, STEPS, n, 64))?;
            right += loss.predict(&y).iter().zip(&b.labels).filter(|(p, l)| p == l).count();
        }
        Ok(right as f64 / test.len() as f64)
    };
    let t0 = std::time::Instant::now();
    println!("before training: test accuracy {:.3}", evaluate(&mut model, &mut Rng::new(1))?);
    for epoch in 0..EPOCHS {
        let (mut sum, mut nb, mut spikes) = (0.0, 0, 0.0f64);
        for b in train.batches(BATCH, Some(epoch as u64)) {
            let n = b.labels.len();
            let x = poisson(&b.features, 64, STEPS, 200.0 * Hz, 1.0 * ms, &mut rng)?;
            let outs = model.forward_all(&SeqBuf::dense(x, STEPS, n, 64))?;
            spikes += outs[0].data.iter().map(|&v| v as f64).sum::<f64>() / (n * N_E) as f64;
            let (l, g) = loss.eval(&outs[1], &b.labels)?;
            model.zero_grad();
            model.backward(&g)?;
            let mut ps = model.params();
            let (mut vg, mut gg, mut vo, mut go) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (p, &c) in ps.iter_mut().zip(&cond) {
                if c {
                    vg.push(&mut *p.value);
                    gg.push(&*p.grad);
                } else {
                    vo.push(&mut *p.value);
                    go.push(&*p.grad);
                }
            }
            opt_g.step(&mut vg, &gg)?;
            opt.step(&mut vo, &go)?;
            sum += l;
            nb += 1;
        }
        let acc = evaluate(&mut model, &mut Rng::new(1))?;
        let rate = spikes / nb as f64 / STEPS as f64 * 1000.0;
        println!(
            "epoch {}: loss {:.3}, E rate {rate:.1} Hz, test accuracy {acc:.3}  ({:.0} s)",
            epoch + 1,
            sum / nb as f64,
            t0.elapsed().as_secs_f64()
        );
    }
    let taus: Vec<String> =
        model.params().iter().filter(|p| p.name.starts_with("tau")).map(|p| format!("{}={:.2}", p.name, p.value[0])).collect();
    println!("trained time constants (ms): {}", taus.join(", "));
    Ok(())
}
