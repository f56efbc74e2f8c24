//! The records, keyed as the DynamoDB items are, and the reads of one record.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::access::model::Session;
use crate::access::model::{ApiKey, Business};
use crate::customers::model::Customer;
use crate::error::Original;
use crate::holds::model::Hold;
use crate::invoices::model::InvoicePayment;
use crate::kernel::TopUpLinkId;
use crate::kernel::{BusinessId, CustomerId, HoldId, IdempotencyKey, InvoiceId};
use crate::ledger::model::{CustomerWallets, LedgerEntry};
use crate::payins::links::TopUpLink;
use crate::payins::model::CardTopUp;

/// The records, keyed as the DynamoDB items are (see `adapters::dynamo::keys`).
#[derive(Default)]
pub(super) struct Tables {
    pub(super) businesses: HashMap<BusinessId, Business>,
    /// By key hash: the only key not scoped by business.
    pub(super) api_keys: HashMap<String, ApiKey>,
    /// Dashboard sessions by id hash.
    pub(super) sessions: HashMap<String, Session>,
    /// Dashboard form claims: `None` while started, then the result.
    pub(super) forms: HashMap<(BusinessId, String), Option<String>>,
    /// Per business, by id: ids carry their creation millisecond, so this is creation order.
    pub(super) customers: HashMap<BusinessId, BTreeMap<CustomerId, Customer>>,
    /// Everything one customer owns, like the DynamoDB partition `CUS#<business>#<customer>`.
    pub(super) partitions: HashMap<(BusinessId, CustomerId), Partition>,
    pub(super) claims: HashMap<(BusinessId, IdempotencyKey), Original>,
    /// Ids of the gateway's webhook events handled.
    pub(super) gateway_events: HashSet<String>,
    /// Top-up links by business and id, like their DynamoDB items `TUL#<business>#<link>`.
    pub(super) top_up_links: HashMap<(BusinessId, TopUpLinkId), TopUpLink>,
}

#[derive(Default)]
pub(super) struct Partition {
    pub(super) wallets: Option<CustomerWallets>,
    /// By position in the customer's ledger.
    pub(super) entries: BTreeMap<u64, LedgerEntry>,
    /// By position: the pending charges of the entry's currency as its change left them (the
    /// DynamoDB entry item's `w_after`).
    pub(super) pending_after: HashMap<u64, i64>,
    /// By id, a ULID: creation order.
    pub(super) holds: BTreeMap<HoldId, Hold>,
    pub(super) invoices: HashMap<InvoiceId, InvoicePayment>,
    /// Tokens of the wallet-only changes that landed
    /// ([`Write::Receipt`](crate::change::model::Write::Receipt)).
    pub(super) receipts: HashSet<String>,
    /// Card top-ups by id (ids carry their creation millisecond: creation order).
    pub(super) card_top_ups: BTreeMap<String, CardTopUp>,
}

/// The stored customer's revision: its serialised form, as the DynamoDB adapter uses the stored
/// document. A replacement that changes nothing keeps it, as there.
pub(super) fn revision_of(customer: &Customer) -> String {
    serde_json::to_string(customer).expect("customers serialise to JSON")
}

impl Tables {
    pub(super) fn partition(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> Option<&Partition> {
        self.partitions
            .get(&(business_id.clone(), customer_id.clone()))
    }

    pub(super) fn partition_mut(
        &mut self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> &mut Partition {
        self.partitions
            .entry((business_id.clone(), customer_id.clone()))
            .or_default()
    }

    pub(super) fn customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> Option<&Customer> {
        self.customers.get(business_id)?.get(customer_id)
    }

    pub(super) fn wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> Option<&CustomerWallets> {
        self.partition(business_id, customer_id)?.wallets.as_ref()
    }

    pub(super) fn hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> Option<&Hold> {
        self.partition(business_id, customer_id)?.holds.get(hold_id)
    }

    pub(super) fn invoice(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> Option<&InvoicePayment> {
        self.partition(business_id, customer_id)?
            .invoices
            .get(invoice_id)
    }

    pub(super) fn card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        id: &str,
    ) -> Option<&CardTopUp> {
        self.partition(business_id, customer_id)?
            .card_top_ups
            .get(id)
    }
}
