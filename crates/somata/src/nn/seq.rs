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
        for k in 0..self.layers.len() {
            let y = self.layers[k].forward(cur.as_ref().unwrap_or(x), self.dt_ms)?;
            // the previous layer's output is consumed: its memory serves that layer's next pass
            if let Some(prev) = cur.replace(y) {
                self.layers[k - 1].recycle(prev.data);
            }
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
        // the gradient entering layer k: the caller's `g` (borrowed) or one a layer returned
        let mut own: Option<SeqBuf> = None;
        for k in (0..n).rev() {
            if let Some(Some(e)) = extra.get(k) {
                let cur = own.as_ref().unwrap_or(g);
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
                own = Some(d);
            }
            let cur = own.as_ref().unwrap_or(g);
            if k == 0 && !need_input {
                self.layers[0].backward(cur, false)?;
                if let Some(done) = own {
                    self.layers[1.min(n - 1)].recycle(done.data);
                }
                return Ok(None);
            }
            let next = self.layers[k].backward(cur, true)?.expect("input gradient asked for");
            // the gradient layer k + 1 returned is consumed: back to that layer's spares
            if let Some(done) = own.replace(next)
                && k + 1 < n
            {
                self.layers[k + 1].recycle(done.data);
            }
        }
        Ok(Some(own.unwrap_or_else(|| g.clone())))
    }
    /// Switch state carrying on or off in every layer ([`Layer::set_carry_state`]): with it
    /// on, each forward pass continues from the state the previous one ended in (neuron
    /// states, last spikes, readout values, the clock's step), and the backward pass cuts the
    /// gradient at the boundary. For streaming a long sequence chunk by chunk with an update
    /// after each chunk; [`Sequential::tbptt`] does the loop for one sequence.
    pub fn set_carry_state(&mut self, carry: bool) {
        for l in self.layers.iter_mut() {
            l.set_carry_state(carry);
        }
    }
    /// Forget every layer's carried state ([`Layer::reset_carried_state`]).
    pub fn reset_carried_state(&mut self) {
        for l in self.layers.iter_mut() {
            l.reset_carried_state();
        }
    }
    /// Truncated BPTT over one batch of long sequences: run `x` in chunks of `k` steps
    /// (`[0, k)`, `[k, 2k)`, ..., the last one shorter), each chunk starting from the state the
    /// previous one ended in (the forward pass is the same as one pass over all of `x`), and
    /// after each chunk backpropagate within the chunk only (the gradient is cut at chunk
    /// boundaries). `grad(steps, outs)` receives the chunk's step range in `x` and every
    /// layer's output over the chunk, and returns `(∂L/∂(last output), extra)` for that chunk
    /// as [`Sequential::backward_all`] takes them (e.g. from [`Loss::eval_regularized`] on the
    /// chunk, or a slice of a gradient over the whole sequence). Parameter gradients
    /// **accumulate** over the chunks (call [`Sequential::zero_grad`] first). Returns the last
    /// layer's output over the whole sequence.
    ///
    /// With `k ≥ steps` this is exactly one forward and backward pass (full BPTT). The first
    /// chunk starts from the initial state; afterwards carrying is off again. `k = 0` is an
    /// error.
    ///
    /// ```
    /// use somata::nn::{Linear, Loss, Neurons, Reduce, SeqBuf, Sequential};
    /// use somata::prelude::*;
    /// let mut net = Sequential::new(1.0 * ms)
    ///     .push(Linear::new(3, 6, 0))
    ///     .push(Neurons::new(Lif::builder(6).tau(5.0 * ms).build()?))
    ///     .push(Linear::new(6, 2, 1));
    /// let x = SeqBuf::constant(vec![2.0; 3], 100, 1, 3);
    /// net.zero_grad();
    /// // a loss per chunk of 25 steps: cross-entropy of the chunk's mean output, label 1
    /// let y = net.tbptt(&x, 25, |_, outs| {
    ///     let (_, g) = Loss::CrossEntropy(Reduce::Mean).eval(outs.last().unwrap(), &[1])?;
    ///     Ok((g, vec![None; outs.len()]))
    /// })?;
    /// assert_eq!(y.steps, 100);
    /// assert_eq!(y, net.forward(&x)?); // the same forward pass as in one piece
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    ///
    /// [`Loss::eval_regularized`]: super::Loss::eval_regularized
    pub fn tbptt<F>(&mut self, x: &SeqBuf, k: usize, mut grad: F) -> Result<SeqBuf>
    where
        F: FnMut(std::ops::Range<usize>, &[SeqBuf]) -> Result<(SeqBuf, Vec<Option<SeqBuf>>)>,
    {
        if k == 0 {
            return Err(SomataError::Format("truncated BPTT needs chunks of at least 1 step".into()));
        }
        self.validate()?;
        x.check("network input")?;
        self.reset_carried_state();
        self.set_carry_state(true);
        let r = (|| {
            let mut ys = Vec::with_capacity(x.steps.div_ceil(k));
            let mut t0 = 0;
            while t0 < x.steps {
                let t1 = (t0 + k).min(x.steps);
                let xc = x.slice_steps(t0..t1);
                let outs = self.forward_all(&xc)?;
                let (g, extra) = grad(t0..t1, &outs)?;
                self.backward_impl(&g, extra, false)?;
                ys.push(outs.into_iter().last().unwrap_or(xc));
                t0 = t1;
            }
            if ys.is_empty() {
                return self.forward(x);
            }
            SeqBuf::concat_steps(&ys)
        })();
        self.set_carry_state(false);
        r
    }
    /// Give back an output of [`Sequential::forward`] once it is no longer needed: the last
    /// layer reuses its memory on the next pass (a loop that does this allocates nothing once the
    /// sizes are stable).
    pub fn recycle(&mut self, y: SeqBuf) {
        if let Some(l) = self.layers.last_mut() {
            l.recycle(y.data);
        }
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
