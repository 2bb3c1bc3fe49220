//! The neuron-model abstraction: one definition per model, from which the engine derives a fast
//! simulation kernel and exact BPTT gradients.
//!
//! A model implements [`NeuronModel`]: it lists its parameters and state variables (names, units,
//! defaults, checks) and writes **one** per-neuron step, generic over [`Scalar`]. The step receives
//! a [`Step`] context (parameters, hoisted constants, `dt`, `t`, surrogate, reset mode) and helpers
//! that reproduce BrainPy exactly:
//!
//! * [`Step::ee`]: one exponential-Euler step `y + dt·exprel(dt·J)·f(y)` with `J = ∂f/∂y`
//!   obtained by evaluating `f` on a dual number (BrainPy's `vector_grad`);
//! * [`Step::spike`]: Heaviside forward, surrogate backward;
//! * [`Step::reset_v`]: soft (`V − (V_th − V_reset)·spk`) or hard (`V − (sg(V) − V_reset)·spk`).
//!
//! State-independent pieces (e.g. LIF's `dt·exprel(−dt/τ)`) go in [`NeuronModel::hoist`], which
//! the engine evaluates once per run instead of once per neuron and step.

mod dual;
pub mod fastmath;
mod scalar;
pub mod simd;
pub mod table;

pub use dual::Dual;
pub use scalar::{Real, Scalar};
pub use table::GateTable;

use crate::error::{Result, SomataError};
use crate::surrogate::Surrogate;
use crate::units::{Dim, Dimension, Time};
use std::ops::{Add, Div, Mul, Sub};

/// Upper bound on a model's number of state variables.
pub const MAX_STATES: usize = 8;
/// Upper bound on a model's number of parameters.
pub const MAX_PARAMS: usize = 32;
/// Upper bound on a model's number of hoisted constants.
pub const MAX_HOIST: usize = 8;

/// How the membrane potential is reset after a spike (applied lazily, at the start of the next
/// update, as BrainPy does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpikeReset {
    /// `V ← V − (V_th − V_reset)·spk` (IF: `V − V_th·spk`). Gradient flows through V and spk.
    #[default]
    Soft,
    /// `V ← V − (stop_grad(V) − V_reset)·spk`: the value is V_reset, the gradient still flows
    /// through `spk` with coefficient `−(V − V_reset)` and through V with coefficient 1.
    Hard,
}

impl SpikeReset {
    /// Parse BrainPy's `'soft'` / `'hard'`.
    pub fn parse(s: &str) -> Result<SpikeReset> {
        match s {
            "soft" => Ok(SpikeReset::Soft),
            "hard" => Ok(SpikeReset::Hard),
            _ => Err(SomataError::Format(format!("spk_reset must be 'soft' or 'hard', got '{s}'"))),
        }
    }
}

/// The simulation clock: an explicit `dt` (no global default) and the step index.
///
/// Time follows BrainPy: at step `i` the models read `t = f32(i)·f32(dt)` (computed in the layer's
/// float type), never an accumulated sum.
///
/// ```
/// use somata::dynamics::Clock;
/// use somata::units::*;
/// let mut c = Clock::new(0.1 * ms).unwrap();
/// c.advance();
/// assert_eq!(c.step(), 1);
/// assert!(Clock::new(0.0 * ms).is_err());
/// assert!(Clock::new(f64::NAN * ms).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    dt: f64,
    step: u64,
}

impl Clock {
    /// A clock at step 0 with time step `dt` (finite, > 0).
    pub fn new(dt: Time) -> Result<Clock> {
        Clock::from_ms(dt.canonical())
    }
    /// Same, with dt given as milliseconds.
    pub fn from_ms(dt_ms: f64) -> Result<Clock> {
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(SomataError::InvalidDt(dt_ms));
        }
        Ok(Clock { dt: dt_ms, step: 0 })
    }
    /// dt in ms.
    pub fn dt_ms(&self) -> f64 {
        self.dt
    }
    /// The current step index (the next update runs at this step).
    pub fn step(&self) -> u64 {
        self.step
    }
    /// Set the step index.
    pub fn set_step(&mut self, i: u64) {
        self.step = i;
    }
    /// Advance by one step.
    pub fn advance(&mut self) {
        self.step += 1;
    }
    /// BrainPy's time of step `i`: `R(i)·R(dt)` in the float type `R`, in ms.
    #[inline(always)]
    pub fn t_at<R: Real>(&self, i: u64) -> R {
        R::from_f64(i as f64) * R::from_f64(self.dt)
    }
}

/// What a parameter must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Any finite value.
    Finite,
    /// Finite and > 0 (time constants, capacitances, ...).
    Positive,
    /// Finite and >= 0.
    NonNegative,
    /// A boolean flag stored as 0 or 1.
    Flag,
}

