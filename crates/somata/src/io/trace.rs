//! `somata trace`: run one neuron, gradient, synapse or sequential-network case described by a JSON
//! document and answer in the golden files' format (see `tests/data/FORMAT.md`).
//!
//! Sequential documents (`"kind": "sequential"`) run Linear, neuron and readout layers through
//! [`crate::nn::Sequential`]; a Linear layer's output is read by the next neuron layer as raw
//! numbers in that model's input unit, and the input is in the first layer's unit (dimensionless
//! unless the first layer is a neuron layer), `grad_input` per unit of `input.unit`.
//!
//! Synapse documents (`"kind": "synapse"`) run one [`crate::synapse`] module (Expon, DualExpon,
//! Alpha, AMPA, GABAa, BioNMDA, STP, STD) over `input` (`[steps][batch][n]`, step `i` at
//! `t = f32(i)·f32(dt)`) and report every state after each step plus `out`, conductances in mS.
//!
//! Gradient documents differentiate every quantity given in `params` (FORMAT.md's `tau` and `V_th`,
//! or any other, e.g. `gNa` of HH) and report `grad_<name>` per unit in which it was given;
//! `grad_input` is per unit of `input.unit`.
//!
//! ```
//! let doc = r#"{"kind": "neuron", "model": "LIF", "spk_reset": "soft", "dt_ms": 0.1,
//!   "params": {"tau": {"value": 8.0, "unit": "ms"}},
//!   "input": {"unit": "mA", "value": [[[2.0, 4.0]], [[2.0, 4.0]]]}}"#;
//! let out = somata::io::trace::run_str(doc).unwrap();
//! assert_eq!(out["outputs"]["V"]["unit"], "mV");
//! assert_eq!(out["outputs"]["spike"]["value"].as_array().unwrap().len(), 2);
//! ```

use crate::dynamics::{Clock, NeuronModel, Real, SpikeReset};
use crate::engine::{LayerBuilder, NeuronLayer, RunOptions, SeqInput};
use crate::error::{Result, SomataError};
use crate::init::Init;
use crate::neurons::registry::{dispatch, ModelFn};
use crate::nn::{Layer, LeakyRateReadout, Linear, Neurons, SeqBuf, Sequential};
use crate::surrogate::Surrogate;
use crate::units::{Dim, Time, Unit};
use serde_json::{json, Map, Value};

fn fmt_err(m: impl Into<String>) -> SomataError {
    SomataError::Format(m.into())
}

/// Parse and run a trace document.
pub fn run_str(text: &str) -> Result<Value> {
    let doc: Value = serde_json::from_str(text).map_err(|e| fmt_err(format!("not valid JSON: {e}")))?;
    run(&doc)
}

/// Run a parsed trace document.
pub fn run(doc: &Value) -> Result<Value> {
    let kind = doc.get("kind").and_then(Value::as_str).ok_or_else(|| fmt_err("missing string field `kind`"))?;
    if kind == "sequential" {
        return run_sequential(doc);
    }
    if kind == "synapse" {
        return run_synapse(doc);
    }
    let model = doc.get("model").and_then(Value::as_str).ok_or_else(|| fmt_err("missing string field `model`"))?;
    let model = model.rsplit('.').next().unwrap_or(model);
    match kind {
        "neuron" => dispatch(model, NeuronTrace(doc)),
        "grad" => dispatch(model, GradTrace(doc)),
        k => Err(fmt_err(format!("unknown kind `{k}` (expected \"neuron\", \"grad\", \"synapse\" or \"sequential\")"))),
    }
}

/// A number as in the goldens: a JSON number or "nan"/"inf"/"-inf".
pub fn num(v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| fmt_err("bad number")),
        Value::String(s) => match s.as_str() {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(fmt_err(format!("expected a number, got \"{s}\""))),
        },
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        _ => Err(fmt_err(format!("expected a number, got {v}"))),
    }
}

/// A float in the goldens' convention: shortest round-trip f32, non-finite as strings.
pub fn out_num<T: Real>(x: T) -> Value {
    let f = x.to_f64();
    if f.is_nan() {
        json!("nan")
    } else if f.is_infinite() {
        json!(if f > 0.0 { "inf" } else { "-inf" })
    } else if T::NAME == "f32" {
        // shortest decimal that round-trips the f32 value
        let s = format!("{}", f as f32);
        serde_json::from_str(&s).unwrap_or(json!(f))
    } else {
        json!(f)
    }
}

