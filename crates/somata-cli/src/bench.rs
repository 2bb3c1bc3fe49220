//! `somata bench NAME`.
pub fn bench(_name: &str, _runs: usize) -> Result<(), String> {
    Err("not yet".into())
}
