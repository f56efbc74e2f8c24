//! The table's stream as events: a record's old and new images (DynamoDB JSON, as Lambda passes
//! them) decoded into the stored records that `webhooks::events` turns into events.
//!
//! Entry and hold items carry the wallet as it stood right after their change (`w_after`,
//! written in the same transaction by `commit.rs`), so an event needs no read beside the write.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::codec::{
    corrupt, entry_from, hold_from, invoice_from, text, wallets_from, COPIED, WALLET_AFTER,
};
use super::keys::{customer_of_pk, Item, HOLD_SK_PREFIX, INVOICE_SK_PREFIX, WALLETS_SK};
use super::links::{top_up_link_from, top_up_link_of_pk, TOP_UP_LINK_PREFIX};
use super::table::{PK, SK};
use crate::error::DomainResult;
use crate::kernel::BusinessId;
use crate::ledger::model::CustomerWallets;
use crate::webhooks::events::{events_of, Stored, WalletAfter};
use crate::webhooks::model::Event;

const ENTRY_SK_PREFIX: &str = "LED#";

/// One attribute from DynamoDB JSON (`{"S": "..."}`, `{"N": "1"}`, `{"M": {...}}`, ...).
fn attribute(value: &Value) -> DomainResult<AttributeValue> {
    let bad = || corrupt(format!("stream image attribute {value}"));
    let (kind, inner) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(bad)?;
    let strings = |v: &Value| -> DomainResult<Vec<String>> {
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or_else(bad))
            .collect()
    };
    let blob = |v: &Value| -> DomainResult<Blob> {
        use base64::Engine;
        let raw = v.as_str().ok_or_else(bad)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| bad())?;
        Ok(Blob::new(bytes))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str().ok_or_else(bad)?.to_owned()),
        "N" => AttributeValue::N(inner.as_str().ok_or_else(bad)?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(bad)?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(inner)?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(blob)
                .collect::<DomainResult<_>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(attribute)
                .collect::<DomainResult<_>>()?,
        ),
        "M" => AttributeValue::M(item(inner)?),
        _ => return Err(bad()),
    })
}

/// An item from a DynamoDB JSON image.
pub fn item(image: &Value) -> DomainResult<Item> {
    image
        .as_object()
        .ok_or_else(|| corrupt("stream image is not an object"))?
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect()
}

fn wallet_after(item: &Item) -> DomainResult<WalletAfter> {
    serde_json::from_str(text(item, WALLET_AFTER)?)
        .map_err(|e| corrupt(format!("{WALLET_AFTER}: {e}")))
}

/// The record an old image held, for what events compare with it: the wallets, and a hold's
/// status. Nothing else is read: items that earlier versions wrote lack later attributes
/// (`w_after` on holds, before entries and holds carried it; `hold_count` on wallet sets is
/// optional in the codec), and an entry is never changed or removed, so its old image is moot.
fn stored_before(item: &Item) -> DomainResult<Option<Stored>> {
    let sk = text(item, SK)?;
    Ok(if sk == WALLETS_SK {
        Some(Stored::Wallets(wallets_from(item)?))
    } else if sk.starts_with(HOLD_SK_PREFIX) {
        Some(Stored::HoldBefore(hold_from(item)?))
    } else if sk.starts_with(INVOICE_SK_PREFIX) {
        Some(Stored::InvoiceBefore(invoice_from(item)?))
    } else if sk.starts_with(TOP_UP_LINK_PREFIX) {
        Some(Stored::TopUpLinkBefore(Box::new(top_up_link_from(item)?)))
    } else {
        None
    })
}

/// The record a new image stores, if events are made of it.
fn stored(item: &Item) -> DomainResult<Option<Stored>> {
    let sk = text(item, SK)?;
    Ok(if sk == WALLETS_SK {
        Some(Stored::Wallets(wallets_from(item)?))
    } else if sk.starts_with(ENTRY_SK_PREFIX) {
        Some(Stored::Entry(entry_from(item)?, wallet_after(item)?))
    } else if sk.starts_with(HOLD_SK_PREFIX) {
        Some(Stored::Hold(hold_from(item)?, wallet_after(item)?))
    } else if sk.starts_with(INVOICE_SK_PREFIX) {
        // Written before invoice payments carried the wallet after them: no event.
        if !item.contains_key(WALLET_AFTER) {
            return Ok(None);
        }
        Some(Stored::Invoice(invoice_from(item)?, wallet_after(item)?))
    } else if sk.starts_with(TOP_UP_LINK_PREFIX) {
        // Only a link written with the customer's wallets (expired, paid) makes an event.
        if !item.contains_key(WALLET_AFTER) {
            return Ok(None);
        }
        Some(Stored::TopUpLink(
            Box::new(top_up_link_from(item)?),
            wallet_after(item)?,
        ))
    } else {
        None
    })
}

