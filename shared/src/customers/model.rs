//! Customers of a business: each owns one set of wallets.

use serde::{Deserialize, Serialize};

use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, CustomerId, Timestamp};

/// Customer metadata: string keys to string, number or boolean values (Dodo's shape).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A customer. Its serde form is the stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub customer_id: CustomerId,
    pub business_id: BusinessId,
    pub email: String,
    pub name: String,
    pub phone_number: Option<String>,
    pub metadata: Metadata,
    pub preferred_locale: Option<String>,
    pub created_at: Timestamp,
    /// The customer at the payment gateway (`cus_...`) whose saved cards pay what the wallet
    /// does not (extension, issue 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_customer_id: Option<String>,
    /// The saved cards to charge, in the business's order: priority 1 first (extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payment_methods: Vec<SavedPaymentMethod>,
    /// Whether an invoice payment charges what the wallet does not cover to the saved cards
    /// unless the request says otherwise (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_pay: bool,
}

/// A saved card of a customer's gateway customer, with its place in the order of charging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPaymentMethod {
    pub payment_method_id: String,
    /// 1 is charged first, then 2, 3 ...; unique per customer.
    pub priority: u32,
}

impl Customer {
    /// The saved cards in the order they are charged (lowest priority number first).
    pub fn charge_order(&self) -> Vec<SavedPaymentMethod> {
        let mut methods = self.payment_methods.clone();
        methods.sort_by_key(|m| m.priority);
        methods
    }
}

/// A new customer's validated fields.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    pub email: String,
    pub name: String,
    pub phone_number: Option<String>,
    pub metadata: Metadata,
    pub preferred_locale: Option<String>,
}

/// Fields a caller may change on a customer; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    /// `Some(None)` clears the phone number.
    pub phone_number: Option<Option<String>>,
    pub metadata: Option<Metadata>,
    /// `Some(None)` removes the preferred locale.
    pub preferred_locale: Option<Option<String>>,
    /// `Some(None)` removes the gateway customer (and then the payment methods must be empty).
    pub gateway_customer_id: Option<Option<String>>,
    /// Replaces the whole list (checked at the gateway: `customers::payment_methods`).
    pub payment_methods: Option<Vec<SavedPaymentMethod>>,
    pub auto_pay: Option<bool>,
}

impl CustomerPatch {
    /// Whether the patch changes what is charged (so the gateway must check it).
    pub fn touches_payment_methods(&self) -> bool {
        self.gateway_customer_id.is_some() || self.payment_methods.is_some()
    }
}

/// Filters and paging for listing customers (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerQuery {
    pub email: Option<String>,
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
    /// Created at or after this millisecond.
    pub created_from_ms: Option<u64>,
    /// Created at or before this millisecond.
    pub created_to_ms: Option<u64>,
    pub page: PageRequest,
}

impl CustomerQuery {
    /// The smallest and largest id created in the asked range (an id carries its creation
    /// millisecond, so a date range is an id range); `None` when the range is empty.
    pub fn id_range(&self) -> Option<(CustomerId, CustomerId)> {
        let from_ms = self.created_from_ms.unwrap_or(0);
        let to_ms = self.created_to_ms.unwrap_or(u64::MAX);
        (from_ms <= to_ms).then(|| CustomerId::bounds(from_ms, to_ms))
    }
}

/// A customer as read for a change, with the revision the write must still find.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRevision {
    pub customer: Customer,
    /// Opaque to the domain: the store's token of the version read.
    pub revision: String,
}
