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
];

impl Route {
    pub fn spec(self) -> &'static RouteSpec {
        ROUTES
            .iter()
            .find(|s| s.route == self)
            .expect("every route is in ROUTES")
    }
}
