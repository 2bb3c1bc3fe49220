//! A library training loop: `Linear → hidden neurons (any built-in model) → LeakyRateReadout`,
//! trained by BPTT with Adam on a [`Dataset`] (direct current input) or a [`SpikeDataset`].
//!
//! ```
//! use somata::nn::train::{TrainConfig, Trainer};
//! let data = somata::data::digits();
//! let (train, test) = data.split(0.2, 0);
//! let cfg = TrainConfig { epochs: 1, ..TrainConfig::default() };
//! let mut t = Trainer::new(&cfg, train.n_features, train.n_classes)?;
//! let report = t.epoch(&train.into(), &test.into(), 0)?;
//! assert!(report.test_accuracy > 0.5);
//! # Ok::<(), somata::SomataError>(())
//! ```

use super::{checkpoint, Layer, LeakyRateReadout, Linear, Loss, Neurons, Reduce, SeqBuf, Sequential};
use crate::data::{Dataset, SpikeDataset};
use crate::dynamics::NeuronModel;
use crate::engine::LayerBuilder;
use crate::error::{Result, SomataError};
use crate::init::Rng;
use crate::neurons::registry::{dispatch, ModelFn};
use crate::optim::{clip_grad_norm, Adam, Optimizer};
use crate::units::ms;

/// What to train and how. `Default` is the embedded-digits run of `somata train`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Time steps per sample.
    pub steps: usize,
    /// Time step, ms.
    pub dt_ms: f64,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of weights and shuffling.
    pub seed: u64,
    /// Hidden neurons.
    pub hidden: usize,
    /// Hidden model, BrainPy name (`"LIF"`, `"ALIF"`, ... any of `somata models`).
    pub model: String,
    /// Membrane time constant of the hidden layer, ms (models with `tau`).
    pub tau_ms: f64,
    /// Readout time constant, ms.
    pub readout_tau_ms: f64,
    /// Scale of the input current (direct input: pixel × scale).
    pub input_scale: f32,
    /// Gradient clipping by global norm (None: off).
    pub clip: Option<f64>,
    /// Cosine decay of the learning rate to 0 over the run.
    pub cosine: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 64,
            steps: 20,
            dt_ms: 1.0,
            lr: 5e-3,
            seed: 0,
            hidden: 128,
            model: "LIF".into(),
            tau_ms: 5.0,
            readout_tau_ms: 5.0,
            input_scale: 1.0,
            clip: None,
            cosine: true,
        }
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (during the epoch), 0..1.
    pub train_accuracy: f64,
    /// Test accuracy after the epoch, 0..1.
    pub test_accuracy: f64,
    /// Training samples per second.
    pub samples_per_s: f64,
    /// Wall time of the epoch's training part, s.
    pub train_secs: f64,
}

/// Training data: features given as a direct current every step, or spike trains.
#[derive(Debug, Clone)]
pub enum Data {
    /// Static features, fed as a constant current.
    Static(Dataset),
    /// Spike trains.
    Spikes(SpikeDataset),
}

impl From<Dataset> for Data {
    fn from(d: Dataset) -> Data {
        Data::Static(d)
    }
}
impl From<SpikeDataset> for Data {
    fn from(d: SpikeDataset) -> Data {
        Data::Spikes(d)
    }
}

impl Data {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Data::Static(d) => d.len(),
            Data::Spikes(d) => d.len(),
        }
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Input channels.
    pub fn n_inputs(&self) -> usize {
        match self {
            Data::Static(d) => d.n_features,
            Data::Spikes(d) => d.n_channels,
        }
    }
    /// Classes.
    pub fn n_classes(&self) -> usize {
        match self {
            Data::Static(d) => d.n_classes,
            Data::Spikes(d) => d.n_classes,
        }
    }
    fn labels(&self) -> &[u32] {
        match self {
            Data::Static(d) => &d.labels,
            Data::Spikes(d) => &d.labels,
        }
    }
    /// The input sequences of the samples `idx` and their labels.
    fn batch(&self, idx: &[usize], steps: usize, scale: f32) -> (SeqBuf, Vec<u32>) {
        let labels: Vec<u32> = idx.iter().map(|&i| self.labels()[i]).collect();
        match self {
            Data::Static(d) => {
                let (f, _) = d.gather(idx);
                let f = if scale == 1.0 { f } else { f.into_iter().map(|v| v * scale).collect() };
                (SeqBuf::constant(f, steps, idx.len(), d.n_features), labels)
            }
            Data::Spikes(d) => (SeqBuf::dense(d.dense(idx), d.n_steps, idx.len(), d.n_channels), labels),
        }
    }
}