/// Description of one model parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// BrainPy's name.
    pub name: &'static str,
    /// Physical dimension (the value is stored in canonical units).
    pub dim: Dim,
    /// Default, canonical units.
    pub default: f64,
    /// Constraint.
    pub check: Check,
}

impl ParamSpec {
    /// A parameter spec.
    pub const fn new(name: &'static str, dim: Dim, default: f64, check: Check) -> ParamSpec {
        ParamSpec { name, dim, default, check }
    }
    /// Any finite value: `ParamSpec::finite("V_th", Dim::VOLTAGE, 1.0)`.
    pub const fn finite(name: &'static str, dim: Dim, default: f64) -> ParamSpec {
        ParamSpec::new(name, dim, default, Check::Finite)
    }
    /// Finite and > 0 (time constants, capacitances): `ParamSpec::positive("tau", Dim::TIME, 10.0)`.
    pub const fn positive(name: &'static str, dim: Dim, default: f64) -> ParamSpec {
        ParamSpec::new(name, dim, default, Check::Positive)
    }
}

/// Position of a parameter in a `PARAMS` table, at compile time (see [`param!`](crate::param)).
pub const fn param_position(specs: &[ParamSpec], name: &str) -> usize {
    let mut i = 0;
    while i < specs.len() {
        if const_str_eq(specs[i].name, name) {
            return i;
        }
        i += 1;
    }
    panic!("unknown parameter name: not in the model's PARAMS table")
}

