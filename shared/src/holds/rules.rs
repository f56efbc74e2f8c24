//! Pure hold arithmetic: reserving part of a wallet, capturing it as one debit, giving it back.
//! A hold's amount is counted in its wallet's `pending_charges` exactly while it is pending.

use super::model::{CaptureCommand, Hold, HoldCommand, HoldStatus};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Amount, BusinessId, EntryId, HoldId, Timestamp, ValidationError};
use crate::ledger::model::{CustomerWallets, EntryCommand, EntryType, EventType};
use crate::ledger::rules::{
    apply_entry, next_version, open_wallet_of, require_available, wallet_of, with_wallet, Applied,
};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// How long a hold lasts when the request names no expiry.
pub const HOLD_TTL_DEFAULT_MS: u64 = 7 * DAY_MS;
/// The latest expiry a hold may have, from its creation.
pub const HOLD_TTL_MAX_MS: u64 = 30 * DAY_MS;

/// The hold's expiry: the requested one if it is in the future and within the maximum, else the
/// default.
pub fn expiry(now: Timestamp, requested: Option<Timestamp>) -> Result<Timestamp, ValidationError> {
    let Some(at) = requested else {
        return Ok(Timestamp::from_unix_ms(now.unix_ms + HOLD_TTL_DEFAULT_MS));
    };
    if at <= now {
        return Err(ValidationError::new(
            "invalid_expires_at",
            "expires_at must be in the future",
        ));
    }
    if at.unix_ms - now.unix_ms > HOLD_TTL_MAX_MS {
        return Err(ValidationError::new(
            "invalid_expires_at",
            format!(
                "expires_at must be at most {} days from now",
                HOLD_TTL_MAX_MS / DAY_MS
            ),
        ));
    }
    Ok(at)
}

/// Reserves `command.amount` of the available balance: the wallet set after it and the new hold.
pub fn create(
    current: &CustomerWallets,
    business_id: &BusinessId,
    command: &HoldCommand,
    hold_id: &HoldId,
    now: Timestamp,
) -> DomainResult<(CustomerWallets, Hold)> {
    let currency = command.currency;
    let wallet = open_wallet_of(current, currency)?;
    let amount = command.amount.minor();
    require_available(wallet, currency, amount)?;
    let expires_at = expiry(now, command.expires_at)?;
    let mut next = next_version(current, currency, now, |w| w.pending_charges += amount);
    next.hold_count = current.hold_count + 1;
    let hold = Hold {
        id: super::model::hold_id_numbered(hold_id, current.hold_count),
        customer_id: current.customer_id.clone(),
        business_id: business_id.clone(),
        currency,
        amount,
        status: HoldStatus::Pending,
        captured_amount: 0,
        reason: command.reason.clone(),
        reference_object_id: command.reference_object_id.clone(),
        idempotency_key: command.idempotency_key.clone(),
        ledger_entry_id: None,
        expires_at,
        created_at: now,
        updated_at: now,
        created_by: crate::access::actor::current(),
        updated_by: None,
    };
    Ok((next, hold))
}

fn still_pending(hold: &Hold) -> DomainResult<()> {
    if hold.status == HoldStatus::Pending {
        Ok(())
    } else {
        Err(DomainError::HoldNotPending {
            hold: Box::new(hold.clone()),
        })
    }
}

/// `current` with the hold's reservation given back, at the same version.
fn without_reservation(
    current: &CustomerWallets,
    hold: &Hold,
    now: Timestamp,
) -> DomainResult<CustomerWallets> {
    let currency = hold.currency;
    let pending = wallet_of(current, currency)?.pending_charges;
    assert!(
        pending >= hold.amount,
        "a pending hold is counted in its wallet's pending charges"
    );
    Ok(with_wallet(current, currency, now, |w| {
        w.pending_charges -= hold.amount
    }))
}

/// Charges all or part of a pending, unexpired hold as one debit and gives back the rest.
pub fn capture(
    current: &CustomerWallets,
    hold: &Hold,
    command: &CaptureCommand,
    entry_id: EntryId,
    now: Timestamp,
) -> DomainResult<(Applied, Hold)> {
    still_pending(hold)?;
    if now >= hold.expires_at {
        return Err(DomainError::HoldExpired {
            hold: Box::new(hold.clone()),
        });
    }
    let amount = command.amount.map_or(hold.amount, Amount::minor);
    if amount > hold.amount {
        return Err(DomainError::CaptureExceedsHold {
            hold_id: hold.id.to_string(),
            held: hold.amount,
            requested: amount,
        });
    }
    // One version step for the whole capture: the debit below takes it.
    let released = without_reservation(current, hold, now)?;
    let debit = EntryCommand {
        currency: hold.currency,
        amount: Amount::new(amount)?,
        entry_type: EntryType::Debit,
        event_type: EventType::Payment,
        reason: command.reason.clone().or_else(|| hold.reason.clone()),
        reference_object_id: Some(
            hold.reference_object_id
                .clone()
                .unwrap_or_else(|| hold.id.to_string()),
        ),
        idempotency_key: None,
    };
    let applied = apply_entry(&released, &hold.business_id, &debit, entry_id, now)?;
    let captured = Hold {
        status: HoldStatus::Captured,
        captured_amount: amount,
        ledger_entry_id: Some(applied.entry.id.clone()),
        updated_at: now,
        updated_by: crate::access::actor::current(),
        ..hold.clone()
    };
    Ok((applied, captured))
}

