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
//! accuracy (`somata::plot::curves_from`, one panel each, the quantity and unit on each y axis)
//! after the last epoch, at their true epoch numbers; the extension is checked before training
//! starts. With `--checkpoint FILE`, the per-epoch history is also written after every epoch,
//! atomically, to `FILE.history.json` (`{"epochs": [{"epoch", "train_loss", "train_accuracy",
//! "test_accuracy"}, ...]}`, accuracies as fractions); `--resume FILE` reads `FILE.history.json`
//! and keeps its epochs up to the checkpoint's, so the plot after a resume shows the whole run
//! (e.g. epochs 1 to 20 after resuming at 10) and the next history file keeps them. Without a
//! history file (or with one that does not reach the checkpoint's epoch) the plot starts at the
//! first epoch it knows, numbered as such. `--schedule cosine|constant` chooses the
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
    /// Draw the per-epoch loss and accuracy curves to FILE (.png or .svg), with the epochs before a --resume.
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
    // per-epoch history (true epoch numbers), kept across --resume for --plot
    let mut history: Vec<EpochRecord> = Vec::new();
    if let Some(path) = &a.resume {
        start = t.resume(path).map_err(|err| format!("cannot resume: {err}"))?;
        println!("resumed from {path} after epoch {start} (optimizer step {}; Adam's moments restart)", t.step());
        if start >= cfg.epochs {
            println!("the checkpoint is at epoch {start}, --epochs is {}: nothing to train", cfg.epochs);
        }
        history = read_history(&history_path(path), start, a.plot.is_none());
    }
    let mut last = None;
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
        last = Some(r.test_accuracy);
        history.push(EpochRecord {
            epoch: ep + 1,
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            test_accuracy: r.test_accuracy,
        });
        if let Some(path) = &a.checkpoint {
            // the history first: one a step ahead of its checkpoint is cut back on --resume
            write_history(&history_path(path), &history).map_err(|err| format!("saving the history after epoch {}: {err}", ep + 1))?;
            t.save_checkpoint(path, ep + 1).map_err(|err| format!("saving the checkpoint after epoch {}: {err}", ep + 1))?;
            saved = Some(ep + 1);
        }
    }
    // a plot that cannot be written is reported after the last line, with a nonzero status
    let plot_err = match &a.plot {
        Some(path) => {
            let first = history.first().map_or(start + 1, |h| h.epoch);
            let losses: Vec<f64> = history.iter().map(|h| h.train_loss).collect();
            let train_acc: Vec<f64> = history.iter().map(|h| 100.0 * h.train_accuracy).collect();
            let test_acc: Vec<f64> = history.iter().map(|h| 100.0 * h.test_accuracy).collect();
            let series: [(&str, &[f64]); 3] =
                [("training loss (cross-entropy, nats)", &losses), ("training accuracy (%)", &train_acc), ("test accuracy (%)", &test_acc)];
            match somata::plot::curves_from(path, first, &series) {
                Ok(()) => {
                    match history.last() {
                        Some(l) => println!("plot: {path} ({} epochs), epochs {first} to {}", history.len(), l.epoch),
                        None => println!("plot: {path} (0 epochs)"),
                    }
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

/// One epoch of the training history (accuracies as fractions).
#[derive(Debug, Clone, Copy, PartialEq)]
struct EpochRecord {
    epoch: usize,
    train_loss: f64,
    train_accuracy: f64,
    test_accuracy: f64,
}

/// `<checkpoint>.history.json`, next to the checkpoint.
fn history_path(checkpoint: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{checkpoint}.history.json"))
}

/// Write the history to `path` atomically (`<path>.tmp`, fsync, rename).
fn write_history(path: &std::path::Path, history: &[EpochRecord]) -> Result<(), String> {
    use std::io::Write;
    let epochs: Vec<serde_json::Value> = history
        .iter()
        .map(|h| {
            serde_json::json!({
                "epoch": h.epoch, "train_loss": h.train_loss,
                "train_accuracy": h.train_accuracy, "test_accuracy": h.test_accuracy,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "epochs": epochs })).map_err(|e| e.to_string())? + "\n";
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        std::fs::remove_file(&tmp).ok();
        format!("{}: {e}", path.display())
    })
}

/// The history of `path` for a checkpoint at epoch `upto`: its records of epochs `1..=upto`
/// when they run without a gap up to `upto` (the longest such run ending at `upto`); empty, with
/// a note on stdout (unless `quiet`), when the file is missing, unreadable or malformed, or does
/// not reach `upto`.
fn read_history(path: &std::path::Path, upto: usize, quiet: bool) -> Vec<EpochRecord> {
    if upto == 0 {
        return Vec::new();
    }
    let note = |why: &str| {
        if !quiet {
            println!("no training history up to epoch {upto}: {} {why}; the plot shows the epochs of this run", path.display());
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            note("not found");
            return Vec::new();
        }
        Err(e) => {
            note(&format!("unreadable ({e})"));
            return Vec::new();
        }
    };
    let parsed = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| {
        v.get("epochs")?
            .as_array()?
            .iter()
            .map(|e| {
                // a non-finite value is written as null
                let f = |k: &str| match e.get(k)? {
                    serde_json::Value::Null => Some(f64::NAN),
                    x => x.as_f64(),
                };
                Some(EpochRecord {
                    epoch: e.get("epoch")?.as_u64()? as usize,
                    train_loss: f("train_loss")?,
                    train_accuracy: f("train_accuracy")?,
                    test_accuracy: f("test_accuracy")?,
                })
            })
            .collect::<Option<Vec<_>>>()
    });
    let Some(mut all) = parsed else {
        note("is malformed");
        return Vec::new();
    };
    all.retain(|h| (1..=upto).contains(&h.epoch));
    all.sort_by_key(|h| h.epoch);
    all.dedup_by_key(|h| h.epoch);
    // the run of consecutive epochs ending at `upto`
    let mut keep = 0;
    while keep < all.len() && all[all.len() - 1 - keep].epoch == upto - keep {
        keep += 1;
    }
    if keep == 0 {
        note(&format!("does not reach epoch {upto}"));
    }
    all.split_off(all.len() - keep)
}
