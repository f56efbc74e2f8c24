//! A business's limits on what a customer may pay in by card (portal and top-up links): per
//! top-up, and the balance a top-up may bring the wallet to. They keep card testing and runaway
//! balances out; the API's own adjustments are not bound by them.

use serde::{Deserialize, Serialize};

use crate::kernel::{Currency, ValidationError};

/// Limits in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpLimits {
    /// The least one top-up may add.
    pub min_amount: i64,
    /// The most one top-up may add.
    pub max_amount: i64,
    /// The most a wallet's balance may reach through a top-up.
    pub max_balance: i64,
}

impl TopUpLimits {
    /// The limits of a currency nobody set: 1.00 to 1,000.00 a top-up, 10,000.00 of balance
    /// (in the currency's own units: 1 to 1,000 for a currency without minor units).
    pub fn default_for(currency: Currency) -> TopUpLimits {
        let unit = 10_i64.pow(u32::from(currency.exponent()));
        TopUpLimits {
            min_amount: unit,
            max_amount: 1_000 * unit,
            max_balance: 10_000 * unit,
        }
    }

    /// Checks the limits themselves (a settings patch).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.min_amount < 1
            || self.max_amount < self.min_amount
            || self.max_balance < self.max_amount
            || self.max_balance > crate::kernel::money::BALANCE_MAX_MINOR
        {
            return Err(ValidationError::new(
                "invalid_top_up_limits",
                "top-up limits need 1 <= min_amount <= max_amount <= max_balance",
            ));
        }
        Ok(())
    }

    /// Checks a top-up of `amount` onto a wallet holding `balance` (both in minor units).
    pub fn check(&self, amount: i64, balance: i64) -> Result<(), ValidationError> {
        if amount < self.min_amount {
            return Err(ValidationError::new(
                "top_up_below_minimum",
                format!(
                    "a top-up must be at least {} (minor units)",
                    self.min_amount
                ),
            ));
        }
        if amount > self.max_amount {
            return Err(ValidationError::new(
                "top_up_above_maximum",
                format!("a top-up may be at most {} (minor units)", self.max_amount),
            ));
        }
        if balance.saturating_add(amount) > self.max_balance {
            return Err(ValidationError::new(
                "top_up_balance_limit",
                format!(
                    "this top-up would take the balance above {} (minor units)",
                    self.max_balance
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_up_must_lie_within_the_limits() {
        let limits = TopUpLimits::default_for(Currency::parse("USD").unwrap());
        assert_eq!(limits.min_amount, 100);
        assert!(limits.check(99, 0).is_err());
        assert!(limits.check(100, 0).is_ok());
        assert!(limits.check(100_000, 0).is_ok());
        assert_eq!(
            limits.check(100_001, 0).unwrap_err().code,
            "top_up_above_maximum"
        );
        assert_eq!(
            limits.check(2_500, 998_000).unwrap_err().code,
            "top_up_balance_limit"
        );
        assert!(limits.check(2_000, 998_000).is_ok());
        assert!(limits.validate().is_ok());
        let bad = TopUpLimits {
            max_amount: 50,
            ..limits
        };
        assert!(bad.validate().is_err());
    }
}