/// A `[steps][batch][n]` array of numbers; returns (flat values, steps, batch, n).
fn array3(v: &Value, what: &str) -> Result<(Vec<f64>, usize, usize, usize)> {
    let bad = || fmt_err(format!("`{what}` must be a non-empty [steps][batch][n] array of numbers"));
    let steps = v.as_array().ok_or_else(bad)?;
    let b = steps.first().and_then(Value::as_array).map(Vec::len).ok_or_else(bad)?;
    let n = steps.first().and_then(|s| s.get(0)).and_then(Value::as_array).map(Vec::len).ok_or_else(bad)?;
    if steps.is_empty() || b == 0 || n == 0 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(steps.len() * b * n);
    for st in steps {
        let rows = st.as_array().filter(|r| r.len() == b).ok_or_else(bad)?;
        for row in rows {
            let row = row.as_array().filter(|r| r.len() == n).ok_or_else(bad)?;
            for x in row {
                out.push(num(x)?);
            }
        }
    }
    Ok((out, steps.len(), b, n))
}

fn nest<T: Real>(flat: &[T], steps: usize, b: usize, n: usize) -> Value {
    Value::Array(
        (0..steps)
            .map(|k| Value::Array((0..b).map(|r| Value::Array((0..n).map(|i| out_num(flat[(k * b + r) * n + i])).collect())).collect()))
            .collect(),
    )
}

/// Apply the document's `params` (constructor overrides) to a builder.
/// Quantity parameters of a document: name and the scale of the unit they were given in.
type Trainable = Vec<(String, f64)>;

/// Apply the document's `params`; returns the builder and, for each quantity parameter, its name
/// and the scale of the unit it was given in (canonical = value × scale).
fn apply_params<M: NeuronModel, T: Real>(mut bld: LayerBuilder<M, T>, params: Option<&Value>) -> Result<(LayerBuilder<M, T>, Trainable)> {
    let mut quantities = Vec::new();
    let Some(params) = params else { return Ok((bld, quantities)) };
    let map = params.as_object().ok_or_else(|| fmt_err("`params` must be an object"))?;
    for (name, v) in map {
        if let Some(spec) = M::STATES.iter().find(|s| s.init_param == Some(name.as_str())) {
            match v {
                Value::Null => continue, // BrainPy's None: the model's own default (e.g. HH steady state)
                Value::Object(o) => {
                    let init = o.get("initializer").and_then(Value::as_str).unwrap_or("Constant");
                    let unit = Unit::parse(o.get("unit").and_then(Value::as_str).unwrap_or("1"))?;
                    let conv = |key: &str| -> Result<f64> {
                        let x = num(o.get(key).ok_or_else(|| fmt_err(format!("{name}: missing `{key}`")))?)?;
                        unit.to_canonical(x, spec.dim, name)
                    };
                    let i = match init {
                        "Constant" => Init::Constant(conv("value")?),
                        "Uniform" => Init::Uniform { low: conv("low")?, high: conv("high")? },
                        "Normal" => Init::Normal { mean: conv("mean")?, std: conv("std")? },
                        other => return Err(SomataError::InvalidInitializer(format!("{name}: unknown initializer `{other}`"))),
                    };
                    bld = bld.init(name, i);
                }
                _ => return Err(fmt_err(format!("{name}: expected an initializer object"))),
            }
            continue;
        }
        let idx = M::param_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.clone(),
            known: M::PARAMS.iter().map(|p| p.name).chain(M::STATES.iter().filter_map(|s| s.init_param)).collect::<Vec<_>>().join(", "),
        })?;
        let spec = M::PARAMS[idx];
        match v {
            Value::Bool(b) => bld = bld.flag(name, *b),
            Value::Object(o) => {
                let unit = Unit::parse(o.get("unit").and_then(Value::as_str).unwrap_or("1"))?;
                let val = o.get("value").ok_or_else(|| fmt_err(format!("{name}: missing `value`")))?;
                if let Some(arr) = val.as_array() {
                    let vals = arr.iter().map(|x| num(x).and_then(|x| unit.to_canonical(x, spec.dim, name))).collect::<Result<Vec<_>>>()?;
                    bld = bld.set_per_neuron(name, vals);
                } else {
                    bld = bld.set_raw(name, unit.to_canonical(num(val)?, spec.dim, name)?);
                }
                quantities.push((name.clone(), unit.scale));
            }
            Value::Number(_) => {
                bld = bld.set_raw(name, Unit::ONE.to_canonical(num(v)?, spec.dim, name)?);
                quantities.push((name.clone(), 1.0));
            }
            _ => return Err(fmt_err(format!("{name}: expected a quantity {{value, unit}}, a boolean or an initializer"))),
        }
    }
    Ok((bld, quantities))
}

