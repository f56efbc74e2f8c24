//! The PaymentIntents calls: a charge (reconcile, check the owner, create), the look-up of the
//! PaymentIntent made for an attempt, and the listing of a customer's PaymentIntents.

use std::collections::BTreeMap;

use http::Method;
use url::form_urlencoded;

use super::wire::{error_summary, outcome_of_answer, parse_intent, ListJson};
use super::{Flavor, StripeGateway};
use crate::kernel::Timestamp;
use crate::topups::gateway::{
    ChargeLookup, ChargeOutcome, ChargeRequest, DeclineClass, FoundCharge, ATTEMPT_CLOCK_SLACK_MS,
    ATTEMPT_METADATA_KEY,
};

/// PaymentIntents per listed page (Stripe's maximum).
const PAGE_SIZE: usize = 100;
/// Pages a look-up goes through before it gives up (with an error, never a "not found").
const MAX_PAGES: usize = 50;

/// A PaymentIntent as this adapter reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub customer: Option<String>,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// Stripe's status (`succeeded`, `requires_payment_method`, ...).
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    pub metadata: BTreeMap<String, String>,
    /// What the status means for a charge.
    pub outcome: ChargeOutcome,
}

impl PaymentIntent {
    /// The attempt it was made for (metadata `topup_attempt`).
    pub fn attempt_id(&self) -> Option<&str> {
        self.metadata.get(ATTEMPT_METADATA_KEY).map(String::as_str)
    }

    fn found(self) -> FoundCharge {
        FoundCharge {
            payment_intent_id: self.id,
            amount: self.amount,
            currency: self.currency,
            outcome: self.outcome,
        }
    }
}

