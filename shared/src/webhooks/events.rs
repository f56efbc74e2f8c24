//! Which events a committed change causes, decided from what the store holds before and after it
//! (a stream record's old and new images), never from a read made beside the write: a change that
//! did not commit has no record, and a record read twice gives the same events with the same ids.

use crate::holds::model::{Hold, HoldStatus};
use crate::invoices::model::{InvoicePayment, PaymentStatus};
use crate::kernel::{BusinessId, EventId};
use crate::ledger::model::{CustomerWallets, LedgerEntry, Wallet, WalletStatus};
use crate::payins::links::{TopUpLink, TopUpLinkStatus};

use super::model::{Cause, Event, EventType};

/// A wallet as it stood right after the change that wrote an entry or hold, stored with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WalletAfter {
    /// The customer's wallets' version after the change.
    pub version: u64,
    pub wallet: Wallet,
}

/// A stored record that events are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Wallets(CustomerWallets),
    Entry(LedgerEntry, WalletAfter),
    Hold(Hold, WalletAfter),
    /// A hold as an old image shows it: only its status is compared with the new one.
    HoldBefore(Hold),
    /// An invoice payment, with the wallet after the change that wrote it.
    Invoice(InvoicePayment, WalletAfter),
    /// An invoice payment as an old image shows it: only its status is compared.
    InvoiceBefore(InvoicePayment),
    /// A top-up link written with the customer's wallets, with the wallet after the change.
    TopUpLink(Box<TopUpLink>, WalletAfter),
    /// A top-up link as an old image shows it: its status and payments are compared.
    TopUpLinkBefore(Box<TopUpLink>),
}

/// The low-balance crossings from `was` to `now`, in order: (whether it went low, its number
/// from 0). A record written before crossings were counted shows its one crossing by the flag.
fn crossings(was: &Wallet, now: &Wallet) -> Vec<(bool, u64)> {
    let counted = now.crossings.saturating_sub(was.crossings);
    let count = if counted == 0 && now.low != was.low {
        1
    } else {
        counted
    };
    // Crossings alternate, starting from the way out of where it was.
    (0..count).map(|k| ((k % 2 == 0) != was.low, k)).collect()
}

