//! `somata train`: a spiking network trained by BPTT. With no arguments: the embedded UCI digits
//! (fixed-seed 80/20 split), 64 → Linear → 128 LIF → LeakyRateReadout(10), direct current input,
//! T = 20 steps of 1 ms, Adam 5e-3 with cosine decay, batch 64, 20 epochs. The last line is
//! `test accuracy: <percent>%`.

use clap::Args;
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
}

pub fn run(a: &TrainArgs) -> Result<(), String> {
    let e = |e: somata::SomataError| e.to_string();
    let t_start = Instant::now();
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
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&cfg, train.n_inputs(), train.n_classes()).map_err(e)?;
    println!("{} train / {} test samples; network {}", train.len(), test.len(), t.net.describe());
    let mut last = 0.0;
    for ep in 0..cfg.epochs {
        let r = t.epoch(&train, &test, ep).map_err(e)?;
        println!(
            "epoch {:>3}: loss {:.4}, train {:.2}%, test {:.2}%, {:.1} ms/epoch, {:.0} samples/s",
            ep + 1,
            r.train_loss,
            100.0 * r.train_accuracy,
            100.0 * r.test_accuracy,
            r.train_secs * 1e3,
            r.samples_per_s
        );
        last = r.test_accuracy;
    }
    println!("total {:.2} s", t_start.elapsed().as_secs_f64());
    println!("test accuracy: {:.2}%", 100.0 * last);
    Ok(())
}
