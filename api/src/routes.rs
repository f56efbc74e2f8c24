//! The route table: one entry per Lambda function. `template.yaml` and the cargo-lambda router in
//! `Cargo.toml` must list exactly these (a test checks it).

/// One API operation, served by its own function binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    CreateCustomer,
    GetCustomer,
    UpdateCustomer,
    ListCustomers,
    ListWallets,
    CreateLedgerEntry,
    ListLedgerEntries,
    CreateHold,
    ListHolds,
    GetHold,
    CaptureHold,
    ReleaseHold,
    PayInvoice,
    GetInvoicePayment,
    ReverseInvoicePayment,
    CloseWallet,
}

/// A route's HTTP method, path template and function (binary) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub route: Route,
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        route: Route::CreateCustomer,
        method: "POST",
        path: "/customers",
        function: "create-customer",
    },
    RouteSpec {
        route: Route::ListCustomers,
        method: "GET",
        path: "/customers",
        function: "list-customers",
    },
    RouteSpec {
        route: Route::GetCustomer,
        method: "GET",
        path: "/customers/{customer_id}",
        function: "get-customer",
    },
    RouteSpec {
        route: Route::UpdateCustomer,
        method: "PATCH",
        path: "/customers/{customer_id}",
        function: "update-customer",
    },
    RouteSpec {
        route: Route::ListWallets,
        method: "GET",
        path: "/customers/{customer_id}/wallets",
        function: "list-wallets",
    },
    RouteSpec {
        route: Route::CreateLedgerEntry,
        method: "POST",
        path: "/customers/{customer_id}/wallets/ledger-entries",
        function: "create-ledger-entry",
    },
    RouteSpec {
        route: Route::ListLedgerEntries,
        method: "GET",
        path: "/customers/{customer_id}/wallets/ledger-entries",
        function: "list-ledger-entries",
    },
    RouteSpec {
        route: Route::CreateHold,
        method: "POST",
        path: "/customers/{customer_id}/wallets/holds",
        function: "create-hold",
    },
    RouteSpec {
        route: Route::ListHolds,
        method: "GET",
        path: "/customers/{customer_id}/wallets/holds",
        function: "list-holds",
    },
    RouteSpec {
        route: Route::GetHold,
        method: "GET",
        path: "/customers/{customer_id}/wallets/holds/{hold_id}",
        function: "get-hold",
    },
    RouteSpec {
        route: Route::CaptureHold,
        method: "POST",
        path: "/customers/{customer_id}/wallets/holds/{hold_id}/capture",
        function: "capture-hold",
    },
    RouteSpec {
        route: Route::ReleaseHold,
        method: "POST",
        path: "/customers/{customer_id}/wallets/holds/{hold_id}/release",
        function: "release-hold",
    },
    RouteSpec {
        route: Route::PayInvoice,
        method: "POST",
        path: "/customers/{customer_id}/wallets/invoice-payments",
        function: "pay-invoice",
    },
    RouteSpec {
        route: Route::GetInvoicePayment,
        method: "GET",
        path: "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}",
        function: "get-invoice-payment",
    },
    RouteSpec {
        route: Route::ReverseInvoicePayment,
        method: "POST",
        path: "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}/reversals",
        function: "reverse-invoice-payment",
    },
    RouteSpec {
        route: Route::CloseWallet,
        method: "POST",
        path: "/customers/{customer_id}/wallets/close",
        function: "close-wallet",
    },
];

impl Route {
    pub fn spec(self) -> &'static RouteSpec {
        ROUTES
            .iter()
            .find(|s| s.route == self)
            .expect("every route is in ROUTES")
    }
}