/// What every trace document has: clock, reset, input (canonical, [steps][batch][n]) and the
/// input unit's scale to canonical.
struct Common {
    clock: Clock,
    reset: SpikeReset,
    x: Vec<f64>,
    steps: usize,
    b: usize,
    n: usize,
    scale: f64,
}

fn common<M: NeuronModel>(doc: &Value) -> Result<Common> {
    let dt = doc.get("dt_ms").ok_or(SomataError::InvalidDt(f64::NAN)).and_then(|v| num(v).map_err(|_| SomataError::InvalidDt(f64::NAN)))?;
    let clock = Clock::from_ms(dt)?;
    let reset = match doc.get("spk_reset") {
        None => M::DEFAULT_RESET,
        Some(v) => SpikeReset::parse(v.as_str().ok_or_else(|| fmt_err("`spk_reset` must be a string"))?)?,
    };
    let mut input = doc.get("input").ok_or_else(|| fmt_err("missing `input`"))?;
    // tolerate a quantity nested as the value ({"unit", "value": {"unit", "value": [...]}})
    if let Some(inner) = input.get("value").filter(|v| v.is_object() && v.get("value").is_some()) {
        input = inner;
    }
    let unit = Unit::parse(input.get("unit").and_then(Value::as_str).unwrap_or("1"))?;
    let scale = unit.to_canonical(1.0, M::INPUT_DIM, &format!("input of {}", M::NAME))?;
    let (x, steps, b, n) = array3(input.get("value").ok_or_else(|| fmt_err("missing `input.value`"))?, "input.value")?;
    Ok(Common { clock, reset, x: x.into_iter().map(|v| v * scale).collect(), steps, b, n, scale })
}

fn build<M: NeuronModel + Default>(
    doc: &Value,
    reset: SpikeReset,
    n: usize,
    sg: Option<Surrogate>,
) -> Result<(NeuronLayer<M, f32>, Trainable)> {
    let bld = LayerBuilder::<M, f32>::new(M::default(), n).spk_reset(reset).seed(doc.get("seed").and_then(Value::as_u64).unwrap_or(0));
    let bld = match sg {
        Some(s) => bld.spk_fun(s),
        None => bld,
    };
    let (bld, q) = apply_params(bld, doc.get("params"))?;
    Ok((bld.build()?, q))
}

/// A document's `surrogate`: `{"name": "Sigmoid", "params": {"alpha": 4.0}}` (braintools' names;
/// a trailing `()` as in the goldens' `"ReluGrad()"` is ignored).
fn surrogate_of(sg: &Value) -> Result<Surrogate> {
    let name = sg.get("name").and_then(Value::as_str).ok_or_else(|| fmt_err("missing `surrogate.name`"))?;
    let name = name.split('(').next().unwrap_or(name);
    let mut sp = Vec::new();
    if let Some(p) = sg.get("params")
        && !p.is_null()
    {
        for (k, v) in p.as_object().ok_or_else(|| fmt_err("`surrogate.params` must be an object"))? {
            sp.push((k.clone(), num(v)?));
        }
    }
    Surrogate::from_name(name, &sp)
}