/// Position of a state in a `STATES` table, at compile time (see [`state!`](crate::state)).
pub const fn state_position(specs: &[StateSpec], name: &str) -> usize {
    let mut i = 0;
    while i < specs.len() {
        if const_str_eq(specs[i].name, name) {
            return i;
        }
        i += 1;
    }
    panic!("unknown state name: not in the model's STATES table")
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The value of a parameter by its name inside a model's `step`, resolved at compile time:
/// `let v_th = param!(c, "V_th");` is `c.p[i]` with `i` the position of `"V_th"` in
/// `Self::PARAMS`, with no run-time cost. Use inside `impl NeuronModel for ...`.
///
/// **A misspelt name is one compile error that names it**, the model and the known names
/// (`evaluation panicked: param!("Vth"): model Integrator has no parameter `Vth`; its
/// parameters are: V_th`), pointing at the `param!` call: the position is an associated
/// constant of [`ParamAt`], which depends on the model and the name only, so it is evaluated
/// once however many float types the model's `step` is instantiated for (an inline `const`
/// block would be evaluated, and fail, once per instance). Names are at most 48 bytes.
///
/// ```
/// use somata::prelude::*;
/// use somata::dynamics::{ParamSpec, StateSpec};
/// use somata::units::{dim, Dim};
/// #[derive(Debug, Clone, Copy, Default)]
/// struct Integrator;
/// impl NeuronModel for Integrator {
///     const NAME: &'static str = "Integrator";
///     const PARAMS: &'static [ParamSpec] = &[ParamSpec::finite("V_th", Dim::VOLTAGE, 1.0)];
///     const STATES: &'static [StateSpec] = &[StateSpec::of("V", Dim::VOLTAGE)];
///     type Input = dim::V;
///     fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
///         let v_th = somata::param!(c, "V_th");
///         s[somata::state!("V")] += x;
///         c.spike((s[somata::state!("V")] - v_th) / v_th)
///     }
/// }
/// ```
///
/// ```compile_fail,E0080
/// # use somata::prelude::*;
/// # use somata::dynamics::{ParamSpec, StateSpec};
/// # use somata::units::{dim, Dim};
/// # #[derive(Debug, Clone, Copy, Default)]
/// # struct Integrator;
/// # impl NeuronModel for Integrator {
/// #     const NAME: &'static str = "Integrator";
/// #     const PARAMS: &'static [ParamSpec] = &[ParamSpec::finite("V_th", Dim::VOLTAGE, 1.0)];
/// #     const STATES: &'static [StateSpec] = &[StateSpec::of("V", Dim::VOLTAGE)];
/// #     type Input = dim::V;
/// fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
///     let v_th = somata::param!(c, "Vth"); // misspelt: one compile error naming `Vth`
///     c.spike(s[0] - v_th)
/// }
/// # }
/// let mut layer = Integrator::builder(1).build().unwrap();
/// layer.init_state(None).unwrap();
/// layer.update(&Clock::new(0.1 * ms).unwrap(), 1.0f32).unwrap();
/// ```
#[macro_export]
macro_rules! param {
    ($c:expr_2021, $name:literal) => {
        $c.p[$crate::dynamics::ParamAt::<
            Self,
            { $crate::dynamics::name_word($name, 0) },
            { $crate::dynamics::name_word($name, 1) },
            { $crate::dynamics::name_word($name, 2) },
        >::INDEX]
    };
}

/// The index of a state variable by its name inside a model's `step` or `derive_init`, resolved
/// at compile time: `s[state!("V")]`. A misspelt name is one compile error naming it, as for
/// [`param!`](crate::param) (see [`StateAt`]).
///
/// ```compile_fail,E0080
/// # use somata::prelude::*;
/// # use somata::dynamics::{ParamSpec, StateSpec};
/// # use somata::units::{dim, Dim};
/// # #[derive(Debug, Clone, Copy, Default)]
/// # struct Integrator;
/// # impl NeuronModel for Integrator {
/// #     const NAME: &'static str = "Integrator";
/// #     const PARAMS: &'static [ParamSpec] = &[];
/// #     const STATES: &'static [StateSpec] = &[StateSpec::of("V", Dim::VOLTAGE)];
/// #     type Input = dim::V;
/// fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
///     s[somata::state!("v")] += x; // misspelt: one compile error naming `v`
///     c.spike(s[0])
/// }
/// # }
/// let mut layer = Integrator::builder(1).build().unwrap();
/// layer.init_state(None).unwrap();
/// layer.update(&Clock::new(0.1 * ms).unwrap(), 1.0f32).unwrap();
/// ```
#[macro_export]
macro_rules! state {
    ($name:literal) => {
        $crate::dynamics::StateAt::<
            Self,
            { $crate::dynamics::name_word($name, 0) },
            { $crate::dynamics::name_word($name, 1) },
            { $crate::dynamics::name_word($name, 2) },
        >::INDEX
    };
}

/// Bytes `16·k .. 16·k + 16` of `name`, little-endian, zero-padded: a name of up to 48 bytes
/// as three const-generic words (how [`param!`](crate::param) passes a name to [`ParamAt`]).
#[doc(hidden)]
pub const fn name_word(name: &str, k: usize) -> u128 {
    let b = name.as_bytes();
    if b.len() > 48 {
        panic!("param!/state!: a parameter or state name longer than 48 bytes");
    }
    let mut w = 0u128;
    let mut i = 0;
    while i < 16 {
        let j = k * 16 + i;
        if j < b.len() {
            w |= (b[j] as u128) << (8 * i);
        }
        i += 1;
    }
    w
}

const fn word_byte(w: &[u128; 3], i: usize) -> u8 {
    ((w[i / 16] >> (8 * (i % 16))) & 0xff) as u8
}

const fn word_eq(name: &str, w: &[u128; 3]) -> bool {
    let b = name.as_bytes();
    if b.len() > 48 {
        return false;
    }
    let mut i = 0;
    while i < 48 {
        let x = if i < b.len() { b[i] } else { 0 };
        if word_byte(w, i) != x {
            return false;
        }
        i += 1;
    }
    true
}

/// A compile-time message buffer (const fns cannot allocate).
struct ConstMsg {
    buf: [u8; 1024],
    len: usize,
}

impl ConstMsg {
    const fn push(mut self, s: &[u8]) -> ConstMsg {
        let mut i = 0;
        while i < s.len() && self.len < self.buf.len() {
            self.buf[self.len] = s[i];
            self.len += 1;
            i += 1;
        }
        self
    }
    const fn push_word(mut self, w: &[u128; 3]) -> ConstMsg {
        let mut i = 0;
        while i < 48 && word_byte(w, i) != 0 && self.len < self.buf.len() {
            self.buf[self.len] = word_byte(w, i);
            self.len += 1;
            i += 1;
        }
        self
    }
}

/// Panic (at compile time) with "`macro_name`("NAME"): model M has no KIND `NAME`; its KINDs are: ...".
const fn unknown_name(mac: &str, model: &str, kind: &str, w: &[u128; 3], known: &[&str]) -> ! {
    let mut m = ConstMsg { buf: [0; 1024], len: 0 };
    m = m.push(mac.as_bytes()).push(b"(\"").push_word(w).push(b"\"): model ").push(model.as_bytes());
    m = m.push(b" has no ").push(kind.as_bytes()).push(b" `").push_word(w).push(b"`; its ").push(kind.as_bytes());
    m = m.push(b"s are: ");
    let mut i = 0;
    while i < known.len() {
        if i > 0 {
            m = m.push(b", ");
        }
        m = m.push(known[i].as_bytes());
        i += 1;
    }
    if known.is_empty() {
        m = m.push(b"(none)");
    }
    let (s, _) = m.buf.split_at(m.len);
    match core::str::from_utf8(s) {
        Ok(s) => panic!("{}", s),
        Err(_) => panic!("param!/state!: unknown name (not valid UTF-8 after truncation)"),
    }
}

/// The position of a parameter name (packed by [`name_word`]) in `M::PARAMS`, as an associated
/// constant: evaluated once per model and name, so a misspelt [`param!`](crate::param) is one
/// compile error that names the key, the model and its parameters.
#[doc(hidden)]
pub struct ParamAt<M, const A: u128, const B: u128, const C: u128>(std::marker::PhantomData<M>);

impl<M: NeuronModel, const A: u128, const B: u128, const C: u128> ParamAt<M, A, B, C> {
    /// The index into `M::PARAMS` (a compile error when the name is not there).
    pub const INDEX: usize = {
        let w = [A, B, C];
        let mut i = 0;
        while i < M::PARAMS.len() && !word_eq(M::PARAMS[i].name, &w) {
            i += 1;
        }
        if i == M::PARAMS.len() {
            let mut names = [""; 64];
            let mut k = 0;
            while k < M::PARAMS.len() && k < 64 {
                names[k] = M::PARAMS[k].name;
                k += 1;
            }
            let (known, _) = names.split_at(k);
            unknown_name("param!", M::NAME, "parameter", &w, known)
        }
        i
    };
}

/// [`ParamAt`] for state names and `M::STATES` ([`state!`](crate::state)).
#[doc(hidden)]
pub struct StateAt<M, const A: u128, const B: u128, const C: u128>(std::marker::PhantomData<M>);

impl<M: NeuronModel, const A: u128, const B: u128, const C: u128> StateAt<M, A, B, C> {
    /// The index into `M::STATES` (a compile error when the name is not there).
    pub const INDEX: usize = {
        let w = [A, B, C];
        let mut i = 0;
        while i < M::STATES.len() && !word_eq(M::STATES[i].name, &w) {
            i += 1;
        }
        if i == M::STATES.len() {
            let mut names = [""; 64];
            let mut k = 0;
            while k < M::STATES.len() && k < 64 {
                names[k] = M::STATES[k].name;
                k += 1;
            }
            let (known, _) = names.split_at(k);
            unknown_name("state!", M::NAME, "state", &w, known)
        }
        i
    };
}

/// Default initializer of a state variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InitSpec {
    /// A constant (canonical units).
    Constant(f64),
    /// Uniform on [low, high) (canonical units), drawn from the layer's seeded RNG.
    Uniform(f64, f64),
    /// Computed by [`NeuronModel::derive_init`] from the other states (e.g. HH gates at steady state).
    Derived,
}

