use somata::engine::{Build, NeuronLayer, SeqInput};
use somata::init::Rng;
use somata::prelude::*;
use std::time::Instant;
fn main() {
    let (n, b, t) = (256, 64, 100);
    let mut layer: NeuronLayer<Lif> = Lif::builder(n).tau(8.0 * ms).build().unwrap();
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..t * b * n).map(|_| (3.0 * rng.uniform()) as f32).collect();
    let gs: Vec<f32> = (0..t * b * n).map(|_| rng.uniform() as f32).collect();
    for _ in 0..5 {
        layer.init_state(Some(b)).unwrap();
        let mut clock = Clock::new(0.1 * ms).unwrap();
        let t0 = Instant::now();
        let tape = layer.forward_tape(&mut clock, SeqInput::Dense(&x, t)).unwrap();
        let t1 = Instant::now();
        let g = layer.backward(&tape, &gs, &["tau"]).unwrap();
        let t2 = Instant::now();
        println!("fwd {:.2} ms bwd {:.2} ms {}", (t1 - t0).as_secs_f64() * 1e3, (t2 - t1).as_secs_f64() * 1e3, g.input[0]);
    }
}
