//! [`Sequential`]: a stack of layers run over whole sequences.

use super::{Layer, Param, SeqBuf};
use crate::error::{Result, SomataError};
use crate::units::Time;

/// Layers run one after the other over all time steps, and BPTT through all of them.
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    dt_ms: f64,
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential").field("dt_ms", &self.dt_ms).field("layers", &self.describe()).finish()
    }
}

impl Sequential {
    /// An empty network with time step `dt`.
    pub fn new(dt: Time) -> Sequential {
        Sequential { layers: Vec::new(), dt_ms: dt.canonical() }
    }
    /// Append a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn push(mut self, l: impl Layer + 'static) -> Sequential {
        self.layers.push(Box::new(l));
        self
    }
    /// Append a boxed layer.
    pub fn push_boxed(&mut self, l: Box<dyn Layer>) {
        self.layers.push(l);
    }
    /// The time step, ms.
    pub fn dt_ms(&self) -> f64 {
        self.dt_ms
    }
    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }
    /// The layers, mutable.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }
    /// `"linear(64→128) LIF(128) linear(128→10) readout(...)"`: what a checkpoint must match.
    pub fn describe(&self) -> String {
        self.layers.iter().map(|l| format!("{}({}→{})", l.kind(), l.n_in(), l.n_out())).collect::<Vec<_>>().join(" ")
    }
    /// Check that consecutive widths agree.
    pub fn validate(&self) -> Result<()> {
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0) {
            return Err(SomataError::InvalidDt(self.dt_ms));
        }
        for (k, w) in self.layers.windows(2).enumerate() {
            if w[0].n_out() != w[1].n_in() {
                return Err(SomataError::ShapeMismatch {
                    what: format!("layer {} ({}) feeds layer {} ({})", k, w[0].kind(), k + 1, w[1].kind()),
                    expected: vec![w[1].n_in()],
                    got: vec![w[0].n_out()],
                });
            }
        }
        Ok(())
    }
    /// Run the network over a batch of sequences; returns the last layer's output.
    pub fn forward(&mut self, x: &SeqBuf) -> Result<SeqBuf> {
        self.validate()?;
        let mut cur: Option<SeqBuf> = None;
        for l in self.layers.iter_mut() {
            let y = l.forward(cur.as_ref().unwrap_or(x), self.dt_ms)?;
            cur = Some(y);
        }
        Ok(cur.unwrap_or_else(|| x.clone()))
    }
    /// Run and keep every layer's output (for traces and losses on hidden layers).
    pub fn forward_all(&mut self, x: &SeqBuf) -> Result<Vec<SeqBuf>> {
        self.validate()?;
        let mut outs: Vec<SeqBuf> = Vec::with_capacity(self.layers.len());
        for l in self.layers.iter_mut() {
            let y = l.forward(outs.last().unwrap_or(x), self.dt_ms)?;
            outs.push(y);
        }
        Ok(outs)
    }
    /// Backpropagate `∂L/∂output` through every layer, accumulating parameter gradients; returns
    /// `∂L/∂input`.
    pub fn backward(&mut self, g: &SeqBuf) -> Result<SeqBuf> {
        let gs = vec![None; self.layers.len()];
        self.backward_all(g, gs)
    }
    /// Backpropagate with an extra gradient on each layer's output (`extra[k]` for layer k, as
    /// from a loss on hidden spikes); `g` is the gradient on the last layer's output.
    pub fn backward_all(&mut self, g: &SeqBuf, extra: Vec<Option<SeqBuf>>) -> Result<SeqBuf> {
        Ok(self.backward_impl(g, extra, true)?.expect("input gradient asked for"))
    }
    /// Backpropagate to the parameters only: the first layer computes no input gradient (a
    /// matrix product saved when it is a Linear layer).
    pub fn backward_params(&mut self, g: &SeqBuf) -> Result<()> {
        let gs = vec![None; self.layers.len()];
        self.backward_impl(g, gs, false).map(|_| ())
    }
    fn backward_impl(&mut self, g: &SeqBuf, extra: Vec<Option<SeqBuf>>, need_input: bool) -> Result<Option<SeqBuf>> {
        let n = self.layers.len();
        let mut cur = g.clone();
        for k in (0..n).rev() {
            if let Some(Some(e)) = extra.get(k) {
                if e.data.len() != cur.data.len() {
                    return Err(SomataError::ShapeMismatch {
                        what: format!("extra gradient of layer {k}"),
                        expected: vec![cur.data.len()],
                        got: vec![e.data.len()],
                    });
                }
                let mut d = if cur.constant { cur.to_dense() } else { cur.clone() };
                for (a, &b) in d.data.iter_mut().zip(&e.data) {
                    *a += b;
                }
                cur = d;
            }
            if k == 0 && !need_input {
                self.layers[0].backward(&cur, false)?;
                return Ok(None);
            }
            cur = self.layers[k].backward(&cur, true)?.expect("input gradient asked for");
        }
        Ok(Some(cur))
    }
    /// Set every gradient to zero.
    pub fn zero_grad(&mut self) {
        for l in self.layers.iter_mut() {
            for p in l.params() {
                p.grad.fill(0.0);
            }
        }
    }
    /// Every trainable tensor, layer by layer.
    pub fn params(&mut self) -> Vec<Param<'_>> {
        self.layers.iter_mut().flat_map(|l| l.params()).collect()
    }
    /// The global L2 norm of the gradients.
    pub fn grad_norm(&mut self) -> f64 {
        self.params().iter().flat_map(|p| p.grad.iter()).map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt()
    }
    /// Number of trainable values.
    pub fn num_params(&mut self) -> usize {
        self.params().iter().map(|p| p.value.len()).sum()
    }
}