/// Description of one state variable.
#[derive(Debug, Clone, Copy)]
pub struct StateSpec {
    /// BrainPy's name (`V`, `a`, `w`, `last_spike_time`, ...).
    pub name: &'static str,
    /// Dimension.
    pub dim: Dim,
    /// Unit spelling for trace output (saiunit's, canonical scale).
    pub unit: &'static str,
    /// Default initializer.
    pub init: InitSpec,
    /// Constructor argument that overrides the initializer (`V_initializer`), if any.
    pub init_param: Option<&'static str>,
    /// Shown only when this flag parameter is set (BrainPy's `ref_var`).
    pub visible_if: Option<&'static str>,
}

impl StateSpec {
    /// A state variable `name` of dimension `dim`, initially 0 (canonical units), with no
    /// BrainPy initializer argument (the layer builder's `init(name, ...)` still sets it):
    /// `StateSpec::of("V", Dim::VOLTAGE)`; chain [`StateSpec::init_const`],
    /// [`StateSpec::init_uniform`], [`StateSpec::derived`] or [`StateSpec::initializer`].
    pub const fn of(name: &'static str, dim: Dim) -> StateSpec {
        StateSpec {
            name,
            dim,
            unit: crate::units::canonical_unit_name(dim),
            init: InitSpec::Constant(0.0),
            init_param: None,
            visible_if: None,
        }
    }
    /// Initially the constant `v` (canonical units).
    pub const fn init_const(mut self, v: f64) -> StateSpec {
        self.init = InitSpec::Constant(v);
        self
    }
    /// Initially uniform on `[low, high)` (canonical units), from the layer's seeded RNG.
    pub const fn init_uniform(mut self, low: f64, high: f64) -> StateSpec {
        self.init = InitSpec::Uniform(low, high);
        self
    }
    /// Initialized by [`NeuronModel::derive_init`] from the other states.
    pub const fn derived(mut self) -> StateSpec {
        self.init = InitSpec::Derived;
        self
    }
    /// The BrainPy constructor argument that sets the initializer (`"V_initializer"`), accepted
    /// by the layer builder's `init` and by trace files beside the state's own name.
    pub const fn initializer(mut self, arg: &'static str) -> StateSpec {
        self.init_param = Some(arg);
        self
    }
    /// A state spec with every field given.
    pub const fn new(name: &'static str, dim: Dim, unit: &'static str, init: InitSpec, init_param: Option<&'static str>) -> StateSpec {
        StateSpec { name, dim, unit, init, init_param, visible_if: None }
    }
    /// Only visible when `flag` is set.
    pub const fn visible_if(mut self, flag: &'static str) -> StateSpec {
        self.visible_if = Some(flag);
        self
    }
}

