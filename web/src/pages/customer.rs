//! One customer: profile, wallets with a balance chart each, the ledger, pending holds, an
//! adjustment form, invoice payments (look one up, reverse it) and closing a wallet. Every
//! action calls the domain operation the API route calls, with the form's idempotency key.

use futures_util::future::try_join_all;
use lambda_http::http::StatusCode;
use maud::{html, Markup};
use shared::access::sessions::SignedIn;
use shared::holds::model::{HoldQuery, HoldStatus};
use shared::kernel::paging::PageRequest;
use shared::kernel::{Clock, Currency, CustomerId, InvoiceId};
use shared::ledger::model::{CustomerWallets, EventType, LedgerEntry};
use shared::ports::Store;
use shared::ValidationError;

use super::{Cx, Failure};
use crate::forms::query_string;
use crate::layout::{self, money, time};
use crate::respond::{page_response, Answer, PageError};

const LEDGER_PAGE: i64 = 20;
const CHART_ENTRIES: i64 = 100;

pub(super) fn customer_id<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<CustomerId, PageError> {
    CustomerId::parse(cx.param("customer_id")).map_err(|_| PageError::NotFound)
}

pub(super) fn base(customer_id: &CustomerId) -> String {
    format!("/dashboard/customers/{customer_id}")
}

pub async fn show<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    render(cx, &signed_in, &customer_id(cx)?, None).await
}

/// A metadata value as text: a string as itself, anything else as JSON.
fn meta_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn who(entry: &LedgerEntry) -> String {
    match &entry.created_by {
        Some(actor) => match (&actor.key_id, &actor.session_id, &actor.process) {
            (Some(key), Some(session), _) => format!("{key} (dashboard {session})"),
            (Some(key), None, _) => format!("{key} (API)"),
            (None, _, Some(process)) => process.clone(),
            _ => "-".into(),
        },
        None => "-".into(),
    }
}

/// The ledger's first page (newest first, as `list_entries` answers it) taken from the charts'
/// reads, each currency's newest [`CHART_ENTRIES`]: the newest entries of the whole ledger (or of
/// the filter's currency) are among them. Only if they are exactly the newest of `wallets`, the
/// wallet set the page shows, without a gap; else `None` (a write landed between the reads, or
/// a currency has no chart), and the page reads its ledger.
fn first_page_from_charts(
    wallets: &CustomerWallets,
    filter: Option<Currency>,
    charts: &[(Currency, Vec<LedgerEntry>)],
) -> Option<Vec<LedgerEntry>> {
    let (newest, seq): (u64, fn(&LedgerEntry) -> u64) = match filter {
        None => (wallets.entry_count, |e| e.customer_seq),
        Some(currency) => (wallets.wallets.get(&currency)?.entry_count, |e| {
            e.currency_seq
        }),
    };
    let mut entries: Vec<&LedgerEntry> = charts
        .iter()
        .filter(|(currency, _)| filter.is_none_or(|f| f == *currency))
        .flat_map(|(_, recent)| recent)
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(seq(e)));
    entries.truncate(LEDGER_PAGE as usize);
    let expected = newest.min(LEDGER_PAGE as u64);
    let whole = entries.len() as u64 == expected
        && entries.iter().zip(0..).all(|(e, i)| seq(e) == newest - i);
    whole.then(|| entries.into_iter().cloned().collect())
}

