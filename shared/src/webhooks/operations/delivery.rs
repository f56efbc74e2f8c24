//! Delivery: recording a delivery per event and interested endpoint (the dispatcher), and the
//! deliverer's first attempts, per endpoint with its slots and breaker; claiming and attempting
//! one delivery (also used by retries and resends).

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};

use crate::error::DomainResult;
use crate::kernel::{BusinessId, Clock, EndpointId, EventId, Timestamp};
use crate::ports::Store;
use crate::service::Service;
use crate::webhooks::model::*;
use crate::webhooks::rules::{self, LEASE_MS};

use super::breakers::{Breaker, Breakers};
use super::{ATTEMPTS_IN_FLIGHT, ENDPOINTS_IN_FLIGHT, PER_ENDPOINT_IN_FLIGHT};
#[cfg(doc)]
use super::{BREAKER_FAILURES, BREAKER_OPEN_FOR};

/// What a deliverer did with one delivery.
enum Outcome {
    Succeeded,
    Failed,
    /// Put off: the endpoint's breaker is open.
    Postponed,
    /// Left due for the sweep: out of time, or the store failed.
    Left,
    /// Nothing to do: made already, or another worker's.
    Done,
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Records one delivery per event and interested endpoint, and answers where the new ones
    /// are, for a deliverer to attempt ([`Service::deliver`]): recording never waits on a
    /// receiver. Each is due [`LEASE_MS`] later, so the sweep attempts it should no deliverer
    /// (the hand-over lost, the deliverer out of time); a deliverer attempts it at once.
    /// A delivery already recorded (the stream record read again) is left as it is. The
    /// endpoints of each business are read once; the deliveries are written several at once.
    pub async fn record_deliveries(
        &self,
        events: &[(Event, String)],
    ) -> DomainResult<Vec<DeliveryRef>> {
        let mut endpoints: HashMap<BusinessId, Vec<Endpoint>> = HashMap::new();
        for (event, _) in events {
            if !endpoints.contains_key(&event.business_id) {
                let found = self.store().list_endpoints(&event.business_id).await?;
                endpoints.insert(event.business_id.clone(), found);
            }
        }
        let now = self.now();
        let due = Timestamp::from_unix_ms(now.unix_ms + LEASE_MS);
        let candidates: Vec<Delivery> = events
            .iter()
            .flat_map(|(event, payload)| {
                endpoints[&event.business_id]
                    .iter()
                    .filter(|endpoint| endpoint.wants(event.event_type))
                    .map(|endpoint| Delivery {
                        id: event.id.clone(),
                        endpoint_id: endpoint.id.clone(),
                        business_id: event.business_id.clone(),
                        event_type: event.event_type,
                        payload: payload.clone(),
                        status: DeliveryStatus::Pending,
                        attempt_count: 0,
                        next_attempt_at: Some(due),
                        lease_until: None,
                        created_at: now,
                        updated_at: now,
                    })
            })
            .collect();
        let inserted: Vec<DomainResult<Option<DeliveryRef>>> = stream::iter(candidates)
            .map(|delivery| async move {
                let new = self.store().insert_delivery(&delivery).await?;
                Ok(new.then_some(DeliveryRef {
                    business_id: delivery.business_id,
                    endpoint_id: delivery.endpoint_id,
                    id: delivery.id,
                }))
            })
            .buffer_unordered(ATTEMPTS_IN_FLIGHT)
            .collect()
            .await;
        // Deliveries recorded before a failure stay recorded: the sweep attempts them when
        // they are due, and reading the records again skips them.
        inserted.into_iter().filter_map(Result::transpose).collect()
    }