/// The context of one neuron step.
pub struct Step<'a, S: Scalar> {
    /// Parameter values (canonical units), in the order of [`NeuronModel::PARAMS`] (entries past
    /// the model's count are unused). A fixed-size array, so that `c.p[i]` with a constant `i`
    /// needs no run-time bounds check: a check inside the neuron loop stops vectorisation.
    pub p: &'a [S; MAX_PARAMS],
    /// Hoisted constants computed by [`NeuronModel::hoist`] (fixed size, as `p`).
    pub h: &'a [S; MAX_HOIST],
    /// Time step (ms).
    pub dt: S,
    /// Time of this step (ms): `f32(i)·f32(dt)`.
    pub t: S,
    /// Reset mode.
    pub reset: SpikeReset,
    /// Surrogate used by [`Step::spike`].
    pub sg: &'a Surrogate,
    /// The model's table of functions of V for this run's `dt` ([`NeuronModel::gate_table`]),
    /// read through [`Scalar::tabulated`]; `None` where the model has none or the layer asked
    /// for exact evaluation.
    pub table: Option<&'a GateTable>,
}

impl<S: Scalar> Step<'_, S> {
    /// Heaviside spike with the layer's surrogate gradient.
    #[inline(always)]
    pub fn spike(&self, x: S) -> S {
        x.spike(self.sg)
    }
    /// One exponential-Euler step of `dy/dt = f(y)`:
    /// `y + dt·exprel(dt·J)·f(y)`, `J = ∂f/∂y` (evaluated with a dual number, like BrainPy's
    /// `vector_grad`), computed as `fma(exprel(dt·J), dt·f, y)`: `dt·f` is ready before the
    /// exprel, so only one fused operation follows it on the dependency chain.
    #[inline(always)]
    pub fn ee(&self, y: S, f: impl FnOnce(Dual<S, 1>) -> Dual<S, 1>) -> S {
        let r = f(Dual::var(y, 0));
        let phi = (self.dt * r.d[0]).exprel();
        phi.mul_add(self.dt * r.v, y)
    }
    /// Exponential Euler for the linear equation `dy/dt = a − b·y` (`a`, `b` not depending on
    /// `y`, e.g. a gating variable `α(1 − y) − βy` with `a = α`, `b = α + β`):
    /// `y + dt·exprel(−dt·b)·(a − b·y)`, which is [`Step::ee`] with its Jacobian `−b` known, so
    /// no dual number is evaluated. For constant `a`, `b` it is the exact solution.
    ///
    /// ```
    /// # use somata::dynamics::{Step, Scalar};
    /// # fn gate<S: Scalar>(c: &Step<'_, S>, m: S, alpha: S, beta: S) -> S {
    /// c.ee_linear(m, alpha, alpha + beta)
    /// # }
    /// ```
    #[inline(always)]
    pub fn ee_linear(&self, y: S, a: S, b: S) -> S {
        let phi = (-self.dt * b).exprel();
        phi.mul_add(self.dt * (-b).mul_add(y, a), y)
    }
    /// Exponential-Euler step with a state-independent Jacobian already folded into
    /// `phi_dt = dt·exprel(dt·J)` (see [`phi_dt`]): `y + phi_dt·f`, one fused multiply-add.
    #[inline(always)]
    pub fn ee_hoisted(&self, y: S, phi_dt: S, f: S) -> S {
        phi_dt.mul_add(f, y)
    }
    /// BrainPy's reset of a membrane potential: soft `v − (v_th − v_reset)·spk`, hard
    /// `v − (sg(v) − v_reset)·spk` (one fused multiply-add; exact for `spk` in {0, 1}).
    #[inline(always)]
    pub fn reset_v(&self, v: S, v_th: S, v_reset: S, spk: S) -> S {
        let th = match self.reset {
            SpikeReset::Soft => v_th,
            SpikeReset::Hard => v.stop_grad(),
        };
        (v_reset - th).mul_add(spk, v)
    }
    /// Whether the neuron is refractory at this step: `t − last_spike_time < tau_ref`.
    #[inline(always)]
    pub fn refractory(&self, last_spike_time: S, tau_ref: S) -> bool {
        (self.t - last_spike_time).re() < tau_ref.re()
    }
    /// [`Step::refractory`] as a 0/1 value (lane-wise for vector scalars); pick with
    /// [`Step::pick`].
    #[inline(always)]
    pub fn refractory_flag(&self, last_spike_time: S, tau_ref: S) -> S {
        S::select_lt(self.t - last_spike_time, tau_ref, S::lit(1.0), S::lit(0.0))
    }
    /// `where(flag, a, b)` for a 0/1 flag such as [`Step::refractory_flag`].
    #[inline(always)]
    pub fn pick(&self, flag: S, a: S, b: S) -> S {
        S::select_ge(flag, S::lit(0.5), a, b)
    }
}

