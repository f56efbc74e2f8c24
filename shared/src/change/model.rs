//! What a change is: the typed writes the operations plan, the change that commits them
//! together, the store's refusal, and an attempt's plan. Imports no port: the store ports take
//! these types, and the loop that commits them (`change`) takes both.

use crate::access::model::{ApiKey, Business};
use crate::customers::model::Customer;
use crate::error::{DomainError, DomainResult, Original};
use crate::holds::model::Hold;
use crate::invoices::model::InvoicePayment;
use crate::kernel::{BusinessId, IdempotencyKey};
use crate::ledger::model::{CustomerWallets, LedgerEntry};
use crate::payins::links::TopUpLink;
use crate::payins::model::CardTopUp;

/// One write of a change, with the condition the store must check (named on each variant).
/// A new kind of write is a new variant; the store maps a failed condition back to it.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A new business. Condition: the id is unused.
    NewBusiness(Business),
    /// A new API key of a business. Condition: the key hash is unused.
    NewApiKey(ApiKey),
    /// A new customer. Condition: the id is unused.
    NewCustomer(Customer),
    /// A changed customer. Condition: it is still at `revision` (no lost concurrent patch).
    ReplaceCustomer {
        customer: Customer,
        revision: String,
    },
    /// A new customer's wallets. Condition: none exist yet.
    NewWallets(CustomerWallets),
    /// The customer's wallets after the change. Condition: still at `version - 1` (no lost
    /// update: balances, pending charges and entry positions stay consistent).
    Wallets(CustomerWallets),
    /// A ledger entry. Condition: its position is unused (guards the chain on its own).
    NewEntry(LedgerEntry),
    /// A new hold. Condition: the id is unused.
    NewHold(Hold),
    /// A pending hold captured, released or expired. Condition: it is still pending.
    ResolveHold(Hold),
    /// The first payment of an invoice. Condition: the invoice has none yet.
    NewInvoicePayment(InvoicePayment),
    /// A reversal of an invoice payment. Condition: nothing was reversed since `reversed_before`.
    ReverseInvoicePayment {
        payment: InvoicePayment,
        reversed_before: i64,
    },
    /// A new card top-up (pending). Condition: the customer has none with its id.
    NewCardTopUp(CardTopUp),
    /// A changed card top-up. Condition: it is still at `version - 1`.
    CardTopUp(CardTopUp),
    /// A new top-up link. Condition: the id is unused.
    NewTopUpLink(TopUpLink),
    /// A top-up link claimed, released, cancelled or expired. Condition: it is still at
    /// `version - 1` (two tabs never both claim one reading of a single-use link).
    ReplaceTopUpLink(TopUpLink),
    /// A top-up link after a top-up paid through it was credited (`links_rules::mark_paid`),
    /// written in the credit's transaction. Condition: it is still at `version - 1`.
    TopUpLinkPaid(TopUpLink),
    /// Claims an idempotency key for the business, forever, with the record it produced.
    /// Condition: the key is unclaimed.
    ClaimKey {
        key: IdempotencyKey,
        original: Original,
    },
    /// Marks that the change named `token` landed, for a change that writes the customer's
    /// wallets and nothing else that tells (a close of an empty wallet, a settings patch, a
    /// top-up's claim): the wallets alone cannot tell, as another change may have moved them on
    /// since. Condition: unused. Kept a day.
    Receipt {
        customer_id: crate::kernel::CustomerId,
        token: String,
    },
}

/// Writes that commit together or not at all, for one business.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub business_id: BusinessId,
    pub writes: Vec<Write>,
    /// Names this attempt: committing the same change again with it is a no-op once it landed
    /// (DynamoDB's `ClientRequestToken`, kept 10 minutes), so a commit whose outcome is unknown
    /// can be retried safely.
    pub token: String,
}

impl Change {
    /// A ledger entry takes the position its customer's wallets count up to in the same change.
    pub(super) fn assert_entries_numbered(&self) {
        for write in &self.writes {
            if let Write::NewEntry(entry) = write {
                let numbered = self.writes.iter().any(|w| {
                    matches!(w, Write::Wallets(wallets) if wallets.entry_count == entry.customer_seq)
                });
                assert!(
                    numbered,
                    "an entry is numbered from the wallets written with it"
                );
            }
        }
    }
}

/// Why the store refused a change: the writes (by index) whose condition failed. Empty when the
/// transaction conflicted with another one in flight.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rejection {
    pub failed: Vec<usize>,
    /// The customer's wallets as stored when the change's [`Write::Wallets`] failed its
    /// condition, if the store answered them with the refusal (DynamoDB's
    /// `ReturnValuesOnConditionCheckFailure`): the next attempt plans from them, no read.
    pub wallets_now: Option<Box<CustomerWallets>>,
}

/// What one attempt decided after reading.
#[derive(Debug)]
pub enum Plan<T> {
    /// Write these, then answer `T`.
    Commit(Vec<Write>, T),
    /// Nothing to write: answer `T` now.
    Answer(T),
    /// The rules refused. A request that repeats an accepted idempotency key answers with the
    /// original record instead.
    Refused(DomainError),
}

impl<T> Plan<T> {
    /// A plan from the result of a pure rule.
    pub fn from_rules<R>(
        ruled: DomainResult<R>,
        plan: impl FnOnce(R) -> (Vec<Write>, T),
    ) -> Plan<T> {
        match ruled {
            Ok(ruled) => {
                let (writes, answer) = plan(ruled);
                Plan::Commit(writes, answer)
            }
            Err(refused) => Plan::Refused(refused),
        }
    }
}
