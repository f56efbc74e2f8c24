//! The leaf of the domain: values every capability uses (money, ids, time, bounded text, paging,
//! error codes). Imports nothing above it.

pub mod clock;
pub mod codes;
pub mod fx;
pub mod ids;
pub mod money;
pub mod paging;
pub mod text;
pub mod wait;

pub use clock::{Clock, SystemClock, Timestamp};
pub use codes::ValidationError;
pub use ids::{
    BusinessId, CustomerId, EndpointId, EntryId, EventId, HoldId, IdempotencyKey, InvoiceId, KeyId,
    TopUpLinkId,
};
pub use money::{Amount, Currency};