/// The external drive of one neuron for one step: a plain current, or a current that depends on
/// the membrane potential (synaptic outputs evaluated inside the membrane equation, as BrainPy's
/// `sum_current_inputs(x, V)` is evaluated inside `dV/dt`).
///
/// Because exponential Euler takes its Jacobian `J = ∂f/∂V` from the right-hand side, a
/// conductance input changes `J`: COBA onto LIF gives `J = (−1 − R·g)/τ` (spec §10). A model's
/// [`NeuronModel::step_drive`] evaluates the drive at V inside its right-hand side: [`Drive::at`]
/// for a plain value, [`Drive::at_dual`] inside [`Step::ee`]. A plain `S` is a drive that does
/// not depend on V ([`Drive::V_DEPENDENT`] false), so models keep their hoisted fast path.
pub trait Drive<S: Scalar>: Copy {
    /// Whether the current depends on V (known at compile time: the plain path pays nothing).
    const V_DEPENDENT: bool;
    /// The current at membrane potential `v` (canonical units: mA at mV).
    fn at(self, v: S) -> S;
    /// The same as a dual number in `v` (for exponential Euler's Jacobian).
    fn at_dual(self, v: Dual<S, 1>) -> Dual<S, 1>;
}

impl<S: Scalar> Drive<S> for S {
    const V_DEPENDENT: bool = false;
    #[inline(always)]
    fn at(self, _v: S) -> S {
        self
    }
    #[inline(always)]
    fn at_dual(self, _v: Dual<S, 1>) -> Dual<S, 1> {
        Dual::constant(self)
    }
}

/// A current affine in V: `I(V) = i − g·V`, the sum of a plain current and conductance outputs
/// (COBA `g_k·(E_k − V)` contributes `g_k·E_k` to `i` and `g_k` to `g`; CUBA only to `i`).
/// Units: `i` in mA, `g` in S (S·mV = mA).
///
/// ```
/// use somata::dynamics::{Cond, Drive};
/// let d = Cond { i: 0.3 * 0.0 + 2.0 * -80.0, g: 0.3 + 2.0 };
/// assert!((d.at(-50.0f32) - (0.3 * (0.0 + 50.0) + 2.0 * (-80.0 + 50.0))).abs() < 1e-4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cond<S> {
    /// The V-independent part (mA).
    pub i: S,
    /// The total conductance (S).
    pub g: S,
}

impl<S: Scalar> Drive<S> for Cond<S> {
    const V_DEPENDENT: bool = true;
    #[inline(always)]
    fn at(self, v: S) -> S {
        (-self.g).mul_add(v, self.i)
    }
    #[inline(always)]
    fn at_dual(self, v: Dual<S, 1>) -> Dual<S, 1> {
        v * (-self.g) + self.i
    }
}

/// [`Cond`] plus an NMDA-type output with magnesium block (BrainPy's `MgBlock`):
/// `I(V) = i − g·V + g_mg·(E − V)/(1 + (cc_Mg/β)·exp(α·(V_offset − V)))` (V in mV; `mg_k` is
/// `cc_Mg/β`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CondMg<S> {
    /// The affine part.
    pub lin: Cond<S>,
    /// NMDA conductance (S).
    pub g_mg: S,
    /// Reversal potential of the blocked channel (mV).
    pub e: S,
    /// `cc_Mg/β`.
    pub mg_k: S,
    /// `α` (1/mV).
    pub alpha: S,
    /// `V_offset` (mV).
    pub v_offset: S,
}

