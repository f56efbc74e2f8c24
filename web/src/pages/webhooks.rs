//! Webhook endpoints and their delivery log. (Pages being built.)

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

pub async fn show<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.signed_in().await?;
    Err(PageError::NotFound)
}

pub async fn update<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}

pub async fn delete<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}

pub async fn reveal_secret<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}

pub async fn delivery<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.signed_in().await?;
    Err(PageError::NotFound)
}

pub async fn resend<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    cx.change().await?;
    Err(PageError::NotFound)
}
