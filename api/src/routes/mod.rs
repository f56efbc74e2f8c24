//! The route table: one line per route, one Lambda function and binary each
//! (`functions/<function>/`). From it come the `Route` enum, [`ROUTES`] (which `template.yaml`,
//! the cargo-lambda router in `Cargo.toml` and `functions/` must match; a test checks it),
//! [`Route::of`], one [`Endpoint`] type per route for its binary, and [`dispatch`] for callers
//! that pick the route at run time.

pub mod closing;
pub mod customers;
pub mod exports;
pub mod holds;
pub mod invoices;
pub mod keys;
pub mod ledger;
pub mod payins;
pub mod portal;
pub mod reports;
pub mod settings;
pub mod statements;
pub mod top_up_links;
pub mod webhooks;

use shared::kernel::Clock;
use shared::ports::Store;
use shared::Service;

use crate::http::{Answer, Call, Request};

/// A route's HTTP method, path template and name (its Lambda function is `<Name>Function` in
/// `template.yaml`; metrics and logs label the route with it). The method also says whether the
/// route changes anything ([`RouteSpec::changes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub route: Route,
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
}

macro_rules! routes {
    ($($route:ident: $method:literal $path:literal => $function:literal, $family:ident::$handler:ident;)*) => {
        /// One API operation, served by its own Lambda function.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Route {
            $($route,)*
        }

        pub const ROUTES: &[RouteSpec] = &[
            $(RouteSpec {
                route: Route::$route,
                method: $method,
                path: $path,
                function: $function,
            },)*
        ];

        /// One type per route, for the binary that serves only that route
        /// (`functions/<function>/src/main.rs`: `api::serve::<api::endpoints::GetCustomer>()`).
        /// A binary names one of them, so it links that route's handler and no other.
        pub mod endpoints {
            $(
                #[doc = concat!("`", $method, " ", $path, "` (function `", $function, "`).")]
                #[derive(Debug, Clone, Copy)]
                pub struct $route;

                impl super::Endpoint for $route {
                    const ROUTE: super::Route = super::Route::$route;

                    fn answer<'a, S: super::Store, C: super::Clock>(
                        call: super::Call<'a, S, C>,
                    ) -> impl std::future::Future<Output = super::Answer> + Send + 'a {
                        super::$family::$handler(call)
                    }

                    fn respond(
                        app: &crate::App,
                        request: super::Request,
                    ) -> super::Responding<'_> {
                        Box::pin(crate::respond::<Self, _, _>(app, request))
                    }
                }
            )*
        }

        /// Answers a request for a route known only at run time (tests, tools): the same answer
        /// as the route's own binary gives.
        pub(crate) async fn dispatch<S: Store, C: Clock>(
            app: &Service<S, C>,
            route: Route,
            request: Request,
        ) -> lambda_http::Response<lambda_http::Body> {
            match route {
                $(Route::$route => crate::respond::<endpoints::$route, S, C>(app, request).await,)*
            }
        }
    };
}

/// A route's handler, named by a type (see [`endpoints`]).
pub trait Endpoint {
    const ROUTE: Route;

    /// Runs the route's handler for an authenticated caller.
    fn answer<'a, S: Store, C: Clock>(
        call: Call<'a, S, C>,
    ) -> impl std::future::Future<Output = Answer> + Send + 'a;

    /// [`crate::respond`] for this route on the deployed service. Not generic, so it is compiled
    /// once, in this crate: a route's binary compiles only its `main` and links the rest (with
    /// the linker dropping every other route's code), which keeps building all the binaries
    /// about as cheap as building one.
    fn respond(app: &crate::App, request: Request) -> Responding<'_>;
}

/// The answer to come of [`Endpoint::respond`].
pub type Responding<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'a>,
>;