impl StripeGateway {
    /// Reconciles, then charges if the attempt has no PaymentIntent yet. Never fails.
    pub async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        if request.attempt_id.is_empty() || request.idempotency_key.is_empty() {
            tracing::error!("a charge needs an attempt id and an idempotency key: not charged");
            return DeclineClass::InvalidRequest.declined(None, None);
        }
        match self.find(&request.lookup()).await {
            Err(error) => ChargeOutcome::Unknown {
                error: format!("reconciling before the charge: {error}"),
            },
            Ok(Some(found)) => {
                let currency = request.currency.code().to_ascii_lowercase();
                if found.amount != request.amount.minor() || found.currency != currency {
                    ChargeOutcome::Unknown {
                        error: format!(
                            "attempt {} already has {} for {} {}, not {} {}",
                            request.attempt_id,
                            found.payment_intent_id,
                            found.amount,
                            found.currency,
                            request.amount.minor(),
                            currency
                        ),
                    }
                } else {
                    tracing::info!(
                        attempt_id = %request.attempt_id,
                        payment_intent_id = %found.payment_intent_id,
                        "charge already made for this attempt: answering its outcome"
                    );
                    found.outcome
                }
            }
            Ok(None) => match self.check_owner(request).await {
                Ok(()) => self.create(request).await,
                Err(outcome) => outcome,
            },
        }
    }

    /// The PaymentIntent made for an attempt: by id when known, else among the customer's.
    pub async fn find(&self, lookup: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        if let Some(id) = &lookup.payment_intent_id {
            let Some(intent) = self.retrieve(id).await? else {
                return Ok(None);
            };
            if intent.attempt_id() != Some(lookup.attempt_id.as_str()) {
                return Err(format!(
                    "{id} was not made for attempt {} (its attempt: {})",
                    lookup.attempt_id,
                    intent.attempt_id().unwrap_or("none")
                ));
            }
            return Ok(Some(intent.found()));
        }
        let matching = self
            .payment_intents_where(&lookup.gateway_customer_id, lookup.created_after, |pi| {
                pi.attempt_id() == Some(lookup.attempt_id.as_str())
            })
            .await?;
        // More than one only if something charged the attempt twice already: a success is the
        // one that counts; otherwise the latest.
        let chosen = matching
            .iter()
            .position(|pi| matches!(pi.outcome, ChargeOutcome::Succeeded { .. }))
            .or_else(|| {
                matching
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, pi)| pi.created)
                    .map(|(i, _)| i)
            });
        Ok(chosen.map(|i| matching[i].clone().found()))
    }

    /// `GET /v1/payment_intents/{id}`: `None` if there is no such PaymentIntent.
    pub async fn retrieve(&self, payment_intent_id: &str) -> Result<Option<PaymentIntent>, String> {
        if payment_intent_id.is_empty()
            || !payment_intent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!("invalid PaymentIntent id `{payment_intent_id}`"));
        }
        let path = format!("/v1/payment_intents/{payment_intent_id}");
        let (status, body) = self.call(Method::GET, &path, None, None).await?;
        match status {
            200 => parse_intent(&body).map(Some),
            404 => Ok(None),
            _ => Err(format!("GET {path}: {}", error_summary(status, &body))),
        }
    }

    /// Every PaymentIntent of a customer created at or after `created_after` (less the clock
    /// slack), oldest first. Tests count them to prove that a need was charged once.
    pub async fn payment_intents_of(
        &self,
        gateway_customer_id: &str,
        created_after: Option<Timestamp>,
    ) -> Result<Vec<PaymentIntent>, String> {
        let mut all = self
            .payment_intents_where(gateway_customer_id, created_after, |_| true)
            .await?;
        all.sort_by_key(|pi| pi.created);
        Ok(all)
    }

    /// A customer's PaymentIntents that pass `keep`, listed page by page.
    async fn payment_intents_where(
        &self,
        gateway_customer_id: &str,
        created_after: Option<Timestamp>,
        keep: impl Fn(&PaymentIntent) -> bool,
    ) -> Result<Vec<PaymentIntent>, String> {
        let since_s = created_after
            .map(|t| i64::try_from(t.unix_ms.saturating_sub(ATTEMPT_CLOCK_SLACK_MS) / 1000))
            .transpose()
            .map_err(|_| "creation bound out of range".to_string())?;
        let mut kept = Vec::new();
        let mut starting_after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let path = self.list_path(gateway_customer_id, since_s, starting_after.as_deref());
            let (status, body) = self.call(Method::GET, &path, None, None).await?;
            if status != 200 {
                return Err(format!(
                    "listing PaymentIntents: {}",
                    error_summary(status, &body)
                ));
            }
            let page: ListJson = serde_json::from_slice(&body)
                .map_err(|e| format!("listing PaymentIntents: unreadable answer: {e}"))?;
            starting_after = page.data.last().map(|pi| pi.id.clone());
            for raw in page.data {
                let intent = raw.into_intent();
                if intent.customer.as_deref() == Some(gateway_customer_id)
                    && since_s.is_none_or(|since| intent.created >= since)
                    && keep(&intent)
                {
                    kept.push(intent);
                }
            }
            if !page.has_more || starting_after.is_none() {
                return Ok(kept);
            }
        }
        Err(format!(
            "more than {} PaymentIntents to look through for customer {gateway_customer_id}",
            MAX_PAGES * PAGE_SIZE
        ))
    }

    /// A page of PaymentIntents: the customer's created since `since_s` (Stripe), or all of them
    /// (localstripe, which takes no filter).
    fn list_path(
        &self,
        customer: &str,
        since_s: Option<i64>,
        starting_after: Option<&str>,
    ) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &PAGE_SIZE.to_string());
        if self.flavor == Flavor::Stripe {
            query.append_pair("customer", customer);
            if let Some(since) = since_s {
                query.append_pair("created[gte]", &since.to_string());
            }
        }
        if let Some(after) = starting_after {
            query.append_pair("starting_after", after);
        }
        format!("/v1/payment_intents?{}", query.finish())
    }

    /// `POST /v1/payment_intents`, confirmed off-session.
    pub(super) async fn create(&self, request: &ChargeRequest) -> ChargeOutcome {
        let form = self.charge_form(request);
        let answer = self
            .call(
                Method::POST,
                "/v1/payment_intents",
                Some(form),
                Some(&request.idempotency_key),
            )
            .await;
        let outcome = match answer {
            Err(error) => ChargeOutcome::Unknown { error },
            Ok((status, body)) => outcome_of_answer(status, &body),
        };
        match &outcome {
            ChargeOutcome::Succeeded { payment_intent_id } => tracing::info!(
                attempt_id = %request.attempt_id, %payment_intent_id, "charge succeeded"
            ),
            ChargeOutcome::Declined {
                payment_intent_id,
                decline_code,
                ..
            } => tracing::info!(
                attempt_id = %request.attempt_id, ?payment_intent_id, %decline_code,
                "charge declined"
            ),
            ChargeOutcome::Unknown { error } => tracing::warn!(
                attempt_id = %request.attempt_id, %error, "charge outcome unknown"
            ),
        }
        outcome
    }

    /// The create request's form body.
    fn charge_form(&self, request: &ChargeRequest) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("amount", &request.amount.minor().to_string())
            .append_pair("currency", &request.currency.code().to_ascii_lowercase())
            .append_pair("customer", &request.gateway_customer_id)
            .append_pair("payment_method", &request.payment_method_id)
            .append_pair("confirm", "true")
            .append_pair("off_session", "true")
            .append_pair("payment_method_types[0]", "card");
        if self.flavor == Flavor::Stripe && !request.description.is_empty() {
            form.append_pair("description", &request.description);
        }
        let mut metadata = request.metadata.clone();
        metadata.insert(ATTEMPT_METADATA_KEY.to_string(), request.attempt_id.clone());
        for (key, value) in &metadata {
            form.append_pair(&format!("metadata[{key}]"), value);
        }
        form.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::stripe::fake_stripe::*;
    use crate::kernel::Amount;

    #[tokio::test]
    async fn a_charge_reconciles_then_posts_the_form_with_key_and_idempotency_key() {
        let fake = FakeStripe::start(vec![
            now(EMPTY_LIST),
            owned(),
            now((200, &intent("pi_1", "succeeded", "att_1"))),
        ])
        .await;
        let outcome = fake.gateway().charge(&request()).await;
        assert_eq!(
            outcome,
            ChargeOutcome::Succeeded {
                payment_intent_id: "pi_1".to_string()
            }
        );
        let received = fake.received();
        assert_eq!(received.len(), 3);
        assert_eq!(received[1].method, "GET");
        assert_eq!(
            received[1].target,
            "/v1/payment_methods/pm_A?expand[0]=customer"
        );

        let list = &received[0];
        assert_eq!(list.method, "GET");
        assert!(
            list.target.starts_with("/v1/payment_intents?"),
            "{}",
            list.target
        );
        let query = list.query();
        assert_eq!(query["customer"], "cus_A");
        assert_eq!(query["limit"], "100");
        // The attempt's start less an hour, in seconds.
        assert_eq!(query["created[gte]"], "1899996400");
        assert_eq!(
            list.headers["authorization"],
            format!("Bearer {KEY}").as_str()
        );

        let create = &received[2];
        assert_eq!(create.method, "POST");
        assert_eq!(create.target, "/v1/payment_intents");
        assert_eq!(
            create.headers["authorization"],
            format!("Bearer {KEY}").as_str()
        );
        assert_eq!(create.headers["idempotency-key"], "topup-att_1");
        assert_eq!(
            create.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        let form = create.form();
        let expected: BTreeMap<String, String> = [
            ("amount", "2500"),
            ("currency", "usd"),
            ("customer", "cus_A"),
            ("payment_method", "pm_A"),
            ("confirm", "true"),
            ("off_session", "true"),
            ("payment_method_types[0]", "card"),
            ("description", "Wallet auto top-up"),
            ("metadata[topup_attempt]", "att_1"),
            ("metadata[wallet]", "USD"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(form, expected);
    }

    #[tokio::test]
    async fn the_localstripe_flavor_leaves_out_what_localstripe_refuses() {
        let other_customer = serde_json::json!({
            "object": "list", "has_more": false,
            "data": [{"id": "pi_x", "customer": "cus_B", "amount": 2500, "currency": "usd",
                      "status": "succeeded", "created": 1_900_000_000,
                      "metadata": {"topup_attempt": "att_1"}}],
        })
        .to_string();
        let fake = FakeStripe::start(vec![
            now((200, &other_customer)),
            owned(),
            now((200, &intent("pi_1", "succeeded", "att_1"))),
        ])
        .await;
        let gateway = fake.gateway().with_flavor(Flavor::Localstripe);
        let outcome = gateway.charge(&request()).await;
        // The other customer's PaymentIntent of the same attempt id is not this one.
        assert_eq!(outcome.payment_intent_id(), Some("pi_1"));
        let received = fake.received();
        let query = received[0].query();
        assert!(!query.contains_key("customer"));
        assert!(!query.contains_key("created[gte]"));
        let form = received[2].form();
        assert!(!form.contains_key("description"));
        assert_eq!(form["metadata[topup_attempt]"], "att_1");
    }

    #[tokio::test]
    async fn an_attempt_already_charged_is_answered_without_a_second_charge() {
        let page = format!(
            r#"{{"object":"list","has_more":false,"data":[{},{}]}}"#,
            intent("pi_other", "succeeded", "att_0"),
            intent("pi_1", "succeeded", "att_1")
        );
        let fake = FakeStripe::start(vec![now((200, &page))]).await;
        let outcome = fake.gateway().charge(&request()).await;
        assert_eq!(outcome.payment_intent_id(), Some("pi_1"));
        assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }));
        assert_eq!(fake.received().len(), 1, "no POST");
    }

    #[tokio::test]
    async fn a_found_charge_of_another_amount_is_unknown_not_a_success() {
        let mut found = request();
        found.amount = Amount::new(999).unwrap();
        let page = format!(
            r#"{{"object":"list","has_more":false,"data":[{}]}}"#,
            intent("pi_1", "succeeded", "att_1")
        );
        let fake = FakeStripe::start(vec![now((200, &page))]).await;
        let outcome = fake.gateway().charge(&found).await;
        let ChargeOutcome::Unknown { error } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(error.contains("already has pi_1 for 2500 usd"), "{error}");
        assert_eq!(fake.received().len(), 1, "no POST");
    }

    #[tokio::test]
    async fn the_look_up_follows_pages() {
        let first = format!(
            r#"{{"object":"list","has_more":true,"data":[{}]}}"#,
            intent("pi_a", "succeeded", "att_0")
        );
        let second = format!(
            r#"{{"object":"list","has_more":false,"data":[{}]}}"#,
            intent("pi_b", "requires_payment_method", "att_1")
        );
        let fake = FakeStripe::start(vec![now((200, &first)), now((200, &second))]).await;
        let found = fake
            .gateway()
            .find(&request().lookup())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.payment_intent_id, "pi_b");
        assert_eq!(found.amount, 2500);
        assert_eq!(found.currency, "usd");
        assert!(matches!(
            found.outcome,
            ChargeOutcome::Declined { ref decline_code, .. } if decline_code == "requires_payment_method"
        ));
        assert_eq!(fake.received()[1].query()["starting_after"], "pi_a");
    }

    #[tokio::test]
    async fn find_by_id_retrieves_it_and_checks_its_attempt() {
        let fake = FakeStripe::start(vec![
            now((200, &intent("pi_1", "succeeded", "att_1"))),
            now((
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}"#,
            )),
            now((200, &intent("pi_3", "succeeded", "att_9"))),
        ])
        .await;
        let gateway = fake.gateway();
        let mut lookup = request().lookup();
        lookup.payment_intent_id = Some("pi_1".to_string());
        let found = gateway.find(&lookup).await.unwrap().unwrap();
        assert_eq!(found.payment_intent_id, "pi_1");
        lookup.payment_intent_id = Some("pi_2".to_string());
        assert_eq!(gateway.find(&lookup).await.unwrap(), None);
        lookup.payment_intent_id = Some("pi_3".to_string());
        let error = gateway.find(&lookup).await.unwrap_err();
        assert!(error.contains("not made for attempt att_1"), "{error}");
        assert_eq!(fake.received()[0].target, "/v1/payment_intents/pi_1");
        lookup.payment_intent_id = Some("../customers".to_string());
        assert!(gateway.find(&lookup).await.is_err());
        assert_eq!(fake.received().len(), 3);
    }

    #[tokio::test]
    async fn a_server_error_on_the_charge_is_unknown() {
        let fake = FakeStripe::start(vec![
            now(EMPTY_LIST),
            owned(),
            now((
                500,
                r#"{"error":{"type":"api_error","message":"Something went wrong"}}"#,
            )),
        ])
        .await;
        let outcome = fake.gateway().charge(&request()).await;
        assert_eq!(
            outcome,
            ChargeOutcome::Unknown {
                error: "HTTP 500: Something went wrong".to_string()
            }
        );
    }

    #[tokio::test]
    async fn a_failed_reconciliation_is_unknown_and_charges_nothing() {
        let fake = FakeStripe::start(vec![now((503, "upstream down"))]).await;
        let outcome = fake.gateway().charge(&request()).await;
        let ChargeOutcome::Unknown { error } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            error.starts_with("reconciling before the charge: "),
            "{error}"
        );
        assert!(error.contains("HTTP 503: upstream down"), "{error}");
        assert_eq!(fake.received().len(), 1, "no POST");
    }

    #[tokio::test]
    async fn a_request_without_attempt_or_key_is_refused_before_any_call() {
        let mut no_key = request();
        no_key.idempotency_key.clear();
        let gateway = StripeGateway::new("http://127.0.0.1:1", KEY).unwrap();
        assert!(matches!(
            gateway.charge(&no_key).await,
            ChargeOutcome::Declined { ref decline_code, .. } if decline_code == "invalid_request"
        ));
    }
}
