//! Getting started, program 4: the mistakes a new user makes, and what somata says. Each one is
//! a typed error that names the problem; none gives a silent wrong number.
//!
//! Run: `cargo run --release --example common_mistakes`

use somata::prelude::*;

/// Make each mistake; return the errors in order.
pub fn mistakes() -> Vec<SomataError> {
    let mut errs = Vec::new();
    let mut push = |r: somata::Result<()>| errs.push(r.expect_err("this mistake must be an error"));

    // 1. stepping before init_state
    let mut lif = Lif::builder(4).build().unwrap();
    let clock = Clock::new(0.1 * ms).unwrap();
    push(lif.update(&clock, 1.0f32).map(drop));

    // 2. forgetting clock.advance(): a second update at the same step
    lif.init_state(None).unwrap();
    lif.update(&clock, 1.0f32).unwrap();
    push(lif.update(&clock, 1.0f32).map(drop));

    // 3. an input of the wrong length (4 neurons, 3 values)
    let mut c = clock;
    c.advance();
    push(lif.update(&c, &[1.0f32, 2.0, 3.0][..]).map(drop));

    // 4. a state the model does not have (LIF has no `w`)
    push(lif.state("w").map(drop));

    // 5. a parameter out of range, and a parameter given in the wrong dimension at run time
    push(Lif::builder(4).tau(-1.0 * ms).build().map(drop));
    push(Lif::builder(4).set("tau", 1.0 * mV).build().map(drop));

    // 6. a typed sequence of the wrong dimension (voltages into a current-driven model)
    let v = vec![1.0 * mV; 4 * 10];
    let mut clk = Clock::new(0.1 * ms).unwrap();
    let mut fresh = Lif::builder(4).build().unwrap();
    fresh.init_state(None).unwrap();
    push(fresh.run(&mut clk, SeqInput::dense_q(&v, 10), &RunOptions::default()).map(drop));

    // 7. a model driven far too hard: a quadratic integrate-and-fire neuron under 1e5 mA runs
    //    away to infinity within a step (as in BrainPy); with the divergence check on, the error
    //    names the step, the neuron and the variable instead of carrying NaN on
    let mut quaif = QuaIf::builder(2).check_finite(true).build().unwrap();
    quaif.init_state(None).unwrap();
    let mut ck = Clock::new(0.1 * ms).unwrap();
    let r = (|| {
        for _ in 0..10_000 {
            quaif.update(&ck, &[0.0f32, 1e5][..])?;
            ck.advance();
        }
        Ok(())
    })();
    push(r);

    // 8. reading a parameter in the wrong unit
    let hh = Hh::builder(1).build().unwrap();
    push(hh.param_in("gNa", mV).map(drop));
    errs
}

#[allow(dead_code)]
fn main() {
    // 0. A dimension error in typed code does not even compile:
    //    `lif.update_q(&clock, 2.0 * mV)` on a LIF (input: current) is rejected by the compiler.
    for (i, e) in mistakes().iter().enumerate() {
        println!("{}. {e}", i + 1);
    }
}
