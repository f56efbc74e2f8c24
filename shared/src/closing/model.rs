//! Closing a wallet: what the caller asks for.

use crate::kernel::Currency;

/// A validated request to close one wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseCommand {
    pub currency: Currency,
    pub reason: String,
    pub reference_object_id: Option<String>,
}
