//! Physical units: typed quantities at the API, a run-time unit parser for files.
//!
//! # Typed quantities
//! A [`Quantity<D>`] carries its physical dimension `D` in its type, so mixing dimensions is a
//! **compile error**:
//!
//! ```
//! use somata::units::*;
//! let tau: Time = 10.0 * ms;
//! let v: Voltage = 2.0 * mA * (1.0 * ohm);      // Ohm's law: current × resistance = voltage
//! assert!((v.value_in(mV) - 2.0).abs() < 1e-12);
//! let rate = 5.0 * mV / tau;                     // VoltageRate (mV/ms)
//! assert!((rate.value_in(mV / ms) - 0.5).abs() < 1e-12);
//! assert!((tau.value_in(second) - 0.01).abs() < 1e-15);
//! ```
//!
//! ```compile_fail
//! use somata::units::*;
//! let wrong = 10.0 * ms + 1.0 * mV; // time + voltage does not compile
//! ```
//!
//! # Canonical internal units
//! Single-letter SI units are spelled out (`second`, `volt`, `amp`, `siemens`, `farad`, `molar`)
//! so that a glob import never captures a local variable named `s` or `V`.
//!
//! Internally every quantity is a plain number in one coherent system, chosen so that BrainPy's
//! conventions hold without conversion factors (R·I with R in Ω and I in mA gives mV;
//! g·(E − V) with g in S gives mA; I/C gives mV/ms). Every base unit is "milli":
//!
//! | dimension       | canonical unit | note                                   |
//! |-----------------|----------------|----------------------------------------|
//! | time            | ms             |                                        |
//! | voltage         | mV             |                                        |
//! | current         | mA             | BrainPy's LIF family input unit        |
//! | concentration   | mM             |                                        |
//! | resistance      | Ω  (= mV/mA)   |                                        |
//! | conductance     | S  (= mA/mV)   | 1 mS is 0.001                          |
//! | capacitance     | mF (= mA·ms/mV)| 1 µF is 0.001                          |
//! | charge          | µC (= mA·ms)   |                                        |
//! | frequency       | kHz (= 1/ms)   | 1 Hz is 0.001                          |
//! | voltage rate    | mV/ms          | Izhikevich's input and `u`             |
//! | inverse voltage | 1/mV           | QuaIF's `c`                            |
//!
//! # Run-time units
//! Files (trace documents, configs) carry unit strings. [`Unit::parse`] understands products,
//! quotients, powers and parentheses of prefixed symbols in saiunit's spelling (`"mV / ms"`,
//! `"1 / mV"`, `"kHz"`, `"uA"`, `"ohm"`, `"mS"`, `"uF"`, `"mM"`, `"1"`) and rejects the rest with
//! [`SomataError::UnknownUnit`]; [`Unit::to_canonical`] checks the dimension.

#![allow(non_upper_case_globals)]

use crate::error::{Result, SomataError};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// Exponents of (time, voltage, current, concentration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dim(pub [i8; 4]);

impl Dim {
    /// Dimensionless.
    pub const ONE: Dim = Dim([0, 0, 0, 0]);
    /// Time.
    pub const TIME: Dim = Dim([1, 0, 0, 0]);
    /// Voltage.
    pub const VOLTAGE: Dim = Dim([0, 1, 0, 0]);
    /// Current.
    pub const CURRENT: Dim = Dim([0, 0, 1, 0]);
    /// Concentration.
    pub const CONCENTRATION: Dim = Dim([0, 0, 0, 1]);
    /// Resistance.
    pub const RESISTANCE: Dim = Dim([0, 1, -1, 0]);
    /// Conductance.
    pub const CONDUCTANCE: Dim = Dim([0, -1, 1, 0]);
    /// Capacitance.
    pub const CAPACITANCE: Dim = Dim([1, -1, 1, 0]);
    /// Charge.
    pub const CHARGE: Dim = Dim([1, 0, 1, 0]);
    /// Frequency (rate).
    pub const FREQUENCY: Dim = Dim([-1, 0, 0, 0]);
    /// Voltage per time.
    pub const VOLTAGE_RATE: Dim = Dim([-1, 1, 0, 0]);
    /// Inverse voltage.
    pub const INV_VOLTAGE: Dim = Dim([0, -1, 0, 0]);
    /// Rate per concentration, 1/(ms·mM).
    pub const RATE_PER_CONC: Dim = Dim([-1, 0, 0, -1]);
    /// Rate per voltage, 1/(ms·mV).
    pub const RATE_PER_VOLTAGE: Dim = Dim([-1, -1, 0, 0]);

