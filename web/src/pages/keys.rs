//! API keys: list, create, rotate, revoke. (Pages being built.)

use shared::kernel::Clock;
use shared::ports::Store;

use super::Cx;
use crate::respond::{Answer, PageError};

pub async fn list<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.signed_in().await?;
    Err(PageError::NotFound)
}

pub async fn create<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}

pub async fn rotate<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}

pub async fn revoke<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}
