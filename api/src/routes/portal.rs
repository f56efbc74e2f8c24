//! The customer portal's API: Dodo's `POST /customers/{id}/customer-portal/session`, and the
//! extensions that revoke a customer's links and read or change the business's portal settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::access::model::Actor;
use shared::kernel::{Clock, Currency, Timestamp};
use shared::payins::limits::TopUpLimits;
use shared::portal::model::{PortalSettings, PortalSettingsPatch};
use shared::ports::Store;

use crate::http::request::{body, customer_id, query};
use crate::http::{json, Answer, ApiError, Call};

/// Dodo's `CustomerPortalSession`: the link, and nothing else.
#[derive(Serialize)]
struct SessionView<'a> {
    link: &'a str,
}

/// `send_email`: `true` or `false` as the SDKs send it; absent is `false`.
fn send_email(request: &crate::http::Request) -> Result<bool, ApiError> {
    match query(request, "send_email").as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::invalid(
            "invalid_query",
            format!("`send_email` must be `true` or `false`; got `{other}`"),
        )),
    }
}

pub async fn create_session<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let customer = customer_id(request)?;
    let send_email = send_email(request)?;
    let creating = app.create_portal_session(
        app.mailer(),
        tenant,
        &customer,
        query(request, "return_url"),
        send_email,
    );
    let link = match crate::http::request::origin(request) {
        Some(origin) => shared::portal::origin::serving(origin, creating).await?,
        None => creating.await?,
    };
    json(&SessionView { link: &link.link })
}

#[derive(Serialize)]
struct RevokedView<'a> {
    customer_id: &'a str,
    /// Every portal link of the customer issued at or before this instant no longer opens.
    revoked_at: Timestamp,
}

pub async fn revoke<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let customer = customer_id(request)?;
    let revoked_at = app.revoke_portal_sessions(tenant, &customer).await?;
    json(&RevokedView {
        customer_id: customer.as_str(),
        revoked_at,
    })
}

/// The settings as the API shows them: every enabled currency's limits (its defaults unless
/// set) and every set one's.
#[derive(Serialize)]
struct SettingsView<'a> {
    session_ttl_seconds: u64,
    top_up_limits: BTreeMap<Currency, TopUpLimits>,
    updated_at: Option<Timestamp>,
    updated_by: Option<&'a Actor>,
}

impl<'a> SettingsView<'a> {
    fn of(settings: &'a PortalSettings, enabled: &[Currency]) -> SettingsView<'a> {
        let mut top_up_limits: BTreeMap<Currency, TopUpLimits> = enabled
            .iter()
            .map(|c| (*c, settings.limits_for(*c)))
            .collect();
        top_up_limits.extend(settings.top_up_limits.iter().map(|(c, l)| (*c, *l)));
        SettingsView {
            session_ttl_seconds: settings.session_ttl_seconds,
            top_up_limits,
            updated_at: settings.updated_at,
            updated_by: settings.updated_by.as_ref(),
        }
    }
}

pub async fn get_settings<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant) = (call.app, call.tenant);
    let settings = app.portal_settings(tenant).await?;
    json(&SettingsView::of(&settings, &app.config().currencies))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    min_amount: i64,
    max_amount: i64,
    max_balance: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    /// Absent: unchanged. `null` is refused (400), as the document types it a number.
    #[serde(default, deserialize_with = "present")]
    session_ttl_seconds: Option<u64>,
    /// Currency code -> limits, or `null` to go back to the currency's defaults.
    #[serde(default)]
    top_up_limits: BTreeMap<String, Option<LimitsBody>>,
}

/// A field that, when present, must hold a value (not `null`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    u64::deserialize(deserializer).map(Some)
}

impl SettingsBody {
    fn parse(self) -> Result<PortalSettingsPatch, ApiError> {
        let mut top_up_limits = BTreeMap::new();
        for (code, limits) in self.top_up_limits {
            let limits = limits.map(|l| TopUpLimits {
                min_amount: l.min_amount,
                max_amount: l.max_amount,
                max_balance: l.max_balance,
            });
            top_up_limits.insert(Currency::parse(&code)?, limits);
        }
        Ok(PortalSettingsPatch {
            session_ttl_seconds: self.session_ttl_seconds,
            top_up_limits,
        })
    }
}

pub async fn update_settings<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let patch = body::<SettingsBody>(request)?.parse()?;
    let settings = app.update_portal_settings(tenant, &patch).await?;
    json(&SettingsView::of(&settings, &app.config().currencies))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_null_lifetime_is_refused_and_an_absent_one_leaves_it() {
        let parse = serde_json::from_str::<super::SettingsBody>;
        assert!(parse(r#"{"session_ttl_seconds": null}"#).is_err());
        assert!(parse(r#"{"session_ttl_seconds": "3600"}"#).is_err());
        assert_eq!(
            parse(r#"{"session_ttl_seconds": 3600}"#)
                .unwrap()
                .session_ttl_seconds,
            Some(3600)
        );
        assert_eq!(parse(r#"{}"#).unwrap().session_ttl_seconds, None);
    }

    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;

    #[test]
    fn the_origin_is_the_api_gateway_domain_of_the_request() {
        let plain = lambda_http::http::Request::builder()
            .uri("/customers/cus_1/customer-portal/session")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(
            crate::http::request::origin(&plain),
            None,
            "cargo lambda watch: no context"
        );
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.domain_name = Some("abc123.execute-api.eu-west-1.amazonaws.com".into());
        let request = plain.with_request_context(RequestContext::ApiGatewayV2(context));
        assert_eq!(
            crate::http::request::origin(&request).as_deref(),
            Some("https://abc123.execute-api.eu-west-1.amazonaws.com")
        );
    }
}