struct NeuronTrace<'a>(&'a Value);
impl ModelFn for NeuronTrace<'_> {
    type Out = Result<Value>;
    fn call<M: NeuronModel + Default>(self) -> Result<Value> {
        let doc = self.0;
        let Common { mut clock, reset, x, steps, b, n, .. } = common::<M>(doc)?;
        let (mut layer, _) = build::<M>(doc, reset, n, None)?;
        layer.init_state(Some(b))?;
        let opts = RunOptions { record_spikes: true, record_states: true, ..Default::default() };
        // canonical values, rounded once to f32 by the layer (typed input: never rescaled)
        let out = layer.run(&mut clock, SeqInput::DenseQ(&x, M::INPUT_DIM, steps), &opts)?;
        let states = out.states.expect("recorded");
        let spikes = out.spikes.expect("recorded");
        let bn = b * n;
        let ns = M::STATES.len();
        let mut outputs = Map::new();
        for (j, spec) in M::STATES.iter().enumerate() {
            if let Some(flag) = spec.visible_if {
                let on = layer.param(flag).map(|p| p.at(0) != 0.0).unwrap_or(false);
                if !on {
                    continue;
                }
            }
            let mut flat = Vec::with_capacity(steps * bn);
            for k in 0..steps {
                flat.extend_from_slice(&states[(k * ns + j) * bn..(k * ns + j + 1) * bn]);
            }
            outputs.insert(spec.name.into(), json!({"unit": spec.unit, "value": nest(&flat, steps, b, n)}));
        }
        let sp: Vec<f32> = spikes.iter().map(|&s| s as f32).collect();
        outputs.insert("spike".into(), json!({"unit": "1", "value": nest(&sp, steps, b, n)}));
        Ok(json!({"model": M::NAME, "outputs": outputs}))
    }
}

struct GradTrace<'a>(&'a Value);
impl ModelFn for GradTrace<'_> {
    type Out = Result<Value>;
    fn call<M: NeuronModel + Default>(self) -> Result<Value> {
        let doc = self.0;
        let Common { mut clock, reset, x, steps, b, n, scale } = common::<M>(doc)?;
        let surrogate = surrogate_of(doc.get("surrogate").ok_or_else(|| fmt_err("missing `surrogate`"))?)?;
        let (mut layer, trainable) = build::<M>(doc, reset, n, Some(surrogate))?;
        layer.init_state(Some(b))?;
        let (w, ws, wb, wn) = array3(doc.get("loss_weight").ok_or_else(|| fmt_err("missing `loss_weight`"))?, "loss_weight")?;
        if (ws, wb, wn) != (steps, b, n) {
            return Err(SomataError::ShapeMismatch { what: "loss_weight".into(), expected: vec![steps, b, n], got: vec![ws, wb, wn] });
        }
        let tape = layer.forward_tape(&mut clock, SeqInput::DenseQ(&x, M::INPUT_DIM, steps))?;
        let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let names: Vec<&str> = trainable.iter().map(|(n, _)| n.as_str()).collect();
        let grads = layer.backward(&tape, &wf, &names)?;
        let loss: f64 = tape.spikes().iter().zip(&w).map(|(&s, &w)| s as f64 * w).sum();
        // grads.input is per unit of the model's input unit; the document's unit may differ
        let to_doc = scale / layer.input_scale();
        let gin: Vec<f32> = grads.input.iter().map(|&g| if to_doc == 1.0 { g } else { (g as f64 * to_doc) as f32 }).collect();
        let mut out = Map::new();
        out.insert("loss".into(), json!(loss));
        out.insert("spikes".into(), nest(tape.spikes(), steps, b, n));
        out.insert("grad_input".into(), nest(&gin, steps, b, n));
        // per unit of the parameter as given in the document: ∂L/∂(value) = ∂L/∂(canonical)·scale
        for ((pname, g), (_, pscale)) in grads.params.iter().zip(&trainable) {
            let v = match g {
                crate::engine::ParamGrad::Shared(v) => json!(v * pscale),
                crate::engine::ParamGrad::PerNeuron(v) => json!(v.iter().map(|x| x * pscale).collect::<Vec<_>>()),
            };
            out.insert(format!("grad_{pname}"), v);
        }
        Ok(Value::Object(out))
    }
}

/// A `[rows][cols]` matrix of numbers; returns (flat row-major values, rows, cols).
fn matrix(v: &Value, what: &str) -> Result<(Vec<f32>, usize, usize)> {
    let bad = || fmt_err(format!("`{what}` must be a non-empty [in][out] array of numbers"));
    let rows = v.as_array().filter(|r| !r.is_empty()).ok_or_else(bad)?;
    let cols = rows[0].as_array().map(Vec::len).filter(|&c| c > 0).ok_or_else(bad)?;
    let mut out = Vec::with_capacity(rows.len() * cols);
    for r in rows {
        for x in r.as_array().filter(|r| r.len() == cols).ok_or_else(bad)? {
            out.push(num(x)? as f32);
        }
    }
    Ok((out, rows.len(), cols))
}

/// A list of numbers.
fn vector(v: &Value, what: &str) -> Result<Vec<f64>> {
    v.as_array().ok_or_else(|| fmt_err(format!("`{what}` must be a list of numbers")))?.iter().map(num).collect()
}