impl<S: Scalar> Drive<S> for CondMg<S> {
    const V_DEPENDENT: bool = true;
    #[inline(always)]
    fn at(self, v: S) -> S {
        let b = S::lit(1.0) / (S::lit(1.0) + self.mg_k * (self.alpha * (self.v_offset - v)).exp());
        self.lin.at(v) + self.g_mg * (self.e - v) * b
    }
    #[inline(always)]
    fn at_dual(self, v: Dual<S, 1>) -> Dual<S, 1> {
        // B(V) = 1/(1 + k·e^{α(V₀−V)}),  B' = α·k·e^{…}·B²;  d/dV [g(E−V)B] = g(−B + (E−V)B')
        let ex = (self.alpha * (self.v_offset - v.v)).exp();
        let b = S::lit(1.0) / (S::lit(1.0) + self.mg_k * ex);
        let db = self.alpha * self.mg_k * ex * b * b;
        let em = self.e - v.v;
        let val = self.g_mg * em * b;
        let der = self.g_mg * (em * db - b);
        let lin = self.lin.at_dual(v);
        Dual { v: lin.v + val, d: [lin.d[0] + der * v.d[0]] }
    }
}

/// `dt·exprel(dt·J)` for a state-independent Jacobian `J` (BrainPy's factor, hoistable).
#[inline(always)]
pub fn phi_dt<S: Scalar>(dt: S, j: S) -> S {
    dt * (dt * j).exprel()
}

/// A neuron model: parameters, state variables and one generic per-neuron step.
///
/// See the crate documentation for a complete user-defined model.
pub trait NeuronModel: Clone + Send + Sync + 'static {
    /// BrainPy class name (`"LIF"`).
    const NAME: &'static str;
    /// Parameters, canonical units.
    const PARAMS: &'static [ParamSpec];
    /// State variables.
    const STATES: &'static [StateSpec];
    /// Dimension of the external input `x` of `update(x)` (a [`crate::units::dim`] marker), so that
    /// a typed input of the wrong dimension does not compile.
    type Input: Dimension;
    /// The same, as a value.
    const INPUT_DIM: Dim = <Self::Input as Dimension>::DIM;
    /// The unit in which raw input numbers are read (`update(clock, 10.0)` on a model whose
    /// input unit is `"uA"` means 10 µA). Defaults to the canonical unit of [`NeuronModel::Input`]
    /// (`"mA"` for a current, `"mV"` for a voltage, ...); a model whose documented input unit is
    /// another multiple of the same dimension (the HH family: `"uA"`) overrides it, and the layer
    /// converts raw numbers with that factor. Typed quantities are never rescaled.
    const INPUT_UNIT: &'static str = <Self::Input as Dimension>::UNIT;
    /// Number of hoisted constants written by [`NeuronModel::hoist`].
    const N_HOIST: usize = 0;
    /// Default reset mode.
    const DEFAULT_RESET: SpikeReset = SpikeReset::Soft;
    /// Evaluate this model a vector of neurons at a time on the vector kernel
    /// ([`simd::F32x64`] on AVX-512, [`simd::F32x16`] on AVX2; used for `f32` layers with shared
    /// parameters on a vector back end, see [`simd`]). Requires that the step compares values only through
    /// [`Scalar::select_ge`] / [`Scalar::select_lt`] (and `min`, `max`, `abs`, `spike`), never
    /// through [`Scalar::re`] or a `bool` computed from a per-neuron value; a model that sets it
    /// and calls `re()` panics with a message saying so. The results are bit for bit those of
    /// the scalar kernel (tests/all/simd.rs), so the flag is a speed choice: the vector kernel skips
    /// exponential Euler's `exprel` range reduction for a whole register when every lane's
    /// `|dt·J|` is small, and scales exponentials with one instruction. Every built-in model
    /// sets it except HindmarshRose, which measured faster on the scalar kernel at this vector
    /// width; the others gain 1.1–7× single thread (BENCHMARKS.md). (The LIF family, whose
    /// few operations per step the compiler vectorises about as well, sets it since the
    /// scalar loop is compiled for AVX2 only: the vector kernel keeps it at its AVX-512 speed.)
    /// Default: false.
    const VECTOR: bool = false;
    /// Whether network steps ([`NeuronModel::step_drive`], used by [`crate::net`]) may use the
    /// vector kernel: the same requirement as [`NeuronModel::VECTOR`] (comparisons through
    /// selects only). Defaults to `VECTOR`.
    const VECTOR_DRIVE: bool = Self::VECTOR;

    /// Default surrogate. For a user-defined model this is BrainPy's base class `Neuron`'s
    /// default, `InvSquareGrad(alpha=100)`; every built-in model overrides it with `ReluGrad()`,
    /// as every concrete BrainPy model does.
    fn default_spk_fun() -> Surrogate {
        crate::surrogate::InvSquareGrad::default().into()
    }

    /// Cross-parameter checks (one neuron's parameters, canonical units), beyond [`Check`].
    fn validate(&self, _p: &[f64]) -> Result<()> {
        Ok(())
    }
    /// State-independent constants (functions of parameters and `dt` only).
    #[inline(always)]
    fn hoist<S: Scalar>(&self, _p: &[S], _dt: S, _h: &mut [S]) {}
    /// Functions of V to tabulate for a run at `dt_ms` with parameters `p` (canonical units,
    /// shared by every neuron: only the vector kernel reads tables, and it requires shared
    /// parameters), passed to the step as [`Step::table`]; `None` (the default) for none. The
    /// HH family's gate propagators ([`GateTable`]). The layer caches the table per `dt` and
    /// parameter values.
    fn gate_table(&self, _p: &[f64], _dt_ms: f64) -> Option<GateTable> {
        None
    }
    /// One update of one neuron: reads and writes the state `s` (order of `STATES`), takes the
    /// external input `x`, returns the spike (0/1 with a surrogate gradient).
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S;
    /// One update with a drive that may depend on V ([`Drive`]): conductance-based synaptic
    /// outputs evaluated inside the membrane equation. Every built-in model implements it
    /// exactly as BrainPy (the drive enters the right-hand side, so exponential Euler's Jacobian
    /// includes `∂I/∂V`) and implements [`NeuronModel::step`] through it. The default, for a
    /// user-defined model that implements only `step`, evaluates the drive at the state named
    /// `"V"` at the start of the step (before the reset; 0 if there is none) and calls `step`: a
    /// plain current, exact for a V-independent drive and first order in `dt·g` otherwise.
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        if X::V_DEPENDENT {
            let v = match Self::STATES.iter().position(|st| st.name == "V") {
                Some(i) => s[i],
                None => S::lit(0.0),
            };
            self.step(c, s, x.at(v))
        } else {
            self.step(c, s, x.at(S::lit(0.0)))
        }
    }
    /// The model's compiled kernels (see [`crate::engine::Kernels`]). Leave the default: it
    /// compiles the kernels of a user model in the user's crate; the built-in models return a
    /// table of this crate's copies.
    #[doc(hidden)]
    fn kernels() -> &'static crate::engine::Kernels<Self>
    where
        Self: Sized,
    {
        const { &crate::engine::Kernels::<Self>::NEW }
    }
    /// The spike of a stored state without stepping it (BrainPy's `get_spike()`), where the
    /// model defines one: a network reads it at the first step, before any update has returned
    /// spikes. `None` (the default) means "no spike before the first update".
    #[inline(always)]
    fn spike_of<S: Scalar>(&self, _c: &Step<'_, S>, _s: &[S]) -> Option<S> {
        None
    }
    /// Fill states whose initializer is [`InitSpec::Derived`] (or was not given explicitly).
    fn derive_init(&self, _p: &[f64], _s: &mut [f64], _explicit: &[bool]) {}

    /// Index of a parameter by name.
    fn param_index(name: &str) -> Option<usize> {
        Self::PARAMS.iter().position(|p| p.name == name)
    }
    /// Index of a state by name.
    fn state_index(name: &str) -> Option<usize> {
        Self::STATES.iter().position(|s| s.name == name)
    }
}

