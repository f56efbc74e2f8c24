//! What each store method asks of DynamoDB, in IAM's terms: the actions it calls, the indexes it
//! queries, and for an `UpdateItem` the partition keys and attributes it touches. A function's
//! policy in `template.yaml` must allow every call its code can reach: `tests/tests/routes.rs`
//! runs each route (lost answers and races included) on a store that records the methods called,
//! and checks the route's function's policy against this table. A new store method, or a method
//! that calls DynamoDB differently, changes its line here.
//!
//! `TransactWriteItems` has no action of its own: each item needs its own (a `Put` needs
//! `PutItem`). Every change ([`commit`](crate::ports::WalletStore::commit)) is a transaction of
//! `Put`s, or one conditional `PutItem`.

use super::codec::TTL;
use super::codec::{KEY_EXPIRES, KEY_REVOKED, KEY_USED};
use super::delivery_rate::SLOTS;
use super::portal::{RATE_PK_PREFIX, TRIES};
use super::sessions::{FORM_RESULT, SEEN as SESSION_SEEN};
use super::table::{GSI_EMAIL, GSI_EXPIRY, PK, SK};
use super::totals::{TOTALS_ATTRIBUTES, TOTALS_PK_PREFIX};

pub const GET_ITEM: &str = "dynamodb:GetItem";
pub const PUT_ITEM: &str = "dynamodb:PutItem";
pub const UPDATE_ITEM: &str = "dynamodb:UpdateItem";
pub const DELETE_ITEM: &str = "dynamodb:DeleteItem";
pub const QUERY: &str = "dynamodb:Query";

/// The prefix of every API key's partition key (`keys::api_key_pk`): with the delivery slots
/// below, the only items any function updates in place.
pub const API_KEY_PK_PREFIX: &str = "KEY#";
/// The prefix of a dashboard session's partition key (`keys::session_pk`), whose last use is
/// updated in place.
pub const SESSION_PK_PREFIX: &str = "SES#";
/// The prefix of a dashboard form's claim (`keys::form_pk`), whose result is set in place.
pub const FORM_PK_PREFIX: &str = "FORM#";
/// The prefix of an endpoint's delivery partition (`WHK#<business>#<endpoint>`), where its
/// delivery slots per second are counted in place.
pub const DELIVERY_PK_PREFIX: &str = "WHK#";

/// An `UpdateItem`'s reach: the partition keys it may name (a prefix) and every top-level
/// attribute it names (keys, condition and update expression: IAM's `dynamodb:Attributes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateReach {
    pub partition_key_prefix: &'static str,
    pub attributes: &'static [&'static str],
}

/// What one store method asks of DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreAccess {
    /// The store method, as the ports name it (`get_wallets`).
    pub method: &'static str,
    /// IAM actions on the table (and on the indexes below, for a `Query`).
    pub actions: &'static [&'static str],
    /// Global secondary indexes it may query.
    pub indexes: &'static [&'static str],
    /// Set when `actions` holds `UpdateItem`.
    pub update: Option<UpdateReach>,
}

const fn plain(method: &'static str, actions: &'static [&'static str]) -> StoreAccess {
    StoreAccess {
        method,
        actions,
        indexes: &[],
        update: None,
    }
}

const fn on_index(
    method: &'static str,
    actions: &'static [&'static str],
    indexes: &'static [&'static str],
) -> StoreAccess {
    StoreAccess {
        method,
        actions,
        indexes,
        update: None,
    }
}

