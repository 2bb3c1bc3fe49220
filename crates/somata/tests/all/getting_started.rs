//! The Getting-started programs (examples/), run as tests: each asserts what the guide says.

#[path = "../../examples/adex_population.rs"]
mod adex;
#[path = "../../examples/hh_current_step.rs"]
mod hh_step;
#[path = "../../examples/common_mistakes.rs"]
mod mistakes;

use somata::SomataError;

#[test]
fn adex_population_rates_rise_with_current() {
    let s = adex::simulate().unwrap();
    assert_eq!(s.rates_hz.len(), 100);
    assert_eq!(s.rates_hz[0], 0.0, "no input, no spike");
    assert!(s.rates_hz.windows(2).all(|w| w[1] >= w[0] - 1.0), "f-I is non-decreasing (±1 spike): {:?}", s.rates_hz);
    assert!(s.rates_hz[99] > 20.0, "20 mA fires: {}", s.rates_hz[99]);
    // the first spike comes earlier as the current grows (among firing neurons)
    let firsts: Vec<f64> = s.first_spike_ms.iter().flatten().copied().collect();
    assert!(firsts.len() > 50 && firsts.windows(2).all(|w| w[1] <= w[0]), "{firsts:?}");
    // w: 1000 samples (every 1 ms), positive (spike-triggered b = 1 mA and a·(V − V_rest) > 0)
    assert_eq!(s.w_last.len(), 1000);
    assert!(s.w_last.iter().all(|w| w.is_finite()) && s.w_last[999] > 0.0);
}

#[test]
fn hh_current_step_gives_brainpys_seven_spikes() {
    let s = hh_step::simulate().unwrap();
    // BrainPy 2.9 (brainpy.state.HH defaults, dt 0.01 ms): 0 for 20 ms, then 10 µA for 100 ms: 7 spikes
    assert_eq!(s.counts[9], 7, "{:?}", s.counts);
    assert!(s.times_10ua.iter().all(|&t| t >= 20.0), "no spike before the step: {:?}", s.times_10ua);
    for (k, &c) in s.counts.iter().enumerate() {
        if c > 0 {
            assert!(s.peak_v[k] > 20.0, "a spike is an action potential: neuron {k} peaks at {}", s.peak_v[k]);
        }
    }
}

#[test]
fn common_mistakes_are_named_errors() {
    let e = mistakes::mistakes();
    assert_eq!(e.len(), 9);
    assert!(matches!(e[0], SomataError::NotInitialized(_)), "{}", e[0]);
    assert!(matches!(e[1], SomataError::ClockNotAdvanced { step: 0, last: 0, .. }), "{}", e[1]);
    assert!(e[1].to_string().contains("clock.advance()"));
    assert!(matches!(&e[2], SomataError::ShapeMismatch { got, .. } if got == &vec![3]), "{}", e[2]);
    assert!(matches!(&e[3], SomataError::UnknownState { name, known, .. } if name == "w" && known == "V"), "{}", e[3]);
    assert!(matches!(&e[4], SomataError::InvalidParameter { name, .. } if name == "tau"), "{}", e[4]);
    assert!(matches!(e[5], SomataError::DimensionMismatch { .. }), "{}", e[5]);
    assert!(matches!(e[6], SomataError::DimensionMismatch { .. }), "{}", e[6]);
    assert!(matches!(&e[7], SomataError::Diverged { neuron: 1, batch: 0, .. }), "{}", e[7]);
    assert!(matches!(e[8], SomataError::DimensionMismatch { .. }), "{}", e[8]);
}

#[path = "../../examples/spiking_net.rs"]
mod spiking_net;

#[test]
fn spiking_net_step_mode_equals_sequential_and_trains() {
    use somata::nn::SeqBuf;
    use somata::prelude::*;
    let (t, b) = (25, 2);
    let mut rng = somata::init::Rng::new(9);
    let xs: Vec<f32> = (0..t * b * 64).map(|_| (6.0 * rng.uniform()) as f32).collect();
    // (a) step by step
    let mut net = spiking_net::SpikingNet::new(3).unwrap();
    let mut seq = net.to_sequential(1.0 * ms);
    net.init_state(b).unwrap();
    let mut clock = Clock::new(1.0 * ms).unwrap();
    let mut stepped = Vec::new();
    for k in 0..t {
        stepped.extend(net.update(&clock, &xs[k * b * 64..(k + 1) * b * 64]).unwrap());
        clock.advance();
    }
    // (b) layer after layer over the whole sequence
    let all = seq.forward_all(&SeqBuf::dense(xs.clone(), t, b, 64)).unwrap();
    assert_eq!(all[4].data, stepped, "same output spikes both ways");
    assert_eq!(all.len(), 5);
    assert!(all[0].data.iter().sum::<f32>() > 0.0 && all[2].data.iter().sum::<f32>() > 0.0, "LIF and ALIF layers fire");
    // a few BPTT steps lower the loss
    let losses = spiking_net::train(30).unwrap();
    let head: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let tail: f64 = losses[25..].iter().sum::<f64>() / 5.0;
    assert!(tail < head, "loss {head} -> {tail}");
}
