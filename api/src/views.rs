//! How the API shows the domain's records: the views that route answers, error bodies (a 409's
//! original) and webhook events share. They know the domain, not HTTP.

use serde::Serialize;
use shared::access::model::Actor;
use shared::holds::model::{Hold, HoldStatus};
use shared::invoices::model::{CardCharge, CardRefund, InvoicePayment};
use shared::kernel::{
    BusinessId, Currency, CustomerId, EntryId, HoldId, IdempotencyKey, InvoiceId, Timestamp,
};
use shared::ledger::history::{WalletAt, WalletsAt};
use shared::ledger::model::{CurrencyWallet, EventType, LedgerEntry, WalletStatus};

/// One wallet as the API shows it (Dodo's CustomerWallet plus extension fields).
#[derive(Debug, Serialize)]
pub struct WalletView<'a> {
    customer_id: &'a CustomerId,
    currency: Currency,
    balance: i64,
    pending_charges: i64,
    available_balance: i64,
    status: WalletStatus,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl<'a> WalletView<'a> {
    pub fn of(wallet: &'a CurrencyWallet) -> WalletView<'a> {
        let state = &wallet.wallet;
        WalletView {
            customer_id: &wallet.customer_id,
            currency: wallet.currency,
            balance: state.balance,
            pending_charges: state.pending_charges,
            available_balance: state.available_balance(),
            status: state.status,
            created_at: state.created_at,
            updated_at: state.updated_at,
        }
    }
}

/// One wallet at an instant (`GET .../wallets?as_of=`): the balance after the last entry at or
/// before it, and the pending charges that entry left (`null` for an entry written before entries
/// kept them).
#[derive(Debug, Serialize)]
pub struct WalletAtView<'a> {
    customer_id: &'a CustomerId,
    currency: Currency,
    balance: i64,
    pending_charges: Option<i64>,
    available_balance: Option<i64>,
    as_of: Timestamp,
    /// The last entry at or before `as_of`; `null` before the first.
    last_entry_id: Option<&'a EntryId>,
    last_entry_at: Option<Timestamp>,
}

impl<'a> WalletAtView<'a> {
    pub fn of(wallets: &'a WalletsAt, wallet: &'a WalletAt) -> WalletAtView<'a> {
        WalletAtView {
            customer_id: &wallets.customer_id,
            currency: wallet.currency,
            balance: wallet.balance,
            pending_charges: wallet.pending_charges,
            available_balance: wallet.available_balance(),
            as_of: wallets.as_of,
            last_entry_id: wallet.last_entry.as_ref().map(|e| &e.id),
            last_entry_at: wallet.last_entry.as_ref().map(|e| e.created_at),
        }
    }
}

/// A ledger entry as the API shows it (Dodo's CustomerWalletTransaction plus extension fields).
#[derive(Debug, Serialize)]
pub struct EntryView<'a> {
    id: &'a EntryId,
    customer_id: &'a CustomerId,
    business_id: &'a BusinessId,
    currency: Currency,
    amount: i64,
    is_credit: bool,
    before_balance: i64,
    after_balance: i64,
    event_type: EventType,
    reason: Option<&'a str>,
    reference_object_id: Option<&'a str>,
    idempotency_key: Option<&'a IdempotencyKey>,
    created_at: Timestamp,
    /// Who made it (extension): `{key_id, request_id}` or `{process, request_id}`.
    created_by: Option<&'a Actor>,
}

impl<'a> EntryView<'a> {
    pub fn of(entry: &'a LedgerEntry) -> EntryView<'a> {
        EntryView {
            id: &entry.id,
            customer_id: &entry.customer_id,
            business_id: &entry.business_id,
            currency: entry.currency,
            amount: entry.amount,
            is_credit: entry.is_credit,
            before_balance: entry.before_balance,
            after_balance: entry.after_balance,
            event_type: entry.event_type,
            reason: entry.reason.as_deref(),
            reference_object_id: entry.reference_object_id.as_deref(),
            idempotency_key: entry.idempotency_key.as_ref(),
            created_at: entry.created_at,
            created_by: entry.created_by.as_ref(),
        }
    }
}

/// A hold as the API shows it.
#[derive(Debug, Serialize)]
pub struct HoldView<'a> {
    id: &'a HoldId,
    customer_id: &'a CustomerId,
    business_id: &'a BusinessId,
    currency: Currency,
    amount: i64,
    status: HoldStatus,
    captured_amount: i64,
    reason: Option<&'a str>,
    reference_object_id: Option<&'a str>,
    idempotency_key: Option<&'a IdempotencyKey>,
    ledger_entry_id: Option<&'a EntryId>,
    expires_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Option<&'a Actor>,
    updated_by: Option<&'a Actor>,
}

