//! The item each write puts, keyed from the same fields as the DynamoDB items (see
//! `adapters::dynamo::keys`): two writes of one item in one change are refused as there.

use crate::change::model::Write;
use crate::kernel::{BusinessId, CustomerId, HoldId, IdempotencyKey, InvoiceId};

/// The item a write puts, to refuse two writes of one item in one change as DynamoDB does.
#[derive(PartialEq, Eq, Hash)]
pub(super) enum ItemKey<'a> {
    Business(&'a BusinessId),
    ApiKey(&'a str),
    Customer(&'a BusinessId, &'a CustomerId),
    Wallets(&'a BusinessId, &'a CustomerId),
    Entry(&'a BusinessId, &'a CustomerId, u64),
    Hold(&'a BusinessId, &'a CustomerId, &'a HoldId),
    Invoice(&'a BusinessId, &'a CustomerId, &'a InvoiceId),
    Claim(&'a BusinessId, &'a IdempotencyKey),
    CardTopUp(&'a BusinessId, &'a CustomerId, &'a str),
    Receipt(&'a BusinessId, &'a CustomerId, &'a str),
    TopUpLink(&'a BusinessId, &'a crate::kernel::TopUpLinkId),
}

/// The item of a write, from the same fields the DynamoDB codec builds its key from.
pub(super) fn item_key<'a>(business_id: &'a BusinessId, write: &'a Write) -> ItemKey<'a> {
    match write {
        Write::NewBusiness(business) => ItemKey::Business(&business.business_id),
        Write::NewApiKey(key) => ItemKey::ApiKey(&key.key_hash),
        Write::NewCustomer(customer) | Write::ReplaceCustomer { customer, .. } => {
            ItemKey::Customer(&customer.business_id, &customer.customer_id)
        }
        Write::NewWallets(wallets) | Write::Wallets(wallets) => {
            ItemKey::Wallets(business_id, &wallets.customer_id)
        }
        Write::NewEntry(entry) => {
            ItemKey::Entry(&entry.business_id, &entry.customer_id, entry.customer_seq)
        }
        Write::NewHold(hold) | Write::ResolveHold(hold) => {
            ItemKey::Hold(&hold.business_id, &hold.customer_id, &hold.id)
        }
        Write::NewInvoicePayment(payment) | Write::ReverseInvoicePayment { payment, .. } => {
            ItemKey::Invoice(
                &payment.business_id,
                &payment.customer_id,
                &payment.invoice_id,
            )
        }
        Write::NewCardTopUp(top_up) | Write::CardTopUp(top_up) => {
            ItemKey::CardTopUp(&top_up.business_id, &top_up.customer_id, &top_up.id)
        }
        Write::ClaimKey { key, .. } => ItemKey::Claim(business_id, key),
        Write::Receipt { customer_id, token } => ItemKey::Receipt(business_id, customer_id, token),
        Write::NewTopUpLink(link) | Write::ReplaceTopUpLink(link) | Write::TopUpLinkPaid(link) => {
            ItemKey::TopUpLink(&link.business_id, &link.id)
        }
    }
}