    fn mul(self, o: Dim) -> Dim {
        let mut r = [0i8; 4];
        for (i, x) in r.iter_mut().enumerate() {
            *x = self.0[i] + o.0[i];
        }
        Dim(r)
    }
    fn powi(self, k: i8) -> Dim {
        let mut r = self.0;
        for x in r.iter_mut() {
            *x *= k;
        }
        Dim(r)
    }

    /// A readable name for error messages ("time", "voltage", or the exponents).
    pub fn describe(self) -> String {
        const NAMES: [(Dim, &str); 14] = [
            (Dim::ONE, "dimensionless"),
            (Dim::TIME, "time (ms)"),
            (Dim::VOLTAGE, "voltage (mV)"),
            (Dim::CURRENT, "current (mA)"),
            (Dim::CONCENTRATION, "concentration (mM)"),
            (Dim::RESISTANCE, "resistance (ohm)"),
            (Dim::CONDUCTANCE, "conductance (S)"),
            (Dim::CAPACITANCE, "capacitance (mF)"),
            (Dim::CHARGE, "charge (uC)"),
            (Dim::FREQUENCY, "frequency (1/ms)"),
            (Dim::VOLTAGE_RATE, "voltage rate (mV/ms)"),
            (Dim::INV_VOLTAGE, "inverse voltage (1/mV)"),
            (Dim::RATE_PER_CONC, "rate per concentration (1/(ms*mM))"),
            (Dim::RATE_PER_VOLTAGE, "rate per voltage (1/(ms*mV))"),
        ];
        for (d, n) in NAMES {
            if d == self {
                return n.to_string();
            }
        }
        let [t, v, i, c] = self.0;
        format!("ms^{t} mV^{v} mA^{i} mM^{c}")
    }
}

/// A dimension marker type for [`Quantity`].
pub trait Dimension: Copy + 'static {
    /// The exponents.
    const DIM: Dim;
    /// The canonical unit's spelling (saiunit's), e.g. `"mA"` for a current.
    const UNIT: &'static str;
}