/// The events of one stream record, from its images (either may be absent).
pub fn events_of_images(old: Option<&Value>, new: Option<&Value>) -> DomainResult<Vec<Event>> {
    let old = old.map(item).transpose()?;
    let new = new.map(item).transpose()?;
    let Some(any) = new.as_ref().or(old.as_ref()) else {
        return Ok(Vec::new());
    };
    if old.is_none() && new.as_ref().is_some_and(|item| item.contains_key(COPIED)) {
        return Ok(Vec::new()); // written by a table upgrade: its events were sent from the old table
    }
    let pk = text(any, PK)?;
    let Some((business, _)) = customer_of_pk(pk).or_else(|| top_up_link_of_pk(pk)) else {
        return Ok(Vec::new()); // not a customer's item: no events
    };
    let business_id = BusinessId::parse(business).map_err(corrupt)?;
    let old = old.as_ref().map(stored_before).transpose()?.flatten();
    let new = new.as_ref().map(stored).transpose()?.flatten();
    Ok(events_of(&business_id, old.as_ref(), new.as_ref()))
}

/// A change of a customer's wallet set, from a stream record's images: the business, the set
/// before (`None`: new) and after; `None` for any other record (or a set removed).
pub fn wallets_change_of_images(
    old: Option<&Value>,
    new: Option<&Value>,
) -> DomainResult<Option<(BusinessId, Option<CustomerWallets>, CustomerWallets)>> {
    let Some(new) = new.map(item).transpose()? else {
        return Ok(None);
    };
    if text(&new, SK)? != WALLETS_SK {
        return Ok(None);
    }
    let Some((business, _)) = customer_of_pk(text(&new, PK)?) else {
        return Ok(None);
    };
    if old.is_none() && new.contains_key(COPIED) {
        return Ok(None); // written by a table upgrade: its totals (`TOT#` items) are copied as they are
    }
    let business_id = BusinessId::parse(business).map_err(corrupt)?;
    let old = old.map(item).transpose()?;
    let old = old.as_ref().map(wallets_from).transpose()?;
    Ok(Some((business_id, old, wallets_from(&new)?)))
}

/// The customer and currencies whose auto top-up a record's new image says is due by `now`
/// (the event path starts it at once; the sweep is the safety net).
pub fn top_ups_due(
    new: Option<&Value>,
    now: crate::kernel::Timestamp,
) -> DomainResult<
    Option<(
        BusinessId,
        crate::kernel::CustomerId,
        Vec<crate::kernel::Currency>,
    )>,
