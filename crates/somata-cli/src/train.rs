//! `somata train`: a spiking network trained by BPTT. With no arguments: the embedded UCI digits
//! (fixed-seed 80/20 split), 64 → Linear → 128 LIF → LeakyRateReadout(10), direct current input,
//! T = 20 steps of 1 ms, Adam 5e-3 with cosine decay, batch 64, 20 epochs.
//!
//! Output: one stdout line per epoch, then the per-class test accuracy, the total time, and as
//! the last line `test accuracy: <percent>%` (a contract). While an epoch runs, a progress bar on
//! stderr shows the step, loss, running accuracy, samples/s and ETA; it is hidden when stderr is
//! not a terminal.
//!
//! Checkpoints (safetensors, `somata::nn::checkpoint`):
//!
//! * `--checkpoint FILE` saves the network after every epoch, atomically (`FILE.tmp`, fsync,
//!   rename): an interrupted run, or one stopped by a diverging loss, keeps the last good epoch's
//!   file intact.
//! * `--resume FILE` loads FILE before training and continues from its epoch: after a checkpoint
//!   at epoch 2, `--epochs 4` trains epochs 3 and 4. The network must have the same architecture
//!   (`--hidden`, `--model`, the data's inputs and classes); another one is refused with an error
//!   naming both, exit status 2. The learning-rate schedule continues from the saved optimizer
//!   step; Adam's moments are not saved and restart from zero, so a resumed run is close to, not
//!   bit-identical with, an uninterrupted one. `--resume F --checkpoint F` continues in place.
//!
//! A non-finite loss (or parameter) stops training with an error naming the epoch and step, exit
//! status 2; the checkpoint of the last completed epoch is left as it was.
//!
//! `--plot FILE.png` (or `.svg`) draws the per-epoch training loss, training accuracy and test
//! accuracy of this run (`somata::plot::curves`, one panel each) after the last epoch; the
//! extension is checked before training starts. `--schedule cosine|constant` chooses the
//! learning-rate schedule (cosine decay to 0 over the run, the default, or a constant rate).

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use somata::data::{digits, Dataset};
use somata::nn::train::{Data, TrainConfig, Trainer};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Task: `digits` (embedded) or `randman` (Zenke & Vogels' spike-timing task, generated from the seed).
    #[arg(long, default_value = "digits")]
    pub task: String,
    /// A CSV file of your own (features, then the label in the last column) instead of the task.
    #[arg(long)]
    pub data: Option<String>,
    /// Epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Time steps per sample (static data).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Learning rate (Adam).
    #[arg(long, default_value_t = 5e-3)]
    pub lr: f64,
    /// Seed of the split, the weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Hidden neurons.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Hidden model (any name of `somata models`).
    #[arg(long, default_value = "LIF")]
    pub model: String,
    /// Hidden membrane time constant, ms (models with tau).
    #[arg(long, default_value_t = 5.0)]
    pub tau_ms: f64,
    /// Time step, ms.
    #[arg(long, default_value_t = 1.0)]
    pub dt_ms: f64,
    /// Input current scale.
    #[arg(long, default_value_t = 1.0)]
    pub input_scale: f32,
    /// Save a checkpoint (safetensors) to FILE after every epoch, atomically.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<String>,
    /// Load FILE (a `--checkpoint` of the same architecture) and continue from its epoch.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<String>,
    /// Draw the per-epoch loss and accuracy curves of this run to FILE (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<String>,
    /// Learning-rate schedule: `cosine` (decay to 0 over the run) or `constant`.
    #[arg(long, default_value = "cosine", value_parser = ["cosine", "constant"])]
    pub schedule: String,
}