macro_rules! dims {
    ($($(#[$m:meta])* $marker:ident = $konst:ident, $unit:literal => $alias:ident;)*) => {
        /// Dimension marker types.
        pub mod dim {
            $( $(#[$m])* #[derive(Debug, Clone, Copy, PartialEq)] pub struct $marker;
               impl super::Dimension for $marker { const DIM: super::Dim = super::Dim::$konst; const UNIT: &'static str = $unit; } )*
        }
        $( $(#[$m])* pub type $alias = Quantity<dim::$marker>; )*
    };
}

dims! {
    /// Dimensionless (a plain number, e.g. the reduced models' V and input).
    One = ONE, "1" => Dimensionless;
    /// Time, canonical ms.
    T = TIME, "ms" => Time;
    /// Voltage, canonical mV.
    V = VOLTAGE, "mV" => Voltage;
    /// Current, canonical mA.
    I = CURRENT, "mA" => Current;
    /// Concentration, canonical mM.
    C = CONCENTRATION, "mM" => Concentration;
    /// Resistance, canonical ohm.
    R = RESISTANCE, "ohm" => Resistance;
    /// Conductance, canonical S.
    G = CONDUCTANCE, "S" => Conductance;
    /// Capacitance, canonical mF.
    Cap = CAPACITANCE, "mF" => Capacitance;
    /// Charge, canonical uC.
    Q = CHARGE, "uC" => Charge;
    /// Frequency, canonical 1/ms (kHz).
    F = FREQUENCY, "kHz" => Frequency;
    /// Voltage per time, canonical mV/ms.
    VRate = VOLTAGE_RATE, "mV / ms" => VoltageRate;
    /// Inverse voltage, canonical 1/mV.
    InvV = INV_VOLTAGE, "1 / mV" => InvVoltage;
    /// Rate per concentration, canonical 1/(ms·mM).
    RateConc = RATE_PER_CONC, "1 / (ms * mM)" => RatePerConcentration;
    /// Rate per voltage, canonical 1/(ms·mV).
    RateV = RATE_PER_VOLTAGE, "1 / (ms * mV)" => RatePerVoltage;
}

/// A physical quantity of dimension `D`, stored as an `f64` in canonical units (table above).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
#[repr(transparent)]
pub struct Quantity<D: Dimension>(f64, PhantomData<D>);

impl<D: Dimension> Quantity<D> {
    /// Build from a number already in canonical units.
    pub const fn from_canonical(v: f64) -> Self {
        Quantity(v, PhantomData)
    }
    /// The number in canonical units.
    pub const fn canonical(self) -> f64 {
        self.0
    }
    /// The number expressed in `unit` (a quantity of the same dimension, e.g. `mV`).
    pub fn value_in(self, unit: Self) -> f64 {
        self.0 / unit.0
    }
    /// The dimension.
    pub fn dim(self) -> Dim {
        D::DIM
    }
    /// Parse `value` given in the run-time unit `unit` (e.g. `"uA"`), checking the dimension.
    ///
    /// ```
    /// use somata::units::*;
    /// let i = Current::from_value_unit(500.0, "uA").unwrap();
    /// assert!((i.value_in(mA) - 0.5).abs() < 1e-12);
    /// assert!(Current::from_value_unit(1.0, "mV").is_err());
    /// ```
    pub fn from_value_unit(value: f64, unit: &str) -> Result<Self> {
        let u = Unit::parse(unit)?;
        Ok(Self::from_canonical(u.to_canonical(value, D::DIM, "quantity")?))
    }
    /// True if the number is finite.
    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }
    /// A slice of quantities as their canonical numbers, without copying.
    ///
    /// ```
    /// use somata::units::*;
    /// let i = [1.0 * nA, 2.0 * uA];
    /// assert_eq!(Current::canonical_slice(&i), &[1e-6, 2e-3]);
    /// ```
    pub fn canonical_slice(qs: &[Self]) -> &[f64] {
        // SAFETY: `Quantity<D>` is `repr(transparent)` over `f64` (PhantomData is zero-sized).
        unsafe { std::slice::from_raw_parts(qs.as_ptr() as *const f64, qs.len()) }
    }
}

impl<D: Dimension> fmt::Debug for Quantity<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.0, D::DIM.describe())
    }
}

impl<D: Dimension> Add for Quantity<D> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Quantity(self.0 + o.0, PhantomData)
    }
}
impl<D: Dimension> Sub for Quantity<D> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Quantity(self.0 - o.0, PhantomData)
    }
}
impl<D: Dimension> AddAssign for Quantity<D> {
    fn add_assign(&mut self, o: Self) {
        self.0 += o.0;
    }
}
impl<D: Dimension> SubAssign for Quantity<D> {
    fn sub_assign(&mut self, o: Self) {
        self.0 -= o.0;
    }
}
impl<D: Dimension> Neg for Quantity<D> {
    type Output = Self;
    fn neg(self) -> Self {
        Quantity(-self.0, PhantomData)
    }
}
impl<D: Dimension> Mul<Quantity<D>> for f64 {
    type Output = Quantity<D>;
    fn mul(self, q: Quantity<D>) -> Quantity<D> {
        Quantity(self * q.0, PhantomData)
    }
}
impl<D: Dimension> Mul<f64> for Quantity<D> {
    type Output = Quantity<D>;
    fn mul(self, k: f64) -> Quantity<D> {
        Quantity(self.0 * k, PhantomData)
    }
}
impl<D: Dimension> Div<f64> for Quantity<D> {
    type Output = Quantity<D>;
    fn div(self, k: f64) -> Quantity<D> {
        Quantity(self.0 / k, PhantomData)
    }
}
impl<D: Dimension> Div for Quantity<D> {
    type Output = f64;
    fn div(self, o: Self) -> f64 {
        self.0 / o.0
    }
}

