//! Events as webhook bodies: Dodo's envelope `{business_id, type, timestamp, data}`, with the
//! wallet, ledger entry and hold shown exactly as the API shows them.

use serde::Serialize;
use shared::kernel::{BusinessId, Currency, CustomerId, Timestamp};
use shared::ledger::model::CurrencyWallet;
use shared::webhooks::model::{Cause, Event};

use crate::views::{EntryView, HoldView, InvoicePaymentRecordView, TopUpLinkView, WalletView};

#[derive(Serialize)]
struct Envelope<'a> {
    business_id: &'a BusinessId,
    #[serde(rename = "type")]
    event_type: &'static str,
    timestamp: Timestamp,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    customer_id: &'a CustomerId,
    currency: Currency,
    /// The customer's wallets' version after the change: orders and deduplicates.
    sequence: u64,
    wallet: WalletView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ledger_entry: Option<EntryView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold: Option<HoldView<'a>>,
    /// The auto top-up that ended: `{attempt_id, amount, payment_intent_id, decline_code,
    /// message, at}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_top_up: Option<&'a shared::topups::model::TopUpResult>,
    /// The invoice payment that settled (`wallet.invoice.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    invoice_payment: Option<InvoicePaymentRecordView<'a>>,
    /// The top-up link that was paid or expired (`wallet.top_up_link.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    top_up_link: Option<TopUpLinkView<'a>>,
}

/// The body every endpoint receives for `event`.
pub fn payload(event: &Event) -> String {
    let wallet = CurrencyWallet {
        customer_id: event.customer_id.clone(),
        currency: event.currency,
        wallet: event.wallet.clone(),
    };
    let envelope = Envelope {
        business_id: &event.business_id,
        event_type: event.event_type.as_str(),
        timestamp: event.occurred_at,
        data: Data {
            customer_id: &event.customer_id,
            currency: event.currency,
            sequence: event.sequence,
            wallet: WalletView::of(&wallet),
            ledger_entry: match &event.cause {
                Cause::Entry(entry) => Some(EntryView::of(entry)),
                _ => None,
            },
            hold: match &event.cause {
                Cause::Hold(hold) => Some(HoldView::of(hold)),
                _ => None,
            },
            auto_top_up: match &event.cause {
                Cause::TopUp(result) => Some(result),
                _ => None,
            },
            invoice_payment: match &event.cause {
                Cause::Invoice(payment) => Some(InvoicePaymentRecordView::of(payment)),
                _ => None,
            },
            top_up_link: match &event.cause {
                Cause::TopUpLink(link) => Some(TopUpLinkView::of(link, None)),
                _ => None,
            },
        },
    };
    serde_json::to_string(&envelope).expect("events serialise")
}
