//! Closing a wallet: pay out what is left as one debit and refuse everything after. Pure.

use super::model::CloseCommand;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Amount, BusinessId, EntryId, Timestamp};
use crate::ledger::model::{
    CustomerWallets, EntryCommand, EntryType, EventType, LedgerEntry, Wallet, WalletStatus,
};
use crate::ledger::rules::{apply_entry, next_version, open_wallet_of, with_wallet, Applied};

/// The wallet set with the wallet closed, and the payout entry when there was a balance to pay
/// out. Refused while holds are pending.
pub fn close(
    current: &CustomerWallets,
    business_id: &BusinessId,
    command: &CloseCommand,
    entry_id: EntryId,
    now: Timestamp,
) -> DomainResult<(CustomerWallets, Option<LedgerEntry>)> {
    let currency = command.currency;
    let wallet = open_wallet_of(current, currency)?;
    if wallet.pending_charges > 0 {
        return Err(DomainError::HoldsPending {
            currency: currency.code().to_owned(),
            pending_charges: wallet.pending_charges,
        });
    }
    let close = |w: &mut Wallet| w.status = WalletStatus::Closed;
    let (next, entry) = if wallet.balance > 0 {
        let payout = EntryCommand {
            currency,
            amount: Amount::whole_balance(wallet.balance),
            entry_type: EntryType::Debit,
            // Dodo's event types have no payout; a merchant adjustment with the reason is closest.
            event_type: EventType::MerchantAdjustment,
            reason: Some(command.reason.clone()),
            reference_object_id: command.reference_object_id.clone(),
            idempotency_key: None,
        };
        let Applied { next, entry } = apply_entry(current, business_id, &payout, entry_id, now)?;
        // The payout took this change's version step.
        (with_wallet(&next, currency, now, close), Some(entry))
    } else {
        (next_version(current, currency, now, close), None)
    };
    Ok((next, entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Currency;

    fn wallets(balance: i64, pending: i64) -> CustomerWallets {
        crate::ledger::model::usd_wallets(balance, pending)
    }

    fn command() -> CloseCommand {
        CloseCommand {
            currency: Currency::USD,
            reason: "account closed".into(),
            reference_object_id: Some("po_1".into()),
        }
    }

    fn closing(set: &CustomerWallets) -> DomainResult<(CustomerWallets, Option<LedgerEntry>)> {
        close(
            set,
            &BusinessId::generate(),
            &command(),
            EntryId::generate(),
            Timestamp::from_unix_ms(1),
        )
    }

    #[test]
    fn closing_pays_out_the_balance_in_one_debit_and_refuses_a_second_close() {
        let (next, entry) = closing(&wallets(1234, 0)).unwrap();
        let usd = &next.wallets[&Currency::USD];
        assert_eq!((usd.balance, usd.status), (0, WalletStatus::Closed));
        assert_eq!(next.version, 1);
        let entry = entry.unwrap();
        assert_eq!((entry.amount, entry.is_credit), (1234, false));
        assert_eq!(entry.reference_object_id.as_deref(), Some("po_1"));
        assert!(matches!(
            closing(&next),
            Err(DomainError::WalletClosed { .. })
        ));
    }

    #[test]
    fn an_empty_wallet_closes_without_an_entry_and_pending_holds_refuse_the_close() {
        let (next, entry) = closing(&wallets(0, 0)).unwrap();
        assert!(entry.is_none());
        assert_eq!(next.version, 1);
        assert!(matches!(
            closing(&wallets(100, 1)),
            Err(DomainError::HoldsPending {
                pending_charges: 1,
                ..
            })
        ));
    }
}