    /// The deliverer's work: one attempt of each delivery of `work` that is still to be made
    /// (never attempted, or due at `now`), grouped by endpoint. At most
    /// [`PER_ENDPOINT_IN_FLIGHT`] attempts of one endpoint at once; after
    /// [`BREAKER_FAILURES`] consecutive failed attempts of an endpoint its breaker opens for
    /// this run and for [`BREAKER_OPEN_FOR`] in `breakers` (the process's), and its other
    /// deliveries are put off without an attempt, left as recorded for the sweep (due
    /// [`LEASE_MS`] after they were recorded). No delivery is claimed once
    /// `stop_claiming_at` has passed: what is left stays due for the sweep.
    /// Errors of the store are logged per delivery and leave it for the sweep.
    pub async fn deliver<W: WebhookSender>(
        &self,
        sender: &W,
        breakers: &Breakers,
        work: Vec<DeliveryRef>,
        now: Timestamp,
        stop_claiming_at: std::time::Instant,
    ) -> DeliveryReport {
        let mut groups: Vec<(BusinessId, EndpointId, Vec<EventId>)> = Vec::new();
        let mut index: HashMap<(BusinessId, EndpointId), usize> = HashMap::new();
        for item in work {
            let key = (item.business_id.clone(), item.endpoint_id.clone());
            let at = *index.entry(key).or_insert_with(|| {
                groups.push((
                    item.business_id.clone(),
                    item.endpoint_id.clone(),
                    Vec::new(),
                ));
                groups.len() - 1
            });
            groups[at].2.push(item.id);
        }
        let reports: Vec<DeliveryReport> = stream::iter(groups)
            .map(|(business, endpoint, ids)| {
                self.deliver_to(
                    sender,
                    breakers,
                    business,
                    endpoint,
                    ids,
                    now,
                    stop_claiming_at,
                )
            })
            .buffer_unordered(ENDPOINTS_IN_FLIGHT)
            .collect()
            .await;
        reports
            .into_iter()
            .fold(DeliveryReport::default(), |mut sum, r| {
                sum.deliveries += r.deliveries;
                sum.succeeded += r.succeeded;
                sum.failed += r.failed;
                sum.postponed += r.postponed;
                sum.left += r.left;
                sum
            })
    }