macro_rules! mul_rule {
    ($($a:ident * $b:ident = $c:ident;)*) => {$(
        impl Mul<Quantity<dim::$b>> for Quantity<dim::$a> {
            type Output = Quantity<dim::$c>;
            fn mul(self, o: Quantity<dim::$b>) -> Quantity<dim::$c> { Quantity(self.0 * o.0, PhantomData) }
        }
        impl Mul<Quantity<dim::$a>> for Quantity<dim::$b> {
            type Output = Quantity<dim::$c>;
            fn mul(self, o: Quantity<dim::$a>) -> Quantity<dim::$c> { Quantity(self.0 * o.0, PhantomData) }
        }
        impl Div<Quantity<dim::$b>> for Quantity<dim::$c> {
            type Output = Quantity<dim::$a>;
            fn div(self, o: Quantity<dim::$b>) -> Quantity<dim::$a> { Quantity(self.0 / o.0, PhantomData) }
        }
        impl Div<Quantity<dim::$a>> for Quantity<dim::$c> {
            type Output = Quantity<dim::$b>;
            fn div(self, o: Quantity<dim::$a>) -> Quantity<dim::$b> { Quantity(self.0 / o.0, PhantomData) }
        }
    )*};
}

mul_rule! {
    I * R = V;
    G * V = I;
    F * V = VRate;
    Cap * VRate = I;
    I * T = Q;
    RateConc * C = F;
    RateV * V = F;
}

macro_rules! recip_rule {
    ($($a:ident <-> $b:ident;)*) => {$(
        impl Div<Quantity<dim::$a>> for f64 {
            type Output = Quantity<dim::$b>;
            fn div(self, o: Quantity<dim::$a>) -> Quantity<dim::$b> { Quantity(self / o.0, PhantomData) }
        }
        impl Div<Quantity<dim::$b>> for f64 {
            type Output = Quantity<dim::$a>;
            fn div(self, o: Quantity<dim::$b>) -> Quantity<dim::$a> { Quantity(self / o.0, PhantomData) }
        }
        impl Mul<Quantity<dim::$b>> for Quantity<dim::$a> {
            type Output = f64;
            fn mul(self, o: Quantity<dim::$b>) -> f64 { self.0 * o.0 }
        }
        impl Mul<Quantity<dim::$a>> for Quantity<dim::$b> {
            type Output = f64;
            fn mul(self, o: Quantity<dim::$a>) -> f64 { self.0 * o.0 }
        }
    )*};
}

recip_rule! {
    T <-> F;
    V <-> InvV;
    R <-> G;
}

impl Div<Quantity<dim::T>> for Quantity<dim::V> {
    type Output = VoltageRate;
    fn div(self, o: Time) -> VoltageRate {
        Quantity(self.0 / o.0, PhantomData)
    }
}
impl Div<Quantity<dim::G>> for Quantity<dim::Cap> {
    type Output = Time;
    fn div(self, o: Conductance) -> Time {
        Quantity(self.0 / o.0, PhantomData)
    }
}

