//! Amounts as people read and type them: major units with the currency's symbol ("$12.40"), and
//! typed text ("12.40", "1,000") into minor units, refused when it has more decimals than the
//! currency.

use shared::kernel::Currency;
use shared::ValidationError;

/// The symbol shown before an amount, or the code followed by a space.
fn symbol(currency: Currency) -> String {
    match currency.code() {
        "USD" | "AUD" | "CAD" | "NZD" | "SGD" | "HKD" | "MXN" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "INR" => "₹".into(),
        "JPY" | "CNY" => "¥".into(),
        "BRL" => "R$".into(),
        code => format!("{code} "),
    }
}

/// `minor` in major units with thousands separators, without a symbol: 123456 USD → "1,234.56".
pub fn major(minor: i64, currency: Currency) -> String {
    let exponent = u32::from(currency.exponent());
    let scale = 10u64.pow(exponent);
    let magnitude = minor.unsigned_abs();
    let whole = (magnitude / scale).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if exponent == 0 {
        format!("{sign}{grouped}")
    } else {
        let fraction = magnitude % scale;
        format!(
            "{sign}{grouped}.{fraction:0width$}",
            width = exponent as usize
        )
    }
}

/// `minor` as shown: "$1,234.56", "-€0.50", "KWD 1.250".
pub fn show(minor: i64, currency: Currency) -> String {
    let text = major(minor, currency);
    match text.strip_prefix('-') {
        Some(positive) => format!("-{}{positive}", symbol(currency)),
        None => format!("{}{text}", symbol(currency)),
    }
}

/// Typed major units into minor units: digits, at most one point, thousands commas and spaces
/// ignored; positive; no more decimals than the currency has.
pub fn parse(typed: &str, currency: Currency) -> Result<i64, ValidationError> {
    let exponent = usize::from(currency.exponent());
    let invalid = || {
        ValidationError::new(
            "invalid_amount",
            if exponent == 0 {
                format!("enter a whole amount of {} like 1200", currency.code())
            } else {
                format!(
                    "enter an amount of {} like 12.40 (at most {exponent} decimals)",
                    currency.code()
                )
            },
        )
    };
    let cleaned: String = typed
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > exponent
        || whole.len() > 15
    {
        return Err(invalid());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    let padded = format!("{fraction:0<exponent$}");
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| invalid())?
    };
    let minor = whole
        .checked_mul(10i64.pow(exponent as u32))
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(invalid)?;
    if minor <= 0 {
        return Err(ValidationError::new(
            "invalid_amount",
            "the amount must be more than zero",
        ));
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn amounts_show_in_major_units_with_the_symbol() {
        assert_eq!(show(123_456, c("USD")), "$1,234.56");
        assert_eq!(show(-50, c("EUR")), "-€0.50");
        assert_eq!(show(1_200, c("JPY")), "¥1,200");
        assert_eq!(show(1_250, c("KWD")), "KWD 1.250");
        assert_eq!(show(0, c("INR")), "₹0.00");
    }

    #[test]
    fn typed_amounts_become_minor_units() {
        assert_eq!(parse("50", c("USD")).unwrap(), 5_000);
        assert_eq!(parse("12.4", c("USD")).unwrap(), 1_240);
        assert_eq!(parse(" 1,000.05 ", c("USD")).unwrap(), 100_005);
        assert_eq!(parse(".5", c("USD")).unwrap(), 50);
        assert_eq!(parse("1200", c("JPY")).unwrap(), 1_200);
        for bad in [
            "",
            "abc",
            "1.234",
            "-5",
            "0",
            "0.00",
            "1.2.3",
            "1e3",
            "99999999999999999",
        ] {
            assert!(parse(bad, c("USD")).is_err(), "{bad:?}");
        }
        assert!(parse("1.5", c("JPY")).is_err());
    }
}