struct HiddenLayer<'a>(&'a TrainConfig);
impl ModelFn for HiddenLayer<'_> {
    type Out = Result<Box<dyn Layer>>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let mut b = LayerBuilder::<M, f32>::new(M::default(), self.0.hidden).seed(self.0.seed);
        if M::param_index("tau").is_some() {
            b = b.set_raw("tau", self.0.tau_ms);
        }
        Ok(Box::new(Neurons::new(b.build()?)))
    }
}

/// A network with its optimizer and loss.
pub struct Trainer {
    /// The network.
    pub net: Sequential,
    /// The loss (cross-entropy of the readout's mean over time).
    pub loss: Loss,
    opt: Adam,
    cfg: TrainConfig,
    step: u64,
    total_steps: u64,
}

impl Trainer {
    /// `Linear(n_in, hidden) → model(hidden) → LeakyRateReadout(hidden, n_classes)`.
    pub fn new(cfg: &TrainConfig, n_in: usize, n_classes: usize) -> Result<Trainer> {
        if cfg.batch_size == 0 || cfg.steps == 0 || cfg.hidden == 0 {
            return Err(SomataError::Format("batch size, steps and hidden size must be at least 1".into()));
        }
        if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
            return Err(SomataError::Format(format!("learning rate must be > 0, got {}", cfg.lr)));
        }
        let mut net = Sequential::new(cfg.dt_ms * ms);
        net.push_boxed(Box::new(Linear::new(n_in, cfg.hidden, cfg.seed)));
        net.push_boxed(dispatch(&cfg.model, HiddenLayer(cfg))?);
        net.push_boxed(Box::new(LeakyRateReadout::new(cfg.hidden, n_classes, cfg.readout_tau_ms * ms, cfg.seed.wrapping_add(1))));
        net.validate()?;
        Ok(Trainer { net, loss: Loss::CrossEntropy(Reduce::Mean), opt: Adam::new(cfg.lr), cfg: cfg.clone(), step: 0, total_steps: 0 })
    }

    /// One pass over `train` (shuffled with the seed and epoch), then the test accuracy.
    ///
    /// A non-finite loss, a parameter that becomes non-finite after an update, or a non-finite
    /// input to a layer ([`SomataError::NonFiniteInput`]) stops the epoch with
    /// [`SomataError::Format`] `training diverged at epoch E, step S of N: ...`
    /// (1-based, as `somata train` prints epochs).
    pub fn epoch(&mut self, train: &Data, test: &Data, epoch: usize) -> Result<EpochReport> {
        self.epoch_with(train, test, epoch, None)
    }

    /// [`epoch`](Trainer::epoch), calling `on_step(step, steps, batch loss, running training
    /// accuracy)` after every step (1-based), e.g. for a progress bar.
    pub fn epoch_with(
        &mut self,
        train: &Data,
        test: &Data,
        epoch: usize,
        mut on_step: Option<&mut dyn FnMut(usize, usize, f64, f64)>,
    ) -> Result<EpochReport> {
        let bs = self.cfg.batch_size;
        let nb = train.len().div_ceil(bs);
        self.total_steps = (self.cfg.epochs.max(epoch + 1) * nb) as u64;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut rng = Rng::new(self.cfg.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(epoch as u64 + 1)));
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let t0 = std::time::Instant::now();
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for (k, idx) in order.chunks(bs).enumerate() {
            let at = |m: String| SomataError::Format(format!("training diverged at epoch {}, step {} of {nb}: {m}", epoch + 1, k + 1));
            let (x, labels) = train.batch(idx, self.cfg.steps, self.cfg.input_scale);
            // a NaN or infinite input to a layer (NaN features, or weights blown up by the last
            // update) is refused by the layer before its state is touched: name epoch and step
            let y = self.net.forward(&x).map_err(|e| match e {
                e @ SomataError::NonFiniteInput { .. } => at(format!("an input is not finite ({e})")),
                e => e,
            })?;
            let (loss, g) = self.loss.eval(&y, &labels).map_err(|e| match e {
                SomataError::Format(m) => at(m),
                e => e,
            })?;
            loss_sum += loss * idx.len() as f64;
            correct += self.loss.predict(&y).iter().zip(&labels).filter(|(p, l)| p == l).count();
            self.net.recycle(y);
            self.net.zero_grad();
            self.net.backward_params(&g)?;
            self.apply_step()?;
            if let Some(name) = self.first_non_finite_param() {
                return Err(at(format!("parameter `{name}` is not finite after the update (learning rate {:e})", self.cfg.lr)));
            }
            if let Some(f) = on_step.as_mut() {
                f(k + 1, nb, loss, correct as f64 / ((k * bs + idx.len()) as f64));
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let test_accuracy = self.accuracy(test)?;
        Ok(EpochReport {
            epoch,
            train_loss: loss_sum / train.len().max(1) as f64,
            train_accuracy: correct as f64 / train.len().max(1) as f64,
            test_accuracy,
            samples_per_s: train.len() as f64 / secs.max(1e-9),
            train_secs: secs,
        })
    }

    fn first_non_finite_param(&mut self) -> Option<String> {
        for (k, l) in self.net.layers_mut().iter_mut().enumerate() {
            for p in l.params() {
                if !p.value.iter().all(|v| v.is_finite()) {
                    return Some(format!("{k}.{}", p.name));
                }
            }
        }
        None
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Optimizer steps taken (restored by [`resume`](Trainer::resume)); the cosine schedule
    /// follows it.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Save the network to `path` ([`checkpoint::save`], atomic) after `epochs_done` epochs,
    /// with the metadata `epoch` (= `epochs_done`), `step`, `config` (this trainer's
    /// configuration, as text) and `optimizer`.
    ///
    /// Adam's moments are not saved (the optimizer does not expose them): a resumed run
    /// restarts them from zero (and Adam's bias correction from step 1), while the learning
    /// rate schedule continues from the saved step. A resumed run is therefore close to, not
    /// bit-identical with, an uninterrupted one.
    pub fn save_checkpoint(&mut self, path: impl AsRef<std::path::Path>, epochs_done: usize) -> Result<()> {
        let meta = vec![
            ("epoch".to_string(), epochs_done.to_string()),
            ("step".to_string(), self.step.to_string()),
            ("config".to_string(), format!("{:?}", self.cfg)),
            ("optimizer".to_string(), format!("Adam(lr {}), moments not saved", self.cfg.lr)),
        ];
        checkpoint::save(path, &mut self.net, &meta)
    }

    /// Load a checkpoint written by [`save_checkpoint`](Trainer::save_checkpoint): the
    /// network's parameters and the optimizer step; returns the number of epochs it had
    /// completed (train on from that epoch index). Refuses (typed error, trainer unchanged) a
    /// checkpoint of another architecture, or one without `epoch` and `step`.
    pub fn resume(&mut self, path: impl AsRef<std::path::Path>) -> Result<usize> {
        let ck = checkpoint::Checkpoint::read(path)?;
        let num = |key: &str| -> Result<u64> {
            ck.meta
                .get(key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| SomataError::Format(format!("checkpoint {}: no valid `{key}` metadata", ck.path.display())))
        };
        let (epoch, step) = (num("epoch")?, num("step")?);
        ck.apply(&mut self.net)?;
        self.step = step;
        Ok(epoch as usize)
    }

    fn apply_step(&mut self) -> Result<()> {
        if self.cfg.cosine && self.total_steps > 0 {
            let f = (self.step as f64 / self.total_steps as f64).min(1.0);
            self.opt.set_lr(self.cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * f).cos()));
        }
        let mut ps = self.net.params();
        if let Some(c) = self.cfg.clip {
            let mut gs: Vec<&mut [f32]> = ps.iter_mut().map(|p| &mut *p.grad).collect();
            clip_grad_norm(&mut gs, c);
        }
        let (mut vals, grads): (Vec<&mut [f32]>, Vec<&[f32]>) = ps.iter_mut().map(|p| (&mut *p.value, &*p.grad)).unzip();
        self.opt.step(&mut vals, &grads)?;
        self.step += 1;
        Ok(())
    }

    /// Predictions for every sample of `data`.
    pub fn predict(&mut self, data: &Data) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(data.len());
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(256) {
            let (x, _) = data.batch(chunk, self.cfg.steps, self.cfg.input_scale);
            let y = self.net.forward(&x)?;
            out.extend(self.loss.predict(&y));
            self.net.recycle(y);
        }
        Ok(out)
    }

    /// Accuracy on `data`, 0..1.
    pub fn accuracy(&mut self, data: &Data) -> Result<f64> {
        let p = self.predict(data)?;
        Ok(p.iter().zip(data.labels()).filter(|(a, b)| a == b).count() as f64 / data.len().max(1) as f64)
    }

    /// Confusion matrix `[true][predicted]`.
    pub fn confusion(&mut self, data: &Data) -> Result<Vec<Vec<u32>>> {
        let c = data.n_classes();
        let mut m = vec![vec![0u32; c]; c];
        for (p, &l) in self.predict(data)?.iter().zip(data.labels()) {
            m[l as usize][*p as usize] += 1;
        }
        Ok(m)
    }
}
