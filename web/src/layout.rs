//! The page shell: head (the one stylesheet, the scripts, htmx's settings), the navigation of a
//! signed-in business, and small pieces every page uses (times, money, hidden form fields).

use maud::{html, Markup, DOCTYPE};
use shared::access::sessions::SignedIn;
use shared::kernel::{Currency, Timestamp};

use crate::assets;
use crate::session::CSRF_FIELD;

/// htmx's settings: no inline indicator styles (the CSP forbids them), and error answers (4xx
/// with a message) are swapped in like any page, so the field's message shows.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":[{"code":"204","swap":false},{"code":"[2345]..","swap":true}]}"#;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=(HTMX_CONFIG);
            title { (title) " · Customer Wallets" }
            link rel="stylesheet" href=(assets::CSS.path());
            script src=(assets::HTMX.path()) defer {}
            script src=(assets::JS.path()) defer {}
        }
    }
}

/// A page of a signed-in business.
pub fn page(title: &str, signed_in: &SignedIn, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-boost="true" {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard/customers" { "Customer Wallets" }
                    nav aria-label="Main" {
                        ul {
                            li { a href="/dashboard/customers" { "Customers" } }
                            li { a href="/dashboard/reports/liability" { "Reports" } }
                            li { a href="/dashboard/webhooks" { "Webhooks" } }
                            li { a href="/dashboard/api-keys" { "API keys" } }
                        }
                    }
                    form.inline.no-print method="post" action="/dashboard/sign-out" hx-boost="false" {
                        (csrf(signed_in))
                        button.secondary type="submit" { "Sign out" }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main #main { (body) }
            }
        }
    }
}

/// The hidden CSRF field of a state-changing form.
pub fn csrf(signed_in: &SignedIn) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(signed_in.session.csrf_token); }
}

/// The hidden fields of a form that changes something: the CSRF token and a fresh idempotency
/// key, so a double click or a resubmission applies once.
pub fn change_fields(signed_in: &SignedIn) -> Markup {
    html! {
        (csrf(signed_in))
        input type="hidden" name="idempotency_key" value=(new_form_key());
    }
}

/// A new idempotency key for a form: `form_` and 32 random hex digits.
pub fn new_form_key() -> String {
    format!("form_{}", shared::access::rules::random_hex(16))
}

/// An instant: UTC in the page, the browser's zone once the script runs.
pub fn time(at: Timestamp) -> Markup {
    let text = at.rfc3339();
    html! { time datetime=(text) { (text.replace('T', " ").trim_end_matches('Z')) " UTC" } }
}

/// An amount in major units with its symbol.
pub fn money(minor: i64, currency: Currency) -> Markup {
    html! { (crate::money::show(minor, currency)) }
}

/// A notice after a change (`?done=` of the redirect), from a fixed list: never echoes input.
pub fn done_notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("created") => "Created.",
        Some("saved") => "Saved.",
        Some("credited") => "Credit applied.",
        Some("debited") => "Debit applied.",
        Some("captured") => "Hold captured.",
        Some("released") => "Hold released.",
        Some("reversed") => "Reversal applied.",
        Some("closed") => "Wallet closed.",
        Some("deleted") => "Deleted.",
        Some("resent") => "Delivery resent.",
        Some("revoked") => "Key revoked.",
        Some("rotated") => "Key rotated.",
        Some("disabled") => "Endpoint disabled.",
        Some("enabled") => "Endpoint enabled.",
        Some("cancelled") => "Link cancelled.",
        Some("ended") => "Every portal link of this customer is ended.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// An error shown above a form.
pub fn form_error(message: Option<&str>) -> Markup {
    match message {
        Some(message) => html! { p.alert role="alert" { (message) } },
        None => html! {},
    }
}
