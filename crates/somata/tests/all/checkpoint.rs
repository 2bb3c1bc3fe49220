//! `somata::nn::checkpoint`: safetensors checkpoints (round trip, refusals, atomic saves) and
//! the trainer's checkpoint / resume / divergence handling.

use somata::nn::checkpoint::{self, Checkpoint};
use somata::nn::train::{Data, TrainConfig, Trainer};
use somata::nn::SeqBuf;
use somata::SomataError;
use std::path::PathBuf;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("somata-ck-{tag}-{}", std::process::id()));
        std::fs::remove_dir_all(&p).ok();
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn cfg(hidden: usize, seed: u64) -> TrainConfig {
    TrainConfig { epochs: 1, hidden, seed, ..TrainConfig::default() }
}

fn trainer(hidden: usize, seed: u64) -> Trainer {
    Trainer::new(&cfg(hidden, seed), 64, 10).unwrap()
}

fn batch() -> SeqBuf {
    let x: Vec<f32> = (0..3 * 64).map(|i| ((i * 7) % 17) as f32 / 4.0).collect();
    SeqBuf::constant(x, 20, 3, 64)
}

fn values(t: &mut Trainer) -> Vec<Vec<f32>> {
    t.net.params().iter().map(|p| p.value.to_vec()).collect()
}

fn format_msg(e: SomataError) -> String {
    match e {
        SomataError::Format(m) => m,
        e => panic!("expected a Format error, got {e:?}"),
    }
}

#[test]
fn round_trip_gives_identical_outputs() {
    let dir = TempDir::new("rt");
    let path = dir.file("net.safetensors");
    let mut a = trainer(32, 1);
    let mut b = trainer(32, 2);
    let x = batch();
    let ya = a.net.forward(&x).unwrap();
    assert_ne!(ya, b.net.forward(&x).unwrap(), "different seeds, different nets");
    let meta = vec![("epoch".to_string(), "3".to_string()), ("note".to_string(), "hello".to_string())];
    checkpoint::save(&path, &mut a.net, &meta).unwrap();
    assert!(!dir.file("net.safetensors.tmp").exists(), "the temporary file is renamed away");
    let got = checkpoint::load(&path, &mut b.net).unwrap();
    assert_eq!(got["epoch"], "3");
    assert_eq!(got["note"], "hello");
    assert_eq!(got["architecture"], a.net.describe());
    assert_eq!(got["format"], checkpoint::FORMAT);
    assert_eq!(values(&mut a), values(&mut b));
    assert_eq!(ya, b.net.forward(&x).unwrap(), "same outputs on a batch after loading");
    // tensor names and lengths
    let ck = Checkpoint::read(&path).unwrap();
    let names: Vec<&str> = ck.tensors.keys().map(String::as_str).collect();
    assert!(names.contains(&"0.W") && names.contains(&"2.W"), "{names:?}");
    assert_eq!(ck.tensors["0.W"].len(), 64 * 32);
}

#[test]
fn another_architecture_is_refused_and_the_net_untouched() {
    let dir = TempDir::new("arch");
    let path = dir.file("net.safetensors");
    let mut a = trainer(64, 0);
    checkpoint::save(&path, &mut a.net, &[]).unwrap();
    let mut b = trainer(128, 0);
    let before = values(&mut b);
    let msg = format_msg(checkpoint::load(&path, &mut b.net).unwrap_err());
    assert!(msg.contains("architecture mismatch"), "{msg}");
    assert!(msg.contains(&b.net.describe()) && msg.contains(&a.net.describe()), "names both: {msg}");
    assert!(msg.contains("net.safetensors"), "names the path: {msg}");
    assert_eq!(values(&mut b), before);
    // another hidden model, same widths
    let mut c = Trainer::new(&TrainConfig { model: "ALIF".into(), ..cfg(64, 0) }, 64, 10).unwrap();
    let msg = format_msg(checkpoint::load(&path, &mut c.net).unwrap_err());
    assert!(msg.contains("architecture mismatch"), "{msg}");
}

