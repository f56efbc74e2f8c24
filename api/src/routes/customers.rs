//! `/customers`: create, get, patch, list (Dodo's customer routes).

use serde::{Deserialize, Serialize};
use shared::customers::model::{
    Customer, CustomerPatch, CustomerQuery, Metadata, NewCustomer, SavedPaymentMethod,
};
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
    /// Extension (issue 22): the gateway customer, the ordered saved cards, auto-pay.
    gateway_customer_id: Option<&'a str>,
    payment_methods: &'a [SavedPaymentMethod],
    auto_pay: bool,
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
            gateway_customer_id: customer.gateway_customer_id.as_deref(),
            payment_methods: &customer.payment_methods,
            auto_pay: customer.auto_pay,
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
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    gateway_customer_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    payment_methods: Option<Option<Vec<PaymentMethodBody>>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    auto_pay: Option<Option<bool>>,
}

#[derive(Deserialize)]
struct PaymentMethodBody {
    payment_method_id: String,
    priority: u32,
}

fn gateway_customer(raw: &str) -> Result<String, ValidationError> {
    fields::gateway_id("gateway_customer_id", raw)
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
            gateway_customer_id: clearable(self.gateway_customer_id, gateway_customer)?,
            // `null` clears the list, as `[]` does.
            payment_methods: self
                .payment_methods
                .map(|methods| {
                    let methods = methods
                        .unwrap_or_default()
                        .into_iter()
                        .map(|m| SavedPaymentMethod {
                            payment_method_id: m.payment_method_id,
                            priority: m.priority,
                        })
                        .collect();
                    fields::payment_methods(methods)
                })
                .transpose()?,
            auto_pay: match self.auto_pay {
                Some(None) => {
                    return Err(ValidationError::new(
                        "invalid_field",
                        "`auto_pay` cannot be null; leave it out to keep it",
                    ))
                }
                other => other.flatten(),
            },
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
    let customer_id = customer_id(request)?;
    // Saved cards must be this business's customer's at the gateway: `customers::payment_methods`.
    let patch = if patch.touches_payment_methods() {
        let gateway = app.stripe().map_err(|e| {
            shared::DomainError::GatewayUnavailable(format!("payment gateway configuration: {e}"))
        })?;
        app.check_customer_payment_methods(gateway, tenant, &customer_id, patch)
            .await?
    } else {
        patch
    };
    let customer = app.update_customer(tenant, &customer_id, patch).await?;
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