/// The events of one item's change from `old` to `new` (`None`: absent).
pub fn events_of(
    business_id: &BusinessId,
    old: Option<&Stored>,
    new: Option<&Stored>,
) -> Vec<Event> {
    let event = |event_type, seed: String, occurred_at: crate::kernel::Timestamp| {
        move |customer_id, currency, sequence, wallet, cause| Event {
            id: EventId::derived(occurred_at.unix_ms, &seed),
            event_type,
            business_id: business_id.clone(),
            customer_id,
            currency,
            sequence,
            occurred_at,
            wallet,
            cause,
        }
    };
    match (old, new) {
        (None, Some(Stored::Wallets(wallets))) => wallets
            .wallets
            .iter()
            .map(|(currency, wallet)| {
                let seed = format!("created|{}|{currency}", wallets.customer_id);
                event(EventType::WalletCreated, seed, wallet.created_at)(
                    wallets.customer_id.clone(),
                    *currency,
                    wallets.version,
                    wallet.clone(),
                    Cause::Wallet,
                )
            })
            .collect(),
        (Some(Stored::Wallets(before)), Some(Stored::Wallets(after))) => {
            let mut events = Vec::new();
            for (currency, wallet) in &after.wallets {
                let Some(was) = before.wallets.get(currency) else {
                    continue;
                };
                let mut emit = |event_type, what: &str, cause| {
                    let seed = format!("{what}|{}|{currency}|{}", after.customer_id, after.version);
                    events.push(event(event_type, seed, wallet.updated_at)(
                        after.customer_id.clone(),
                        *currency,
                        after.version,
                        wallet.clone(),
                        cause,
                    ));
                };
                if wallet.status == WalletStatus::Closed && was.status == WalletStatus::Active {
                    emit(EventType::WalletClosed, "closed", Cause::Wallet);
                }
                // A flag set and cleared in the same write as the balance, each crossing
                // counted: one event per crossing, however many writers race, and both ways
                // when one write (a batch) goes down through the threshold and back up.
                for (went_low, k) in crossings(was, wallet) {
                    let (event_type, what) = if went_low {
                        (EventType::BalanceLow, "low")
                    } else {
                        (EventType::BalanceRecovered, "recovered")
                    };
                    let what = match k {
                        0 | 1 => what.to_owned(),
                        k => format!("{what}#{k}"),
                    };
                    emit(event_type, &what, Cause::Wallet);
                }
                let result = wallet.top_up.last.clone();
                if wallet.top_up.succeeded > was.top_up.succeeded {
                    if let Some(result) = result.clone() {
                        emit(
                            EventType::AutoTopUpSucceeded,
                            "topped",
                            Cause::TopUp(result),
                        );
                    }
                }
                if wallet.top_up.failed > was.top_up.failed {
                    if let Some(result) = result {
                        emit(
                            EventType::AutoTopUpFailed,
                            "topup-failed",
                            Cause::TopUp(result),
                        );
                    }
                }
            }
            events
        }
        (None, Some(Stored::Entry(entry, after))) => {
            let event_type = if entry.is_credit {
                EventType::ToppedUp
            } else {
                EventType::PaymentMade
            };
            let seed = format!("entry|{}", entry.id);
            vec![event(event_type, seed, entry.created_at)(
                entry.customer_id.clone(),
                entry.currency,
                after.version,
                after.wallet.clone(),
                Cause::Entry(entry.clone()),
            )]
        }
        (old, Some(Stored::Hold(hold, after))) => {
            let was = match old {
                Some(Stored::Hold(before, _) | Stored::HoldBefore(before)) => Some(before.status),
                _ => None,
            };
            if was == Some(hold.status) {
                return Vec::new();
            }
            let event_type = match hold.status {
                HoldStatus::Pending => EventType::HoldCreated,
                HoldStatus::Captured => EventType::HoldCaptured,
                HoldStatus::Released => EventType::HoldReleased,
                HoldStatus::Expired => EventType::HoldExpired,
            };
            let seed = format!("hold|{}|{}", hold.id, hold.status.as_str());
            vec![event(event_type, seed, hold.updated_at)(
                hold.customer_id.clone(),
                hold.currency,
                after.version,
                after.wallet.clone(),
                Cause::Hold(hold.clone()),
            )]
        }
        // An invoice payment that settles: when it is written settled, or its charge in flight
        // ends. A reversal leaves the status as it is: no event of its own here (its credit is
        // a `wallet.topped_up`).
        (old, Some(Stored::Invoice(payment, after))) => {
            let was = match old {
                Some(Stored::Invoice(before, _) | Stored::InvoiceBefore(before)) => {
                    Some(before.status())
                }
                _ => None,
            };
            let status = payment.status();
            let event_type = match status {
                _ if was == Some(status) => return Vec::new(),
                PaymentStatus::Processing => return Vec::new(),
                PaymentStatus::Paid => EventType::InvoicePaid,
                PaymentStatus::PartiallyPaid => EventType::InvoicePartiallyPaid,
                PaymentStatus::Failed => EventType::InvoiceFailed,
            };
            let seed = format!(
                "invoice|{}|{}|{}",
                payment.customer_id,
                payment.invoice_id,
                status.as_str()
            );
            vec![event(event_type, seed, payment.updated_at)(
                payment.customer_id.clone(),
                payment.currency,
                after.version,
                after.wallet.clone(),
                Cause::Invoice(Box::new(payment.clone())),
            )]
        }
        (old, Some(Stored::TopUpLink(link, after))) => {
            let was = match old {
                Some(Stored::TopUpLink(before, _) | Stored::TopUpLinkBefore(before)) => {
                    Some(before)
                }
                _ => None,
            };
            let mut events = Vec::new();
            let mut emit = |event_type, seed: String| {
                events.push(event(event_type, seed, link.updated_at)(
                    link.customer_id.clone(),
                    link.currency,
                    after.version,
                    after.wallet.clone(),
                    Cause::TopUpLink(link.clone()),
                ));
            };
            // One event per payment counted (a multi-use link is paid many times).
            if link.paid_count > was.map_or(0, |b| b.paid_count) {
                emit(
                    EventType::TopUpLinkPaid,
                    format!("top_up_link|{}|paid|{}", link.id, link.paid_count),
                );
            }
            let expired = |l: &TopUpLink| l.status == TopUpLinkStatus::Expired;
            if expired(link) && !was.is_some_and(|b| expired(b)) {
                emit(
                    EventType::TopUpLinkExpired,
                    format!("top_up_link|{}|expired", link.id),
                );
            }
            events
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Currency, CustomerId, EntryId, HoldId, Timestamp};
    use crate::ledger::model::{usd_wallets, EventType as EntryEvent};

    fn business() -> BusinessId {
        BusinessId::parse("bus_test").unwrap()
    }

    fn after(version: u64, balance: i64) -> WalletAfter {
        let mut wallets = usd_wallets(balance, 0);
        wallets.version = version;
        WalletAfter {
            version,
            wallet: wallets.wallets[&Currency::USD].clone(),
        }
    }

    fn entry(is_credit: bool) -> LedgerEntry {
        LedgerEntry {
            id: EntryId::generate(),
            customer_id: CustomerId::generate(),
            business_id: business(),
            currency: Currency::USD,
            amount: 5,
            is_credit,
            before_balance: 10,
            after_balance: if is_credit { 15 } else { 5 },
            event_type: EntryEvent::MerchantAdjustment,
            reason: None,
            reference_object_id: None,
            idempotency_key: None,
            created_at: Timestamp::from_unix_ms(1_000),
            customer_seq: 3,
            currency_seq: 3,
            created_by: None,
        }
    }

    fn hold(status: HoldStatus) -> Hold {
        Hold {
            id: HoldId::parse("hld_fixed").unwrap(),
            customer_id: CustomerId::parse("cus_fixed").unwrap(),
            business_id: business(),
            currency: Currency::USD,
            amount: 5,
            status,
            captured_amount: 0,
            reason: None,
            reference_object_id: None,
            idempotency_key: None,
            ledger_entry_id: None,
            expires_at: Timestamp::from_unix_ms(9_000),
            created_at: Timestamp::from_unix_ms(1_000),
            updated_at: Timestamp::from_unix_ms(2_000),
            created_by: None,
            updated_by: None,
        }
    }

    #[test]
    fn a_credit_tops_up_and_a_debit_pays_with_the_wallet_after_and_its_version() {
        let credit = Stored::Entry(entry(true), after(7, 15));
        let events = events_of(&business(), None, Some(&credit));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::ToppedUp);
        assert_eq!((events[0].sequence, events[0].wallet.balance), (7, 15));
        let debit = Stored::Entry(entry(false), after(8, 5));
        assert_eq!(
            events_of(&business(), None, Some(&debit))[0].event_type,
            EventType::PaymentMade
        );
    }

    #[test]
    fn the_same_record_gives_the_same_event_id_and_another_record_another() {
        let credit = Stored::Entry(entry(true), after(7, 15));
        let once = events_of(&business(), None, Some(&credit));
        let again = events_of(&business(), None, Some(&credit));
        assert_eq!(once[0].id, again[0].id);
        let other = Stored::Entry(entry(true), after(7, 15));
        assert_ne!(once[0].id, events_of(&business(), None, Some(&other))[0].id);
    }

    #[test]
    fn a_hold_emits_on_each_status_change_only() {
        let pending = Stored::Hold(hold(HoldStatus::Pending), after(2, 10));
        let created = events_of(&business(), None, Some(&pending));
        assert_eq!(created[0].event_type, EventType::HoldCreated);
        for (status, expected) in [
            (HoldStatus::Captured, EventType::HoldCaptured),
            (HoldStatus::Released, EventType::HoldReleased),
            (HoldStatus::Expired, EventType::HoldExpired),
        ] {
            let resolved = Stored::Hold(hold(status), after(3, 10));
            let events = events_of(&business(), Some(&pending), Some(&resolved));
            assert_eq!(events[0].event_type, expected);
            assert_ne!(events[0].id, created[0].id);
        }
        assert!(events_of(&business(), Some(&pending), Some(&pending)).is_empty());
    }

    #[test]
    fn new_wallets_are_created_per_currency_and_closing_one_emits_closed_once() {
        let mut wallets = usd_wallets(0, 0);
        let created = events_of(&business(), None, Some(&Stored::Wallets(wallets.clone())));
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].event_type, EventType::WalletCreated);
        let before = Stored::Wallets(wallets.clone());
        wallets.version = 1;
        wallets.wallets.get_mut(&Currency::USD).unwrap().status = WalletStatus::Closed;
        let closed = Stored::Wallets(wallets.clone());
        let events = events_of(&business(), Some(&before), Some(&closed));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::WalletClosed);
        assert!(events_of(&business(), Some(&closed), Some(&closed)).is_empty());
        assert!(events_of(&business(), Some(&before), None).is_empty());
    }

    #[test]
    fn the_low_flag_gives_one_event_per_crossing_each_way() {
        let mut wallets = usd_wallets(100, 0);
        let high = Stored::Wallets(wallets.clone());
        wallets.version = 1;
        wallets.wallets.get_mut(&Currency::USD).unwrap().low = true;
        let low = Stored::Wallets(wallets.clone());
        let types = |a: &Stored, b: &Stored| -> Vec<EventType> {
            events_of(&business(), Some(a), Some(b))
                .iter()
                .map(|e| e.event_type)
                .collect()
        };
        assert_eq!(types(&high, &low), [EventType::BalanceLow]);
        assert_eq!(types(&low, &low), [], "still low: no second alert");
        assert_eq!(types(&low, &high), [EventType::BalanceRecovered]);
    }

    #[test]
    fn every_crossing_counted_in_one_write_is_one_event_each_way_with_its_own_id() {
        let mut wallets = usd_wallets(100, 0);
        let high = Stored::Wallets(wallets.clone());
        wallets.version = 4;
        // Down, up, down, up within one write: back where it was, four crossings.
        wallets.wallets.get_mut(&Currency::USD).unwrap().crossings = 4;
        let after = Stored::Wallets(wallets);
        let events = events_of(&business(), Some(&high), Some(&after));
        let types: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                EventType::BalanceLow,
                EventType::BalanceRecovered,
                EventType::BalanceLow,
                EventType::BalanceRecovered
            ]
        );
        let ids: std::collections::BTreeSet<_> = events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids.len(), 4, "distinct ids");
    }

    #[test]
    fn an_invoice_payment_sends_one_event_when_it_settles_and_none_while_processing() {
        use crate::invoices::model::{ChargeAttempt, InvoicePayment};
        let mut payment: InvoicePayment = serde_json::from_value(serde_json::json!({
            "invoice_id": "inv_1", "customer_id": "cus_fixed", "business_id": "bus_test",
            "currency": "USD", "amount_due": 100, "applied": 40, "remaining": 60,
            "reversed": 0, "ledger_entry_id": null,
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
        }))
        .unwrap();
        payment.status = Some(PaymentStatus::Processing);
        payment.charge_attempt = Some(ChargeAttempt {
            id: "ipa_1".into(),
            amount: 60,
            gateway_customer_id: "cus_g".into(),
            payment_methods: vec!["pm_1".into()],
            index: 0,
            started_at: Timestamp::from_unix_ms(1),
            lease_until: Timestamp::from_unix_ms(2),
        });
        let processing = Stored::Invoice(payment.clone(), after(2, 0));
        assert!(events_of(&business(), None, Some(&processing)).is_empty());
        payment.status = Some(PaymentStatus::PartiallyPaid);
        payment.charge_attempt = None;
        let settled = Stored::Invoice(payment.clone(), after(3, 0));
        let events = events_of(&business(), Some(&processing), Some(&settled));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::InvoicePartiallyPaid);
        assert_eq!(events[0].sequence, 3);
        // A later write that leaves the status (a reversal): none.
        let reversed = Stored::Invoice(payment.clone(), after(4, 0));
        assert!(events_of(&business(), Some(&settled), Some(&reversed)).is_empty());
        // Written settled at once: one event.
        payment.status = Some(PaymentStatus::Paid);
        let paid = Stored::Invoice(payment, after(5, 0));
        assert_eq!(
            events_of(&business(), None, Some(&paid))[0].event_type,
            EventType::InvoicePaid
        );
    }
}
