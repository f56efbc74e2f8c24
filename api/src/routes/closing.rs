//! `POST /customers/{id}/wallets/close`.

use serde::Deserialize;
use shared::closing::model::CloseCommand;
use shared::kernel::text::reason;
use shared::kernel::{Clock, Currency};
use shared::ports::Store;
use shared::ValidationError;

use super::ledger::optional_reference;
use crate::http::request::{body, customer_id};
use crate::http::{json, Answer, Call};
use crate::views::WalletView;

#[derive(Deserialize)]
struct CloseBody {
    currency: String,
    reason: String,
    reference_object_id: Option<String>,
}

impl CloseBody {
    fn parse(self) -> Result<CloseCommand, ValidationError> {
        let reason = reason(&self.reason)?;
        if reason.trim().is_empty() {
            return Err(ValidationError::new(
                "invalid_reason",
                "reason must say why the wallet is closed",
            ));
        }
        Ok(CloseCommand {
            currency: Currency::parse(&self.currency)?,
            reason,
            reference_object_id: optional_reference(self.reference_object_id.as_deref())?,
        })
    }
}

pub async fn close<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<CloseBody>(request)?.parse()?;
    let wallet = app
        .close_wallet(tenant, &customer_id(request)?, command)
        .await?;
    json(&WalletView::of(&wallet))
}