/// Gives a pending hold back: `Released` by the caller (even once expired) or `Expired` by the
/// sweep.
pub fn release(
    current: &CustomerWallets,
    hold: &Hold,
    outcome: HoldStatus,
    now: Timestamp,
) -> DomainResult<(CustomerWallets, Hold)> {
    debug_assert!(matches!(
        outcome,
        HoldStatus::Released | HoldStatus::Expired
    ));
    still_pending(hold)?;
    let mut next = without_reservation(current, hold, now)?;
    next.version += 1;
    let resolved = Hold {
        status: outcome,
        updated_at: now,
        updated_by: crate::access::actor::current(),
        ..hold.clone()
    };
    Ok((next, resolved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Currency;

    const T0: Timestamp = Timestamp {
        unix_ms: 1_800_000_000_000,
    };

    fn wallets(balance: i64) -> CustomerWallets {
        crate::ledger::model::usd_wallets(balance, 0)
    }

    fn hold_of(set: &CustomerWallets, amount: i64) -> (CustomerWallets, Hold) {
        let command = HoldCommand {
            currency: Currency::USD,
            amount: Amount::new(amount).unwrap(),
            reason: None,
            reference_object_id: Some("inv_1".into()),
            idempotency_key: None,
            expires_at: None,
        };
        create(
            set,
            &BusinessId::generate(),
            &command,
            &HoldId::generate(),
            T0,
        )
        .unwrap()
    }

    fn usd(set: &CustomerWallets) -> (i64, i64) {
        let w = &set.wallets[&Currency::USD];
        (w.balance, w.pending_charges)
    }

    #[test]
    fn a_hold_reserves_available_balance_and_a_second_cannot_overdraw_it() {
        let (set, hold) = hold_of(&wallets(100), 70);
        assert_eq!(usd(&set), (100, 70));
        assert_eq!(hold.expires_at.unix_ms, T0.unix_ms + HOLD_TTL_DEFAULT_MS);
        let command = HoldCommand {
            currency: Currency::USD,
            amount: Amount::new(31).unwrap(),
            reason: None,
            reference_object_id: None,
            idempotency_key: None,
            expires_at: None,
        };
        let err = create(
            &set,
            &BusinessId::generate(),
            &command,
            &HoldId::generate(),
            T0,
        )
        .unwrap_err();
        assert!(
            matches!(err, DomainError::InsufficientBalance { available: 30, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_partial_capture_debits_what_was_captured_and_releases_the_rest() {
        let (set, hold) = hold_of(&wallets(100), 70);
        let command = CaptureCommand {
            amount: Some(Amount::new(40).unwrap()),
            reason: None,
        };
        let (applied, captured) = capture(&set, &hold, &command, EntryId::generate(), T0).unwrap();
        assert_eq!(usd(&applied.next), (60, 0));
        assert_eq!(applied.next.version, set.version + 1);
        assert_eq!((applied.entry.amount, applied.entry.is_credit), (40, false));
        assert_eq!(applied.entry.reference_object_id.as_deref(), Some("inv_1"));
        assert_eq!(captured.status, HoldStatus::Captured);
        assert_eq!(captured.captured_amount, 40);
        assert_eq!(captured.ledger_entry_id, Some(applied.entry.id));
    }

    #[test]
    fn capture_refuses_more_than_held_a_resolved_hold_and_an_expired_one() {
        let (set, hold) = hold_of(&wallets(100), 70);
        let more = CaptureCommand {
            amount: Some(Amount::new(71).unwrap()),
            reason: None,
        };
        assert!(matches!(
            capture(&set, &hold, &more, EntryId::generate(), T0),
            Err(DomainError::CaptureExceedsHold { held: 70, .. })
        ));
        let late = hold.expires_at;
        assert!(matches!(
            capture(
                &set,
                &hold,
                &CaptureCommand::default(),
                EntryId::generate(),
                late
            ),
            Err(DomainError::HoldExpired { .. })
        ));
        let (released, hold) = release(&set, &hold, HoldStatus::Released, T0).unwrap();
        assert_eq!(usd(&released), (100, 0));
        assert!(matches!(
            capture(
                &released,
                &hold,
                &CaptureCommand::default(),
                EntryId::generate(),
                T0
            ),
            Err(DomainError::HoldNotPending { .. })
        ));
        assert!(matches!(
            release(&released, &hold, HoldStatus::Released, T0),
            Err(DomainError::HoldNotPending { .. })
        ));
    }

    #[test]
    fn expiry_defaults_and_is_bounded() {
        let at = Timestamp::from_unix_ms;
        assert_eq!(expiry(at(10), None).unwrap(), at(10 + HOLD_TTL_DEFAULT_MS));
        assert_eq!(expiry(at(10), Some(at(11))).unwrap(), at(11));
        assert!(expiry(at(10), Some(at(10))).is_err());
        assert!(expiry(at(10), Some(at(10 + HOLD_TTL_MAX_MS))).is_ok());
        assert!(expiry(at(10), Some(at(11 + HOLD_TTL_MAX_MS))).is_err());
    }
}
