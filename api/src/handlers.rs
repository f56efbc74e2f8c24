//! One function per route: authenticate, parse, call the domain, answer JSON.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::clock::{parse_instant, Round};
use shared::model::{HoldStatus, Tenant};
use shared::money::Currency;
use shared::store::{CustomerQuery, HoldQuery};
use shared::validation;

use crate::dto::{
    CaptureBody, CloseBody, CreateCustomerBody, HoldBody, InvoicePaymentBody, LedgerEntryBody,
    ReversalBody, UpdateCustomerBody,
};
use crate::errors::ApiError;
use crate::{App, Route, BODY_LENGTH_MAX};

type Answer = Result<Response<Body>, ApiError>;

pub async fn dispatch(app: &App, route: Route, request: Request) -> Answer {
    let tenant = authenticate(app, &request).await?;
    match route {
        Route::CreateCustomer => {
            let new = body::<CreateCustomerBody>(&request)?.parse()?;
            json(StatusCode::OK, &app.create_customer(&tenant, new).await?)
        }
        Route::GetCustomer => json(
            StatusCode::OK,
            &app.get_customer(&tenant, &customer_id(&request)).await?,
        ),
        Route::UpdateCustomer => {
            let patch = body::<UpdateCustomerBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.update_customer(&tenant, &customer_id(&request), patch)
                    .await?,
            )
        }
        Route::ListCustomers => list_customers(app, &tenant, &request).await,
        Route::ListWallets => json(
            StatusCode::OK,
            &app.list_wallets(&tenant, &customer_id(&request)).await?,
        ),
        Route::CreateLedgerEntry => {
            let command = body::<LedgerEntryBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.create_entry(&tenant, &customer_id(&request), command)
                    .await?,
            )
        }
        Route::ListLedgerEntries => {
            let (page_number, page_size) = page(&request)?;
            let currency = query(&request, "currency")
                .map(|c| Currency::parse(&c))
                .transpose()?;
            let items = app
                .list_entries(
                    &tenant,
                    &customer_id(&request),
                    currency,
                    page_number,
                    page_size,
                )
                .await?;
            json(StatusCode::OK, &serde_json::json!({ "items": items }))
        }
        Route::CreateHold => {
            let command = body::<HoldBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.create_hold(&tenant, &customer_id(&request), command)
                    .await?,
            )
        }
        Route::ListHolds => list_holds(app, &tenant, &request).await,
        Route::GetHold => json(
            StatusCode::OK,
            &app.get_hold(
                &tenant,
                &customer_id(&request),
                &path_parameter(&request, "hold_id"),
            )
            .await?,
        ),
        Route::CaptureHold => {
            let command = optional_body::<CaptureBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.capture_hold(
                    &tenant,
                    &customer_id(&request),
                    &path_parameter(&request, "hold_id"),
                    command,
                )
                .await?,
            )
        }
        Route::ReleaseHold => json(
            StatusCode::OK,
            &app.release_hold(
                &tenant,
                &customer_id(&request),
                &path_parameter(&request, "hold_id"),
            )
            .await?,
        ),
        Route::PayInvoice => {
            let command = body::<InvoicePaymentBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.pay_invoice(&tenant, &customer_id(&request), command)
                    .await?,
            )
        }
        Route::GetInvoicePayment => json(
            StatusCode::OK,
            &app.get_invoice_payment(
                &tenant,
                &customer_id(&request),
                &path_parameter(&request, "invoice_id"),
            )
            .await?,
        ),
        Route::ReverseInvoicePayment => {
            let command = body::<ReversalBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.reverse_invoice_payment(
                    &tenant,
                    &customer_id(&request),
                    &path_parameter(&request, "invoice_id"),
                    command,
                )
                .await?,
            )
        }
        Route::CloseWallet => {
            let command = body::<CloseBody>(&request)?.parse()?;
            json(
                StatusCode::OK,
                &app.close_wallet(&tenant, &customer_id(&request), command)
                    .await?,
            )
        }
    }
}

async fn list_holds(app: &App, tenant: &Tenant, request: &Request) -> Answer {
    let (page_number, page_size) = page(request)?;
    let status = query(request, "status")
        .map(|raw| {
            serde_json::from_value::<HoldStatus>(serde_json::Value::String(raw.clone())).map_err(
                |_| {
                    ApiError::invalid(
                        "invalid_query",
                        format!("`status` must be one of pending, captured, released, expired; got `{raw}`"),
                    )
                },
            )
        })
        .transpose()?;
    let holds = HoldQuery {
        status,
        currency: query(request, "currency")
            .map(|c| Currency::parse(&c))
            .transpose()?,
        page_number,
        page_size,
    };
    let items = app.list_holds(tenant, &customer_id(request), holds).await?;
    json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

async fn list_customers(app: &App, tenant: &Tenant, request: &Request) -> Answer {
    let (page_number, page_size) = page(request)?;
    let instant = |field: &'static str, round: Round| {
        query(request, field)
            .map(|raw| parse_instant(field, &raw, round))
            .transpose()
    };
    let customers = CustomerQuery {
        email: query(request, "email")
            .map(|e| validation::email(&e))
            .transpose()?,
        name_contains: query(request, "name")
            .map(|n| validation::name(&n))
            .transpose()?,
        created_from_ms: instant("created_at_gte", Round::Up)?,
        created_to_ms: instant("created_at_lte", Round::Down)?,
        page_number,
        page_size,
    };
    let items = app.list_customers(tenant, customers).await?;
    json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

async fn authenticate(app: &App, request: &Request) -> Result<Tenant, ApiError> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let token = header
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    app.authenticate(token).await.map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send a valid API key as `Authorization: Bearer <key>`",
        )
    })
}

fn body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > BODY_LENGTH_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body must be at most {BODY_LENGTH_MAX} bytes"),
        ));
    }
    // serde would also read a struct from an array of its fields in order: only `{` may start.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid(
            "invalid_body",
            "request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid("invalid_body", format!("request body is not valid: {e}")))
}

/// A body that may be left out entirely (then every field takes its default).
fn optional_body<T: DeserializeOwned + Default>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    body(request)
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn path_parameter(request: &Request, name: &str) -> String {
    request
        .path_parameters()
        .first(name)
        .map(percent_decode)
        .unwrap_or_default()
}

fn customer_id(request: &Request) -> String {
    path_parameter(request, "customer_id")
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters()
        .first(name)
        .map(str::to_owned)
}

fn integer(request: &Request, name: &'static str) -> Result<Option<i64>, ApiError> {
    query(request, name)
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "invalid_query",
                    format!("`{name}` must be an integer; got `{raw}`"),
                )
            })
        })
        .transpose()
}

fn page(request: &Request) -> Result<(u32, u32), ApiError> {
    Ok(validation::page(
        integer(request, "page_number")?,
        integer(request, "page_size")?,
    )?)
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Answer {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::to_string(value).expect("responses serialise"),
        ))
        .expect("static headers are valid"))
}
