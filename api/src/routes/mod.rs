//! The route table: one line per route, one Lambda function each. From it come the `Route` enum,
//! [`ROUTES`] (which `template.yaml` and the cargo-lambda router in `Cargo.toml` must match; a
//! test checks it) and the dispatch to the route family's handler.

pub mod closing;
pub mod customers;
pub mod holds;
pub mod invoices;
pub mod keys;
pub mod ledger;
pub mod settings;
pub mod webhooks;

use shared::access::model::Tenant;
use shared::kernel::Clock;
use shared::ports::Store;
use shared::Service;

use crate::http::{Answer, Call, Request};

/// A route's HTTP method, path template and function (binary) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub route: Route,
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
}

macro_rules! routes {
    ($($route:ident: $method:literal $path:literal => $function:literal, $handler:path;)*) => {
        /// One API operation, served by its own function binary.
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

        /// Runs the route's handler for an authenticated caller.
        pub(crate) async fn dispatch<S: Store, C: Clock>(
            app: &Service<S, C>,
            route: Route,
            tenant: &Tenant,
            request: &Request,
        ) -> Answer {
            match route {
                $(Route::$route => $handler(Call { app, tenant, request }).await,)*
            }
        }
    };
}

routes! {
    CreateCustomer: "POST" "/customers" => "create-customer", customers::create;
    ListCustomers: "GET" "/customers" => "list-customers", customers::list;
    GetCustomer: "GET" "/customers/{customer_id}" => "get-customer", customers::get;
    UpdateCustomer: "PATCH" "/customers/{customer_id}" => "update-customer", customers::update;
    ListWallets: "GET" "/customers/{customer_id}/wallets" => "list-wallets", ledger::list_wallets;
    CreateLedgerEntry: "POST" "/customers/{customer_id}/wallets/ledger-entries" => "create-ledger-entry", ledger::create_entry;
    ListLedgerEntries: "GET" "/customers/{customer_id}/wallets/ledger-entries" => "list-ledger-entries", ledger::list_entries;
    CreateHold: "POST" "/customers/{customer_id}/wallets/holds" => "create-hold", holds::create;
    ListHolds: "GET" "/customers/{customer_id}/wallets/holds" => "list-holds", holds::list;
    GetHold: "GET" "/customers/{customer_id}/wallets/holds/{hold_id}" => "get-hold", holds::get;
    CaptureHold: "POST" "/customers/{customer_id}/wallets/holds/{hold_id}/capture" => "capture-hold", holds::capture;
    ReleaseHold: "POST" "/customers/{customer_id}/wallets/holds/{hold_id}/release" => "release-hold", holds::release;
    PayInvoice: "POST" "/customers/{customer_id}/wallets/invoice-payments" => "pay-invoice", invoices::pay;
    GetInvoicePayment: "GET" "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}" => "get-invoice-payment", invoices::get;
    ReverseInvoicePayment: "POST" "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}/reversals" => "reverse-invoice-payment", invoices::reverse;
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
}

impl Route {
    pub fn spec(self) -> &'static RouteSpec {
        ROUTES
            .iter()
            .find(|s| s.route == self)
            .expect("every route is in ROUTES")
    }
}