> {
    let Some(new) = new else {
        return Ok(None);
    };
    let item = item(new)?;
    if text(&item, SK)? != WALLETS_SK {
        return Ok(None);
    }
    let wallets = wallets_from(&item)?;
    let due: Vec<_> = wallets
        .wallets
        .iter()
        .filter(|(_, w)| crate::topups::rules::due_at(w).is_some_and(|at| at <= now))
        .map(|(c, _)| *c)
        .collect();
    if due.is_empty() {
        return Ok(None);
    }
    let (business, _) =
        customer_of_pk(text(&item, PK)?).ok_or_else(|| corrupt("wallet set with a strange key"))?;
    Ok(Some((
        BusinessId::parse(business).map_err(corrupt)?,
        wallets.customer_id,
        due,
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::adapters::dynamo::codec::{add_wallet_after, currency_copy_item, entry_item};
    use crate::kernel::{Currency, Timestamp};
    use crate::ledger::model::{CustomerWallets, LedgerEntry};

    /// An item as the stream's DynamoDB JSON.
    fn image(item: &Item) -> Value {
        item.iter()
            .map(|(name, value)| {
                let value = match value {
                    AttributeValue::S(text) => json!({ "S": text }),
                    AttributeValue::N(number) => json!({ "N": number }),
                    other => panic!("unexpected attribute {other:?}"),
                };
                (name.clone(), value)
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    #[test]
    fn an_entry_makes_its_event_unless_an_upgrade_copied_it_and_its_currency_copy_makes_none() {
        let entry: LedgerEntry = serde_json::from_value(json!({
            "id": "wle_01kb0000000000000000000002", "customer_id": "cus_01kb0000000000000000000001",
            "business_id": "bus_01kb0000000000000000000000", "currency": "USD", "amount": 250,
            "is_credit": false, "before_balance": 1000, "after_balance": 750,
            "event_type": "payment", "reason": null, "reference_object_id": null,
            "idempotency_key": null, "created_at": "2026-11-23T12:00:00.123Z",
            "customer_seq": 7, "currency_seq": 3
        }))
        .unwrap();
        let wallets = CustomerWallets::open(
            entry.customer_id.clone(),
            &[Currency::USD],
            Timestamp::from_unix_ms(1_800_000_000_000),
        );
        let mut item = entry_item(&entry);
        add_wallet_after(&mut item, &wallets, Currency::USD, Some(750));
        assert_eq!(
            events_of_images(None, Some(&image(&item))).unwrap().len(),
            1
        );

        let copy = currency_copy_item(&entry);
        assert!(events_of_images(None, Some(&image(&copy)))
            .unwrap()
            .is_empty());

        item.insert(COPIED.to_owned(), AttributeValue::S("1".into()));
        assert!(events_of_images(None, Some(&image(&item)))
            .unwrap()
            .is_empty());
    }

    /// Issue 24.4: a hold written before `w_after` existed (or copied by `upgrade-table`) is
    /// captured: its old image has no `w_after`, and only its status is compared. The event is
    /// made, not refused as corrupt.
    #[test]
    fn a_hold_written_before_w_after_existed_still_makes_its_event_when_resolved() {
        use crate::adapters::dynamo::codec::hold_item;
        use crate::holds::model::{Hold, HoldStatus};
        use crate::kernel::{CustomerId, HoldId};
        let customer_id = CustomerId::parse("cus_01kb0000000000000000000001").unwrap();
        let pending = Hold {
            id: HoldId::parse("hld_01kb0000000000000000000003").unwrap(),
            customer_id: customer_id.clone(),
            business_id: BusinessId::parse("bus_01kb0000000000000000000000").unwrap(),
            currency: Currency::USD,
            amount: 5,
            status: HoldStatus::Pending,
            captured_amount: 0,
            reason: None,
            reference_object_id: None,
            idempotency_key: None,
            ledger_entry_id: None,
            expires_at: Timestamp::from_unix_ms(1_800_000_900_000),
            created_at: Timestamp::from_unix_ms(1_800_000_000_000),
            updated_at: Timestamp::from_unix_ms(1_800_000_000_000),
            created_by: None,
            updated_by: None,
        };
        let released = Hold {
            status: HoldStatus::Released,
            updated_at: Timestamp::from_unix_ms(1_800_000_100_000),
            ..pending.clone()
        };
        let old = hold_item(&pending);
        assert!(
            !old.contains_key(WALLET_AFTER),
            "as earlier versions wrote it"
        );
        let wallets = CustomerWallets::open(
            customer_id,
            &[Currency::USD],
            Timestamp::from_unix_ms(1_800_000_000_000),
        );
        let mut new = hold_item(&released);
        add_wallet_after(&mut new, &wallets, Currency::USD, None);
        let events = events_of_images(Some(&image(&old)), Some(&image(&new))).unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(
            events[0].event_type,
            crate::webhooks::model::EventType::HoldReleased
        );
    }

    #[test]
    fn a_wallet_set_change_is_read_from_its_images_unless_an_upgrade_copied_it() {
        use crate::adapters::dynamo::codec::wallets_item;
        use crate::kernel::CustomerId;
        let business = BusinessId::parse("bus_01kb0000000000000000000000").unwrap();
        let mut wallets = CustomerWallets::open(
            CustomerId::parse("cus_01kb0000000000000000000001").unwrap(),
            &[Currency::USD],
            Timestamp::from_unix_ms(1_800_000_000_000),
        );
        let before = wallets_item(&business, &wallets);
        wallets.version = 1;
        wallets.wallets.get_mut(&Currency::USD).unwrap().balance = 500;
        let mut after = wallets_item(&business, &wallets);
        let (read_business, old, new) =
            wallets_change_of_images(Some(&image(&before)), Some(&image(&after)))
                .unwrap()
                .expect("a change of a wallet set");
        assert_eq!(read_business, business);
        assert_eq!(old.map(|o| o.version), Some(0));
        assert_eq!((new.version, new.wallets[&Currency::USD].balance), (1, 500));
        after.insert(COPIED.to_owned(), AttributeValue::S("1".into()));
        assert!(wallets_change_of_images(None, Some(&image(&after)))
            .unwrap()
            .is_none());
    }
}