#[test]
fn missing_truncated_and_corrupted_files_are_typed_errors() {
    let dir = TempDir::new("bad");
    let path = dir.file("net.safetensors");
    let mut a = trainer(16, 0);
    // missing
    match checkpoint::load(&path, &mut a.net) {
        Err(SomataError::Io(m)) => assert!(m.contains("net.safetensors"), "{m}"),
        r => panic!("expected Io, got {r:?}"),
    }
    checkpoint::save(&path, &mut a.net, &[]).unwrap();
    let good = std::fs::read(&path).unwrap();
    let before = values(&mut a);
    // truncated at several points (inside the length, the header, the data)
    for cut in [0, 5, 20, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let msg = format_msg(checkpoint::load(&path, &mut a.net).unwrap_err());
        assert!(msg.contains("truncated or corrupted") && msg.contains("net.safetensors"), "cut {cut}: {msg}");
    }
    // a byte flipped in the data (only the checksum sees it) or in the header
    let mut bad = good.clone();
    let last = bad.len() - 3;
    bad[last] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let msg = format_msg(checkpoint::load(&path, &mut a.net).unwrap_err());
    assert!(msg.contains("checksum mismatch"), "{msg}");
    let mut bad = good.clone();
    bad[9] = b'#';
    std::fs::write(&path, &bad).unwrap();
    let msg = format_msg(checkpoint::load(&path, &mut a.net).unwrap_err());
    assert!(msg.contains("truncated or corrupted"), "{msg}");
    // garbage
    std::fs::write(&path, b"not a checkpoint at all").unwrap();
    assert!(matches!(checkpoint::load(&path, &mut a.net), Err(SomataError::Format(_))));
    assert_eq!(values(&mut a), before, "failed loads leave the net untouched");
}

#[test]
fn wrong_tensor_length_and_names_are_refused() {
    use somata::nn::{Linear, Sequential};
    use somata::units::ms;
    let dir = TempDir::new("len");
    let path = dir.file("net.safetensors");
    let mut a = Sequential::new(1.0 * ms).push(Linear::new(3, 2, 0));
    checkpoint::save(&path, &mut a, &[]).unwrap();
    // forge a file whose architecture matches but whose tensor is short (valid checksum)
    let ck = Checkpoint::read(&path).unwrap();
    let mut fake = Sequential::new(1.0 * ms).push(Linear::new(2, 2, 0));
    checkpoint::save(&path, &mut fake, &[]).unwrap();
    let mut forged = Checkpoint::read(&path).unwrap();
    forged.meta.insert("architecture".into(), ck.architecture().to_string());
    let msg = format_msg(forged.apply(&mut a).unwrap_err());
    assert!(msg.contains("tensor `0.W` has 4 values, the network's has 6"), "{msg}");
    let mut extra = ck.clone();
    extra.tensors.insert("0.zz".into(), vec![1.0]);
    let msg = format_msg(extra.apply(&mut a).unwrap_err());
    assert!(msg.contains("0.zz"), "{msg}");
    let mut missing = ck.clone();
    missing.tensors.remove("0.W");
    let msg = format_msg(missing.apply(&mut a).unwrap_err());
    assert!(msg.contains("`0.W` is missing"), "{msg}");
}