pub(super) async fn render<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    id: &CustomerId,
    failure: Option<Failure<'_>>,
) -> Answer {
    let tenant = &signed_in.tenant;
    let query = crate::forms::query(cx.request);
    let filter = match query.get("currency") {
        Some(code) => Some(Currency::parse(code)?),
        None => None,
    };
    let ledger_page: i64 = query
        .get("ledger_page")
        .map(|p| {
            p.parse().map_err(|_| {
                ValidationError::new("invalid_page_number", "ledger_page must be a whole number")
            })
        })
        .transpose()?
        .unwrap_or(0);
    let ledger_request = PageRequest::parse(Some(ledger_page), Some(LEDGER_PAGE))?;
    let chart_request = PageRequest::parse(Some(0), Some(CHART_ENTRIES))?;
    let holds_request = PageRequest::parse(Some(0), Some(50))?;
    // The reads are independent (the charts need the wallets' currencies): at once, so the page
    // costs the longest chain of reads (wallets, then a chart) rather than all of them in turn.
    let wallets_and_charts = async {
        let found = cx.app.list_wallets(tenant, id).await?;
        let charts = try_join_all(found.wallets.wallets.keys().map(|currency| async move {
            let recent = cx
                .app
                .list_entries(tenant, id, Some(*currency), chart_request)
                .await?;
            Ok::<_, PageError>((*currency, recent))
        }))
        .await?;
        Ok::<_, PageError>((found, charts))
    };
    let holds_query = HoldQuery {
        status: Some(HoldStatus::Pending),
        currency: None,
        page: holds_request,
    };
    let read_ledger = || cx.app.list_entries(tenant, id, filter, ledger_request);
    // Boxed: the joined reads are a large future, kept off the stack of every page that renders
    // this one (the actions do, on a failure).
    let (customer, (found, charts), ledger, holds) = Box::pin(async {
        tokio::try_join!(
            async { Ok::<_, PageError>(cx.app.get_customer(tenant, id).await?) },
            wallets_and_charts,
            async {
                // The first page comes from the charts' reads (below), when they hold it.
                Ok::<_, PageError>(match ledger_page {
                    0 => None,
                    _ => Some(read_ledger().await?),
                })
            },
            async { Ok::<_, PageError>(cx.app.list_holds(tenant, id, holds_query).await?) },
        )
    })
    .await?;
    let ledger = match ledger.or_else(|| first_page_from_charts(&found.wallets, filter, &charts)) {
        Some(ledger) => ledger,
        None => read_ledger().await?,
    };
    let here = base(id);
    let currency_code = filter.map(|c| c.code()).unwrap_or("");
    let typed = |name: &str| {
        failure
            .as_ref()
            .and_then(|f| f.typed.get(name))
            .unwrap_or("")
            .to_owned()
    };
    let typed_is =
        |name: &str, value: &str| failure.as_ref().and_then(|f| f.typed.get(name)) == Some(value);
    let body = html! {
        p { a href="/dashboard/customers" { "← Customers" } }
        h1 { (customer.name) }
        (layout::done_notice(query.get("done")))
        @if let Some(failure) = &failure { p.alert role="alert" #failure { (failure.message) } }
        section aria-labelledby="profile" {
            h2 #profile { "Profile" }
            dl.facts {
                dt { "Email" } dd { (customer.email) }
                dt { "Phone" } dd { (customer.phone_number.as_deref().unwrap_or("-")) }
                dt { "Id" } dd { code { (customer.customer_id) } }
                dt { "Created" } dd { (time(customer.created_at)) }
                dt { "Paying in" } dd { a href={(here) "/top-ups"} { "Top-ups and portal" } }
                @for (key, value) in customer.metadata.iter() {
                    dt { "metadata." (key) } dd { (meta_text(value)) }
                }
            }
            details {
                summary { "Edit profile" }
                form.stack method="post" action={(here) "/profile"} {
                    (layout::change_fields(signed_in))
                    label { "Name" input type="text" name="name" required value=(customer.name); }
                    label { "Phone (empty to remove)" input type="tel" name="phone_number" value=(customer.phone_number.as_deref().unwrap_or("")); }
                    label { "Metadata (one key=value per line)"
                        textarea name="metadata" rows="3" {
                            @for (key, value) in customer.metadata.iter() { (key) "=" (meta_text(value)) "\n" }
                        }
                    }
                    button type="submit" { "Save profile" }
                }
            }
        }
        section aria-labelledby="wallets" {
            h2 #wallets { "Wallets" }
            p { "Total in USD: " strong { (money(found.total_balance_usd, Currency::USD)) } }
            div.cards {
                @for (currency, wallet) in &found.wallets.wallets {
                    div.card {
                        h3 { (currency.code()) @if wallet.status.as_str() != "active" { " (" (wallet.status.as_str()) ")" } }
                        div.big { (money(wallet.balance, *currency)) }
                        dl.facts {
                            dt { "Pending" } dd { (money(wallet.pending_charges, *currency)) }
                            dt { "Available" } dd { (money(wallet.balance - wallet.pending_charges, *currency)) }
                        }
                        p {
                            a href={(here) "/settings?currency=" (currency.code())} { "Settings" }
                            " · "
                            a href={(here) "/statement?currency=" (currency.code())} { "Statement" }
                            " · "
                            a href={(here) "/close?currency=" (currency.code())} { "Close" }
                        }
                    }
                }
            }
            @for (currency, recent) in &charts {
                h3 { "Balance over time, " (currency.code()) }
                (crate::chart::balance_chart(*currency, &recent.iter().collect::<Vec<_>>()))
            }
        }
        section aria-labelledby="adjust" {
            h2 #adjust { "Adjust a balance" }
            form.stack method="post" action={(here) "/adjustments"} {
                (layout::change_fields(signed_in))
                fieldset {
                    legend { "Direction" }
                    label { input type="radio" name="entry_type" value="credit" checked[!typed_is("entry_type", "debit")]; "Credit (add money)" }
                    label { input type="radio" name="entry_type" value="debit" checked[typed_is("entry_type", "debit")]; "Debit (take money)" }
                }
                label { "Currency"
                    select name="currency" {
                        @for currency in found.wallets.wallets.keys() {
                            option value=(currency.code()) selected[typed_is("currency", currency.code()) || (typed("currency").is_empty() && *currency == Currency::USD)] { (currency.code()) }
                        }
                    }
                }
                label { "Amount (e.g. 12.40)" input type="text" inputmode="decimal" name="amount" required value=(typed("amount")); }
                label { "Reason" input type="text" name="reason" maxlength="500" value=(typed("reason")); }
                label { "Reference (optional)" input type="text" name="reference_object_id" value=(typed("reference_object_id")); }
                label { "Entry type"
                    select name="event_type" {
                        @for event in EVENT_TYPES {
                            option value=(event.as_str()) selected[typed_is("event_type", event.as_str())] { (event.as_str()) }
                        }
                    }
                }
                button type="submit" { "Apply" }
            }
        }
        section aria-labelledby="ledger" #ledger-section {
            h2 #ledger { "Ledger" }
            form.row method="get" action=(here) hx-get=(here) hx-target="#ledger-section" hx-select="#ledger-section" hx-push-url="true" {
                label { "Currency"
                    select name="currency" {
                        option value="" { "All" }
                        @for currency in found.wallets.wallets.keys() {
                            option value=(currency.code()) selected[filter == Some(*currency)] { (currency.code()) }
                        }
                    }
                }
                button.secondary type="submit" { "Filter" }
            }
            @if ledger.is_empty() { p.muted { "No entries." } } @else {
                div.scroll tabindex="0" role="region" aria-label="Ledger entries" {
                    table {
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Type" } th.num scope="col" { "Amount" }
                            th.num scope="col" { "Balance after" } th scope="col" { "Reason" }
                            th.hide-narrow scope="col" { "Reference" } th.hide-narrow scope="col" { "By" }
                        } }
                        tbody {
                            @for entry in &ledger {
                                tr {
                                    td { (time(entry.created_at)) }
                                    td { (if entry.is_credit { "credit" } else { "debit" }) " · " (entry.event_type.as_str()) }
                                    td.num { @if !entry.is_credit { "−" } (money(entry.amount, entry.currency)) }
                                    td.num { (money(entry.after_balance, entry.currency)) }
                                    td { (entry.reason.as_deref().unwrap_or("")) }
                                    td.hide-narrow { (entry.reference_object_id.as_deref().unwrap_or("")) }
                                    td.hide-narrow { small { (who(entry)) } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Ledger pages" {
                @if ledger_page > 0 {
                    a href={(here) "?" (query_string(&[("currency", currency_code), ("ledger_page", &(ledger_page - 1).to_string())]))} { "← Newer" }
                }
                @if ledger.len() as i64 == LEDGER_PAGE {
                    a href={(here) "?" (query_string(&[("currency", currency_code), ("ledger_page", &(ledger_page + 1).to_string())]))} { "Older →" }
                }
            }
        }
        section aria-labelledby="holds" {
            h2 #holds { "Pending holds" }
            @if holds.is_empty() { p.muted { "None." } } @else {
                div.scroll tabindex="0" role="region" aria-label="Pending holds table" { table {
                    thead { tr { th scope="col" { "Hold" } th.num scope="col" { "Amount" } th scope="col" { "Reason" } th scope="col" { "Expires" } th scope="col" { "Actions" } } }
                    tbody { @for hold in &holds { tr {
                        td { code { (hold.id) } }
                        td.num { (money(hold.amount, hold.currency)) }
                        td { (hold.reason.as_deref().unwrap_or("")) }
                        td { (time(hold.expires_at)) }
                        td {
                            form.inline method="post" action={(here) "/holds/" (hold.id) "/capture"} {
                                (layout::change_fields(signed_in))
                                label { "Amount (empty: all)" input type="text" inputmode="decimal" name="amount" size="8"; }
                                button type="submit" { "Capture" }
                            }
                            " "
                            form.inline method="post" action={(here) "/holds/" (hold.id) "/release"} {
                                (layout::change_fields(signed_in))
                                button.secondary type="submit" { "Release" }
                            }
                        }
                    } } }
                } }
            }
        }
        section aria-labelledby="invoices" {
            h2 #invoices { "Invoice payments" }
            form.row method="get" action={(here) "/invoice-payments"} {
                label { "Invoice id" input type="text" name="invoice_id" required; }
                button.secondary type="submit" { "Look up" }
            }
        }
    };
    let markup = layout::page(&customer.name, signed_in, body);
    Ok(page_response(
        failure.map_or(StatusCode::OK, |f| f.status),
        markup,
    ))
}

pub(super) const EVENT_TYPES: [EventType; 7] = [
    EventType::MerchantAdjustment,
    EventType::Payment,
    EventType::PaymentReversal,
    EventType::Refund,
    EventType::RefundReversal,
    EventType::Dispute,
    EventType::DisputeReversal,
];

fn invoice_view(
    signed_in: &SignedIn,
    here: &str,
    payment: &shared::invoices::model::PaymentAndWallet,
) -> Markup {
    let p = &payment.payment;
    let charged = p.charged();
    let reversible = (p.applied - p.reversed) + (charged - p.card_reversed);
    html! {
        h1 { "Invoice " (p.invoice_id) }
        dl.facts {
            dt { "Status" } dd { (p.status.map_or("paid from the wallet", |s| s.as_str())) }
            dt { "Due" } dd { (money(p.amount_due, p.currency)) }
            dt { "Paid from the wallet" } dd { (money(p.applied, p.currency)) }
            dt { "Charged to cards" } dd { (money(charged, p.currency)) }
            dt { "Left to pay" } dd { (money(p.remaining, p.currency)) }
            dt { "Reversed to the wallet" } dd { (money(p.reversed, p.currency)) }
            dt { "Refunded to cards" } dd { (money(p.card_reversed, p.currency)) }
            dt { "Paid" } dd { (time(p.created_at)) }
        }
        @if !p.charges.is_empty() {
            h2 { "Card charges" }
            div.scroll role="region" aria-label="Card charges" tabindex="0" { table {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Card" } th.num scope="col" { "Amount" }
                    th scope="col" { "Result" } th scope="col" { "PaymentIntent" }
                } }
                tbody { @for charge in &p.charges { tr {
                    td { (time(charge.at)) }
                    td { code { (charge.payment_method_id) } }
                    td.num { (money(charge.amount, p.currency)) }
                    td {
                        @match charge.status {
                            shared::invoices::model::ChargeStatus::Succeeded => "succeeded",
                            shared::invoices::model::ChargeStatus::Declined => "declined",
                        }
                        @if let Some(message) = &charge.message { ": " (message) }
                    }
                    td { code { (charge.payment_intent_id.as_deref().unwrap_or("-")) } }
                } } }
            } }
        }
        @if !p.refunds.is_empty() {
            h2 { "Card refunds" }
            ul { @for refund in &p.refunds {
                li { (money(refund.amount, p.currency)) " of " code { (refund.payment_intent_id) } ", " (time(refund.at)) }
            } }
        }
        @if reversible > 0 {
            h2 { "Reverse" }
            form.stack method="post" action={(here) "/invoice-payments/" (p.invoice_id) "/reversals"} {
                (layout::change_fields(signed_in))
                label { "Amount to give back (at most " (money(reversible, p.currency)) ")"
                    input type="text" inputmode="decimal" name="amount" required; }
                fieldset {
                    legend { "Where it goes" }
                    label { input type="radio" name="destination" value="original_method" checked; "Back where it came from (the wallet part to the wallet, the card part to the card)" }
                    label { input type="radio" name="destination" value="wallet"; "All to the wallet" }
                }
                label { "Reason" input type="text" name="reason"; }
                button type="submit" { "Reverse" }
            }
        }
    }
}

pub async fn invoice_payment<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    let id = customer_id(cx)?;
    let query = crate::forms::query(cx.request);
    let invoice = InvoiceId::parse(query.get("invoice_id").unwrap_or(""))?;
    let payment = cx
        .app
        .get_invoice_payment(&signed_in.tenant, &id, &invoice)
        .await?;
    let here = base(&id);
    let body = html! {
        p { a href=(here) { "← Back to the customer" } }
        (invoice_view(&signed_in, &here, &payment))
    };
    crate::respond::page(layout::page("Invoice payment", &signed_in, body))
}

pub async fn close_form<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    let id = customer_id(cx)?;
    let query = crate::forms::query(cx.request);
    let currency = Currency::parse(query.get("currency").unwrap_or(""))?;
    let found = cx.app.list_wallets(&signed_in.tenant, &id).await?;
    let wallet = found
        .wallets
        .wallets
        .get(&currency)
        .ok_or(PageError::NotFound)?;
    let here = base(&id);
    let body = html! {
        p { a href=(here) { "← Back to the customer" } }
        h1 { "Close the " (currency.code()) " wallet" }
        p { "Closing pays out the balance and stops every further change to this wallet." }
        dl.facts {
            dt { "Balance (paid out)" } dd { strong #payout { (money(wallet.balance, currency)) } }
            dt { "Pending holds" } dd { (money(wallet.pending_charges, currency)) }
        }
        @if wallet.pending_charges > 0 {
            p.alert role="alert" { "Capture or release the pending holds first." }
        }
        form.stack method="post" action={(here) "/close"} {
            (layout::change_fields(&signed_in))
            input type="hidden" name="currency" value=(currency.code());
            label { "Reason" input type="text" name="reason" required; }
            button.danger type="submit" { "Close and pay out " (money(wallet.balance, currency)) }
        }
    };
    crate::respond::page(layout::page("Close a wallet", &signed_in, body))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::app;
    use super::*;
    use shared::access::model::Tenant;
    use shared::customers::model::NewCustomer;
    use shared::kernel::Amount;
    use shared::ledger::model::{EntryCommand, EntryType};

    #[tokio::test]
    async fn the_first_ledger_page_comes_from_the_charts_only_when_they_hold_the_newest_entries() {
        let app = app();
        let eur = Currency::parse("EUR").unwrap();
        let (business_id, _) = app.create_business("Shop").await.unwrap();
        let tenant = Tenant { business_id };
        let new = NewCustomer {
            email: "a@example.com".into(),
            name: "Ada".into(),
            phone_number: None,
            metadata: Default::default(),
            preferred_locale: None,
        };
        let id = app.create_customer(&tenant, new).await.unwrap().customer_id;
        for i in 0..30 {
            let command = EntryCommand {
                currency: if i % 3 == 0 { eur } else { Currency::USD },
                amount: Amount::new(100 + i).unwrap(),
                entry_type: EntryType::Credit,
                event_type: EventType::MerchantAdjustment,
                reason: None,
                reference_object_id: None,
                idempotency_key: None,
            };
            app.create_entry(&tenant, &id, command).await.unwrap();
        }
        let found = app.list_wallets(&tenant, &id).await.unwrap().wallets;
        let mut charts = Vec::new();
        for currency in found.wallets.keys() {
            let page = PageRequest::parse(Some(0), Some(CHART_ENTRIES)).unwrap();
            let recent = app.list_entries(&tenant, &id, Some(*currency), page);
            charts.push((*currency, recent.await.unwrap()));
        }
        let first = PageRequest::parse(Some(0), Some(LEDGER_PAGE)).unwrap();
        for filter in [None, Some(Currency::USD), Some(eur)] {
            let read = app.list_entries(&tenant, &id, filter, first).await.unwrap();
            assert_eq!(read.len(), if filter == Some(eur) { 10 } else { 20 });
            let taken = first_page_from_charts(&found, filter, &charts);
            assert_eq!(taken, Some(read), "{filter:?}");
        }
        // A wallet set newer than the charts (an entry landed between the reads): a gap.
        let mut newer = found.clone();
        newer.entry_count += 1;
        newer.wallets.get_mut(&Currency::USD).unwrap().entry_count += 1;
        assert_eq!(first_page_from_charts(&newer, None, &charts), None);
        assert_eq!(
            first_page_from_charts(&newer, Some(Currency::USD), &charts),
            None
        );
        assert!(first_page_from_charts(&newer, Some(eur), &charts).is_some());
        // A chart without the newest entry of its currency, or no chart for the filter's currency.
        let mut older = charts.clone();
        older[1].1.remove(0);
        assert_eq!(older[1].0, Currency::USD);
        assert_eq!(first_page_from_charts(&found, None, &older), None);
        assert_eq!(
            first_page_from_charts(&found, Some(eur), &charts[1..]),
            None
        );
    }
}
