//! The seed page's third example, `SpikingNet`: LIF → Linear → ALIF → Linear → LIF, written two
//! ways and trained for a few steps on the embedded digits (64 pixels instead of 784):
//!
//! * (a) as the seed writes it: a struct whose fields are layers, run step by step with `update`;
//! * (b) as a [`Sequential`] run over whole sequences (layer after layer over all time steps,
//!   the fast path), trained by BPTT with no backward written.
//!
//! Both give the same spikes (tests/nn.rs). The Linear outputs are read by the next neuron layer
//! in its input unit (mA), as BrainPy's example does with `* u.mA` — here without the unit trap
//! of the seed's own example (spec §11): the unit is the layer's documented input unit.
//!
//! Run: `cargo run --release --example spiking_net`

use somata::engine::NeuronLayer;
use somata::nn::{Linear, Loss, Neurons, Reduce, SeqBuf, Sequential};
use somata::optim::{Adam, Optimizer};
use somata::prelude::*;

/// The seed's `SpikingNet`, step by step.
pub struct SpikingNet {
    /// `LIF(64, tau=5 ms)`
    pub layer1: NeuronLayer<Lif>,
    /// `Linear(64, 256)`
    pub fc1: Linear,
    /// `ALIF(256, tau=10 ms, tau_a=200 ms)`
    pub layer2: NeuronLayer<Alif>,
    /// `Linear(256, 10)`
    pub fc2: Linear,
    /// `LIF(10, tau=8 ms)`
    pub layer3: NeuronLayer<Lif>,
}

impl SpikingNet {
    /// Build with seeded weights. The surrogate is `Arctan(alpha=2)` instead of the built-in
    /// models' default `ReluGrad()`: ReluGrad is zero outside |x| < 1, so an output layer that
    /// is still silent at the start of training would pass no gradient at all.
    pub fn new(seed: u64) -> somata::Result<SpikingNet> {
        let sg = || Arctan { alpha: 2.0 };
        // KaimingNormal keeps the variance of a ReLU network; spikes are sparser, so the output
        // layer starts silent (zero loss change) unless its weights get a gain
        let mut fc2 = Linear::new(256, 10, seed + 1);
        fc2.w.iter_mut().for_each(|w| *w *= 5.0);
        Ok(SpikingNet {
            layer1: Lif::builder(64).tau(5.0 * ms).spk_fun(sg()).build()?,
            fc1: Linear::new(64, 256, seed),
            layer2: Alif::builder(256).tau(10.0 * ms).tau_a(200.0 * ms).spk_fun(sg()).build()?,
            fc2,
            layer3: Lif::builder(10).tau(8.0 * ms).spk_fun(sg()).build()?,
        })
    }
    /// `init_state(batch)` of every layer.
    pub fn init_state(&mut self, batch: usize) -> somata::Result<()> {
        self.layer1.init_state(Some(batch))?;
        self.layer2.init_state(Some(batch))?;
        self.layer3.init_state(Some(batch))
    }
    /// One time step (`__call__`): `x` is `batch × 64`, in mA.
    pub fn update(&mut self, clock: &Clock, x: &[f32]) -> somata::Result<Vec<f32>> {
        let spikes1 = self.layer1.update(clock, x)?;
        let x1 = self.fc1.apply(spikes1.as_slice().expect("contiguous"))?;
        let spikes2 = self.layer2.update(clock, &x1)?;
        let x2 = self.fc2.apply(spikes2.as_slice().expect("contiguous"))?;
        let spikes3 = self.layer3.update(clock, &x2)?;
        Ok(spikes3.iter().copied().collect())
    }
    /// The same network as a [`Sequential`] (weights copied), for BPTT over whole sequences.
    pub fn to_sequential(&self, dt: Time) -> Sequential {
        Sequential::new(dt)
            .push(Neurons::new(self.layer1.clone()))
            .push(self.fc1.clone())
            .push(Neurons::new(self.layer2.clone()))
            .push(self.fc2.clone())
            .push(Neurons::new(self.layer3.clone()))
    }
}

/// Train (b) for `iters` batches of 32 digits at T = 25 steps of 1 ms; returns the losses.
pub fn train(iters: usize) -> somata::Result<Vec<f64>> {
    let data = somata::data::digits();
    let net = SpikingNet::new(0)?;
    let mut seq = net.to_sequential(1.0 * ms);
    let mut opt = Adam::new(2e-3);
    let loss = Loss::CrossEntropy(Reduce::Sum); // on output spike counts
    let (t, b) = (25, 32);
    let mut losses = Vec::new();
    for it in 0..iters {
        let idx: Vec<usize> = (0..b).map(|k| (it * b + k * 37) % data.len()).collect();
        let (f, labels) = data.gather(&idx);
        let x = SeqBuf::constant(f.iter().map(|v| 8.0 * v).collect(), t, b, 64); // direct current, mA
        let y = seq.forward(&x)?;
        let (l, g) = loss.eval(&y, &labels)?;
        seq.zero_grad();
        seq.backward_params(&g)?;
        let mut ps = seq.params();
        let (mut vals, grads): (Vec<&mut [f32]>, Vec<&[f32]>) = ps.iter_mut().map(|p| (&mut *p.value, &*p.grad)).unzip();
        opt.step(&mut vals, &grads)?;
        losses.push(l);
    }
    Ok(losses)
}

#[allow(dead_code)]
fn main() -> somata::Result<()> {
    // (a) step by step, as the seed
    let mut net = SpikingNet::new(0)?;
    net.init_state(2)?;
    let mut clock = Clock::new(1.0 * ms)?;
    let x = vec![3.0f32; 2 * 64];
    let mut counts = vec![0.0f32; 2 * 10];
    for _ in 0..25 {
        let s = net.update(&clock, &x)?;
        counts.iter_mut().zip(&s).for_each(|(c, v)| *c += v);
        clock.advance();
    }
    println!("step mode: output spike counts {counts:?}");
    // (b) whole sequences, trained by BPTT
    let losses = train(30)?;
    println!("training loss: first {:.3}, last {:.3}", losses[0], losses[losses.len() - 1]);
    Ok(())
}
