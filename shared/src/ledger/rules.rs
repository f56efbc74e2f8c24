//! Pure ledger arithmetic: applying an entry to a customer's wallets, and mapping pages to entry
//! numbers.

use super::model::{
    CustomerWallets, EntryCommand, EntryRange, EntryType, EventType, LedgerEntry, Wallet,
    WalletStatus,
};
use crate::error::{DomainError, DomainResult};
use crate::kernel::money::BALANCE_MAX_MINOR;
use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, Currency, EntryId, Timestamp, ValidationError};

/// The wallets after an entry, and the entry itself, both ready to be written together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub next: CustomerWallets,
    pub entry: LedgerEntry,
}

/// The wallet of `currency` in `set`, or why there is none.
pub fn wallet_of(set: &CustomerWallets, currency: Currency) -> DomainResult<&Wallet> {
    set.wallets.get(&currency).ok_or_else(|| {
        let enabled = set
            .wallets
            .keys()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join(", ");
        DomainError::CurrencyNotEnabled {
            customer_id: set.customer_id.to_string(),
            currency: currency.code().to_owned(),
            enabled,
        }
    })
}

/// The open wallet of `currency` in `set`: a closed wallet takes no credits, debits or holds.
pub fn open_wallet_of(set: &CustomerWallets, currency: Currency) -> DomainResult<&Wallet> {
    let wallet = wallet_of(set, currency)?;
    debug_assert!(
        wallet.balance >= 0
            && wallet.pending_charges >= 0
            && wallet.pending_charges <= wallet.balance
    );
    if wallet.status == WalletStatus::Closed {
        return Err(DomainError::WalletClosed {
            currency: currency.code().to_owned(),
        });
    }
    Ok(wallet)
}

/// Refuses to take `amount` from a wallet whose available balance (balance less pending
/// charges) is smaller.
pub fn require_available(wallet: &Wallet, currency: Currency, amount: i64) -> DomainResult<()> {
    let available = wallet.available_balance();
    if amount > available {
        return Err(DomainError::InsufficientBalance {
            currency: currency.code().to_owned(),
            available,
            requested: amount,
        });
    }
    Ok(())
}

/// `set` with the wallet of `currency` changed by `change` at `now`, at the same version.
pub fn with_wallet(
    set: &CustomerWallets,
    currency: Currency,
    now: Timestamp,
    change: impl FnOnce(&mut Wallet),
) -> CustomerWallets {
    let mut next = set.clone();
    let wallet = next
        .wallets
        .get_mut(&currency)
        .expect("callers checked the wallet exists");
    change(wallet);
    wallet.updated_at = now;
    // The low-balance flag moves with the balance, in the same write, and each crossing is
    // counted: several changes in one write (a batch) may cross more than once.
    let low = crate::topups::rules::is_low(wallet);
    if low != wallet.low {
        wallet.crossings += 1;
    }
    wallet.low = low;
    next
}

/// `set` as the next version, with the wallet of `currency` changed by `change` at `now`.
pub fn next_version(
    set: &CustomerWallets,
    currency: Currency,
    now: Timestamp,
    change: impl FnOnce(&mut Wallet),
) -> CustomerWallets {
    let mut next = with_wallet(set, currency, now, change);
    next.version += 1;
    next
}

/// Which way each event type moves money, seen from the wallet; `None` when both make sense.
pub fn direction_of(event_type: EventType) -> Option<EntryType> {
    match event_type {
        EventType::PaymentReversal | EventType::Refund | EventType::DisputeReversal => {
            Some(EntryType::Credit)
        }
        EventType::Payment | EventType::RefundReversal | EventType::Dispute => {
            Some(EntryType::Debit)
        }
        EventType::MerchantAdjustment => None,
    }
}

