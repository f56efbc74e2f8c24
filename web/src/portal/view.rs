//! The portal's page shell and the card form shared by the portal's add-funds page and a link's
//! page: Stripe.js and the portal's script (`assets/portal.js`, no inline script) mount the card
//! element, confirm the SetupIntent in the browser and send the form with its id; the card
//! number never reaches this server.

use maud::{html, Markup, DOCTYPE};

use super::backend::CardSetup;
use super::stripe::StripeJs;
use crate::assets;
use crate::session::CSRF_FIELD;

/// A portal page: `back` is the business's return URL (shown only if it is http(s)), `scripts`
/// the page's own scripts after the shared one.
pub fn page(title: &str, back: Option<&str>, body: Markup, scripts: &[String]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Your wallet" }
                link rel="stylesheet" href=(assets::CSS.path());
                script src=(assets::JS.path()) defer {}
                @for script in scripts { script src=(script) defer {} }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/portal" { "Your wallet" }
                    @if let Some(back) = back.and_then(safe_url) {
                        nav aria-label="Back" { a href=(back) { "← Back to the business" } }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A URL a link may point to: http or https only (never `javascript:`).
pub fn safe_url(raw: &str) -> Option<String> {
    url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .map(|u| u.to_string())
}

/// Scripts of a card page: Stripe.js, then the portal's.
pub fn card_scripts(stripe: &StripeJs) -> Vec<String> {
    vec![stripe.url.clone(), assets::PORTAL_JS.path()]
}

/// What a card form asks besides the card.
pub struct CardForm<'a> {
    pub action: &'a str,
    pub csrf: &'a str,
    pub top_up_id: &'a str,
    pub setup: &'a CardSetup,
    pub stripe: &'a StripeJs,
    /// The amount field, or a fixed amount in hidden text.
    pub amount: Markup,
    /// Whether to offer saving the card for automatic top-ups.
    pub offer_save: bool,
    pub button: &'a str,
}

/// The card form. The script fills `setup_intent_id` once Stripe.js confirmed the card.
pub fn card_form(form: CardForm<'_>) -> Markup {
    html! {
        form.stack #card-form method="post" action=(form.action)
            data-stripe-key=(form.stripe.publishable_key)
            data-client-secret=(form.setup.client_secret) {
            input type="hidden" name=(CSRF_FIELD) value=(form.csrf);
            input type="hidden" name="top_up_id" value=(form.top_up_id);
            input type="hidden" name="setup_intent_id" value="";
            (form.amount)
            fieldset {
                legend { "Card" }
                div #card-element {}
                noscript { p.alert { "Paying by card needs JavaScript (the card goes straight to Stripe, never to us)." } }
            }
            p #card-errors role="alert" {}
            @if form.offer_save {
                label { input type="checkbox" name="save_card" value="on"; " Save this card for automatic top-ups" }
            }
            button type="submit" { (form.button) }
        }
    }
}
