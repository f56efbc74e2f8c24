//! The requests tests share, as methods of [`Harness`]. Each sends through
//! [`Harness::request`]; those that return data rather than a [`Reply`] assert success first.

use api::Route;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use crate::{Harness, Reply};

impl Harness {
    /// Rewrites the customer's wallet set in the store as `change` says (the next version, one
    /// conditional write): e.g. counts as if many entries or holds had been made, without making
    /// them.
    pub async fn rewrite_wallets(
        &self,
        customer_id: &str,
        change: impl FnOnce(&mut shared::ledger::model::CustomerWallets),
    ) {
        use shared::kernel::{BusinessId, CustomerId, Timestamp};
        use shared::ports::WalletStore;
        let store = self.service().store().inner();
        let business_id = BusinessId::parse(&self.business_id).expect("business id");
        let customer_id = CustomerId::parse(customer_id).expect("customer id");
        let mut wallets = store
            .get_wallets(&business_id, &customer_id)
            .await
            .expect("wallets read")
            .expect("the customer has wallets");
        wallets.version += 1;
        change(&mut wallets);
        let rewrite = shared::change::model::Change {
            business_id,
            writes: vec![shared::change::model::Write::Wallets(wallets)],
            token: shared::kernel::ids::change_token(Timestamp::now().unix_ms),
        };
        store
            .commit(&rewrite)
            .await
            .expect("commit")
            .expect("no other writer");
    }

    /// Changes a stored customer straight in the store (a record the API would not make, e.g.
    /// one without an email from before emails were required).
    pub async fn rewrite_customer(
        &self,
        customer_id: &str,
        change: impl FnOnce(&mut shared::customers::model::Customer),
    ) {
        use shared::kernel::{BusinessId, CustomerId, Timestamp};
        use shared::ports::{CustomerStore, WalletStore};
        let store = self.service().store().inner();
        let business_id = BusinessId::parse(&self.business_id).expect("business id");
        let customer_id = CustomerId::parse(customer_id).expect("customer id");
        let read = store
            .get_customer_revision(&business_id, &customer_id)
            .await
            .expect("customer read")
            .expect("the customer exists");
        let mut customer = read.customer;
        change(&mut customer);
        let rewrite = shared::change::model::Change {
            business_id,
            writes: vec![shared::change::model::Write::ReplaceCustomer {
                customer,
                revision: read.revision,
            }],
            token: shared::kernel::ids::change_token(Timestamp::now().unix_ms),
        };
        store
            .commit(&rewrite)
            .await
            .expect("commit")
            .expect("no other writer");
    }

    /// Creates a customer (Ada, ada@example.com) and returns its id.
    pub async fn customer(&self) -> String {
        let reply = self
            .request(Route::CreateCustomer)
            .json(json!({"email": "ada@example.com", "name": "Ada"}))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body["customer_id"]
            .as_str()
            .expect("customer_id")
            .to_owned()
    }

    /// Posts a ledger entry.
    pub async fn entry(&self, customer_id: &str, body: Value) -> Reply {
        self.request(Route::CreateLedgerEntry)
            .customer(customer_id)
            .json(body)
            .send()
            .await
    }

