//! Paying invoices from a wallet (partial payment) and reversing such payments. Pure arithmetic.

use super::model::{
    settled_status, CardRefund, ChargeStatus, Destination, InvoiceCommand, InvoicePayment,
    RefundStatus, ReversalCommand,
};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Amount, BusinessId, EntryId, Timestamp};
use crate::ledger::model::{CustomerWallets, EntryCommand, EntryType, EventType, LedgerEntry};
use crate::ledger::rules::{apply_entry, next_version, open_wallet_of, Applied};

/// Applies `min(available balance, amount due)` of the invoice's currency as one debit. Only the
/// wallet of the invoice's currency is ever used. When nothing is available, nothing is debited,
/// but the payment is still recorded (so a repeat is recognised).
pub fn apply(
    current: &CustomerWallets,
    business_id: &BusinessId,
    command: &InvoiceCommand,
    entry_id: EntryId,
    now: Timestamp,
) -> DomainResult<(CustomerWallets, Option<LedgerEntry>, InvoicePayment)> {
    let currency = command.currency;
    let wallet = open_wallet_of(current, currency)?;
    let amount_due = command.amount_due.minor();
    let applied = wallet.available_balance().min(amount_due);
    let (next, entry) = if applied > 0 {
        let debit = EntryCommand {
            currency,
            amount: Amount::new(applied)?,
            entry_type: EntryType::Debit,
            event_type: EventType::Payment,
            reason: Some(format!("invoice {}", command.invoice_id)),
            reference_object_id: Some(command.invoice_id.to_string()),
            idempotency_key: None,
        };
        let Applied { next, entry } = apply_entry(current, business_id, &debit, entry_id, now)?;
        (next, Some(entry))
    } else {
        // Written anyway: the payment's "nothing was available" must hold at commit time.
        (next_version(current, currency, now, |_| {}), None)
    };
    let payment = InvoicePayment {
        invoice_id: command.invoice_id.clone(),
        customer_id: current.customer_id.clone(),
        business_id: business_id.clone(),
        currency,
        amount_due,
        applied,
        remaining: amount_due - applied,
        reversed: 0,
        ledger_entry_id: entry.as_ref().map(|e| e.id.clone()),
        created_at: now,
        updated_at: now,
        created_by: crate::access::actor::current(),
        updated_by: None,
        status: Some(settled_status(amount_due, applied)),
        charges: Vec::new(),
        charge_attempt: None,
        card_reversed: 0,
        refunds: Vec::new(),
    };
    Ok((next, entry, payment))
}

/// A reversal's split: how much of it comes from the wallet part and the card part, and where
/// each goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Of the wallet part.
    pub from_wallet_part: i64,
    /// Of the card part.
    pub from_card_part: i64,
    /// Credited to the wallet.
    pub to_wallet: i64,
    /// Refunded to the card.
    pub to_card: i64,
}

/// Splits a reversal of `requested` between the parts in proportion to what is left of each to
/// reverse (the wallet part's share rounded down), never more than is left of either; the
/// destination then says where each share goes.
pub fn split(
    payment: &InvoicePayment,
    requested: i64,
    destination: Destination,
) -> DomainResult<Split> {
    let wallet_left = payment.applied - payment.wallet_reversed();
    let card_left = payment.charged() - payment.card_reversed;
    let left = wallet_left + card_left;
    if requested > left {
        return Err(DomainError::ReversalExceedsApplied {
            invoice_id: payment.invoice_id.to_string(),
            applied: payment.applied + payment.charged(),
            reversed: payment.wallet_reversed() + payment.card_reversed,
            requested,
        });
    }
    let from_wallet_part =
        i64::try_from(i128::from(requested) * i128::from(wallet_left) / i128::from(left.max(1)))
            .expect("at most `requested`");
    let from_card_part = requested - from_wallet_part;
    let (to_wallet, to_card) = match destination {
        Destination::Wallet => (requested, 0),
        Destination::OriginalMethod => (from_wallet_part, from_card_part),
    };
    Ok(Split {
        from_wallet_part,
        from_card_part,
        to_wallet,
        to_card,
    })
}