#[test]
fn saves_are_atomic_and_a_failed_save_keeps_the_previous_file() {
    let dir = TempDir::new("atomic");
    let path = dir.file("net.safetensors");
    let mut a = trainer(16, 0);
    checkpoint::save(&path, &mut a.net, &[("epoch".into(), "1".into())]).unwrap();
    let good = std::fs::read(&path).unwrap();
    // the temporary file cannot be created (a directory sits there): the save fails, the
    // previous checkpoint is intact
    std::fs::create_dir(dir.file("net.safetensors.tmp")).unwrap();
    let mut b = trainer(16, 5);
    assert!(matches!(checkpoint::save(&path, &mut b.net, &[]), Err(SomataError::Io(_))));
    assert_eq!(std::fs::read(&path).unwrap(), good);
    std::fs::remove_dir(dir.file("net.safetensors.tmp")).unwrap();
    // the target is a directory: the rename fails, no temporary file remains
    let sub = dir.file("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("keep"), b"x").unwrap();
    assert!(matches!(checkpoint::save(&sub, &mut b.net, &[]), Err(SomataError::Io(_))));
    assert!(sub.join("keep").exists());
    assert!(!dir.file("sub.tmp").exists());
    // an overwrite replaces the whole file, leaves no temporary file
    checkpoint::save(&path, &mut b.net, &[("epoch".into(), "2".into())]).unwrap();
    assert!(!dir.file("net.safetensors.tmp").exists());
    let mut c = trainer(16, 9);
    assert_eq!(checkpoint::load(&path, &mut c.net).unwrap()["epoch"], "2");
    assert_eq!(values(&mut c), values(&mut b));
}

fn digits() -> (Data, Data) {
    let (tr, te) = somata::data::digits().split(0.2, 0);
    (tr.into(), te.into())
}

#[test]
fn trainer_resumes_from_a_checkpoint() {
    let dir = TempDir::new("resume");
    let path = dir.file("run.safetensors");
    let (train, test) = digits();
    let c = TrainConfig { epochs: 2, hidden: 32, ..TrainConfig::default() };
    let mut a = Trainer::new(&c, 64, 10).unwrap();
    let first = a.epoch(&train, &test, 0).unwrap();
    a.save_checkpoint(&path, 1).unwrap();
    let mut b = Trainer::new(&c, 64, 10).unwrap();
    assert_eq!(b.resume(&path).unwrap(), 1);
    assert_eq!(b.step(), a.step());
    assert_eq!(values(&mut a), values(&mut b));
    let meta = Checkpoint::read(&path).unwrap().meta;
    assert!(meta["config"].contains("hidden: 32"), "{}", meta["config"]);
    // the second epoch from the resumed trainer learns on (Adam's moments restart: close to
    // the uninterrupted run, not identical)
    let r = b.epoch(&train, &test, 1).unwrap();
    let ra = a.epoch(&train, &test, 1).unwrap();
    assert!(r.train_loss < first.train_loss, "{first:?} {r:?}");
    assert!((r.test_accuracy - ra.test_accuracy).abs() < 0.1, "{r:?} {ra:?}");
    // another architecture is refused, the trainer untouched
    let mut other = Trainer::new(&TrainConfig { hidden: 48, ..c.clone() }, 64, 10).unwrap();
    let before = values(&mut other);
    assert!(other.resume(&path).unwrap_err().to_string().contains("architecture mismatch"));
    assert_eq!((values(&mut other), other.step()), (before, 0));
}

#[test]
fn a_non_finite_loss_stops_training_naming_epoch_and_step() {
    let (train, test) = digits();
    let Data::Static(mut bad) = train else { unreachable!() };
    bad.features.iter_mut().for_each(|v| *v = f32::NAN);
    let mut t = trainer(16, 0);
    let msg = format_msg(t.epoch(&bad.into(), &test, 0).unwrap_err());
    assert!(msg.starts_with("training diverged at epoch 1, step 1 of "), "{msg}");
    assert!(msg.contains("not finite"), "{msg}");
}

#[test]
fn an_absurd_learning_rate_stops_training_naming_epoch_and_step() {
    let (train, test) = digits();
    let mut t = Trainer::new(&TrainConfig { lr: 1e38, ..cfg(16, 0) }, 64, 10).unwrap();
    let msg = format_msg(t.epoch(&train, &test, 0).unwrap_err());
    assert!(msg.starts_with("training diverged at epoch 1, step "), "{msg}");
}
