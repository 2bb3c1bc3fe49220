//! The 18 surrogates against braintools' own values (surrogates.json), and their gradients
//! against finite differences of the smooth primitive.

use crate::common::*;
use somata::surrogate::{Surrogate, SurrogateGrad};

#[test]
fn all_18_surrogates_match_braintools() {
    let d = load("surrogates.json");
    let xs: Vec<f64> = d["inputs"]["x"].as_array().unwrap().iter().map(num).collect();
    let outs = d["outputs"].as_object().unwrap();
    assert_eq!(outs.len(), 18);
    let mut fails = Vec::new();
    for (name, sets) in outs {
        for (set, v) in sets.as_object().unwrap() {
            let params: Vec<(String, f64)> = v["kwargs"].as_object().unwrap().iter().map(|(k, x)| (k.clone(), num(x))).collect();
            let s = Surrogate::from_name(name, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name(), name);
            let fwd: Vec<f64> = v["forward"].as_array().unwrap().iter().map(num).collect();
            let grad: Vec<f64> = v["grad"].as_array().unwrap().iter().map(num).collect();
            for (i, &x) in xs.iter().enumerate() {
                let x32 = x as f32 as f64;
                if s.forward(x32) != fwd[i] {
                    fails.push(format!("{name}/{set} forward at {x}"));
                }
                if !close(s.grad(x32), grad[i], 1e-6, 1e-5) {
                    fails.push(format!("{name}/{set} grad at {x}: {} vs {}", s.grad(x32), grad[i]));
                }
            }
            match &v["surrogate_fun"] {
                serde_json::Value::Array(sf) => {
                    for (i, &x) in xs.iter().enumerate() {
                        let got = s.surrogate_fun(x as f32 as f64);
                        match got {
                            Some(g) if close(g, num(&sf[i]), 1e-6, 1e-5) => {}
                            _ => fails.push(format!("{name}/{set} surrogate_fun at {x}: {got:?} vs {}", sf[i])),
                        }
                    }
                }
                _ => {
                    if s.surrogate_fun(0.3).is_some() {
                        fails.push(format!("{name}: braintools defines no surrogate_fun"));
                    }
                }
            }
        }
    }
    assert!(fails.is_empty(), "{} failures:\n{}", fails.len(), fails.join("\n"));
}

#[test]
fn surrogate_grad_is_derivative_of_surrogate_fun() {
    let mut rng = somata::init::Rng::new(3);
    let mut checked = 0;
    for name in Surrogate::NAMES {
        let s = Surrogate::from_name(name, &[]).unwrap();
        if s.surrogate_fun(0.5).is_none() {
            continue;
        }
        for _ in 0..200 {
            let x = -3.0 + 6.0 * rng.uniform();
            // stay away from the kinks of the piecewise classes
            if [0.0f64, 1.0, -1.0, 0.5, -0.5].iter().any(|k| (x - k).abs() < 1e-3) {
                continue;
            }
            let h = 1e-6;
            let fd = (s.surrogate_fun(x + h).unwrap() - s.surrogate_fun(x - h).unwrap()) / (2.0 * h);
            assert!(close(s.grad(x), fd, 1e-6, 1e-4), "{name} at {x}: grad {} vs fd {fd}", s.grad(x));
            checked += 1;
        }
    }
    assert!(checked > 1500, "{checked}");
}

#[test]
fn aliases_and_errors() {
    assert_eq!(Surrogate::from_name("ATan", &[]).unwrap().name(), "Arctan");
    assert_eq!(Surrogate::from_name("SigmoidGrad", &[("alpha".into(), 2.0)]).unwrap().name(), "Sigmoid");
    assert!(matches!(Surrogate::from_name("Nope", &[]), Err(somata::SomataError::UnknownSurrogate(_))));
    let e = Surrogate::from_name("ReluGrad", &[("beta".into(), 1.0)]).unwrap_err();
    assert!(e.to_string().contains("beta"), "{e}");
    assert!(Surrogate::from_name("Sigmoid", &[("alpha".into(), f64::NAN)]).is_err());
    // H(0) = 1 for every class
    for name in Surrogate::NAMES {
        let s = Surrogate::from_name(name, &[]).unwrap();
        assert_eq!(s.forward(0.0), 1.0);
        assert_eq!(s.forward(-1e-30), 0.0);
    }
}