/// A neuron layer of a sequential document, wrapped as a network layer; also returns the model's
/// input dimension and the layer's input scale (canonical per raw input number).
struct SeqNeuron<'a> {
    entry: &'a Value,
    reset: Option<&'a str>,
    sg: Option<Surrogate>,
    n: usize,
}
impl ModelFn for SeqNeuron<'_> {
    type Out = Result<(Box<dyn Layer>, Dim, f64)>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let reset = match self.reset {
            None => M::DEFAULT_RESET,
            Some(r) => SpikeReset::parse(r)?,
        };
        let (layer, _) = build::<M>(self.entry, reset, self.n, self.sg)?;
        let scale = layer.input_scale();
        Ok((Box::new(Neurons::new(layer)), M::INPUT_DIM, scale))
    }
}

/// What a layer of a sequential document is (for the output's layout).
#[derive(Clone, Copy, PartialEq)]
enum SeqKind {
    Linear,
    Neuron,
    Readout,
}

/// FORMAT.md's "Sequential network runs": Linear, neuron and readout layers over a sequence,
/// loss = Σ_layers Σ_{t,b,k} out·w[k], its gradients by BPTT ([`crate::nn::Sequential`]).
fn run_sequential(doc: &Value) -> Result<Value> {
    let dt = doc.get("dt_ms").ok_or(SomataError::InvalidDt(f64::NAN)).and_then(|v| num(v).map_err(|_| SomataError::InvalidDt(f64::NAN)))?;
    Clock::from_ms(dt)?; // checks dt
    let reset = match doc.get("spk_reset") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().ok_or_else(|| fmt_err("`spk_reset` must be a string"))?),
    };
    let sg = match doc.get("surrogate") {
        None | Some(Value::Null) => None,
        Some(s) => Some(surrogate_of(s)?),
    };
    let mut input = doc.get("input").ok_or_else(|| fmt_err("missing `input`"))?;
    if let Some(inner) = input.get("value").filter(|v| v.is_object() && v.get("value").is_some()) {
        input = inner;
    }
    let unit = Unit::parse(input.get("unit").and_then(Value::as_str).unwrap_or("1"))?;
    let (x, steps, b, n_x) = array3(input.get("value").ok_or_else(|| fmt_err("missing `input.value`"))?, "input.value")?;
    let specs = doc.get("layers").and_then(Value::as_array).ok_or_else(|| fmt_err("`layers` must be a list"))?;
    if specs.is_empty() {
        return Err(fmt_err("`layers` is empty"));
    }

    let mut net = Sequential::new(Time::from_canonical(dt));
    let mut kinds = Vec::with_capacity(specs.len());
    // the input's dimension and scale as read by the first layer (raw numbers for Linear/readout)
    let mut first_in = (Dim::ONE, 1.0);
    let mut width = n_x;
    for (k, e) in specs.iter().enumerate() {
        let ty = e.get("type").and_then(Value::as_str).ok_or_else(|| fmt_err(format!("layer {k}: missing string field `type`")))?;
        let wrong_width = |n_in: usize| SomataError::ShapeMismatch {
            what: format!("input width of layer {k} ({ty})"),
            expected: vec![width],
            got: vec![n_in],
        };
        match ty {
            "linear" => {
                let (w, n_in, n_out) = matrix(e.get("W").ok_or_else(|| fmt_err(format!("layer {k}: missing `W`")))?, "W")?;
                if n_in != width {
                    return Err(wrong_width(n_in));
                }
                let bias = match e.get("b") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(vector(v, "b")?.into_iter().map(|x| x as f32).collect()),
                };
                net.push_boxed(Box::new(Linear::from_weights(w, bias, n_in, n_out)?));
                kinds.push(SeqKind::Linear);
                width = n_out;
            }
            "neuron" => {
                let model =
                    e.get("model").and_then(Value::as_str).ok_or_else(|| fmt_err(format!("layer {k}: missing string field `model`")))?;
                let model = model.rsplit('.').next().unwrap_or(model);
                let (layer, dim, scale) = dispatch(model, SeqNeuron { entry: e, reset, sg: sg.clone(), n: width })?;
                if k == 0 {
                    first_in = (dim, scale);
                }
                net.push_boxed(layer);
                kinds.push(SeqKind::Neuron);
            }
            "readout" => {
                let (w, n_in, n_out) = matrix(e.get("W").ok_or_else(|| fmt_err(format!("layer {k}: missing `W`")))?, "W")?;
                if n_in != width {
                    return Err(wrong_width(n_in));
                }
                let tau = e.get("tau").ok_or_else(|| fmt_err(format!("layer {k}: missing `tau`")))?;
                let tu = Unit::parse(tau.get("unit").and_then(Value::as_str).unwrap_or("ms"))?;
                let tau_ms = tu.to_canonical(num(tau.get("value").unwrap_or(tau))?, Dim::TIME, "readout tau")?;
                net.push_boxed(Box::new(LeakyRateReadout::from_weights(w, n_in, n_out, Time::from_canonical(tau_ms))?));
                kinds.push(SeqKind::Readout);
                width = n_out;
            }
            t => return Err(fmt_err(format!("layer {k}: unknown type `{t}` (expected \"linear\", \"neuron\" or \"readout\")"))),
        }
    }

    // document unit → raw numbers of the first layer; grad_input goes back by the same factor
    let factor = unit.to_canonical(1.0, first_in.0, "sequential input")? / first_in.1;
    let xs: Vec<f32> = x.iter().map(|&v| if factor == 1.0 { v as f32 } else { (v * factor) as f32 }).collect();
    let outs = net.forward_all(&SeqBuf::dense(xs, steps, b, n_x))?;

    let lw =
        doc.get("loss_weight").and_then(Value::as_array).ok_or_else(|| fmt_err("`loss_weight` must be a list (one list per layer)"))?;
    if lw.len() != specs.len() {
        return Err(SomataError::ShapeMismatch {
            what: "loss_weight (one list per layer)".into(),
            expected: vec![specs.len()],
            got: vec![lw.len()],
        });
    }
    let mut loss = 0.0f64;
    let mut extra = Vec::with_capacity(outs.len());
    for (k, (y, w)) in outs.iter().zip(lw).enumerate() {
        let w = vector(w, &format!("loss_weight[{k}]"))?;
        if w.is_empty() {
            extra.push(None);
            continue;
        }
        if w.len() != y.n {
            return Err(SomataError::ShapeMismatch { what: format!("loss_weight[{k}]"), expected: vec![y.n], got: vec![w.len()] });
        }
        let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let mut g = Vec::with_capacity(y.data.len());
        for row in y.data.chunks_exact(y.n) {
            loss += row.iter().zip(&wf).map(|(&o, &wk)| o as f64 * wk as f64).sum::<f64>();
            g.extend_from_slice(&wf);
        }
        extra.push(Some(SeqBuf::dense(g, y.steps, y.batch, y.n)));
    }
    let last = outs.last().expect("at least one layer");
    let gin = net.backward_all(&SeqBuf::zeros(last.steps, last.batch, last.n), extra)?;
    let gin: Vec<f32> = gin.to_dense().data.iter().map(|&g| if factor == 1.0 { g } else { (g as f64 * factor) as f32 }).collect();

    let mut layers = Vec::with_capacity(outs.len());
    let mut grads = Vec::with_capacity(outs.len());
    for (k, l) in net.layers_mut().iter_mut().enumerate() {
        let y = &outs[k];
        let mut st = Map::new();
        match kinds[k] {
            SeqKind::Linear => {}
            SeqKind::Neuron => {
                for (name, unit, v) in l.states() {
                    st.insert(name, json!({"unit": unit, "value": nest(&v, steps, b, y.n)}));
                }
                st.insert("spike".into(), json!({"unit": "1", "value": nest(&y.data, steps, b, y.n)}));
            }
            SeqKind::Readout => {
                st.insert("r".into(), json!({"unit": "1", "value": nest(&y.data, steps, b, y.n)}));
            }
        }
        layers.push(Value::Object(st));
        let (n_in, n_out) = (l.n_in(), l.n_out());
        let mut gm = Map::new();
        for p in l.params() {
            let v = if p.name == "W" && p.grad.len() == n_in * n_out {
                Value::Array(p.grad.chunks_exact(n_out).map(|r| Value::Array(r.iter().map(|&g| out_num(g)).collect())).collect())
            } else {
                Value::Array(p.grad.iter().map(|&g| out_num(g)).collect())
            };
            gm.insert(p.name.into(), v);
        }
        grads.push(Value::Object(gm));
    }
    Ok(json!({"loss": loss, "layers": layers, "grads": grads, "grad_input": nest(&gin, steps, b, n_x)}))
}