macro_rules! unit_consts {
    ($($(#[$m:meta])* $name:ident : $ty:ident = $v:expr_2021;)*) => {$(
        $(#[$m])* pub const $name: $ty = Quantity($v, PhantomData);
    )*};
}

unit_consts! {
    /// Second.
    second: Time = 1e3;
    /// Millisecond.
    ms: Time = 1.0;
    /// Microsecond.
    us: Time = 1e-3;
    /// Volt.
    volt: Voltage = 1e3;
    /// Millivolt.
    mV: Voltage = 1.0;
    /// Microvolt.
    uV: Voltage = 1e-3;
    /// Ampere.
    amp: Current = 1e3;
    /// Milliampere.
    mA: Current = 1.0;
    /// Microampere.
    uA: Current = 1e-3;
    /// Nanoampere.
    nA: Current = 1e-6;
    /// Picoampere.
    pA: Current = 1e-9;
    /// Ohm.
    ohm: Resistance = 1.0;
    /// Kiloohm.
    kohm: Resistance = 1e3;
    /// Megaohm.
    Mohm: Resistance = 1e6;
    /// Gigaohm.
    Gohm: Resistance = 1e9;
    /// Siemens.
    siemens: Conductance = 1.0;
    /// Millisiemens.
    mS: Conductance = 1e-3;
    /// Microsiemens.
    uS: Conductance = 1e-6;
    /// Nanosiemens.
    nS: Conductance = 1e-9;
    /// Farad.
    farad: Capacitance = 1e3;
    /// Millifarad.
    mF: Capacitance = 1.0;
    /// Microfarad.
    uF: Capacitance = 1e-3;
    /// Nanofarad.
    nF: Capacitance = 1e-6;
    /// Picofarad.
    pF: Capacitance = 1e-9;
    /// Molar.
    molar: Concentration = 1e3;
    /// Millimolar.
    mM: Concentration = 1.0;
    /// Micromolar.
    uM: Concentration = 1e-3;
    /// Hertz.
    Hz: Frequency = 1e-3;
    /// Kilohertz (= 1/ms).
    kHz: Frequency = 1.0;
}

/// A run-time unit: dimension plus the factor that converts a number in this unit to canonical.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    /// Dimension exponents.
    pub dim: Dim,
    /// canonical value = number × `scale`.
    pub scale: f64,
}

impl Unit {
    /// Dimensionless unit "1".
    pub const ONE: Unit = Unit { dim: Dim::ONE, scale: 1.0 };

    /// Parse a unit string such as `"mV / ms"`, `"1/(ms*mM)"`, `"kHz"`, `"uA"`, `"ohm"`, `"1"`.
    ///
    /// ```
    /// use somata::units::{Unit, Dim};
    /// let u = Unit::parse("mV / ms").unwrap();
    /// assert_eq!(u.dim, Dim::VOLTAGE_RATE);
    /// assert_eq!(Unit::parse("uA").unwrap().scale, 1e-3);
    /// assert!(Unit::parse("furlong").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Unit> {
        let mut p = Parser { s: text.as_bytes(), i: 0, orig: text };
        let u = p.expr()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(SomataError::UnknownUnit(text.to_string()));
        }
        Ok(u)
    }

    /// Convert `value` (in this unit) to canonical, checking that the dimension is `want`.
    pub fn to_canonical(self, value: f64, want: Dim, what: &str) -> Result<f64> {
        if self.dim != want {
            return Err(SomataError::DimensionMismatch { what: what.to_string(), expected: want.describe(), got: self.dim.describe() });
        }
        Ok(value * self.scale)
    }

    fn mul(self, o: Unit) -> Unit {
        Unit { dim: self.dim.mul(o.dim), scale: self.scale * o.scale }
    }
    fn powi(self, k: i8) -> Unit {
        Unit { dim: self.dim.powi(k), scale: self.scale.powi(k as i32) }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    orig: &'a str,
}