impl<'a> HoldView<'a> {
    pub fn of(hold: &'a Hold) -> HoldView<'a> {
        HoldView {
            id: &hold.id,
            customer_id: &hold.customer_id,
            business_id: &hold.business_id,
            currency: hold.currency,
            amount: hold.amount,
            status: hold.status,
            captured_amount: hold.captured_amount,
            reason: hold.reason.as_deref(),
            reference_object_id: hold.reference_object_id.as_deref(),
            idempotency_key: hold.idempotency_key.as_ref(),
            ledger_entry_id: hold.ledger_entry_id.as_ref(),
            expires_at: hold.expires_at,
            created_at: hold.created_at,
            updated_at: hold.updated_at,
            created_by: hold.created_by.as_ref(),
            updated_by: hold.updated_by.as_ref(),
        }
    }
}

/// A top-up link as the API shows it (also the `top_up_link` of a 409 and of its events,
/// which leave out `url`: only the routes sign it).
#[derive(Debug, Serialize)]
pub struct TopUpLinkView<'a> {
    id: &'a shared::kernel::TopUpLinkId,
    customer_id: &'a CustomerId,
    business_id: &'a BusinessId,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    currency: Currency,
    amount: Option<i64>,
    min_amount: Option<i64>,
    max_amount: Option<i64>,
    reason: Option<&'a str>,
    single_use: bool,
    status: shared::payins::links::TopUpLinkStatus,
    expires_at: Timestamp,
    paid_count: u64,
    paid_amount: i64,
    last_paid_top_up_id: Option<&'a str>,
    idempotency_key: Option<&'a IdempotencyKey>,
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Option<&'a Actor>,
}

impl<'a> TopUpLinkView<'a> {
    pub fn of(link: &'a shared::payins::links::TopUpLink, url: Option<String>) -> Self {
        TopUpLinkView {
            id: &link.id,
            customer_id: &link.customer_id,
            business_id: &link.business_id,
            url,
            currency: link.currency,
            amount: link.amount,
            min_amount: link.min_amount,
            max_amount: link.max_amount,
            reason: link.reason.as_deref(),
            single_use: link.single_use,
            status: link.status,
            expires_at: link.expires_at,
            paid_count: link.paid_count,
            paid_amount: link.paid_amount,
            last_paid_top_up_id: link.last_paid_top_up_id.as_deref(),
            idempotency_key: link.idempotency_key.as_ref(),
            created_at: link.created_at,
            updated_at: link.updated_at,
            created_by: link.created_by.as_ref(),
        }
    }
}

/// An invoice payment record as the API shows it (also the `invoice_payment` of a 409).
#[derive(Debug, Serialize)]
pub struct InvoicePaymentRecordView<'a> {
    invoice_id: &'a InvoiceId,
    customer_id: &'a CustomerId,
    business_id: &'a BusinessId,
    currency: Currency,
    amount_due: i64,
    applied: i64,
    remaining: i64,
    reversed: i64,
    ledger_entry_id: Option<&'a EntryId>,
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Option<&'a Actor>,
    updated_by: Option<&'a Actor>,
    /// Extension (issue 22): `paid`, `partially_paid`, `failed`, `processing`.
    status: &'static str,
    /// Paid by the saved cards.
    charged: i64,
    charges: &'a [CardCharge],
    /// Refunded to the card (pending refunds included).
    refunded_to_card: i64,
    refunds: &'a [CardRefund],
}

impl<'a> InvoicePaymentRecordView<'a> {
    pub fn of(payment: &'a InvoicePayment) -> InvoicePaymentRecordView<'a> {
        InvoicePaymentRecordView {
            invoice_id: &payment.invoice_id,
            customer_id: &payment.customer_id,
            business_id: &payment.business_id,
            currency: payment.currency,
            amount_due: payment.amount_due,
            applied: payment.applied,
            remaining: payment.remaining,
            reversed: payment.reversed,
            ledger_entry_id: payment.ledger_entry_id.as_ref(),
            created_at: payment.created_at,
            updated_at: payment.updated_at,
            created_by: payment.created_by.as_ref(),
            updated_by: payment.updated_by.as_ref(),
            status: payment.status().as_str(),
            charged: payment.charged(),
            charges: &payment.charges,
            refunded_to_card: payment.refunded_to_card(),
            refunds: &payment.refunds,
        }
    }
}

/// Money moved one way and the other for one event type: a statement's totals and a liability
/// day's.
#[derive(Debug, Serialize)]
pub struct MovementView {
    pub event_type: &'static str,
    pub credits: i64,
    pub debits: i64,
}