/// Mixed arithmetic `Dual<T, D> op T` so that right-hand sides read naturally inside [`Step::ee`].
/// The constant operand has no tangent, so these skip the work the all-dual operations would do
/// on zeros (the compiler may not fold `0·x` for floats). Values are computed exactly as with a
/// lifted constant; tangents of `Dual / T` use the reciprocal.
impl<T: Scalar, const D: usize> Add<T> for Dual<T, D> {
    type Output = Dual<T, D>;
    #[inline(always)]
    fn add(self, o: T) -> Dual<T, D> {
        Dual { v: self.v + o, d: self.d }
    }
}
impl<T: Scalar, const D: usize> Sub<T> for Dual<T, D> {
    type Output = Dual<T, D>;
    #[inline(always)]
    fn sub(self, o: T) -> Dual<T, D> {
        Dual { v: self.v - o, d: self.d }
    }
}
impl<T: Scalar, const D: usize> Mul<T> for Dual<T, D> {
    type Output = Dual<T, D>;
    #[inline(always)]
    fn mul(self, o: T) -> Dual<T, D> {
        let mut d = self.d;
        for x in d.iter_mut() {
            *x *= o;
        }
        Dual { v: self.v * o, d }
    }
}
impl<T: Scalar, const D: usize> Div<T> for Dual<T, D> {
    type Output = Dual<T, D>;
    #[inline(always)]
    fn div(self, o: T) -> Dual<T, D> {
        let inv = T::lit(1.0) / o;
        let mut d = self.d;
        for x in d.iter_mut() {
            *x *= inv;
        }
        Dual { v: self.v / o, d }
    }
}
