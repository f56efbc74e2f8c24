//! The one place where domain errors become HTTP statuses and `{code, message}` bodies.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use shared::{DomainError, Original};

use crate::views::{EntryView, HoldView, InvoicePaymentRecordView, TopUpLinkView};

/// An error answer: status, stable code, message, and optional extra fields.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub extra: Option<(&'static str, Value)>,
    /// Tells the Dodo SDKs whether retrying can help (`x-should-retry`).
    pub should_retry: bool,
    /// Seconds to wait before retrying (`Retry-After`), when the store is unavailable.
    pub retry_after_s: Option<u32>,
}

/// What a 503 asks the client to wait before retrying, in seconds.
pub const RETRY_AFTER_S: u32 = 1;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
            should_retry: false,
            retry_after_s: None,
        }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn into_response(self) -> Response<Body> {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let mut body = json!({ "code": self.code, "message": self.message });
        if let Some((field, value)) = self.extra {
            body[field] = value;
        }
        let mut response = Response::builder();
        if let Some(seconds) = self.retry_after_s {
            response = response.header("retry-after", seconds.to_string());
        }
        response
            .status(self.status)
            .header("content-type", "application/json")
            .header(
                "x-should-retry",
                if self.should_retry { "true" } else { "false" },
            )
            .body(Body::from(body.to_string()))
            .expect("static headers are valid")
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> ApiError {
        let code = error.code();
        let message = match &error {
            DomainError::Storage(detail) => {
                tracing::error!(%detail, "storage failure");
                "the service could not complete the request; retry it (with the same idempotency key)".to_owned()
            }
            DomainError::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                "the store did not answer in time; retry the request after the Retry-After delay (with the same idempotency key: a change that did commit then answers with the original)".to_owned()
            }
            DomainError::GatewayUnavailable(detail) => {
                tracing::error!(%detail, "payment gateway unavailable");
                "the payment gateway did not answer; retry the request".to_owned()
            }
            DomainError::MailUnavailable(detail) => {
                tracing::error!(%detail, "mail service unavailable");
                "the email could not be sent; retry the request".to_owned()
            }
            DomainError::NotConfigured(detail) => {
                tracing::error!(%detail, "not configured");
                "this deployment is not configured for this request".to_owned()
            }
            _ => error.to_string(),
        };
        let status = match &error {
            DomainError::Invalid(_)
            | DomainError::CurrencyNotEnabled { .. }
            | DomainError::BalanceLimitExceeded { .. }
            | DomainError::CaptureExceedsHold { .. }
            | DomainError::ReversalExceedsApplied { .. }
            | DomainError::PaymentMethodNotOwned => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::Unauthenticated => StatusCode::UNAUTHORIZED,
            DomainError::InsufficientScope => StatusCode::FORBIDDEN,
            DomainError::CustomerNotFound(_)
            | DomainError::HoldNotFound(_)
            | DomainError::InvoicePaymentNotFound(_)
            | DomainError::TopUpLinkNotFound(_)
            | DomainError::WebhookNotFound(_)
            | DomainError::KeyNotFound(_)
            | DomainError::DeliveryNotFound(_)
            | DomainError::CardTopUpNotFound(_) => StatusCode::NOT_FOUND,
            DomainError::InsufficientBalance { .. } | DomainError::InvalidSignature => {
                StatusCode::BAD_REQUEST
            }
            // Callers of `open_portal` (the portal's pages) show it as their own 404/401.
            DomainError::PortalSessionInvalid => StatusCode::UNAUTHORIZED,
            DomainError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            DomainError::IdempotencyKeyReused { .. }
            | DomainError::Contention
            | DomainError::WalletClosed { .. }
            | DomainError::HoldsPending { .. }
            | DomainError::HoldNotPending { .. }
            | DomainError::HoldExpired { .. }
            | DomainError::InvoiceAlreadyPaid { .. }
            | DomainError::TopUpLinkInUse(_)
            | DomainError::TopUpLinkUsed(_)
            | DomainError::TopUpLinkExpired(_)
            | DomainError::TopUpLinkCancelled(_)
            | DomainError::DeliveryInFlight(_) => StatusCode::CONFLICT,
            DomainError::Unavailable(_)
            | DomainError::GatewayUnavailable(_)
            | DomainError::MailUnavailable(_)
            | DomainError::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            DomainError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut api = ApiError::new(status, code, message);
        let record = |value: Result<Value, serde_json::Error>| value.expect("views serialise");
        match error {
            DomainError::IdempotencyKeyReused { original, .. } => {
                let value = match &*original {
                    Original::Entry(entry) => serde_json::to_value(EntryView::of(entry)),
                    Original::Hold(hold) => serde_json::to_value(HoldView::of(hold)),
                    Original::TopUpLink(link) => {
                        serde_json::to_value(TopUpLinkView::of(link, None))
                    }
                };
                api.extra = Some((original.field(), record(value)));
            }
            DomainError::HoldNotPending { hold } | DomainError::HoldExpired { hold } => {
                api.extra = Some(("hold", record(serde_json::to_value(HoldView::of(&hold)))));
            }
            DomainError::InvoiceAlreadyPaid { original } => {
                let view = InvoicePaymentRecordView::of(&original);
                api.extra = Some(("invoice_payment", record(serde_json::to_value(view))));
            }
            DomainError::Unavailable(_)
            | DomainError::GatewayUnavailable(_)
            | DomainError::MailUnavailable(_) => {
                api.should_retry = true;
                api.retry_after_s = Some(RETRY_AFTER_S);
            }
            DomainError::RateLimited { retry_after_s } => {
                api.should_retry = true;
                api.retry_after_s = Some(u32::try_from(retry_after_s).unwrap_or(u32::MAX));
            }
            DomainError::Contention | DomainError::Storage(_) => api.should_retry = true,
            _ => {}
        }
        api
    }
}

impl From<shared::ValidationError> for ApiError {
    fn from(error: shared::ValidationError) -> ApiError {
        ApiError::from(DomainError::from(error))
    }
}
