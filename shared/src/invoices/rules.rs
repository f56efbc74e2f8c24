//! Paying invoices from a wallet (partial payment) and reversing such payments. Pure arithmetic.

use super::model::{InvoiceCommand, InvoicePayment, ReversalCommand};
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
    };
    Ok((next, entry, payment))
}

/// Credits back part of what an invoice payment took from the wallet; never more than was applied,
/// across all reversals.
pub fn reverse(
    current: &CustomerWallets,
    payment: &InvoicePayment,
    command: &ReversalCommand,
    entry_id: EntryId,
    now: Timestamp,
) -> DomainResult<(Applied, InvoicePayment)> {
    let requested = command.amount.minor();
    if requested > payment.applied - payment.reversed {
        return Err(DomainError::ReversalExceedsApplied {
            invoice_id: payment.invoice_id.to_string(),
            applied: payment.applied,
            reversed: payment.reversed,
            requested,
        });
    }
    let credit = EntryCommand {
        currency: payment.currency,
        amount: command.amount,
        entry_type: EntryType::Credit,
        event_type: EventType::PaymentReversal,
        reason: command
            .reason
            .clone()
            .or_else(|| Some(format!("reversal of invoice {}", payment.invoice_id))),
        reference_object_id: Some(payment.invoice_id.to_string()),
        idempotency_key: command.idempotency_key.clone(),
    };
    let applied = apply_entry(current, &payment.business_id, &credit, entry_id, now)?;
    let reversed = InvoicePayment {
        reversed: payment.reversed + requested,
        updated_at: now,
        updated_by: crate::access::actor::current(),
        ..payment.clone()
    };
    Ok((applied, reversed))
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
        let (applied, payment) =
            reverse(&next, &payment, &reversal(50), EntryId::generate(), T1).unwrap();
        assert_eq!(applied.entry.event_type, EventType::PaymentReversal);
        assert!(applied.entry.is_credit);
        assert_eq!(payment.reversed, 50);
        let err = reverse(
            &applied.next,
            &payment,
            &reversal(31),
            EntryId::generate(),
            T1,
        )
        .unwrap_err();
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
        assert!(reverse(
            &applied.next,
            &payment,
            &reversal(30),
            EntryId::generate(),
            T1
        )
        .is_ok());
    }
}
