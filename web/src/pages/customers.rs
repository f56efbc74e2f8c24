//! Customers: the list (search by email or name, paged) and creating one (its wallets come with
//! it, in every currency the service enables).

use maud::html;
use shared::customers::model::{CustomerQuery, NewCustomer};
use shared::customers::rules as fields;
use shared::kernel::paging::PageRequest;
use shared::kernel::Clock;
use shared::ports::Store;

use super::Cx;
use crate::forms::{query_string, Fields};
use crate::layout;
use crate::respond::{page, page_response, redirect, Answer, PageError};

const PAGE_SIZE: i64 = 25;

/// The page number of `?page=`, from 0.
fn page_number(query: &Fields) -> Result<PageRequest, PageError> {
    let number = match query.get("page") {
        None => 0,
        Some(raw) => raw.parse::<i64>().map_err(|_| {
            shared::ValidationError::new("invalid_page_number", "page must be a whole number")
        })?,
    };
    Ok(PageRequest::parse(Some(number), Some(PAGE_SIZE))?)
}

pub async fn list<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let query = crate::forms::query(cx.request);
    let (customer_query, search_error) = search_of(&query)?;
    let number = customer_query.page.number;
    let (signed_in, customers) = match search_error {
        Some(_) => (cx.signed_in().await?, Vec::new()),
        None => {
            cx.signed_in_with(|tenant| async move {
                cx.app.list_customers(&tenant, customer_query).await
            })
            .await?
        }
    };
    let found = Found {
        customers,
        search_error,
        number,
    };
    show_list(cx, &signed_in, &query, found, None, None)
}

/// The customers a list page shows, or why the search found none.
struct Found {
    customers: Vec<shared::customers::model::Customer>,
    search_error: Option<String>,
    number: u32,
}

/// The query of `?q=` (an email, or part of a name) and `?page=`; a search that cannot match
/// anything says why instead.
fn search_of(query: &Fields) -> Result<(CustomerQuery, Option<String>), PageError> {
    let search = query.get("q").unwrap_or("");
    let mut customer_query = CustomerQuery {
        email: None,
        name_contains: None,
        created_from_ms: None,
        created_to_ms: None,
        page: page_number(query)?,
    };
    let mut search_error = None;
    if !search.is_empty() {
        let parsed = if search.contains('@') {
            fields::email(search).map(|e| customer_query.email = Some(e))
        } else {
            fields::name(search).map(|n| customer_query.name_contains = Some(n))
        };
        if let Err(e) = parsed {
            search_error = Some(e.message);
        }
    }
    Ok((customer_query, search_error))
}

async fn render_list<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &shared::access::sessions::SignedIn,
    query: &Fields,
    error: Option<(lambda_http::http::StatusCode, String)>,
    typed: Option<&Fields>,
) -> Answer {
    let (customer_query, search_error) = search_of(query)?;
    let number = customer_query.page.number;
    let customers = if search_error.is_some() {
        Vec::new()
    } else {
        cx.app
            .list_customers(&signed_in.tenant, customer_query)
            .await?
    };
    let found = Found {
        customers,
        search_error,
        number,
    };
    show_list(cx, signed_in, query, found, error, typed)
}

fn show_list<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &shared::access::sessions::SignedIn,
    query: &Fields,
    found: Found,
    error: Option<(lambda_http::http::StatusCode, String)>,
    typed: Option<&Fields>,
) -> Answer {
    let search = query.get("q").unwrap_or("");
    let Found {
        customers,
        search_error,
        number,
    } = found;
    let typed_value = |name: &str| typed.and_then(|f| f.get(name)).unwrap_or("").to_owned();
    let body = html! {
        h1 { "Customers" }
        (layout::done_notice(crate::forms::query(cx.request).get("done")))
        form.row role="search" method="get" action="/dashboard/customers"
            hx-get="/dashboard/customers" hx-target="#results" hx-select="#results"
            hx-trigger="input changed delay:400ms from:#q, submit" hx-push-url="true" {
            label { "Search by email, or part of the name"
                input #q type="search" name="q" value=(search);
            }
            button type="submit" { "Search" }
        }
        div #results {
            @if let Some(message) = &search_error {
                p.alert role="alert" { (message) }
            } @else if customers.is_empty() {
                p.muted { "No customers " @if !search.is_empty() { "match this search" } @else { "yet" } "." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Customers table" {
                    table {
                        caption.skip { "Customers, newest first" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th.hide-narrow scope="col" { "Created" } } }
                        tbody {
                            @for customer in &customers {
                                tr {
                                    td { a href={"/dashboard/customers/" (customer.customer_id)} { (customer.name) } }
                                    td { (customer.email) }
                                    td.hide-narrow { (layout::time(customer.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if number > 0 {
                    a href={"/dashboard/customers?" (query_string(&[("q", search), ("page", &(number - 1).to_string())]))} { "← Newer" }
                }
                @if customers.len() as i64 == PAGE_SIZE {
                    a href={"/dashboard/customers?" (query_string(&[("q", search), ("page", &(number + 1).to_string())]))} { "Older →" }
                }
            }
        }
        h2 #new { "New customer" }
        @if let Some((_, message)) = &error { (layout::form_error(Some(message))) }
        form.stack method="post" action="/dashboard/customers" {
            (layout::change_fields(signed_in))
            label { "Email" input type="email" name="email" required autocomplete="off" value=(typed_value("email")); }
            label { "Name" input type="text" name="name" required value=(typed_value("name")); }
            label { "Phone (optional)" input type="tel" name="phone_number" value=(typed_value("phone_number")); }
            button type="submit" { "Create customer" }
        }
    };
    let markup = layout::page("Customers", signed_in, body);
    match error {
        Some((status, _)) => Ok(page_response(status, markup)),
        None => page(markup),
    }
}

fn new_customer(form: &Fields) -> Result<NewCustomer, shared::ValidationError> {
    Ok(NewCustomer {
        email: fields::email(form.get("email").unwrap_or(""))?,
        name: fields::name(form.get("name").unwrap_or(""))?,
        phone_number: form
            .get("phone_number")
            .map(fields::phone_number)
            .transpose()?,
        metadata: Default::default(),
        preferred_locale: None,
    })
}

pub async fn create<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let tenant = &signed_in.tenant;
    let created = match new_customer(&form) {
        Ok(new) => {
            let work = || async move {
                let customer = cx.app.create_customer(tenant, new).await?;
                Ok(format!(
                    "/dashboard/customers/{}?done=created",
                    customer.customer_id
                ))
            };
            let once = cx
                .app
                .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
            cx.acting(&signed_in, once).await
        }
        Err(invalid) => Err(invalid.into()),
    };
    match created {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => {
            let (status, _, message) = PageError::from(error).explain();
            render_list(
                cx,
                &signed_in,
                &Fields::default(),
                Some((status, message)),
                Some(&form),
            )
            .await
        }
    }
}