routes! {
    CreateCustomer: "POST" "/customers" => "create-customer", customers::create;
    ListCustomers: "GET" "/customers" => "list-customers", customers::list;
    GetCustomer: "GET" "/customers/{customer_id}" => "get-customer", customers::get;
    UpdateCustomer: "PATCH" "/customers/{customer_id}" => "update-customer", customers::update;
    ListWallets: "GET" "/customers/{customer_id}/wallets" => "list-wallets", ledger::list_wallets;
    CreateLedgerEntry: "POST" "/customers/{customer_id}/wallets/ledger-entries" => "create-ledger-entry", ledger::create_entry;
    ListLedgerEntries: "GET" "/customers/{customer_id}/wallets/ledger-entries" => "list-ledger-entries", ledger::list_entries;
    GetWalletStatement: "GET" "/customers/{customer_id}/wallets/statements" => "get-wallet-statement", statements::get;
    GetLiabilityReport: "GET" "/reports/liability" => "get-liability-report", reports::liability;
    GetLedgerEntriesReport: "GET" "/reports/ledger-entries" => "get-ledger-entries-report", exports::ledger_entries;
    CreateLedgerEntriesBatch: "POST" "/wallets/ledger-entries/batch" => "create-ledger-entries-batch", ledger::create_entries;
    CreateHold: "POST" "/customers/{customer_id}/wallets/holds" => "create-hold", holds::create;
    ListHolds: "GET" "/customers/{customer_id}/wallets/holds" => "list-holds", holds::list;
    GetHold: "GET" "/customers/{customer_id}/wallets/holds/{hold_id}" => "get-hold", holds::get;
    CaptureHold: "POST" "/customers/{customer_id}/wallets/holds/{hold_id}/capture" => "capture-hold", holds::capture;
    ReleaseHold: "POST" "/customers/{customer_id}/wallets/holds/{hold_id}/release" => "release-hold", holds::release;
    PayInvoice: "POST" "/customers/{customer_id}/wallets/invoice-payments" => "pay-invoice", invoices::pay;
    GetInvoicePayment: "GET" "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}" => "get-invoice-payment", invoices::get;
    ReverseInvoicePayment: "POST" "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}/reversals" => "reverse-invoice-payment", invoices::reverse;
    CreateTopUpLink: "POST" "/customers/{customer_id}/wallets/top-up-links" => "create-top-up-link", top_up_links::create;
    ListTopUpLinks: "GET" "/customers/{customer_id}/wallets/top-up-links" => "list-top-up-links", top_up_links::list;
    GetTopUpLink: "GET" "/customers/{customer_id}/wallets/top-up-links/{link_id}" => "get-top-up-link", top_up_links::get;
    CancelTopUpLink: "POST" "/customers/{customer_id}/wallets/top-up-links/{link_id}/cancel" => "cancel-top-up-link", top_up_links::cancel;
    CloseWallet: "POST" "/customers/{customer_id}/wallets/close" => "close-wallet", closing::close;
    GetWalletSettings: "GET" "/customers/{customer_id}/wallets/settings" => "get-wallet-settings", settings::get;
    UpdateWalletSettings: "PATCH" "/customers/{customer_id}/wallets/settings" => "update-wallet-settings", settings::update;
    CreateApiKey: "POST" "/api-keys" => "create-api-key", keys::create;
    ListApiKeys: "GET" "/api-keys" => "list-api-keys", keys::list;
    RevokeApiKey: "DELETE" "/api-keys/{key_id}" => "revoke-api-key", keys::revoke;
    RotateApiKey: "POST" "/api-keys/{key_id}/rotate" => "rotate-api-key", keys::rotate;
    CreateWebhook: "POST" "/webhooks" => "create-webhook", webhooks::create;
    ListWebhooks: "GET" "/webhooks" => "list-webhooks", webhooks::list;
    GetWebhook: "GET" "/webhooks/{webhook_id}" => "get-webhook", webhooks::get;
    UpdateWebhook: "PATCH" "/webhooks/{webhook_id}" => "update-webhook", webhooks::update;
    DeleteWebhook: "DELETE" "/webhooks/{webhook_id}" => "delete-webhook", webhooks::delete;
    GetWebhookSecret: "GET" "/webhooks/{webhook_id}/secret" => "get-webhook-secret", webhooks::secret;
    GetWebhookHeaders: "GET" "/webhooks/{webhook_id}/headers" => "get-webhook-headers", webhooks::get_headers;
    UpdateWebhookHeaders: "PATCH" "/webhooks/{webhook_id}/headers" => "update-webhook-headers", webhooks::update_headers;
    ListWebhookDeliveries: "GET" "/webhooks/{webhook_id}/deliveries" => "list-webhook-deliveries", webhooks::list_deliveries;
    GetWebhookDelivery: "GET" "/webhooks/{webhook_id}/deliveries/{delivery_id}" => "get-webhook-delivery", webhooks::get_delivery;
    ResendWebhookDelivery: "POST" "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend" => "resend-webhook-delivery", webhooks::resend;
    StripeWebhook: "POST" "/stripe/webhooks" => "stripe-webhook", payins::signed_not_keyed;
    CreateCustomerPortalSession: "POST" "/customers/{customer_id}/customer-portal/session" => "create-customer-portal-session", portal::create_session;
    RevokeCustomerPortalSessions: "POST" "/customers/{customer_id}/customer-portal/revoke" => "revoke-customer-portal-sessions", portal::revoke;
    GetCustomerPortalSettings: "GET" "/customer-portal/settings" => "get-customer-portal-settings", portal::get_settings;
    UpdateCustomerPortalSettings: "PATCH" "/customer-portal/settings" => "update-customer-portal-settings", portal::update_settings;
}

