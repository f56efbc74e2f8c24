//! Every dashboard page: its method, path and family, once. From it come [`Page`], [`PAGES`]
//! (which `template.yaml` and the cargo-lambda router in `Cargo.toml` must match; the routes test
//! checks it) and [`Page::of`]. A family is one Lambda function, `dashboard-<family>`, with the
//! table access its pages need and no more.

/// A family of pages: one function each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Session,
    Assets,
    Customers,
    Settings,
    Webhooks,
    Keys,
    Reports,
    /// The customer portal and top-up links (issue 21): a customer's pages, not the business's.
    Portal,
}

impl Family {
    pub const ALL: [Family; 8] = [
        Family::Session,
        Family::Assets,
        Family::Customers,
        Family::Settings,
        Family::Webhooks,
        Family::Keys,
        Family::Reports,
        Family::Portal,
    ];

    /// The function (and binary) of the family.
    pub fn function(self) -> &'static str {
        match self {
            Family::Session => "dashboard-session",
            Family::Assets => "dashboard-assets",
            Family::Customers => "dashboard-customers",
            Family::Settings => "dashboard-settings",
            Family::Webhooks => "dashboard-webhooks",
            Family::Keys => "dashboard-keys",
            Family::Reports => "dashboard-reports",
            Family::Portal => "customer-portal",
        }
    }
}

/// A page's method, path template and family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpec {
    pub page: Page,
    pub method: &'static str,
    pub path: &'static str,
    pub family: Family,
}

macro_rules! pages {
    ($($page:ident: $method:literal $path:literal => $family:ident;)*) => {
        /// One dashboard page or form action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Page {
            $($page,)*
        }

        pub const PAGES: &[PageSpec] = &[
            $(PageSpec {
                page: Page::$page,
                method: $method,
                path: $path,
                family: Family::$family,
            },)*
        ];
    };
}

pages! {
    SignInForm: "GET" "/dashboard/sign-in" => Session;
    SignIn: "POST" "/dashboard/sign-in" => Session;
    SignOut: "POST" "/dashboard/sign-out" => Session;
    Asset: "GET" "/dashboard/assets/{file}" => Assets;
    Home: "GET" "/dashboard" => Customers;
    Customers: "GET" "/dashboard/customers" => Customers;
    CreateCustomer: "POST" "/dashboard/customers" => Customers;
    Customer: "GET" "/dashboard/customers/{customer_id}" => Customers;
    UpdateProfile: "POST" "/dashboard/customers/{customer_id}/profile" => Customers;
    Adjust: "POST" "/dashboard/customers/{customer_id}/adjustments" => Customers;
    CaptureHold: "POST" "/dashboard/customers/{customer_id}/holds/{hold_id}/capture" => Customers;
    ReleaseHold: "POST" "/dashboard/customers/{customer_id}/holds/{hold_id}/release" => Customers;
    InvoicePayment: "GET" "/dashboard/customers/{customer_id}/invoice-payments" => Customers;
    ReverseInvoicePayment: "POST" "/dashboard/customers/{customer_id}/invoice-payments/{invoice_id}/reversals" => Customers;
    CloseForm: "GET" "/dashboard/customers/{customer_id}/close" => Customers;
    Close: "POST" "/dashboard/customers/{customer_id}/close" => Customers;
    TopUps: "GET" "/dashboard/customers/{customer_id}/top-ups" => Customers;
    CreatePortalSession: "POST" "/dashboard/customers/{customer_id}/portal-sessions" => Customers;
    RevokePortalSessions: "POST" "/dashboard/customers/{customer_id}/portal-sessions/revoke" => Customers;
    CreateTopUpLink: "POST" "/dashboard/customers/{customer_id}/top-up-links" => Customers;
    CancelTopUpLink: "POST" "/dashboard/customers/{customer_id}/top-up-links/{link_id}/cancel" => Customers;
    Settings: "GET" "/dashboard/customers/{customer_id}/settings" => Settings;
    UpdateSettings: "POST" "/dashboard/customers/{customer_id}/settings" => Settings;
    Webhooks: "GET" "/dashboard/webhooks" => Webhooks;
    CreateWebhook: "POST" "/dashboard/webhooks" => Webhooks;
    Webhook: "GET" "/dashboard/webhooks/{webhook_id}" => Webhooks;
    UpdateWebhook: "POST" "/dashboard/webhooks/{webhook_id}" => Webhooks;
    DeleteWebhook: "POST" "/dashboard/webhooks/{webhook_id}/delete" => Webhooks;
    RevealSecret: "POST" "/dashboard/webhooks/{webhook_id}/secret" => Webhooks;
    Delivery: "GET" "/dashboard/webhooks/{webhook_id}/deliveries/{delivery_id}" => Webhooks;
    Resend: "POST" "/dashboard/webhooks/{webhook_id}/deliveries/{delivery_id}/resend" => Webhooks;
    Liability: "GET" "/dashboard/reports/liability" => Reports;
    Statement: "GET" "/dashboard/customers/{customer_id}/statement" => Reports;
    Keys: "GET" "/dashboard/api-keys" => Keys;
    CreateKey: "POST" "/dashboard/api-keys" => Keys;
    RotateKey: "POST" "/dashboard/api-keys/{key_id}/rotate" => Keys;
    RevokeKey: "POST" "/dashboard/api-keys/{key_id}/revoke" => Keys;
    PortalSession: "GET" "/portal/session" => Portal;
    PortalHome: "GET" "/portal" => Portal;
    AddFunds: "GET" "/portal/wallets/{currency}/add-funds" => Portal;
    StartTopUp: "POST" "/portal/wallets/{currency}/top-ups" => Portal;
    TopUp: "GET" "/portal/top-ups/{top_up_id}" => Portal;
    PayLink: "GET" "/pay/{token}" => Portal;
    PayLinkSubmit: "POST" "/pay/{token}" => Portal;
}

