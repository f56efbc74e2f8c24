//! A [`Change`] as DynamoDB writes: each typed write becomes one item with its condition, all in
//! one `TransactWriteItems` named by the change's token (`ClientRequestToken`: sent again, it
//! does not apply twice). A customer replacement alone is a conditional `PutItem` (applying a
//! patch twice is harmless). A failed condition is mapped back to the write it guards.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::codec::*;
use super::errors::{condition_failed, storage};
use super::keys::{s, Item};
use super::links::top_up_link_item;
use super::meter::{consumed_capacity, Call};
use super::DynamoStore;
use crate::change::model::{Change, Rejection, Write};
use crate::error::{DomainError, DomainResult};
use crate::holds::model::HoldStatus;

/// What the stored item must satisfy for a write to happen.
enum Condition {
    /// Nothing is stored under the key yet.
    New,
    /// The stored item's `attribute` equals `expected`.
    Equals {
        attribute: &'static str,
        expected: AttributeValue,
    },
}

/// The item and condition of one write. Each condition protects one invariant, named on
/// [`Write`]'s variants.
fn put_of(business_id: &crate::kernel::BusinessId, write: &Write) -> (Item, Condition) {
    let equals = |attribute, expected| Condition::Equals {
        attribute,
        expected,
    };
    match write {
        Write::NewBusiness(business) => (business_item(business), Condition::New),
        Write::NewApiKey(key) => (api_key_item(key), Condition::New),
        Write::NewCustomer(customer) => (customer_item(customer), Condition::New),
        Write::ReplaceCustomer { customer, revision } => (
            customer_item(customer),
            equals(DOC, revision_value(revision)),
        ),
        Write::NewWallets(wallets) => (wallets_item(business_id, wallets), Condition::New),
        Write::Wallets(wallets) => {
            let read = wallets
                .version
                .checked_sub(1)
                .expect("a changed wallet set has a version above zero");
            (
                wallets_item(business_id, wallets),
                equals(VERSION, version_value(read)),
            )
        }
        Write::NewEntry(entry) => (entry_item(entry), Condition::New),
        Write::NewHold(hold) => (hold_item(hold), Condition::New),
        Write::ResolveHold(hold) => (
            hold_item(hold),
            equals(HOLD_STATUS, s(HoldStatus::Pending.as_str())),
        ),
        Write::NewInvoicePayment(payment) => (invoice_item(payment), Condition::New),
        Write::ReverseInvoicePayment {
            payment,
            reversed_before,
        } => (
            invoice_item(payment),
            equals(REVERSED, reversed_value(*reversed_before)),
        ),
        Write::NewCardTopUp(top_up) => (super::payins::card_top_up_item(top_up), Condition::New),
        Write::CardTopUp(top_up) => (
            super::payins::card_top_up_item(top_up),
            equals(VERSION, super::payins::card_top_up_read_version(top_up)),
        ),
        Write::ClaimKey { key, original } => {
            (claim_item(business_id, key, original), Condition::New)
        }
        Write::Receipt { customer_id, token } => (
            receipt_item(business_id, customer_id, token),
            Condition::New,
        ),
        Write::NewTopUpLink(link) => (top_up_link_item(link), Condition::New),
        Write::ReplaceTopUpLink(link) | Write::TopUpLinkPaid(link) => (
            top_up_link_item(link),
            equals(VERSION, version_value(link.version - 1)),
        ),
    }
}