/// FORMAT.md's "Synapse and short-term plasticity runs": one synapse module over a sequence.
fn run_synapse(doc: &Value) -> Result<Value> {
    let model = doc.get("model").and_then(Value::as_str).ok_or_else(|| fmt_err("missing string field `model`"))?;
    let model = model.rsplit('.').next().unwrap_or(model);
    let mut syn = crate::synapse::by_name(model)?;
    let dt = doc.get("dt_ms").ok_or(SomataError::InvalidDt(f64::NAN)).and_then(|v| num(v).map_err(|_| SomataError::InvalidDt(f64::NAN)))?;
    Clock::from_ms(dt)?; // checks dt
    if let Some(params) = doc.get("params").filter(|p| !p.is_null()) {
        let map = params.as_object().ok_or_else(|| fmt_err("`params` must be an object"))?;
        for (name, v) in map {
            let spec = syn.params().iter().find(|p| p.name == name.as_str()).copied().ok_or_else(|| SomataError::UnknownParameter {
                model: model.into(),
                name: name.clone(),
                known: syn.params().iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            })?;
            match v {
                Value::Null => continue,
                Value::Bool(b) => syn.set_flag(name, *b)?,
                Value::Number(_) => syn.set_param(name, Unit::ONE.to_canonical(num(v)?, spec.dim, name)?)?,
                Value::Object(o) => {
                    let unit = Unit::parse(o.get("unit").and_then(Value::as_str).unwrap_or("1"))?;
                    if name.ends_with("_initializer") {
                        let init = o.get("initializer").and_then(Value::as_str).unwrap_or("Constant");
                        if init != "Constant" {
                            return Err(SomataError::InvalidInitializer(format!(
                                "{name}: only Constant is supported for synapses, got `{init}`"
                            )));
                        }
                        if name == "g_initializer" {
                            // BrainPy's "1" of `1·unit(g) − g` is one unit of g's initializer
                            syn.set_g_unit(unit.to_canonical(1.0, spec.dim, name)?);
                        }
                    }
                    let val = o.get("value").ok_or_else(|| fmt_err(format!("{name}: missing `value`")))?;
                    syn.set_param(name, unit.to_canonical(num(val)?, spec.dim, name)?)?;
                }
                _ => return Err(fmt_err(format!("{name}: expected a quantity {{value, unit}}, a number, a boolean or an initializer"))),
            }
        }
    }
    let mut input = doc.get("input").ok_or_else(|| fmt_err("missing `input`"))?;
    if let Some(inner) = input.get("value").filter(|v| v.is_object() && v.get("value").is_some()) {
        input = inner;
    }
    let unit = Unit::parse(input.get("unit").and_then(Value::as_str).unwrap_or("1"))?;
    let scale = unit.to_canonical(1.0, syn.input_dim(), &format!("input of {model}"))?;
    let (x, steps, b, n) = array3(input.get("value").ok_or_else(|| fmt_err("missing `input.value`"))?, "input.value")?;
    let x: Vec<f32> = x.iter().map(|&v| (v * scale) as f32).collect();
    let bn = b * n;
    syn.init_state(bn)?;
    let specs = syn.states();
    let (out_unit, out_scale) = syn.out_unit();
    let mut rec: Vec<Vec<f32>> = vec![Vec::with_capacity(steps * bn); specs.len() + 1];
    let dt32 = dt as f32;
    for k in 0..steps {
        let out = syn.update(k as u64, dt32, &x[k * bn..(k + 1) * bn]);
        let r = &mut rec[specs.len()];
        r.extend(out.iter().map(|&o| if out_scale == 1.0 { o } else { (o as f64 / out_scale) as f32 }));
        for (j, spec) in specs.iter().enumerate() {
            let st = syn.state(j);
            rec[j].extend(st.iter().map(|&v| if spec.scale == 1.0 { v } else { (v as f64 / spec.scale) as f32 }));
        }
    }
    let mut outputs = Map::new();
    for (j, spec) in specs.iter().enumerate() {
        outputs.insert(spec.name.into(), json!({"unit": spec.unit, "value": nest(&rec[j], steps, b, n)}));
    }
    outputs.insert("out".into(), json!({"unit": out_unit, "value": nest(&rec[specs.len()], steps, b, n)}));
    Ok(json!({"model": syn.name(), "outputs": outputs}))
}
