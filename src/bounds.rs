//! Range checks with messages that name the setting, shared by every config's `check`.
/// A range check with the message every setting uses: "`name` = v must be in lo..=hi".
pub fn in_range<T: PartialOrd + std::fmt::Display + Copy>(name: &str, value: T, lo: T, hi: T) -> Result<(), String> {
    if value >= lo && value <= hi {
        Ok(())
    } else {
        Err(format!("{name} = {value} must be in {lo}..={hi}"))
    }
}

/// [`in_range`] for floats, which also refuses NaN and infinities.
pub fn in_range_f(name: &str, value: f64, lo: f64, hi: f64) -> Result<(), String> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(format!("{name} = {value} must be a number in [{lo}, {hi}]"))
    }
}