/// Reverses part of an invoice payment ([`split`]): the wallet's share as one credit (none when
/// it is zero: the wallets are written unchanged, which orders the change), the card's share as
/// a pending refund of the charge that paid (`refund_id` names it; the gateway is called after
/// the commit). Never more than was paid by either means, across all reversals.
pub fn reverse(
    current: &CustomerWallets,
    payment: &InvoicePayment,
    command: &ReversalCommand,
    destination: Destination,
    entry_id: EntryId,
    refund_id: String,
    now: Timestamp,
) -> DomainResult<(CustomerWallets, Option<LedgerEntry>, InvoicePayment)> {
    let split = split(payment, command.amount.minor(), destination)?;
    let (next, entry) = if split.to_wallet > 0 {
        let credit = EntryCommand {
            currency: payment.currency,
            amount: Amount::new(split.to_wallet)?,
            entry_type: EntryType::Credit,
            event_type: EventType::PaymentReversal,
            reason: command
                .reason
                .clone()
                .or_else(|| Some(format!("reversal of invoice {}", payment.invoice_id))),
            reference_object_id: Some(payment.invoice_id.to_string()),
            idempotency_key: command.idempotency_key.clone(),
        };
        let Applied { next, entry } =
            apply_entry(current, &payment.business_id, &credit, entry_id, now)?;
        (next, Some(entry))
    } else {
        (next_version(current, payment.currency, now, |_| {}), None)
    };
    let mut reversed = InvoicePayment {
        reversed: payment.reversed + split.to_wallet,
        card_reversed: payment.card_reversed + split.from_card_part,
        updated_at: now,
        updated_by: crate::access::actor::current(),
        ..payment.clone()
    };
    if split.to_card > 0 {
        let paid_by = payment
            .charges
            .iter()
            .find(|c| c.status == ChargeStatus::Succeeded)
            .and_then(|c| c.payment_intent_id.clone())
            .expect("a card part was paid by a succeeded charge");
        reversed.refunds.push(CardRefund {
            id: refund_id,
            payment_intent_id: paid_by,
            amount: split.to_card,
            status: RefundStatus::Pending,
            refund_id: None,
            idempotency_key: command.idempotency_key.clone(),
            at: now,
        });
    }
    Ok((next, entry, reversed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Currency, InvoiceId};

    const T1: Timestamp = Timestamp::from_unix_ms(1);

    fn wallets(balance: i64, pending: i64) -> CustomerWallets {
        crate::ledger::model::usd_wallets(balance, pending)
    }

    fn pay(
        set: &CustomerWallets,
        due: i64,
    ) -> (CustomerWallets, Option<LedgerEntry>, InvoicePayment) {
        let command = InvoiceCommand {
            invoice_id: InvoiceId::parse("inv_7").unwrap(),
            currency: Currency::USD,
            amount_due: Amount::new(due).unwrap(),
            charge_remainder: None,
        };
        apply(
            set,
            &BusinessId::generate(),
            &command,
            EntryId::generate(),
            T1,
        )
        .unwrap()
    }

    fn reversal(amount: i64) -> ReversalCommand {
        ReversalCommand {
            amount: Amount::new(amount).unwrap(),
            reason: None,
            idempotency_key: None,
        }
    }

    #[test]
    fn applies_the_available_balance_at_most_and_reports_the_rest() {
        let (next, entry, payment) = pay(&wallets(100, 30), 500);
        assert_eq!((payment.applied, payment.remaining), (70, 430));
        assert_eq!(next.wallets[&Currency::USD].balance, 30);
        let entry = entry.unwrap();
        assert_eq!(entry.event_type, EventType::Payment);
        assert_eq!(entry.reference_object_id.as_deref(), Some("inv_7"));

        let (_, _, small) = pay(&wallets(100, 0), 25);
        assert_eq!((small.applied, small.remaining), (25, 0));
    }

    #[test]
    fn nothing_available_applies_nothing_and_writes_no_entry() {
        let (next, entry, payment) = pay(&wallets(50, 50), 10);
        assert_eq!((payment.applied, payment.remaining), (0, 10));
        assert!(entry.is_none() && payment.ledger_entry_id.is_none());
        assert_eq!(next.wallets[&Currency::USD].balance, 50);
    }

    #[test]
    fn reversals_credit_back_at_most_what_was_applied() {
        let (next, _, payment) = pay(&wallets(100, 0), 80);
        let rev = |set: &CustomerWallets, payment: &InvoicePayment, amount| {
            reverse(
                set,
                payment,
                &reversal(amount),
                Destination::OriginalMethod,
                EntryId::generate(),
                "irf_1".into(),
                T1,
            )
        };
        let (next, entry, payment) = rev(&next, &payment, 50).unwrap();
        let entry = entry.unwrap();
        assert_eq!(entry.event_type, EventType::PaymentReversal);
        assert!(entry.is_credit);
        assert_eq!(payment.reversed, 50);
        assert!(payment.refunds.is_empty(), "no card part");
        let err = rev(&next, &payment, 31).unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::ReversalExceedsApplied {
                    applied: 80,
                    reversed: 50,
                    requested: 31,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(rev(&next, &payment, 30).is_ok());
    }

    /// A payment of 1000: 400 from the wallet, 600 from a card.
    fn paid_by_both() -> InvoicePayment {
        let (_, _, mut payment) = pay(&wallets(400, 0), 1_000);
        payment.charges.push(crate::invoices::model::CardCharge {
            payment_intent_id: Some("pi_1".into()),
            payment_method_id: "pm_1".into(),
            amount: 600,
            status: ChargeStatus::Succeeded,
            decline_code: None,
            message: None,
            at: T1,
        });
        payment.settle();
        payment
    }

    #[test]
    fn partial_reversals_split_in_proportion_and_each_part_is_capped() {
        let payment = paid_by_both();
        assert_eq!(payment.remaining, 0);
        let s = split(&payment, 500, Destination::OriginalMethod).unwrap();
        assert_eq!((s.from_wallet_part, s.from_card_part), (200, 300));
        assert_eq!((s.to_wallet, s.to_card), (200, 300));
        let s = split(&payment, 500, Destination::Wallet).unwrap();
        assert_eq!((s.to_wallet, s.to_card), (500, 0));
        // Rounding: the wallet's share rounds down, the card takes the rest.
        let s = split(&payment, 1, Destination::OriginalMethod).unwrap();
        assert_eq!((s.from_wallet_part, s.from_card_part), (0, 1));
        assert!(split(&payment, 1_001, Destination::Wallet).is_err());

        // Reversed to the end in three steps, each part exactly once.
        let (set, _, _) = pay(&wallets(400, 0), 1_000);
        let mut payment = payment;
        let mut set = set;
        for (amount, destination) in [
            (500, Destination::OriginalMethod),
            (100, Destination::Wallet),
            (400, Destination::OriginalMethod),
        ] {
            let (next, _, next_payment) = reverse(
                &set,
                &payment,
                &reversal(amount),
                destination,
                EntryId::generate(),
                "irf".into(),
                T1,
            )
            .unwrap();
            (set, payment) = (next, next_payment);
        }
        assert_eq!(payment.wallet_reversed(), 400);
        assert_eq!(payment.card_reversed, 600);
        assert_eq!(payment.reversed + payment.refunded_to_card(), 1_000);
        assert!(split(&payment, 1, Destination::Wallet).is_err());
    }
}