/// The path parameters of a request (`customer_id` → its value), percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Page {
    /// The page of a method and path, with its path parameters.
    pub fn of(method: &str, path: &str) -> Option<(Page, Params)> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        PAGES.iter().find_map(|spec| {
            if !spec.method.eq_ignore_ascii_case(method) {
                return None;
            }
            matches(spec.path, path).map(|params| (spec.page, params))
        })
    }

    pub fn spec(self) -> &'static PageSpec {
        PAGES
            .iter()
            .find(|s| s.page == self)
            .expect("every page is in PAGES")
    }

    pub fn family(self) -> Family {
        self.spec().family
    }
}

fn matches(template: &'static str, path: &str) -> Option<Params> {
    let (mut template, mut path) = (template.split('/'), path.split('/'));
    let mut params = Vec::new();
    loop {
        match (template.next(), path.next()) {
            (None, None) => return Some(Params(params)),
            (Some(t), Some(p)) if t.starts_with('{') && t.ends_with('}') && !p.is_empty() => {
                let value = url::form_urlencoded::parse(format!("v={p}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())?;
                params.push((&t[1..t.len() - 1], value));
            }
            (Some(t), Some(p)) if t == p => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_finds_its_page_and_parameters() {
        let (page, params) =
            Page::of("POST", "/dashboard/customers/cus_1/holds/hld_2/capture").unwrap();
        assert_eq!(page, Page::CaptureHold);
        assert_eq!(params.get("customer_id"), Some("cus_1"));
        assert_eq!(params.get("hold_id"), Some("hld_2"));
        assert_eq!(Page::of("GET", "/dashboard/").unwrap().0, Page::Home);
        assert!(Page::of("DELETE", "/dashboard/customers").is_none());
        assert!(Page::of("GET", "/dashboard/customers/cus_1/nowhere").is_none());
        assert!(Page::of("GET", "/customers").is_none());
    }

    #[test]
    fn every_page_has_one_method_and_path() {
        for (i, a) in PAGES.iter().enumerate() {
            for b in &PAGES[i + 1..] {
                assert!((a.method, a.path) != (b.method, b.path), "{a:?} twice");
            }
        }
    }
}