impl Parser<'_> {
    fn err(&self) -> SomataError {
        SomataError::UnknownUnit(self.orig.to_string())
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }
    fn expr(&mut self) -> Result<Unit> {
        let mut u = self.power()?;
        loop {
            self.ws();
            if self.i >= self.s.len() {
                return Ok(u);
            }
            let c = self.s[self.i];
            if c == b'*' && self.s.get(self.i + 1) != Some(&b'*') {
                self.i += 1;
                u = u.mul(self.power()?);
            } else if c == b'/' {
                self.i += 1;
                u = u.mul(self.power()?.powi(-1));
            } else if self.orig[self.i..].starts_with('·') {
                self.i += '·'.len_utf8();
                u = u.mul(self.power()?);
            } else {
                return Ok(u);
            }
        }
    }
    fn power(&mut self) -> Result<Unit> {
        let base = self.atom()?;
        self.ws();
        let rest = &self.orig[self.i..];
        let skip = if rest.starts_with("**") {
            2
        } else if rest.starts_with('^') {
            1
        } else {
            return Ok(base);
        };
        self.i += skip;
        self.ws();
        let start = self.i;
        if self.i < self.s.len() && self.s[self.i] == b'-' {
            self.i += 1;
        }
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        let k: i8 = self.orig[start..self.i].parse().map_err(|_| self.err())?;
        Ok(base.powi(k))
    }
    fn atom(&mut self) -> Result<Unit> {
        self.ws();
        if self.i >= self.s.len() {
            return Err(self.err());
        }
        if self.s[self.i] == b'(' {
            self.i += 1;
            let u = self.expr()?;
            self.ws();
            if self.s.get(self.i) != Some(&b')') {
                return Err(self.err());
            }
            self.i += 1;
            return Ok(u);
        }
        let start = self.i;
        let rest = &self.orig[start..];
        let len: usize = rest
            .char_indices()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == 'Ω' || c == 'µ' || c == 'μ' || c == '.'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.err());
        }
        self.i += len;
        symbol(&rest[..len]).ok_or_else(|| self.err())
    }
}

fn base_symbol(sym: &str) -> Option<Unit> {
    let u = |d: Dim, scale: f64| Some(Unit { dim: d, scale });
    match sym {
        "1" => u(Dim::ONE, 1.0),
        "s" | "second" => u(Dim::TIME, 1e3),
        "V" | "volt" => u(Dim::VOLTAGE, 1e3),
        "A" | "amp" | "ampere" => u(Dim::CURRENT, 1e3),
        "ohm" | "Ohm" | "Ω" => u(Dim::RESISTANCE, 1.0),
        "S" | "siemens" => u(Dim::CONDUCTANCE, 1.0),
        "F" | "farad" => u(Dim::CAPACITANCE, 1e3),
        "C" | "coulomb" => u(Dim::CHARGE, 1e3),
        "M" | "molar" => u(Dim::CONCENTRATION, 1e3),
        "Hz" | "hertz" => u(Dim::FREQUENCY, 1e-3),
        _ => None,
    }
}

fn symbol(sym: &str) -> Option<Unit> {
    if let Ok(v) = sym.parse::<f64>()
        && v.is_finite()
        && v != 0.0
    {
        return Some(Unit { dim: Dim::ONE, scale: v });
    }
    if let Some(u) = base_symbol(sym) {
        return Some(u);
    }
    let mut chars = sym.chars();
    let p = chars.next()?;
    let factor = match p {
        'p' => 1e-12,
        'n' => 1e-9,
        'u' | 'µ' | 'μ' => 1e-6,
        'm' => 1e-3,
        'k' => 1e3,
        'M' => 1e6,
        'G' => 1e9,
        _ => return None,
    };
    let rest = chars.as_str();
    let b = base_symbol(rest)?;
    if b.dim == Dim::ONE {
        return None;
    }
    Some(Unit { dim: b.dim, scale: b.scale * factor })
}

