//! Converting balances to USD for `total_balance_usd`, with a configured rate table.
//!
//! Rates are decimal strings "USD per one major unit" (e.g. `INR=0.012`), read from the
//! `FX_RATES_USD` setting (defaults below). The total is computed exactly in nano-cents and rounded
//! half-up to the cent once, so summing many wallets never accumulates rounding error.

use std::collections::BTreeMap;

use super::codes::ValidationError;
use super::money::Currency;

/// Default rates, used for any currency the setting does not name. Operators should set their own.
pub const DEFAULT_RATES_USD: &str = "USD=1,INR=0.012,EUR=1.08,GBP=1.27,JPY=0.0067,KWD=3.25";
/// Decimal places a configured rate may carry.
const RATE_DECIMALS_MAX: u32 = 9;

/// USD per major unit of each currency, as an integer count of 10^-9 USD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTable {
    nano_usd_per_major: BTreeMap<Currency, i128>,
}

fn parse_rate(raw: &str) -> Option<i128> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || fraction.len() > RATE_DECIMALS_MAX as usize
        || !(whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let padded = format!("{whole}{fraction:0<9}");
    padded.parse::<i128>().ok().filter(|r| *r > 0)
}

impl RateTable {
    /// Parses `CODE=rate,CODE=rate`.
    pub fn parse(spec: &str) -> Result<RateTable, ValidationError> {
        let mut nano_usd_per_major = BTreeMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (code, rate) = pair.split_once('=').ok_or_else(|| {
                ValidationError::new("invalid_rate", format!("rate `{pair}` is not CODE=rate"))
            })?;
            let currency = Currency::parse(code.trim())?;
            let rate = parse_rate(rate.trim()).ok_or_else(|| {
                ValidationError::new(
                    "invalid_rate",
                    format!("rate for {code} must be a positive decimal with at most 9 decimals"),
                )
            })?;
            nano_usd_per_major.insert(currency, rate);
        }
        Ok(RateTable { nano_usd_per_major })
    }

    pub fn has(&self, currency: Currency) -> bool {
        self.nano_usd_per_major.contains_key(&currency)
    }

    /// Sum of the balances in USD cents, rounded half-up once. Currencies without a rate are
    /// refused at start-up (see `Config`), so every wallet has one here.
    pub fn total_usd_cents(&self, balances: impl IntoIterator<Item = (Currency, i64)>) -> i64 {
        let mut nano_cents: i128 = 0;
        for (currency, balance_minor) in balances {
            let rate = self.nano_usd_per_major[&currency];
            // balance_minor / 10^exp major units * rate nano-USD * 100 cents/USD
            nano_cents += i128::from(balance_minor) * rate * 100
                / 10_i128.pow(u32::from(currency.exponent()));
        }
        let cents = (nano_cents + 500_000_000) / 1_000_000_000;
        i64::try_from(cents).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn usd_converts_to_itself_and_others_by_rate_and_exponent() {
        let rates = RateTable::parse("USD=1,INR=0.012,JPY=0.0067,KWD=3.25").unwrap();
        assert_eq!(rates.total_usd_cents([(c("USD"), 1234)]), 1234);
        // 1000.00 INR = 12.00 USD
        assert_eq!(rates.total_usd_cents([(c("INR"), 100_000)]), 1200);
        // 1000 JPY = 6.70 USD; 1.000 KWD = 3.25 USD
        assert_eq!(
            rates.total_usd_cents([(c("JPY"), 1000), (c("KWD"), 1000)]),
            670 + 325
        );
    }

    #[test]
    fn total_rounds_once_half_up() {
        let rates = RateTable::parse("USD=1,INR=0.012").unwrap();
        // 0.50 INR = 0.006 USD = 0.6 cents each; two of them = 1.2 cents -> 1 (not 1 + 1)
        assert_eq!(rates.total_usd_cents([(c("INR"), 50), (c("INR"), 50)]), 1);
        assert_eq!(rates.total_usd_cents([(c("INR"), 125)]), 2); // 1.5 cents -> 2
    }

    #[test]
    fn malformed_rates_are_rejected() {
        for spec in [
            "USD",
            "USD=",
            "USD=-1",
            "USD=0",
            "USD=1e3",
            "XXX=1",
            "USD=0.0000000001",
        ] {
            assert!(RateTable::parse(spec).is_err(), "{spec}");
        }
    }
}
