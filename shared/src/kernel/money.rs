//! Money: ISO 4217 currencies with their minor-unit exponents, and amounts as validated integers.

use std::fmt;

use super::codes::ValidationError;

/// Largest amount one request may move, in minor units (10^14: one trillion USD in cents).
pub const AMOUNT_MAX_MINOR: i64 = 100_000_000_000_000;
/// Largest balance a wallet may hold, in minor units (10^15). Keeps every sum far from `i64::MAX`.
pub const BALANCE_MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Currencies Dodo accepts (its OpenAPI `Currency` enum), with ISO 4217 minor-unit exponents.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HRK", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SLL", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
];

/// An ISO 4217 currency that Dodo's API knows. Only constructible from a known code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    index: u8,
}

impl Currency {
    pub const USD: Currency = Currency { index: 131 };

    /// Parses an upper-case ISO 4217 code such as `USD`.
    pub fn parse(code: &str) -> Result<Currency, ValidationError> {
        CURRENCIES
            .binary_search_by(|(known, _)| (*known).cmp(code))
            .map(|index| Currency { index: index as u8 })
            .map_err(|_| ValidationError::new("invalid_currency", format!("`{code}` is not a supported ISO 4217 currency code (use upper case, e.g. USD)")))
    }

    pub fn code(self) -> &'static str {
        CURRENCIES[self.index as usize].0
    }

    /// Digits after the decimal point of the minor unit (USD 2, JPY 0, KWD 3).
    pub fn exponent(self) -> u8 {
        CURRENCIES[self.index as usize].1
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A strictly positive amount in minor units, at most [`AMOUNT_MAX_MINOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(i64);

impl Amount {
    pub fn new(minor: i64) -> Result<Amount, ValidationError> {
        if minor <= 0 {
            return Err(ValidationError::new(
                "invalid_amount",
                format!(
                    "amount must be a positive integer in minor units (e.g. cents); got {minor}"
                ),
            ));
        }
        if minor > AMOUNT_MAX_MINOR {
            return Err(ValidationError::new(
                "amount_too_large",
                format!("amount must be at most {AMOUNT_MAX_MINOR} minor units; got {minor}"),
            ));
        }
        Ok(Amount(minor))
    }

    /// A whole positive balance as an amount (a payout may exceed the per-request maximum).
    pub fn whole_balance(minor: i64) -> Amount {
        assert!(
            (1..=BALANCE_MAX_MINOR).contains(&minor),
            "a positive balance within bounds"
        );
        Amount(minor)
    }

    pub fn minor(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_table_is_sorted_so_binary_search_finds_every_code() {
        for (i, (code, _)) in CURRENCIES.iter().enumerate() {
            assert_eq!(Currency::parse(code).unwrap().index as usize, i, "{code}");
        }
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn usd_constant_points_at_usd() {
        assert_eq!(Currency::USD.code(), "USD");
    }

    #[test]
    fn exponents_follow_iso_4217() {
        let exp = |c: &str| Currency::parse(c).unwrap().exponent();
        assert_eq!(
            (exp("USD"), exp("INR"), exp("JPY"), exp("KWD")),
            (2, 2, 0, 3)
        );
    }

    #[test]
    fn unknown_or_lower_case_codes_are_rejected() {
        for code in ["usd", "XXX", "", "USDD", "US"] {
            assert_eq!(
                Currency::parse(code).unwrap_err().code,
                "invalid_currency",
                "{code}"
            );
        }
    }

    #[test]
    fn amount_must_be_positive_and_bounded() {
        assert!(Amount::new(1).is_ok());
        assert!(Amount::new(AMOUNT_MAX_MINOR).is_ok());
        assert_eq!(Amount::new(0).unwrap_err().code, "invalid_amount");
        assert_eq!(Amount::new(-5).unwrap_err().code, "invalid_amount");
        assert_eq!(
            Amount::new(AMOUNT_MAX_MINOR + 1).unwrap_err().code,
            "amount_too_large"
        );
        assert_eq!(Amount::new(i64::MIN).unwrap_err().code, "invalid_amount");
    }
}