/// Refuses typed entries that make no sense: a `refund` that debits, a `payment` that credits, or
/// any event other than a merchant adjustment without the object it refers to.
pub fn check_event_type(command: &EntryCommand) -> Result<(), ValidationError> {
    if let Some(direction) = direction_of(command.event_type) {
        if direction != command.entry_type {
            return Err(ValidationError::new(
                "invalid_event_type",
                format!(
                    "event_type `{}` is always a {}; got entry_type `{}`",
                    command.event_type.as_str(),
                    direction.as_str(),
                    command.entry_type.as_str()
                ),
            ));
        }
        if command.reference_object_id.is_none() {
            return Err(ValidationError::new(
                "missing_reference_object_id",
                format!(
                    "event_type `{}` needs reference_object_id: the id of the payment, refund or dispute it records",
                    command.event_type.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Applies one credit or debit to `current`, or says why it cannot be applied.
/// Never yields a negative balance, a negative available balance, or a balance above the maximum.
pub fn apply_entry(
    current: &CustomerWallets,
    business_id: &BusinessId,
    command: &EntryCommand,
    entry_id: EntryId,
    now: Timestamp,
) -> DomainResult<Applied> {
    let currency = command.currency;
    let wallet = open_wallet_of(current, currency)?;
    let amount_minor = command.amount.minor();
    let before_balance = wallet.balance;
    let after_balance = match command.entry_type {
        EntryType::Credit => match before_balance.checked_add(amount_minor) {
            Some(after) if after <= BALANCE_MAX_MINOR => after,
            _ => {
                return Err(DomainError::BalanceLimitExceeded {
                    currency: currency.code().to_owned(),
                    max: BALANCE_MAX_MINOR,
                })
            }
        },
        EntryType::Debit => {
            require_available(wallet, currency, amount_minor)?;
            before_balance - amount_minor
        }
    };
    assert!(
        (0..=BALANCE_MAX_MINOR).contains(&after_balance),
        "balance out of bounds after entry"
    );

    let mut next = next_version(current, currency, now, |wallet| {
        wallet.balance = after_balance;
        wallet.entry_count += 1;
    });
    next.entry_count += 1;
    let currency_seq = next.wallets[&currency].entry_count;

    let entry = LedgerEntry {
        id: entry_id,
        customer_id: current.customer_id.clone(),
        business_id: business_id.clone(),
        currency,
        amount: amount_minor,
        is_credit: command.entry_type == EntryType::Credit,
        before_balance,
        after_balance,
        event_type: command.event_type,
        reason: command.reason.clone(),
        reference_object_id: command.reference_object_id.clone(),
        idempotency_key: command.idempotency_key.clone(),
        created_at: now,
        customer_seq: next.entry_count,
        currency_seq,
        created_by: crate::access::actor::current(),
    };
    Ok(Applied { next, entry })
}

/// The inclusive range of entry numbers on `page`, newest first, in a ledger of `entry_count`
/// entries; `None` when the page is past the end.
pub fn page_range(entry_count: u64, page: PageRequest) -> Option<(u64, u64)> {
    let skipped = page.skipped();
    if page.size == 0 || skipped >= entry_count {
        return None;
    }
    let newest = entry_count - skipped;
    let oldest = newest.saturating_sub(u64::from(page.size) - 1).max(1);
    Some((oldest, newest))
}

/// The entries on `page` of the customer's whole ledger or of one currency's.
pub fn entry_range(
    wallets: &CustomerWallets,
    currency: Option<Currency>,
    page: PageRequest,
) -> Option<EntryRange> {
    let entry_count = match currency {
        Some(c) => wallets.wallets.get(&c).map_or(0, |w| w.entry_count),
        None => wallets.entry_count,
    };
    page_range(entry_count, page).map(|(oldest, newest)| EntryRange {
        currency,
        oldest,
        newest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::paging::{PAGE_NUMBER_MAX, PAGE_SIZE_MAX};
    use crate::kernel::Amount;

    fn wallets(balance: i64, pending: i64) -> CustomerWallets {
        crate::ledger::model::usd_wallets(balance, pending)
    }

    const T1: Timestamp = Timestamp::from_unix_ms(1);

    fn page(number: u32, size: u32) -> PageRequest {
        PageRequest { number, size }
    }

    fn command(entry_type: EntryType, amount: i64) -> EntryCommand {
        EntryCommand {
            currency: Currency::USD,
            amount: Amount::new(amount).unwrap(),
            entry_type,
            event_type: EventType::MerchantAdjustment,
            reason: None,
            reference_object_id: None,
            idempotency_key: None,
        }
    }

    fn apply(set: &CustomerWallets, entry_type: EntryType, amount: i64) -> DomainResult<Applied> {
        apply_entry(
            set,
            &BusinessId::generate(),
            &command(entry_type, amount),
            EntryId::generate(),
            T1,
        )
    }

    #[test]
    fn credit_chains_before_and_after_and_numbers_the_entry() {
        let applied = apply(&wallets(100, 0), EntryType::Credit, 50).unwrap();
        assert_eq!(
            (applied.entry.before_balance, applied.entry.after_balance),
            (100, 150)
        );
        assert_eq!(
            (applied.entry.customer_seq, applied.entry.currency_seq),
            (1, 1)
        );
        assert_eq!(applied.next.wallets[&Currency::USD].balance, 150);
        assert_eq!(applied.next.version, 1);
    }

    #[test]
    fn debit_of_exactly_the_available_balance_leaves_zero() {
        let applied = apply(&wallets(100, 0), EntryType::Debit, 100).unwrap();
        assert_eq!(applied.entry.after_balance, 0);
        assert!(!applied.entry.is_credit);
    }

    #[test]
    fn debit_above_available_balance_is_rejected_counting_pending_charges() {
        let err = apply(&wallets(100, 30), EntryType::Debit, 71).unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::InsufficientBalance {
                    available: 70,
                    requested: 71,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(apply(&wallets(100, 30), EntryType::Debit, 70).is_ok());
    }

    #[test]
    fn credit_that_would_pass_the_balance_maximum_is_rejected() {
        let err = apply(&wallets(BALANCE_MAX_MINOR - 10, 0), EntryType::Credit, 11).unwrap_err();
        assert!(matches!(err, DomainError::BalanceLimitExceeded { .. }));
        assert!(apply(&wallets(BALANCE_MAX_MINOR - 10, 0), EntryType::Credit, 10).is_ok());
    }

    #[test]
    fn entry_in_a_currency_without_wallet_is_rejected() {
        let mut cmd = command(EntryType::Credit, 1);
        cmd.currency = Currency::parse("EUR").unwrap();
        let err = apply_entry(
            &wallets(0, 0),
            &BusinessId::generate(),
            &cmd,
            EntryId::generate(),
            T1,
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::CurrencyNotEnabled { .. }));
    }

    #[test]
    fn pages_map_to_entry_numbers_newest_first() {
        assert_eq!(page_range(25, page(0, 10)), Some((16, 25)));
        assert_eq!(page_range(25, page(1, 10)), Some((6, 15)));
        assert_eq!(page_range(25, page(2, 10)), Some((1, 5)));
        assert_eq!(page_range(25, page(3, 10)), None);
        assert_eq!(page_range(0, page(0, 10)), None);
        assert_eq!(page_range(1, page(0, 100)), Some((1, 1)));
        assert_eq!(
            page_range(u64::MAX, page(PAGE_NUMBER_MAX, PAGE_SIZE_MAX)).map(|(lo, hi)| hi - lo),
            Some(99)
        );
    }
}
