//! Timestamps: RFC 3339 in UTC with millisecond precision, the precision of the ULIDs in our ids,
//! so that a customer id and its `created_at` name the same millisecond.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use super::codes::ValidationError;

/// Where "now" comes from: the system clock in the functions, a fixed or stepped one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// An instant, in milliseconds since the Unix epoch. Serialised as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub unix_ms: u64,
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse_instant("timestamp", &raw, Round::Down)
            .map(|unix_ms| Timestamp { unix_ms })
            .map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Timestamp {
    pub const fn from_unix_ms(unix_ms: u64) -> Timestamp {
        Timestamp { unix_ms }
    }

    pub fn now() -> Timestamp {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp {
            unix_ms: u64::try_from(nanos / 1_000_000).expect("the clock is after 1970"),
        }
    }

    /// `2026-11-22T23:54:48.123Z`
    pub fn rfc3339(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let instant =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.unix_ms) * 1_000_000)
                .expect("millisecond timestamps are in range");
        instant.format(&format).expect("UTC timestamps format")
    }
}

/// Which way to round an instant finer than a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// The first whole millisecond at or after the instant (for "at or after" bounds).
    Up,
    /// The whole millisecond at or before the instant (for "at or before" bounds).
    Down,
}

/// Parses an RFC 3339 instant with a time zone (e.g. `2024-01-01T00:00:00+00:00`) into whole
/// milliseconds; instants before 1970 clamp to 0.
pub fn parse_instant(field: &str, raw: &str, round: Round) -> Result<u64, ValidationError> {
    let instant = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| ValidationError::new("invalid_timestamp", format!("`{field}` must be an RFC 3339 date-time with a time zone, e.g. 2024-01-01T00:00:00Z; got `{raw}`")))?;
    let nanos = instant.unix_timestamp_nanos().max(0);
    let ms = nanos / 1_000_000 + i128::from(round == Round::Up && nanos % 1_000_000 != 0);
    Ok(u64::try_from(ms).expect("RFC 3339 years end at 9999"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_milliseconds_in_utc() {
        assert_eq!(
            Timestamp {
                unix_ms: 1_700_000_000_123
            }
            .rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            Timestamp { unix_ms: 0 }.rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn instants_round_to_whole_milliseconds_in_the_asked_direction() {
        assert_eq!(
            parse_instant("t", "2023-11-14T22:13:20.123Z", Round::Up),
            Ok(1_700_000_000_123)
        );
        assert_eq!(
            parse_instant("t", "2023-11-14T22:13:20.1231Z", Round::Up),
            Ok(1_700_000_000_124)
        );
        assert_eq!(
            parse_instant("t", "2023-11-14T22:13:20.1239Z", Round::Down),
            Ok(1_700_000_000_123)
        );
        assert_eq!(
            parse_instant("t", "2023-11-15T00:13:20.123+02:00", Round::Down),
            Ok(1_700_000_000_123)
        );
        assert_eq!(
            parse_instant("t", "1960-01-01T00:00:00Z", Round::Down),
            Ok(0)
        );
    }

    #[test]
    fn instants_without_a_time_zone_are_refused() {
        for raw in ["2024-01-01T00:00:00", "2024-01-01", "yesterday", ""] {
            assert_eq!(
                parse_instant("created_at_gte", raw, Round::Up)
                    .unwrap_err()
                    .code,
                "invalid_timestamp",
                "{raw}"
            );
        }
    }
}