    /// Credits `amount` USD, asserting success.
    pub async fn credit(&self, customer_id: &str, amount: i64) {
        let reply = self
            .entry(
                customer_id,
                json!({"amount": amount, "currency": "USD", "entry_type": "credit"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    /// Places a hold on the customer's USD wallet.
    pub async fn hold(&self, customer_id: &str, amount: i64) -> Reply {
        self.request(Route::CreateHold)
            .customer(customer_id)
            .json(json!({"amount": amount, "currency": "USD"}))
            .send()
            .await
    }

    /// Captures a hold (all of it when `amount` is `None`).
    pub async fn capture(&self, customer_id: &str, hold_id: &str, amount: Option<i64>) -> Reply {
        let request = self
            .request(Route::CaptureHold)
            .customer(customer_id)
            .path("hold_id", hold_id);
        match amount {
            Some(amount) => request.json(json!({ "amount": amount })),
            None => request,
        }
        .send()
        .await
    }

    /// Releases a hold.
    pub async fn release(&self, customer_id: &str, hold_id: &str) -> Reply {
        self.request(Route::ReleaseHold)
            .customer(customer_id)
            .path("hold_id", hold_id)
            .send()
            .await
    }

    /// Reads a hold back (`hold` as the API showed it), asserting success.
    pub async fn get_hold(&self, customer_id: &str, hold: &Value) -> Value {
        let reply = self
            .request(Route::GetHold)
            .customer(customer_id)
            .path("hold_id", hold["id"].as_str().unwrap())
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// Pays an invoice from the wallet of `currency`.
    pub async fn pay_invoice(
        &self,
        customer_id: &str,
        invoice_id: &str,
        currency: &str,
        amount_due: i64,
    ) -> Reply {
        self.request(Route::PayInvoice)
            .customer(customer_id)
            .json(json!({"invoice_id": invoice_id, "currency": currency, "amount_due": amount_due}))
            .send()
            .await
    }

    /// Reverses (part of) an invoice payment.
    pub async fn reverse_payment(&self, customer_id: &str, invoice_id: &str, body: Value) -> Reply {
        self.request(Route::ReverseInvoicePayment)
            .customer(customer_id)
            .path("invoice_id", invoice_id)
            .json(body)
            .send()
            .await
    }

    /// Closes the wallet of `currency` ("customer left", payout reference `po_9`).
    pub async fn close_wallet(&self, customer_id: &str, currency: &str) -> Reply {
        self.request(Route::CloseWallet)
            .customer(customer_id)
            .json(
                json!({"currency": currency, "reason": "customer left", "reference_object_id": "po_9"}),
            )
            .send()
            .await
    }

    /// The customer's wallets as the API shows them.
    pub async fn wallets(&self, customer_id: &str) -> Value {
        let reply = self
            .request(Route::ListWallets)
            .customer(customer_id)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body
    }

    /// The wallet of one currency as the API shows it.
    async fn wallet(&self, customer_id: &str, currency: &str) -> Value {
        let wallets = self.wallets(customer_id).await;
        wallets["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|w| w["currency"] == currency)
            .unwrap_or_else(|| panic!("{currency} wallet"))
            .clone()
    }

    /// The USD wallet as the API shows it.
    pub async fn usd_wallet(&self, customer_id: &str) -> Value {
        self.wallet(customer_id, "USD").await
    }

    /// The balance of one currency.
    pub async fn balance(&self, customer_id: &str, currency: &str) -> i64 {
        self.wallet(customer_id, currency).await["balance"]
            .as_i64()
            .expect("balance")
    }

    /// Every item of a paged list route of the customer, page by page (100 a page), with the
    /// query `filters`.
    pub async fn all_pages(
        &self,
        route: Route,
        customer_id: &str,
        filters: &[(&str, &str)],
    ) -> Vec<Value> {
        let mut all = Vec::new();
        for page in 0.. {
            let reply = self
                .request(route)
                .customer(customer_id)
                .query("page_number", &page.to_string())
                .query("page_size", "100")
                .queries(filters)
                .send()
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            let items = reply.body["items"].as_array().expect("items").clone();
            if items.is_empty() {
                return all;
            }
            all.extend(items);
        }
        unreachable!()
    }

    /// Every ledger entry of the customer (of one currency, or all), newest first.
    pub async fn all_entries(&self, customer_id: &str, currency: Option<&str>) -> Vec<Value> {
        let filters: Vec<(&str, &str)> = currency.map(|c| ("currency", c)).into_iter().collect();
        self.all_pages(Route::ListLedgerEntries, customer_id, &filters)
            .await
    }

    /// Every hold of the customer, newest first.
    pub async fn all_holds(&self, customer_id: &str) -> Vec<Value> {
        self.all_pages(Route::ListHolds, customer_id, &[]).await
    }
}
