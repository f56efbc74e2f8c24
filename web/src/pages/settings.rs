//! Wallet settings: the low-balance threshold and auto top-up. (Pages being built.)

use shared::kernel::Clock;
use shared::ports::Store;

use super::Cx;
use crate::respond::{Answer, PageError};

pub async fn show<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.signed_in().await?;
    Err(PageError::NotFound)
}

pub async fn update<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}
