//! `/customers/{id}/wallets/top-up-links`: create, list, get, cancel (issue 21).

use serde::Deserialize;
use shared::kernel::{Clock, Currency, TopUpLinkId};
use shared::payins::links::{TopUpLink, TopUpLinkCommand, TopUpLinkQuery};
use shared::payins::links_rules::{expires_in, link_amount};
use shared::ports::Store;
use shared::{DomainError, Service, ValidationError};

use super::ledger::{optional_key, optional_reason};
use crate::http::request::{body, customer_id, page, path_parameter};
use crate::http::{json, Answer, ApiError, Call, Page, Request};
use crate::views::TopUpLinkView;

#[derive(Deserialize)]
struct TopUpLinkBody {
    currency: String,
    amount: Option<i64>,
    min_amount: Option<i64>,
    max_amount: Option<i64>,
    reason: Option<String>,
    /// Seconds; default 7 days, at most 30.
    expires_in: Option<i64>,
    single_use: Option<bool>,
    idempotency_key: Option<String>,
}

impl TopUpLinkBody {
    fn parse(self) -> Result<TopUpLinkCommand, ValidationError> {
        Ok(TopUpLinkCommand {
            currency: Currency::parse(&self.currency)?,
            amount: link_amount(self.amount, self.min_amount, self.max_amount)?,
            reason: optional_reason(self.reason.as_deref())?,
            expires_in_s: expires_in(self.expires_in)?,
            single_use: self.single_use.unwrap_or(true),
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
        })
    }
}

/// The path's link id; one that cannot exist answers 404.
fn link_id(request: &Request) -> Result<TopUpLinkId, ApiError> {
    let raw = path_parameter(request, "link_id");
    TopUpLinkId::parse(&raw).map_err(|_| DomainError::TopUpLinkNotFound(raw).into())
}

fn view<'a, S: Store, C: Clock>(
    app: &Service<S, C>,
    request: &Request,
    link: &'a TopUpLink,
) -> TopUpLinkView<'a> {
    let origin = crate::http::request::origin(request);
    TopUpLinkView::of(link, app.top_up_link_url(link, origin.as_deref()))
}

pub async fn create<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<TopUpLinkBody>(request)?.parse()?;
    let link = app
        .create_top_up_link(tenant, &customer_id(request)?, command)
        .await?;
    json(&view(app, request, &link))
}

pub async fn list<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let query = TopUpLinkQuery {
        page: page(request)?,
    };
    let links = app
        .list_top_up_links(tenant, &customer_id(request)?, query)
        .await?;
    json(&Page::of(&links, |link| view(app, request, link)))
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let link = app
        .get_top_up_link(tenant, &customer_id(request)?, &link_id(request)?)
        .await?;
    json(&view(app, request, &link))
}

pub async fn cancel<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let link = app
        .cancel_top_up_link(tenant, &customer_id(request)?, &link_id(request)?)
        .await?;
    json(&view(app, request, &link))
}