/// Every method of every store port, and what `DynamoStore`'s implementation calls.
pub const STORE_ACCESS: &[StoreAccess] = &[
    // KeyStore
    plain("key_by_hash", &[GET_ITEM]),
    on_index("list_keys", &[QUERY], &[GSI_EMAIL]),
    StoreAccess {
        method: "touch_key",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: API_KEY_PK_PREFIX,
            attributes: &[PK, SK, KEY_USED],
        }),
    },
    StoreAccess {
        method: "end_key",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: API_KEY_PK_PREFIX,
            attributes: &[PK, SK, KEY_EXPIRES, KEY_REVOKED],
        }),
    },
    // Dashboard sessions (the KeyStore's too).
    plain("put_session", &[PUT_ITEM]),
    plain("session_by_hash", &[GET_ITEM]),
    StoreAccess {
        method: "touch_session",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: SESSION_PK_PREFIX,
            attributes: &[PK, SK, SESSION_SEEN, TTL],
        }),
    },
    plain("end_session", &[DELETE_ITEM]),
    // The claim (a conditional Put), or the earlier claim read when it exists.
    plain("claim_form", &[PUT_ITEM, GET_ITEM]),
    StoreAccess {
        method: "finish_form",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: FORM_PK_PREFIX,
            attributes: &[PK, SK, FORM_RESULT],
        }),
    },
    plain("release_form", &[DELETE_ITEM]),
    // CustomerStore
    plain("business_name", &[GET_ITEM]),
    plain("get_customer", &[GET_ITEM]),
    plain("get_customer_revision", &[GET_ITEM]),
    // The business's partition, or the email index when the query names an email.
    on_index("list_customers", &[QUERY], &[GSI_EMAIL]),
    // The business's partition, from a customer on.
    plain("customers_after", &[QUERY]),
    // WalletStore
    plain("get_wallets", &[GET_ITEM]),
    plain("has_receipt", &[GET_ITEM]),
    plain("commit", &[PUT_ITEM]),
    on_index("due_top_ups", &[QUERY], &[GSI_EXPIRY]),
    plain("original_for_key", &[GET_ITEM]),
    // LedgerStore
    plain("list_entries", &[QUERY]),
    plain("get_entry", &[GET_ITEM]),
    // HoldStore
    plain("get_hold", &[GET_ITEM]),
    plain("list_holds", &[QUERY]),
    on_index("expired_holds", &[QUERY], &[GSI_EXPIRY]),
    // TopUpLinkStore
    plain("get_top_up_link", &[GET_ITEM]),
    on_index("list_top_up_links", &[QUERY], &[GSI_EMAIL]),
    on_index("expired_top_up_links", &[QUERY], &[GSI_EXPIRY]),
    // InvoiceStore
    plain("get_invoice_payment", &[GET_ITEM]),
    // PayinStore
    plain("get_card_top_up", &[GET_ITEM]),
    plain("list_card_top_ups", &[QUERY]),
    on_index("pending_card_top_ups", &[QUERY], &[GSI_EXPIRY]),
    plain("gateway_event_seen", &[GET_ITEM]),
    plain("record_gateway_event", &[PUT_ITEM]),
    // WebhookStore
    // The business's endpoint count, then a transaction of Puts (the endpoint and the count).
    plain("insert_endpoint", &[GET_ITEM, PUT_ITEM]),
    plain("replace_endpoint", &[PUT_ITEM]),
    // The count, then a transaction: delete the endpoint, put the count.
    plain("delete_endpoint", &[GET_ITEM, DELETE_ITEM, PUT_ITEM]),
    plain("get_endpoint", &[GET_ITEM]),
    plain("list_endpoints", &[QUERY]),
    plain("insert_delivery", &[PUT_ITEM]),
    plain("update_delivery", &[PUT_ITEM]),
    // The delivery, then its attempts.
    plain("get_delivery", &[GET_ITEM, QUERY]),
    plain("list_deliveries", &[QUERY]),
    on_index("due_deliveries", &[QUERY], &[GSI_EXPIRY]),
    StoreAccess {
        method: "take_delivery_slot",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: DELIVERY_PK_PREFIX,
            attributes: &[PK, SK, SLOTS, TTL],
        }),
    },
    // TotalsStore (the dispatcher): one transaction of updates under `TOT#` (`totals.rs`).
    StoreAccess {
        method: "apply_movement",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: TOTALS_PK_PREFIX,
            attributes: TOTALS_ATTRIBUTES,
        }),
    },
    plain("day_totals", &[QUERY]),
    // PortalStore (`portal.rs`): settings and revocations are conditional Puts.
    plain("get_portal_settings", &[GET_ITEM]),
    plain("put_portal_settings", &[PUT_ITEM]),
    plain("portal_revoked_at", &[GET_ITEM]),
    plain("revoke_portal", &[PUT_ITEM]),
    StoreAccess {
        method: "take_attempt",
        actions: &[UPDATE_ITEM],
        indexes: &[],
        update: Some(UpdateReach {
            partition_key_prefix: RATE_PK_PREFIX,
            attributes: &[PK, SK, TRIES, TTL],
        }),
    },
];

/// The line of `method`, if the table has one.
pub fn store_access(method: &str) -> Option<&'static StoreAccess> {
    STORE_ACCESS.iter().find(|access| access.method == method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_has_one_line_and_updates_say_what_they_reach() {
        let mut methods: Vec<&str> = STORE_ACCESS.iter().map(|a| a.method).collect();
        methods.sort();
        methods.dedup();
        assert_eq!(methods.len(), STORE_ACCESS.len(), "one line per method");
        for access in STORE_ACCESS {
            assert_eq!(
                access.actions.contains(&UPDATE_ITEM),
                access.update.is_some(),
                "{}",
                access.method
            );
        }
        assert!(super::super::keys::api_key_pk("abc").starts_with(API_KEY_PK_PREFIX));
    }
}