pub fn run(a: &TrainArgs) -> Result<(), String> {
    let e = |e: somata::SomataError| e.to_string();
    let t_start = Instant::now();
    if let Some(path) = &a.plot {
        somata::plot::Format::from_path(path).map_err(e)?;
    }
    let (train, test): (Data, Data) = match (&a.data, a.task.as_str()) {
        (Some(path), _) => {
            let d: Dataset = somata::data::load_csv(path).map_err(e)?;
            let (tr, te) = d.split(0.2, a.seed);
            (tr.into(), te.into())
        }
        (None, "digits") => {
            let (tr, te) = digits().split(0.2, a.seed);
            (tr.into(), te.into())
        }
        (None, "randman") => {
            let cfg = somata::data::RandmanConfig { seed: a.seed, ..Default::default() };
            let d = somata::data::randman(cfg).map_err(e)?;
            let (tr, te) = d.split(0.2, a.seed);
            (tr.into(), te.into())
        }
        (None, t) => return Err(format!("unknown task `{t}`; known: digits, randman")),
    };
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        steps: a.steps,
        dt_ms: a.dt_ms,
        lr: a.lr,
        seed: a.seed,
        hidden: a.hidden,
        model: a.model.clone(),
        tau_ms: a.tau_ms,
        input_scale: a.input_scale,
        cosine: a.schedule == "cosine",
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&cfg, train.n_inputs(), train.n_classes()).map_err(e)?;
    println!("{} train / {} test samples; network {}", train.len(), test.len(), t.net.describe());
    let mut start = 0;
    if let Some(path) = &a.resume {
        start = t.resume(path).map_err(|err| format!("cannot resume: {err}"))?;
        println!("resumed from {path} after epoch {start} (optimizer step {}; Adam's moments restart)", t.step());
        if start >= cfg.epochs {
            println!("the checkpoint is at epoch {start}, --epochs is {}: nothing to train", cfg.epochs);
        }
    }
    let mut last = None;
    // per-epoch curves of this run, for --plot
    let (mut losses, mut train_acc, mut test_acc) = (Vec::new(), Vec::new(), Vec::new());
    // the epoch of the checkpoint file on disk, for the error message of a diverging run
    let mut saved: Option<usize> = if a.resume.is_some() && a.resume == a.checkpoint { Some(start) } else { None };
    for ep in start..cfg.epochs {
        let r = run_epoch(&mut t, &train, &test, ep, cfg.epochs).map_err(|err| {
            let mut msg = err.to_string();
            if let (Some(path), Some(k)) = (&a.checkpoint, saved) {
                msg.push_str(&format!("; {path} (epoch {k}) is left as it was"));
            }
            msg
        })?;
        println!(
            "epoch {:>3}: loss {:.4}, train {:.2}%, test {:.2}%, {:.1} ms/epoch, {:.0} samples/s",
            ep + 1,
            r.train_loss,
            100.0 * r.train_accuracy,
            100.0 * r.test_accuracy,
            r.train_secs * 1e3,
            r.samples_per_s
        );
        if let Some(path) = &a.checkpoint {
            t.save_checkpoint(path, ep + 1).map_err(|err| format!("saving the checkpoint after epoch {}: {err}", ep + 1))?;
            saved = Some(ep + 1);
        }
        last = Some(r.test_accuracy);
        losses.push(r.train_loss);
        train_acc.push(100.0 * r.train_accuracy);
        test_acc.push(100.0 * r.test_accuracy);
    }
    // a plot that cannot be written is reported after the last line, with a nonzero status
    let plot_err = match &a.plot {
        Some(path) => {
            let series: [(&str, &[f64]); 3] =
                [("training loss", &losses), ("training accuracy (%)", &train_acc), ("test accuracy (%)", &test_acc)];
            match somata::plot::curves(path, &series) {
                Ok(()) => {
                    println!("plot: {path} ({} epochs)", losses.len());
                    None
                }
                Err(err) => Some(format!("writing the plot: {err}")),
            }
        }
        None => None,
    };
    let last = match last {
        Some(acc) => acc,
        None => t.accuracy(&test).map_err(e)?,
    };
    let confusion = t.confusion(&test).map_err(e)?;
    let per_class: Vec<String> = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let n: u32 = row.iter().sum();
            if n == 0 {
                format!("{c} -")
            } else {
                format!("{c} {:.1}%", 100.0 * row[c] as f64 / n as f64)
            }
        })
        .collect();
    println!("per-class test accuracy: {}", per_class.join(", "));
    println!("total {:.2} s", t_start.elapsed().as_secs_f64());
    println!("test accuracy: {:.2}%", 100.0 * last);
    plot_err.map_or(Ok(()), Err)
}

/// One epoch with a progress bar on stderr (hidden when stderr is not a terminal).
fn run_epoch(t: &mut Trainer, train: &Data, test: &Data, ep: usize, epochs: usize) -> somata::Result<somata::nn::train::EpochReport> {
    let bs = t.config().batch_size;
    let nb = train.len().div_ceil(bs.max(1)) as u64;
    let bar = ProgressBar::with_draw_target(Some(nb), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{}/{}", ep + 1, epochs));
    let t0 = Instant::now();
    let n = train.len();
    let mut on_step = |k: usize, _nb: usize, loss: f64, acc: f64| {
        let seen = (k * bs).min(n);
        bar.set_position(k as u64);
        bar.set_message(format!(
            "loss {loss:.4}, acc {:.1}%, {:.0} samples/s",
            100.0 * acc,
            seen as f64 / t0.elapsed().as_secs_f64().max(1e-9)
        ));
    };
    let r = t.epoch_with(train, test, ep, Some(&mut on_step));
    bar.finish_and_clear();
    r
}