/// The condition expression of a put, with its attribute names and values.
struct Expression {
    text: &'static str,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

fn expression(condition: Condition) -> Expression {
    match condition {
        Condition::New => Expression {
            text: "attribute_not_exists(pk)",
            names: None,
            values: None,
        },
        Condition::Equals {
            attribute,
            expected,
        } => Expression {
            text: "#guard = :expected",
            names: Some(HashMap::from([("#guard".to_owned(), attribute.to_owned())])),
            values: Some(HashMap::from([(":expected".to_owned(), expected)])),
        },
    }
}

impl DynamoStore {
    pub(super) async fn commit_change(
        &self,
        change: &Change,
    ) -> DomainResult<Result<(), Rejection>> {
        let wallets = change.writes.iter().find_map(|write| match write {
            Write::Wallets(wallets) | Write::NewWallets(wallets) => Some(wallets),
            _ => None,
        });
        // The wallets' put answers the stored wallets when its condition fails: a retry plans
        // from them without reading.
        let wallets_at = change
            .writes
            .iter()
            .position(|write| matches!(write, Write::Wallets(_)));
        let puts: Vec<(Item, Condition)> = change
            .writes
            .iter()
            .map(|write| {
                let (mut item, condition) = put_of(&change.business_id, write);
                let (currency, balance_after) = match write {
                    Write::NewEntry(entry) => (Some(entry.currency), Some(entry.after_balance)),
                    Write::NewHold(hold) | Write::ResolveHold(hold) => (Some(hold.currency), None),
                    Write::NewInvoicePayment(payment)
                    | Write::ReverseInvoicePayment { payment, .. } => {
                        (Some(payment.currency), None)
                    }
                    Write::ReplaceTopUpLink(link) | Write::TopUpLinkPaid(link) => {
                        (Some(link.currency), None)
                    }
                    _ => (None, None),
                };
                if let (Some(wallets), Some(currency)) = (wallets, currency) {
                    add_wallet_after(&mut item, wallets, currency, balance_after);
                }
                (item, condition)
            })
            .collect();
        // Each entry's copy in its currency's ledger, after the writes (a rejection's indexes
        // keep naming writes; a copy can only be refused where its entry is too).
        let copies = change.writes.iter().filter_map(|write| match write {
            Write::NewEntry(entry) => Some((currency_copy_item(entry), Condition::New)),
            _ => None,
        });
        let puts: Vec<(Item, Condition)> = puts.into_iter().chain(copies).collect();
        if let [Write::ReplaceCustomer { .. }] = change.writes.as_slice() {
            let (item, condition) = puts.into_iter().next().expect("one write");
            return self.put_one(item, condition).await;
        }
        self.transact(puts, change.writes.len(), &change.token, wallets_at)
            .await
    }

    async fn put_one(
        &self,
        item: Item,
        condition: Condition,
    ) -> DomainResult<Result<(), Rejection>> {
        let condition = expression(condition);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition.text)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        match result {
            Ok(out) => {
                self.record(Call::Write(out.consumed_capacity()));
                Ok(Ok(()))
            }
            Err(e) if condition_failed(&e) => Ok(Err(Rejection {
                failed: vec![0],
                wallets_now: None,
            })),
            Err(e) => Err(storage("commit", e)),
        }
    }

    async fn transact(
        &self,
        puts: Vec<(Item, Condition)>,
        writes: usize,
        token: &str,
        wallets_at: Option<usize>,
    ) -> DomainResult<Result<(), Rejection>> {
        let items: Vec<TransactWriteItem> = puts
            .into_iter()
            .enumerate()
            .map(|(at, (item, condition))| {
                let condition = expression(condition);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition.text)
                    .set_expression_attribute_names(condition.names)
                    .set_expression_attribute_values(condition.values)
                    .set_return_values_on_condition_check_failure(
                        (Some(at) == wallets_at)
                            .then_some(ReturnValuesOnConditionCheckFailure::AllOld),
                    )
                    .build()
                    .expect("put has table, item");
                TransactWriteItem::builder().put(put).build()
            })
            .collect();
        let result = self
            .client
            .transact_write_items()
            .client_request_token(token)
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        match result {
            Ok(_) => {
                self.record(Call::Transaction(&items));
                Ok(Ok(()))
            }
            Err(err) if cancelled_by_throttling(&err) => Err(DomainError::Unavailable(format!(
                "commit: cancelled by throttling: {}",
                DisplayErrorContext(&err)
            ))),
            Err(err) => match rejection(&err) {
                Some(mut rejection) => {
                    rejection.failed.retain(|at| *at < writes);
                    rejection.wallets_now = wallets_at
                        .filter(|at| rejection.failed.contains(at))
                        .and_then(|at| stored_item(&err, at))
                        .and_then(|item| wallets_from(&item).ok())
                        .map(Box::new);
                    Ok(Err(rejection))
                }
                None => Err(storage("commit", err)),
            },
        }
    }
}

/// The stored item a refused transaction answered for its write at `at`.
fn stored_item<R>(err: &SdkError<TransactWriteItemsError, R>, at: usize) -> Option<Item> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            cancelled.cancellation_reasons().get(at)?.item().cloned()
        }
        _ => None,
    }
}

/// Cancellation reasons that mean "too busy, nothing written": retry later (503), not a race.
const THROTTLED_REASONS: &[&str] = &["ThrottlingError", "ProvisionedThroughputExceeded"];

fn cancelled_by_throttling<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
            if cancelled
                .cancellation_reasons()
                .iter()
                .any(|r| r.code().is_some_and(|code| THROTTLED_REASONS.contains(&code)))
    )
}

/// The writes whose condition failed, or a conflict with another transaction; `None` for any
/// other failure.
pub(super) fn rejection<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Rejection> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) =
        err.as_service_error()?
    else {
        return None;
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect();
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, code)| **code == "ConditionalCheckFailed")
        .map(|(at, _)| at)
        .collect();
    let conflict = codes.contains(&"TransactionConflict");
    (!failed.is_empty() || conflict).then_some(Rejection {
        failed,
        wallets_now: None,
    })
}