    /// [`Service::deliver`] for the deliveries of one endpoint.
    #[allow(clippy::too_many_arguments)]
    async fn deliver_to<W: WebhookSender>(
        &self,
        sender: &W,
        breakers: &Breakers,
        business: BusinessId,
        endpoint_id: EndpointId,
        ids: Vec<EventId>,
        now: Timestamp,
        stop_claiming_at: std::time::Instant,
    ) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let key = (business.clone(), endpoint_id.clone());
        if breakers.is_open(&key) {
            // Left as recorded, due for the sweep: not even read.
            report.postponed = ids.len();
            return report;
        }
        let endpoint = match self.store().get_endpoint(&business, &endpoint_id).await {
            Ok(endpoint) => endpoint,
            Err(error) => {
                tracing::warn!(%error, endpoint = %endpoint_id, "endpoint not read; its deliveries are left to the sweep");
                report.left = ids.len();
                return report;
            }
        };
        let breaker = Breaker::default();
        let outcomes: Vec<Outcome> = stream::iter(ids)
            .map(|id| {
                let (key, endpoint, breaker) = (&key, endpoint.as_ref(), &breaker);
                async move {
                    let Some(_slot) = breakers.slot(key, stop_claiming_at).await else {
                        return Outcome::Left;
                    };
                    if breakers.is_open(key) {
                        breaker.trip();
                    }
                    self.deliver_one(
                        sender,
                        &key.0,
                        &key.1,
                        endpoint,
                        &id,
                        now,
                        stop_claiming_at,
                        breaker,
                        breakers,
                    )
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, delivery = %id, "delivery left to the sweep");
                        Outcome::Left
                    })
                }
            })
            .buffer_unordered(PER_ENDPOINT_IN_FLIGHT)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Outcome::Succeeded => {
                    report.deliveries += 1;
                    report.succeeded += 1;
                }
                Outcome::Failed => {
                    report.deliveries += 1;
                    report.failed += 1;
                }
                Outcome::Postponed => report.postponed += 1,
                Outcome::Left => report.left += 1,
                Outcome::Done => {}
            }
        }
        report
    }

    /// One delivery of [`Service::deliver_to`].
    #[allow(clippy::too_many_arguments)]
    async fn deliver_one<W: WebhookSender>(
        &self,
        sender: &W,
        business: &BusinessId,
        endpoint_id: &EndpointId,
        endpoint: Option<&Endpoint>,
        id: &EventId,
        now: Timestamp,
        stop_claiming_at: std::time::Instant,
        breaker: &Breaker,
        breakers: &Breakers,
    ) -> DomainResult<Outcome> {
        if std::time::Instant::now() >= stop_claiming_at {
            return Ok(Outcome::Left);
        }
        if breaker.open() {
            // Left as recorded: due for the sweep at its `next_attempt_at` (a new delivery's is
            // [`LEASE_MS`] after it was recorded). Not even read: an open breaker costs nothing.
            return Ok(Outcome::Postponed);
        }
        let store = self.store();
        let Some((delivery, _)) = store.get_delivery(business, endpoint_id, id).await? else {
            return Ok(Outcome::Done);
        };
        let to_make = delivery.status == DeliveryStatus::Pending
            && delivery.lease_until.is_none_or(|lease| lease <= now)
            && (delivery.attempt_count == 0
                || delivery.next_attempt_at.is_some_and(|at| at <= now));
        if !to_make {
            return Ok(Outcome::Done); // made, or another worker's
        }
        let Some(endpoint) = endpoint.filter(|e| !e.disabled) else {
            self.abandon(&delivery, now).await?;
            return Ok(Outcome::Failed);
        };
        if !self.wait_for_slot(endpoint, stop_claiming_at).await? {
            return Ok(Outcome::Left); // due for the sweep, as recorded
        }
        let Some(claimed) = self.claim(&delivery, now).await? else {
            return Ok(Outcome::Done);
        };
        let (next, _) = self.attempt(sender, endpoint, &claimed).await?;
        let succeeded = next.status == DeliveryStatus::Succeeded;
        breaker.record(succeeded);
        if breaker.open() {
            breakers.open((business.clone(), endpoint_id.clone()));
        }
        Ok(if succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        })
    }

    /// Waits for one of the endpoint's delivery slots of a clock second: its `rate_limit` per
    /// second, counted in the store (one conditional write per try), so the limit holds across
    /// every deliverer and sweep at once. A try refused waits for the next second (with a
    /// little jitter). `false` if no slot came before `until`: the delivery is left due, never
    /// dropped. An endpoint without a rate limit takes no slot.
    pub(super) async fn wait_for_slot(
        &self,
        endpoint: &Endpoint,
        until: std::time::Instant,
    ) -> DomainResult<bool> {
        let Some(limit) = endpoint.rate_limit else {
            return Ok(true);
        };
        loop {
            // The real clock: a rate is of real seconds, whatever the service's clock says.
            let now_ms = Timestamp::now().unix_ms;
            let (business, id) = (&endpoint.business_id, &endpoint.id);
            if self
                .store()
                .take_delivery_slot(business, id, now_ms / 1_000, limit)
                .await?
            {
                return Ok(true);
            }
            let jitter_ms = (rules::random_jitter().abs() * 50.0) as u64;
            let wait = std::time::Duration::from_millis(1_000 - now_ms % 1_000 + jitter_ms);
            if std::time::Instant::now() + wait >= until {
                return Ok(false);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Marks failed, without an attempt, a delivery whose endpoint was deleted or disabled.
    pub(super) async fn abandon(&self, delivery: &Delivery, now: Timestamp) -> DomainResult<bool> {
        let mut failed = delivery.clone();
        failed.status = DeliveryStatus::Failed;
        failed.next_attempt_at = None;
        failed.lease_until = None;
        failed.updated_at = now;
        self.store().update_delivery(&failed, delivery, None).await
    }

    /// Sends a claimed delivery once and records the attempt with what follows: succeeded, due
    /// again by the schedule, or failed when the schedule is spent.
    pub(super) async fn attempt<W: WebhookSender>(
        &self,
        sender: &W,
        endpoint: &Endpoint,
        claimed: &Delivery,
    ) -> DomainResult<(Delivery, Attempt)> {
        let started = self.now();
        let outbound = Outbound {
            url: endpoint.url.clone(),
            message_id: claimed.id.to_string(),
            timestamp_s: (started.unix_ms / 1_000) as i64,
            body: claimed.payload.clone(),
            secret: endpoint.secret.clone(),
            headers: endpoint.headers.clone(),
        };
        let result = sender.send(&outbound).await;
        let now = self.now();
        let number = claimed.attempt_count + 1;
        let mut next = claimed.clone();
        next.attempt_count = number;
        next.lease_until = None;
        next.updated_at = now;
        if result.succeeded() {
            next.status = DeliveryStatus::Succeeded;
            next.next_attempt_at = None;
        } else {
            next.next_attempt_at = rules::next_attempt_at(now, number, rules::random_jitter());
            next.status = match next.next_attempt_at {
                Some(_) => DeliveryStatus::Pending,
                None => DeliveryStatus::Failed,
            };
        }
        let attempt = Attempt {
            number,
            attempted_at: started,
            result,
        };
        if !self
            .store()
            .update_delivery(&next, claimed, Some(&attempt))
            .await?
        {
            tracing::warn!(delivery = %claimed.id, "the delivery changed during its attempt; this attempt is not logged");
        }
        Ok((next, attempt))
    }

    /// Claims a delivery for an attempt now: `None` if another worker holds it or it changed.
    pub(super) async fn claim(
        &self,
        delivery: &Delivery,
        now: Timestamp,
    ) -> DomainResult<Option<Delivery>> {
        if delivery.lease_until.is_some_and(|lease| lease > now) {
            return Ok(None);
        }
        let lease = Timestamp::from_unix_ms(now.unix_ms + LEASE_MS);
        let mut claimed = delivery.clone();
        claimed.lease_until = Some(lease);
        if claimed.status == DeliveryStatus::Pending {
            claimed.next_attempt_at = Some(lease);
        }
        let won = self
            .store()
            .update_delivery(&claimed, delivery, None)
            .await?;
        Ok(won.then_some(claimed))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::adapters::memory::fixtures::{World, T0};
    use crate::ports::WebhookStore;
    use crate::webhooks::operations::BREAKER_FAILURES;

    const FAILING: &str = "https://failing.example/hooks";
    const HEALTHY: &str = "https://healthy.example/hooks";

    /// Answers 500 to [`FAILING`] and 200 elsewhere; counts attempts and the most at once per URL.
    #[derive(Default)]
    struct Counting {
        state: Mutex<HashMap<String, (usize, usize, usize)>>,
    }

    impl Counting {
        /// (attempts, most at once) of `url`.
        fn of(&self, url: &str) -> (usize, usize) {
            let state = self.state.lock().unwrap();
            state.get(url).map_or((0, 0), |&(n, _, most)| (n, most))
        }
    }

    impl WebhookSender for Counting {
        async fn send(&self, outbound: &Outbound) -> AttemptResult {
            {
                let mut state = self.state.lock().unwrap();
                let (n, now, most) = state.entry(outbound.url.clone()).or_default();
                *n += 1;
                *now += 1;
                *most = (*most).max(*now);
            }
            for _ in 0..5 {
                tokio::task::yield_now().await;
            }
            self.state.lock().unwrap().get_mut(&outbound.url).unwrap().1 -= 1;
            let status = if outbound.url == FAILING { 500 } else { 200 };
            AttemptResult {
                status_code: Some(status),
                duration_ms: 1,
                error: None,
                response: String::new(),
            }
        }
    }

    async fn endpoint(world: &World, url: &str) -> Endpoint {
        world
            .service
            .create_endpoint(
                &world.tenant,
                NewEndpoint {
                    url: url.into(),
                    description: String::new(),
                    disabled: false,
                    filter_types: vec![],
                    headers: Default::default(),
                    metadata: Default::default(),
                    rate_limit: None,
                    idempotency_key: None,
                },
            )
            .await
            .unwrap()
    }

    /// `count` new deliveries to `endpoint`, as the dispatcher records them.
    async fn recorded(world: &World, endpoint: &Endpoint, count: usize) -> Vec<DeliveryRef> {
        let mut refs = Vec::new();
        for i in 0..count {
            let id = EventId::generate_at(T0 + i as u64);
            let delivery = Delivery {
                id: id.clone(),
                endpoint_id: endpoint.id.clone(),
                business_id: endpoint.business_id.clone(),
                event_type: EventType::ToppedUp,
                payload: "{}".into(),
                status: DeliveryStatus::Pending,
                attempt_count: 0,
                next_attempt_at: Some(Timestamp::from_unix_ms(T0 + LEASE_MS)),
                lease_until: None,
                created_at: Timestamp::from_unix_ms(T0),
                updated_at: Timestamp::from_unix_ms(T0),
            };
            assert!(world.store.insert_delivery(&delivery).await.unwrap());
            refs.push(DeliveryRef {
                business_id: endpoint.business_id.clone(),
                endpoint_id: endpoint.id.clone(),
                id,
            });
        }
        refs
    }

    async fn stored(world: &World, r: &DeliveryRef) -> Delivery {
        world
            .store
            .get_delivery(&r.business_id, &r.endpoint_id, &r.id)
            .await
            .unwrap()
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn a_failing_endpoint_opens_its_breaker_and_leaves_the_rest_to_the_sweep_while_others_are_served(
    ) {
        let world = World::new().await;
        let (failing, healthy) = (
            endpoint(&world, FAILING).await,
            endpoint(&world, HEALTHY).await,
        );
        let to_failing = recorded(&world, &failing, 20).await;
        let to_healthy = recorded(&world, &healthy, 10).await;
        let work: Vec<DeliveryRef> = to_failing.iter().chain(&to_healthy).cloned().collect();
        let sender = Counting::default();
        let breakers = Breakers::default();
        let far = Instant::now() + Duration::from_secs(3600);
        let report = world
            .service
            .deliver(&sender, &breakers, work, world.service.now(), far)
            .await;

        let (attempts, most) = sender.of(FAILING);
        assert!(most <= PER_ENDPOINT_IN_FLIGHT, "{most} at once");
        let breaker_bound = BREAKER_FAILURES as usize + PER_ENDPOINT_IN_FLIGHT - 1;
        assert!(
            (BREAKER_FAILURES as usize..=breaker_bound).contains(&attempts),
            "{attempts} attempts of a failing endpoint"
        );
        assert_eq!(report.postponed, 20 - attempts);
        assert_eq!(sender.of(HEALTHY).0, 10);
        assert!(sender.of(HEALTHY).1 <= PER_ENDPOINT_IN_FLIGHT);
        assert_eq!((report.succeeded, report.failed), (10, attempts));
        for r in &to_healthy {
            assert_eq!(stored(&world, r).await.status, DeliveryStatus::Succeeded);
        }
        let mut untouched = 0;
        for r in &to_failing {
            let delivery = stored(&world, r).await;
            assert_eq!(delivery.status, DeliveryStatus::Pending, "none dropped");
            if delivery.attempt_count == 0 {
                untouched += 1;
                assert_eq!(
                    delivery.next_attempt_at,
                    Some(Timestamp::from_unix_ms(T0 + LEASE_MS)),
                    "due for the sweep as recorded"
                );
                assert_eq!(delivery.lease_until, None);
            }
        }
        assert_eq!(untouched, 20 - attempts);

        // The process remembers the open breaker: the next hand-over to that endpoint is left
        // for the sweep without an attempt (nor a read); the healthy endpoint is served.
        let more = recorded(&world, &failing, 5).await;
        let healthy_more = recorded(&world, &healthy, 1).await;
        let work: Vec<DeliveryRef> = more.iter().chain(&healthy_more).cloned().collect();
        let next = world
            .service
            .deliver(&sender, &breakers, work, world.service.now(), far)
            .await;
        assert_eq!(sender.of(FAILING).0, attempts, "no new attempt");
        assert_eq!((next.postponed, next.succeeded), (5, 1));
    }

    #[tokio::test]
    async fn a_deliverer_out_of_time_claims_nothing_and_leaves_every_delivery_due() {
        let world = World::new().await;
        let healthy = endpoint(&world, HEALTHY).await;
        let work = recorded(&world, &healthy, 5).await;
        let sender = Counting::default();
        let report = world
            .service
            .deliver(
                &sender,
                &Breakers::default(),
                work.clone(),
                world.service.now(),
                Instant::now(),
            )
            .await;
        assert_eq!(sender.of(HEALTHY).0, 0, "no attempt begun");
        assert_eq!((report.deliveries, report.left), (0, 5));
        for r in &work {
            let delivery = stored(&world, r).await;
            assert_eq!(
                (delivery.attempt_count, delivery.lease_until),
                (0, None),
                "not claimed"
            );
        }
    }

    #[tokio::test]
    async fn deliveries_above_the_rate_limit_wait_and_are_left_due_not_dropped() {
        let world = World::new().await;
        let healthy = endpoint(&world, HEALTHY).await;
        let patch = EndpointPatch {
            rate_limit: Some(Some(2)),
            ..EndpointPatch::default()
        };
        let limited = world
            .service
            .update_endpoint(&world.tenant, &healthy.id, &patch)
            .await
            .unwrap();
        let work = recorded(&world, &limited, 5).await;
        // Other workers took this second's slots and the next few seconds' too.
        let second = Timestamp::now().unix_ms / 1_000;
        for s in second..second + 5 {
            let store = world.service.store();
            while store
                .take_delivery_slot(&limited.business_id, &limited.id, s, 2)
                .await
                .unwrap()
            {}
        }
        let sender = Counting::default();
        let report = world
            .service
            .deliver(
                &sender,
                &Breakers::default(),
                work.clone(),
                world.service.now(),
                Instant::now() + Duration::from_millis(300),
            )
            .await;
        assert_eq!(sender.of(HEALTHY).0, 0, "no attempt above the limit");
        assert_eq!((report.deliveries, report.left), (0, 5));
        for r in &work {
            let delivery = stored(&world, r).await;
            assert_eq!(delivery.status, DeliveryStatus::Pending, "still due");
            assert_eq!((delivery.attempt_count, delivery.lease_until), (0, None));
        }
    }

    #[tokio::test]
    async fn a_delivery_already_made_or_claimed_is_not_attempted_again() {
        let world = World::new().await;
        let healthy = endpoint(&world, HEALTHY).await;
        let work = recorded(&world, &healthy, 2).await;
        let sender = Counting::default();
        let far = Instant::now() + Duration::from_secs(3600);
        let now = world.service.now();
        let breakers = Breakers::default();
        world
            .service
            .deliver(&sender, &breakers, work.clone(), now, far)
            .await;
        // The same hand-over again (Lambda may run an asynchronous event twice).
        let again = world
            .service
            .deliver(&sender, &breakers, work, now, far)
            .await;
        assert_eq!(sender.of(HEALTHY).0, 2);
        assert_eq!(again.deliveries, 0);
    }
}
