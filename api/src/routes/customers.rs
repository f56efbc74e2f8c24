//! `/customers`: create, get, patch, list (Dodo's customer routes).

use serde::{Deserialize, Serialize};
use shared::customers::model::{Customer, CustomerPatch, CustomerQuery, Metadata, NewCustomer};
use shared::customers::rules as fields;
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::{BusinessId, Clock, CustomerId, Timestamp};
use shared::ports::Store;
use shared::ValidationError;

use crate::http::request::{body, customer_id, page, query};
use crate::http::{json, Answer, Call, Page};

/// A customer as the API shows it (Dodo's Customer).
#[derive(Debug, Serialize)]
pub struct CustomerView<'a> {
    customer_id: &'a CustomerId,
    business_id: &'a BusinessId,
    email: &'a str,
    name: &'a str,
    phone_number: Option<&'a str>,
    metadata: &'a Metadata,
    preferred_locale: Option<&'a str>,
    created_at: Timestamp,
}

impl<'a> CustomerView<'a> {
    pub fn of(customer: &'a Customer) -> CustomerView<'a> {
        CustomerView {
            customer_id: &customer.customer_id,
            business_id: &customer.business_id,
            email: &customer.email,
            name: &customer.name,
            phone_number: customer.phone_number.as_deref(),
            metadata: &customer.metadata,
            preferred_locale: customer.preferred_locale.as_deref(),
            created_at: customer.created_at,
        }
    }
}

#[derive(Deserialize)]
struct CreateCustomerBody {
    email: String,
    name: String,
    phone_number: Option<String>,
    metadata: Option<Metadata>,
    preferred_locale: Option<String>,
}

impl CreateCustomerBody {
    fn parse(self) -> Result<NewCustomer, ValidationError> {
        Ok(NewCustomer {
            email: fields::email(&self.email)?,
            name: fields::name(&self.name)?,
            phone_number: self
                .phone_number
                .as_deref()
                .map(fields::phone_number)
                .transpose()?,
            metadata: fields::metadata(self.metadata.unwrap_or_default())?,
            preferred_locale: self
                .preferred_locale
                .as_deref()
                .map(fields::preferred_locale)
                .transpose()?,
        })
    }
}

#[derive(Deserialize)]
struct UpdateCustomerBody {
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    metadata: Option<Option<Metadata>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    preferred_locale: Option<Option<String>>,
}

fn required(field: &str, value: Option<Option<String>>) -> Result<Option<String>, ValidationError> {
    match value {
        Some(None) => Err(ValidationError::new(
            "invalid_field",
            format!("`{field}` cannot be null; leave it out to keep it"),
        )),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// A field that `null` clears: absent stays absent, `null` clears, a value is parsed.
fn clearable(
    value: Option<Option<String>>,
    parse: fn(&str) -> Result<String, ValidationError>,
) -> Result<Option<Option<String>>, ValidationError> {
    value
        .map(|v| v.as_deref().map(parse).transpose())
        .transpose()
}

impl UpdateCustomerBody {
    fn parse(self) -> Result<CustomerPatch, ValidationError> {
        Ok(CustomerPatch {
            email: required("email", self.email)?
                .as_deref()
                .map(fields::email)
                .transpose()?,
            name: required("name", self.name)?
                .as_deref()
                .map(fields::name)
                .transpose()?,
            phone_number: clearable(self.phone_number, fields::phone_number)?,
            metadata: self
                .metadata
                .map(|m| fields::metadata(m.unwrap_or_default()))
                .transpose()?,
            preferred_locale: clearable(self.preferred_locale, fields::preferred_locale)?,
        })
    }
}

pub async fn create<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let new = body::<CreateCustomerBody>(request)?.parse()?;
    json(&CustomerView::of(&app.create_customer(tenant, new).await?))
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let customer = app.get_customer(tenant, &customer_id(request)?).await?;
    json(&CustomerView::of(&customer))
}

pub async fn update<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let patch = body::<UpdateCustomerBody>(request)?.parse()?;
    let customer = app
        .update_customer(tenant, &customer_id(request)?, patch)
        .await?;
    json(&CustomerView::of(&customer))
}

pub async fn list<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let page = page(request)?;
    let instant = |field: &'static str, round: Round| {
        query(request, field)
            .map(|raw| parse_instant(field, &raw, round))
            .transpose()
    };
    let customers = CustomerQuery {
        email: query(request, "email")
            .map(|e| fields::email(&e))
            .transpose()?,
        name_contains: query(request, "name")
            .map(|n| fields::name(&n))
            .transpose()?,
        created_from_ms: instant("created_at_gte", Round::Up)?,
        created_to_ms: instant("created_at_lte", Round::Down)?,
        page,
    };
    let customers = app.list_customers(tenant, customers).await?;
    json(&Page::of(&customers, CustomerView::of))
}