/// Format a canonical dimension the way saiunit spells it in the goldens (for trace output).
pub const fn canonical_unit_name(d: Dim) -> &'static str {
    match d {
        Dim::ONE => "1",
        Dim::TIME => "ms",
        Dim::VOLTAGE => "mV",
        Dim::CURRENT => "mA",
        Dim::CONCENTRATION => "mM",
        Dim::RESISTANCE => "ohm",
        Dim::CONDUCTANCE => "S",
        Dim::CAPACITANCE => "mF",
        Dim::FREQUENCY => "kHz",
        Dim::VOLTAGE_RATE => "mV / ms",
        Dim::INV_VOLTAGE => "1 / mV",
        Dim::CHARGE => "uC",
        Dim::RATE_PER_CONC => "1 / (ms * mM)",
        Dim::RATE_PER_VOLTAGE => "1 / (ms * mV)",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_common_units() {
        let cases: &[(&str, Dim, f64)] = &[
            ("mA", Dim::CURRENT, 1.0),
            ("uA", Dim::CURRENT, 1e-3),
            ("nA", Dim::CURRENT, 1e-6),
            ("pA", Dim::CURRENT, 1e-9),
            ("mV", Dim::VOLTAGE, 1.0),
            ("V", Dim::VOLTAGE, 1e3),
            ("ms", Dim::TIME, 1.0),
            ("s", Dim::TIME, 1e3),
            ("ohm", Dim::RESISTANCE, 1.0),
            ("S", Dim::CONDUCTANCE, 1.0),
            ("mS", Dim::CONDUCTANCE, 1e-3),
            ("nS", Dim::CONDUCTANCE, 1e-9),
            ("uF", Dim::CAPACITANCE, 1e-3),
            ("pF", Dim::CAPACITANCE, 1e-9),
            ("mM", Dim::CONCENTRATION, 1.0),
            ("Hz", Dim::FREQUENCY, 1e-3),
            ("kHz", Dim::FREQUENCY, 1.0),
            ("1/ms", Dim::FREQUENCY, 1.0),
            ("1 / ms", Dim::FREQUENCY, 1.0),
            ("mV/ms", Dim::VOLTAGE_RATE, 1.0),
            ("mV / ms", Dim::VOLTAGE_RATE, 1.0),
            ("1 / mV", Dim::INV_VOLTAGE, 1.0),
            ("1", Dim::ONE, 1.0),
            ("1 / (ms * mM)", Dim::RATE_PER_CONC, 1.0),
            ("ms^-1", Dim::FREQUENCY, 1.0),
            ("ms**2", Dim([2, 0, 0, 0]), 1.0),
        ];
        for &(text, d, k) in cases {
            let u = Unit::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(u.dim, d, "{text}");
            assert!((u.scale - k).abs() <= 1e-12 * k.abs(), "{text}: {} vs {k}", u.scale);
        }
    }

    #[test]
    fn rejects_unknown_units() {
        for text in ["", "furlong", "mQ", "m", "mV /", "(mV", "ms^x", "kk"] {
            assert!(matches!(Unit::parse(text), Err(SomataError::UnknownUnit(_))), "{text}");
        }
    }

    #[test]
    fn wrong_dimension_is_an_error() {
        let u = Unit::parse("mV").unwrap();
        let e = u.to_canonical(1.0, Dim::TIME, "tau").unwrap_err();
        assert!(e.to_string().contains("tau"), "{e}");
        assert!(matches!(e, SomataError::DimensionMismatch { .. }));
    }

    #[test]
    fn typed_arithmetic_is_coherent() {
        // BrainPy's conventions: 1 mS * 10 mV = 10 uA = 0.01 mA; uA / uF = mV/ms.
        let i: Current = (1.0 * mS) * (10.0 * mV);
        assert!((i.value_in(uA) - 10.0).abs() < 1e-9);
        let r: VoltageRate = (1.0 * uA) / (1.0 * uF);
        assert!((r.value_in(mV / ms) - 1.0).abs() < 1e-12);
        let tau: Time = (1.0 * nF) / (10.0 * nS);
        assert!((tau.value_in(ms) - 100.0).abs() < 1e-9);
        assert!(((1.0 / (5.0 * ms)) * (2.0 * ms) - 0.4).abs() < 1e-12);
        assert!((Frequency::from_value_unit(100.0, "Hz").unwrap().value_in(1.0 / ms) - 0.1).abs() < 1e-12);
    }
}