impl RouteSpec {
    /// Whether the route authenticates its caller by an API key: every route but Stripe's
    /// webhook, which its `Stripe-Signature` authenticates (`payins.rs`).
    pub fn takes_key(&self) -> bool {
        self.route != Route::StripeWebhook
    }

    /// Whether the route changes something: every route but a GET (each POST, PATCH and DELETE of
    /// the table creates, moves, changes or deletes; no POST is a read). A read-only key is
    /// refused these routes before their handler runs (`crate::respond`).
    pub fn changes(&self) -> bool {
        self.method != "GET"
    }
}

impl Route {
    /// The route a request is for. API Gateway names it in the request's route key
    /// (`POST /customers/{customer_id}`): that decides when present. Without one (cargo lambda
    /// watch), the method and the path, matched against the path templates.
    pub fn of(method: &str, route_key: Option<&str>, path: &str) -> Option<Route> {
        if let Some((key_method, key_path)) = route_key.and_then(|key| key.split_once(' ')) {
            if let Some(spec) = ROUTES
                .iter()
                .find(|s| s.method == key_method && s.path == key_path)
            {
                return Some(spec.route);
            }
        }
        ROUTES
            .iter()
            .find(|s| s.method.eq_ignore_ascii_case(method) && path_matches(s.path, path))
            .map(|s| s.route)
    }

    pub fn spec(self) -> &'static RouteSpec {
        ROUTES
            .iter()
            .find(|s| s.route == self)
            .expect("every route is in ROUTES")
    }
}

/// Whether `path` fits `template`: the same segments, a `{name}` segment standing for any
/// non-empty one.
fn path_matches(template: &str, path: &str) -> bool {
    let (Some(template), Some(path)) = (template.strip_prefix('/'), path.strip_prefix('/')) else {
        return false;
    };
    let (mut template, mut path) = (template.split('/'), path.split('/'));
    loop {
        match (template.next(), path.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if t.starts_with('{') && t.ends_with('}') && !p.is_empty() => {}
            (Some(t), Some(p)) if t == p => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_key_decides() {
        assert_eq!(
            Route::of(
                "GET",
                Some("GET /customers/{customer_id}"),
                "/prod/customers/cus_1"
            ),
            Some(Route::GetCustomer)
        );
        // A route key the table does not know falls back to the path.
        assert_eq!(
            Route::of("GET", Some("$default"), "/customers/cus_1"),
            Some(Route::GetCustomer)
        );
    }

    #[test]
    fn paths_match_their_templates_only() {
        let cases = [
            ("POST", "/customers", Some(Route::CreateCustomer)),
            ("GET", "/customers", Some(Route::ListCustomers)),
            ("PATCH", "/customers/cus_1", Some(Route::UpdateCustomer)),
            ("GET", "/customers/cus_1/wallets", Some(Route::ListWallets)),
            (
                "GET",
                "/customers/cus_1/wallets/settings",
                Some(Route::GetWalletSettings),
            ),
            (
                "POST",
                "/customers/c/wallets/holds/h/capture",
                Some(Route::CaptureHold),
            ),
            (
                "POST",
                "/webhooks/w/deliveries/d/resend",
                Some(Route::ResendWebhookDelivery),
            ),
            ("DELETE", "/api-keys/key_1", Some(Route::RevokeApiKey)),
            ("get", "/webhooks", Some(Route::ListWebhooks)),
            ("DELETE", "/customers/cus_1", None),
            ("GET", "/customers/", None),
            ("GET", "/customers//wallets", None),
            ("GET", "/customers/cus_1/wallets/extra", None),
            ("GET", "customers", None),
            ("GET", "/", None),
            ("GET", "", None),
        ];
        for (method, path, route) in cases {
            assert_eq!(Route::of(method, None, path), route, "{method} {path}");
        }
    }

    #[test]
    fn a_post_patch_or_delete_changes_and_a_get_does_not() {
        let changes = |route: Route| route.spec().changes();
        assert!(changes(Route::CreateLedgerEntry) && changes(Route::CaptureHold));
        assert!(changes(Route::UpdateWalletSettings) && changes(Route::RevokeApiKey));
        assert!(!changes(Route::ListLedgerEntries) && !changes(Route::GetWebhookSecret));
        for spec in ROUTES {
            assert!(
                ["GET", "POST", "PATCH", "DELETE"].contains(&spec.method),
                "{}: a method whose meaning for scopes is known",
                spec.function
            );
        }
    }

    #[test]
    fn every_route_is_found_from_its_own_template() {
        for spec in ROUTES {
            assert_eq!(Route::of(spec.method, None, spec.path), Some(spec.route));
            let key = format!("{} {}", spec.method, spec.path);
            assert_eq!(Route::of("GET", Some(&key), "/elsewhere"), Some(spec.route));
        }
    }
}
