//! Losses on a network's output sequence, with their gradient.

use super::SeqBuf;
use crate::error::{Result, SomataError};

/// How an output sequence `[steps][batch][classes]` becomes one score per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Mean over time (readouts: the usual choice).
    Mean,
    /// Sum over time (spike counts).
    Sum,
    /// Maximum over time (membrane readouts).
    Max,
    /// The last step.
    Last,
}

/// A loss over the network's output and integer labels (or targets).
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Softmax cross-entropy of the reduced output, mean over the batch.
    CrossEntropy(Reduce),
    /// Mean squared error between the reduced output and a one-hot target scaled by `target`
    /// (e.g. a spike count or rate for the right class, 0 for the others), mean over batch and
    /// classes.
    Mse(Reduce, f32),
}

impl Reduce {
    /// Reduce `y` to `[batch][classes]`, and for `Max` the step of each maximum.
    pub fn apply(self, y: &SeqBuf) -> (Vec<f32>, Vec<u32>) {
        let (t_n, b_n, c_n) = (y.steps, y.batch, y.n);
        let mut out = vec![0.0f32; b_n * c_n];
        let mut arg = Vec::new();
        match self {
            Reduce::Mean | Reduce::Sum => {
                for t in 0..t_n {
                    for b in 0..b_n {
                        for c in 0..c_n {
                            out[b * c_n + c] += y.at(t, b, c);
                        }
                    }
                }
                if self == Reduce::Mean && t_n > 0 {
                    out.iter_mut().for_each(|v| *v /= t_n as f32);
                }
            }
            Reduce::Last => {
                for b in 0..b_n {
                    for c in 0..c_n {
                        out[b * c_n + c] = if t_n > 0 { y.at(t_n - 1, b, c) } else { 0.0 };
                    }
                }
            }
            Reduce::Max => {
                arg = vec![0u32; b_n * c_n];
                out.fill(f32::NEG_INFINITY);
                for t in 0..t_n {
                    for b in 0..b_n {
                        for c in 0..c_n {
                            let v = y.at(t, b, c);
                            if v > out[b * c_n + c] {
                                out[b * c_n + c] = v;
                                arg[b * c_n + c] = t as u32;
                            }
                        }
                    }
                }
            }
        }
        (out, arg)
    }

    /// Spread `∂L/∂(reduced)` back over time: a dense `[steps][batch][classes]` gradient.
    fn spread(self, g: &[f32], arg: &[u32], steps: usize, batch: usize, n: usize) -> SeqBuf {
        let mut d = vec![0.0f32; steps * batch * n];
        let blk = batch * n;
        match self {
            Reduce::Mean | Reduce::Sum => {
                let s = if self == Reduce::Mean { 1.0 / steps.max(1) as f32 } else { 1.0 };
                for t in 0..steps {
                    for (o, &v) in d[t * blk..(t + 1) * blk].iter_mut().zip(g) {
                        *o = v * s;
                    }
                }
            }
            Reduce::Last => {
                if steps > 0 {
                    d[(steps - 1) * blk..].copy_from_slice(g);
                }
            }
            Reduce::Max => {
                for (k, &v) in g.iter().enumerate() {
                    d[arg[k] as usize * blk + k] = v;
                }
            }
        }
        SeqBuf::dense(d, steps, batch, n)
    }
}

impl Loss {
    /// The loss and `∂L/∂y` for labels `0..classes`.
    pub fn eval(&self, y: &SeqBuf, labels: &[u32]) -> Result<(f64, SeqBuf)> {
        y.check("network output")?;
        if labels.len() != y.batch {
            return Err(SomataError::ShapeMismatch {
                what: "labels (one per batch row)".into(),
                expected: vec![y.batch],
                got: vec![labels.len()],
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= y.n) {
            return Err(SomataError::Format(format!("label {bad} out of range: the network has {} outputs (labels 0..{})", y.n, y.n)));
        }
        let (bn, cn) = (y.batch, y.n);
        let red = match self {
            Loss::CrossEntropy(r) | Loss::Mse(r, _) => *r,
        };
        let (z, arg) = red.apply(y);
        let mut g = vec![0.0f32; bn * cn];
        let mut loss = 0.0f64;
        match self {
            Loss::CrossEntropy(_) => {
                for b in 0..bn {
                    let row = &z[b * cn..(b + 1) * cn];
                    let m = row.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
                    let se: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                    let lse = m + se.ln();
                    loss += lse - row[labels[b] as usize] as f64;
                    for c in 0..cn {
                        let p = ((row[c] as f64 - m).exp() / se) as f32;
                        g[b * cn + c] = (p - if c == labels[b] as usize { 1.0 } else { 0.0 }) / bn as f32;
                    }
                }
                loss /= bn as f64;
            }
            Loss::Mse(_, target) => {
                let k = (bn * cn) as f32;
                for b in 0..bn {
                    for c in 0..cn {
                        let t = if c == labels[b] as usize { *target } else { 0.0 };
                        let e = z[b * cn + c] - t;
                        loss += (e as f64) * (e as f64);
                        g[b * cn + c] = 2.0 * e / k;
                    }
                }
                loss /= k as f64;
            }
        }
        if !loss.is_finite() {
            return Err(SomataError::Format(format!("the loss is not finite ({loss})")));
        }
        Ok((loss, red.spread(&g, &arg, y.steps, bn, cn)))
    }

    /// The predicted class of each batch row (argmax of the reduced output).
    pub fn predict(&self, y: &SeqBuf) -> Vec<u32> {
        let red = match self {
            Loss::CrossEntropy(r) | Loss::Mse(r, _) => *r,
        };
        let (z, _) = red.apply(y);
        z.chunks_exact(y.n.max(1))
            .map(|row| {
                row.iter().enumerate().fold((0usize, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
                    as u32
            })
            .collect()
    }
}
