//! The wallet operations: what each API route does, over the storage port.

use crate::auth::{hash_key, KEY_LENGTH_MAX};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::{DomainError, DomainResult, Original};
use crate::ids::{BusinessId, CustomerId, EntryId, HoldId, IdempotencyKey};
use crate::ledger::{apply_entry, check_event_type, page_range};
use crate::model::{
    CaptureCommand, CloseCommand, Customer, CustomerPatch, EntryCommand, Hold, HoldCommand,
    HoldStatus, InvoiceCommand, InvoicePayment, LedgerEntry, ReversalCommand, Tenant, Wallet,
    WalletSet,
};
use crate::money::Currency;
use crate::retry::{backoff, ATTEMPTS_MAX};
use crate::store::{
    Commit, CommitRejected, CustomerQuery, EntryRange, HoldQuery, HoldWrite, InvoiceWrite, Store,
};
use crate::validation::NewCustomer;
use crate::{closing, holds, invoices};

/// The wallets of a customer and their sum in USD (Dodo's wallet list response).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WalletList {
    pub items: Vec<Wallet>,
    pub total_balance_usd: i64,
}

/// An invoice payment and the wallet after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvoicePaymentView {
    #[serde(flatten)]
    pub payment: InvoicePayment,
    pub wallet: Wallet,
}

impl InvoicePaymentView {
    fn of(payment: &InvoicePayment, wallets: &WalletSet) -> InvoicePaymentView {
        let currency =
            Currency::parse(&payment.currency).expect("payments are in a valid currency");
        InvoicePaymentView {
            payment: payment.clone(),
            wallet: Wallet::view(&wallets.customer_id, currency, &wallets.wallets[&currency]),
        }
    }
}

/// Runs `attempt` until it commits: `Ok(None)` means it raced, and it is retried after a jittered
/// backoff. Gives up with a retryable [`DomainError::Contention`] after [`ATTEMPTS_MAX`] tries.
async fn until_committed<T, F, Fut>(mut attempt: F) -> DomainResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = DomainResult<Option<T>>>,
{
    for n in 0..ATTEMPTS_MAX {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        backoff(n).await;
    }
    Err(DomainError::Contention)
}

/// Now, as an RFC 3339 UTC timestamp with milliseconds.
pub fn now() -> String {
    Timestamp::now().rfc3339()
}

pub struct Wallets<S> {
    store: S,
    config: Config,
}

impl<S: Store> Wallets<S> {
    pub fn new(store: S, config: Config) -> Wallets<S> {
        Wallets { store, config }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The business whose API key this is.
    pub async fn authenticate(&self, bearer_token: Option<&str>) -> DomainResult<Tenant> {
        let token = bearer_token
            .filter(|t| !t.is_empty() && t.len() <= KEY_LENGTH_MAX)
            .ok_or(DomainError::Unauthenticated)?;
        let business_id = self
            .store
            .business_of_key(&hash_key(token))
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        Ok(Tenant { business_id })
    }

    /// Creates a business and returns its id and its first API key (shown only now).
    pub async fn create_business(&self, name: &str) -> DomainResult<(BusinessId, String)> {
        let business_id = BusinessId::generate();
        let key = crate::auth::generate_key();
        self.store
            .create_business(
                &business_id,
                &crate::validation::name(name)?,
                &hash_key(&key),
                &now(),
            )
            .await?;
        Ok((business_id, key))
    }

    /// A customer id that does not parse cannot exist: it answers 404 like any unknown id.
    fn customer_id(raw: &str) -> DomainResult<CustomerId> {
        CustomerId::parse(raw).map_err(|_| DomainError::CustomerNotFound(raw.to_owned()))
    }

    pub async fn create_customer(
        &self,
        tenant: &Tenant,
        new: NewCustomer,
    ) -> DomainResult<Customer> {
        // The id's ULID carries the creation millisecond: listing by date is a key range.
        let created = Timestamp::now();
        let customer_id = CustomerId::generate_at(created.unix_ms);
        let customer = Customer {
            customer_id: customer_id.to_string(),
            business_id: tenant.business_id.to_string(),
            email: new.email,
            name: new.name,
            phone_number: new.phone_number,
            metadata: new.metadata,
            preferred_locale: new.preferred_locale,
            created_at: created.rfc3339(),
        };
        let wallets = WalletSet::open(customer_id, &self.config.currencies, &customer.created_at);
        self.store.create_customer(&customer, &wallets).await?;
        Ok(customer)
    }

    pub async fn get_customer(&self, tenant: &Tenant, customer_id: &str) -> DomainResult<Customer> {
        let id = Self::customer_id(customer_id)?;
        self.store
            .get_customer(&tenant.business_id, &id)
            .await?
            .ok_or_else(|| DomainError::CustomerNotFound(customer_id.to_owned()))
    }

    pub async fn update_customer(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        patch: CustomerPatch,
    ) -> DomainResult<Customer> {
        let id = Self::customer_id(customer_id)?;
        self.store
            .update_customer(&tenant.business_id, &id, &patch)
            .await?
            .ok_or_else(|| DomainError::CustomerNotFound(customer_id.to_owned()))
    }

    pub async fn list_customers(
        &self,
        tenant: &Tenant,
        query: CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        self.store.list_customers(&tenant.business_id, &query).await
    }

    async fn wallet_set(
        &self,
        tenant: &Tenant,
        customer_id: &str,
    ) -> DomainResult<(CustomerId, WalletSet)> {
        let id = Self::customer_id(customer_id)?;
        let set = self
            .store
            .get_wallets(&tenant.business_id, &id)
            .await?
            .ok_or_else(|| DomainError::CustomerNotFound(customer_id.to_owned()))?;
        Ok((id, set))
    }

    pub async fn list_wallets(
        &self,
        tenant: &Tenant,
        customer_id: &str,
    ) -> DomainResult<WalletList> {
        let (id, set) = self.wallet_set(tenant, customer_id).await?;
        let items = set
            .wallets
            .iter()
            .map(|(c, w)| Wallet::view(&id, *c, w))
            .collect();
        let total_balance_usd = self
            .config
            .rates
            .total_usd_cents(set.wallets.iter().map(|(c, w)| (*c, w.balance)));
        Ok(WalletList {
            items,
            total_balance_usd,
        })
    }

    /// Writes one ledger entry and returns the wallet after it. Races are retried with jittered
    /// backoff; a repeated idempotency key answers with the original entry.
    pub async fn create_entry(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        command: EntryCommand,
    ) -> DomainResult<Wallet> {
        check_event_type(&command)?;
        let (command, entry_id) = (&command, &EntryId::generate());
        let key = command.idempotency_key.as_ref();
        until_committed(|| async move {
            let (id, current) = self.wallet_set(tenant, customer_id).await?;
            let applied = self
                .or_original(
                    tenant,
                    key,
                    apply_entry(
                        &current,
                        &tenant.business_id,
                        command,
                        entry_id.clone(),
                        &now(),
                    ),
                )
                .await?;
            let wallet = Wallet::view(
                &id,
                command.currency,
                &applied.next.wallets[&command.currency],
            );
            let commit = Commit {
                claim: key.map(|k| (k.clone(), Original::Entry(applied.entry.clone()))),
                entry: Some(applied.entry),
                ..Commit::wallets(applied.next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(wallet))
        })
        .await
    }

    /// Commits a change; `false` when it raced (read again and retry). A taken idempotency key or
    /// an invoice paid before answers with the original record.
    async fn try_commit(&self, tenant: &Tenant, commit: &Commit) -> DomainResult<bool> {
        match self.store.commit(&tenant.business_id, commit).await? {
            Ok(()) => Ok(true),
            Err(CommitRejected::Raced) => Ok(false),
            Err(CommitRejected::KeyTaken) => {
                let (key, _) = commit.claim.as_ref().expect("only a claim takes a key");
                Err(self
                    .repeated_key(tenant, key)
                    .await?
                    .expect("the key was taken, so its record exists"))
            }
            Err(CommitRejected::InvoiceTaken) => {
                let Some(InvoiceWrite::New(payment)) = &commit.invoice else {
                    unreachable!("only a new invoice payment takes an invoice")
                };
                let original = self
                    .store
                    .get_invoice_payment(
                        &tenant.business_id,
                        &commit.wallets.customer_id,
                        &payment.invoice_id,
                    )
                    .await?
                    .expect("the invoice was taken, so its payment exists");
                Err(DomainError::InvoiceAlreadyPaid {
                    original: Box::new(original),
                })
            }
        }
    }

    /// `planned`, unless it was refused and the request repeats an idempotency key: a repeat of an
    /// accepted request answers 409 with the original, even if it could not apply now.
    async fn or_original<T>(
        &self,
        tenant: &Tenant,
        key: Option<&IdempotencyKey>,
        planned: DomainResult<T>,
    ) -> DomainResult<T> {
        match (planned, key) {
            (Ok(planned), _) => Ok(planned),
            (Err(refused), Some(key)) => {
                Err(self.repeated_key(tenant, key).await?.unwrap_or(refused))
            }
            (Err(refused), None) => Err(refused),
        }
    }

    async fn repeated_key(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<DomainError>> {
        let original = self
            .store
            .original_for_key(&tenant.business_id, key)
            .await?;
        Ok(original.map(|original| DomainError::IdempotencyKeyReused {
            key: key.as_str().to_owned(),
            original: Box::new(original),
        }))
    }

    /// Reserves part of a wallet's available balance until captured, released or expired.
    pub async fn create_hold(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        command: HoldCommand,
    ) -> DomainResult<Hold> {
        let (command, hold_id) = (&command, &HoldId::generate());
        let key = command.idempotency_key.as_ref();
        until_committed(|| async move {
            let (_, current) = self.wallet_set(tenant, customer_id).await?;
            let planned = holds::create(
                &current,
                &tenant.business_id,
                command,
                hold_id,
                Timestamp::now(),
            );
            let (next, hold) = self.or_original(tenant, key, planned).await?;
            let commit = Commit {
                claim: key.map(|k| (k.clone(), Original::Hold(hold.clone()))),
                hold: Some(HoldWrite::New(hold.clone())),
                ..Commit::wallets(next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(hold))
        })
        .await
    }

    fn hold_id(raw: &str) -> DomainResult<HoldId> {
        HoldId::parse(raw).map_err(|_| DomainError::HoldNotFound(raw.to_owned()))
    }

    /// The customer's wallets and one of its holds, read consistently.
    async fn wallets_and_hold(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        hold_id: &str,
    ) -> DomainResult<(WalletSet, Hold)> {
        let (id, set) = self.wallet_set(tenant, customer_id).await?;
        let hold = self
            .store
            .get_hold(&tenant.business_id, &id, &Self::hold_id(hold_id)?)
            .await?
            .ok_or_else(|| DomainError::HoldNotFound(hold_id.to_owned()))?;
        Ok((set, hold))
    }

    pub async fn get_hold(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        hold_id: &str,
    ) -> DomainResult<Hold> {
        let id = Self::customer_id(customer_id)?;
        let hold_key = Self::hold_id(hold_id)?;
        match self
            .store
            .get_hold(&tenant.business_id, &id, &hold_key)
            .await?
        {
            Some(hold) => Ok(hold),
            // An unknown customer answers as such, not as an unknown hold.
            None => {
                self.wallet_set(tenant, customer_id).await?;
                Err(DomainError::HoldNotFound(hold_id.to_owned()))
            }
        }
    }

    pub async fn list_holds(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        query: HoldQuery,
    ) -> DomainResult<Vec<Hold>> {
        let (id, _) = self.wallet_set(tenant, customer_id).await?;
        self.store
            .list_holds(&tenant.business_id, &id, &query)
            .await
    }

    /// Charges all or part of a pending hold as one debit and releases the rest.
    pub async fn capture_hold(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        hold_id: &str,
        command: CaptureCommand,
    ) -> DomainResult<Hold> {
        let (command, entry_id) = (&command, &EntryId::generate());
        until_committed(|| async move {
            let (current, hold) = self.wallets_and_hold(tenant, customer_id, hold_id).await?;
            let (applied, captured) =
                holds::capture(&current, &hold, command, entry_id.clone(), Timestamp::now())?;
            let commit = Commit {
                entry: Some(applied.entry),
                hold: Some(HoldWrite::Resolved(captured.clone())),
                ..Commit::wallets(applied.next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(captured))
        })
        .await
    }

    /// Gives a pending hold back to the available balance.
    pub async fn release_hold(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        hold_id: &str,
    ) -> DomainResult<Hold> {
        until_committed(|| async move {
            let (current, hold) = self.wallets_and_hold(tenant, customer_id, hold_id).await?;
            let (next, released) =
                holds::release(&current, &hold, HoldStatus::Released, Timestamp::now())?;
            let commit = Commit {
                hold: Some(HoldWrite::Resolved(released.clone())),
                ..Commit::wallets(next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(released))
        })
        .await
    }

    /// The sweep's step: marks at most `limit` pending holds whose expiry is at or before `now`
    /// as expired, giving their amounts back. Returns how many it expired. Costs one index query
    /// per shard plus the holds that need it, whatever the number of wallets.
    pub async fn expire_holds(&self, now: Timestamp, limit: usize) -> DomainResult<usize> {
        let mut expired = 0;
        for found in self.store.expired_holds(now.unix_ms, limit).await? {
            let tenant = &Tenant {
                business_id: found.business_id.clone(),
            };
            let found = &found;
            let done = until_committed(|| async move {
                let (current, hold) = match self
                    .wallets_and_hold(tenant, found.customer_id.as_str(), found.hold_id.as_str())
                    .await
                {
                    Ok(read) => read,
                    Err(DomainError::HoldNotFound(_) | DomainError::CustomerNotFound(_)) => {
                        return Ok(Some(false))
                    }
                    Err(other) => return Err(other),
                };
                if hold.status != HoldStatus::Pending || hold.expires_at_ms > now.unix_ms {
                    return Ok(Some(false)); // resolved meanwhile: nothing to do
                }
                let (next, lapsed) = holds::release(&current, &hold, HoldStatus::Expired, now)?;
                let commit = Commit {
                    hold: Some(HoldWrite::Resolved(lapsed)),
                    ..Commit::wallets(next)
                };
                Ok(self.try_commit(tenant, &commit).await?.then_some(true))
            })
            .await?;
            expired += usize::from(done);
        }
        Ok(expired)
    }

    /// Pays `min(available, amount due)` of an invoice from the wallet of its currency, once per
    /// customer and invoice.
    pub async fn pay_invoice(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        command: InvoiceCommand,
    ) -> DomainResult<InvoicePaymentView> {
        let (command, entry_id) = (&command, &EntryId::generate());
        until_committed(|| async move {
            let (id, current) = self.wallet_set(tenant, customer_id).await?;
            if let Some(original) = self
                .store
                .get_invoice_payment(&tenant.business_id, &id, &command.invoice_id)
                .await?
            {
                return Err(DomainError::InvoiceAlreadyPaid {
                    original: Box::new(original),
                });
            }
            let (next, entry, payment) = invoices::apply(
                &current,
                &tenant.business_id,
                command,
                entry_id.clone(),
                &now(),
            )?;
            let view = InvoicePaymentView::of(&payment, &next);
            let commit = Commit {
                entry,
                invoice: Some(InvoiceWrite::New(payment)),
                ..Commit::wallets(next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(view))
        })
        .await
    }

    /// What the wallet paid of one invoice, and the wallet now.
    pub async fn get_invoice_payment(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        invoice_id: &str,
    ) -> DomainResult<InvoicePaymentView> {
        let (id, set) = self.wallet_set(tenant, customer_id).await?;
        let payment = self
            .store
            .get_invoice_payment(&tenant.business_id, &id, invoice_id)
            .await?
            .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_owned()))?;
        Ok(InvoicePaymentView::of(&payment, &set))
    }

    /// Credits back part of an invoice's wallet payment (a refund of a wallet-paid invoice).
    pub async fn reverse_invoice_payment(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        invoice_id: &str,
        command: ReversalCommand,
    ) -> DomainResult<InvoicePaymentView> {
        let (command, entry_id) = (&command, &EntryId::generate());
        let key = command.idempotency_key.as_ref();
        until_committed(|| async move {
            let (id, current) = self.wallet_set(tenant, customer_id).await?;
            let payment = self
                .store
                .get_invoice_payment(&tenant.business_id, &id, invoice_id)
                .await?
                .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_owned()));
            let planned = payment.and_then(|payment| {
                invoices::reverse(&current, &payment, command, entry_id.clone(), &now())
                    .map(|(applied, next_payment)| (applied, next_payment, payment.reversed))
            });
            let (applied, next_payment, reversed_before) =
                self.or_original(tenant, key, planned).await?;
            let view = InvoicePaymentView::of(&next_payment, &applied.next);
            let commit = Commit {
                claim: key.map(|k| (k.clone(), Original::Entry(applied.entry.clone()))),
                entry: Some(applied.entry),
                invoice: Some(InvoiceWrite::Reversed {
                    payment: next_payment,
                    reversed_before,
                }),
                ..Commit::wallets(applied.next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(view))
        })
        .await
    }

    /// Pays out a wallet's balance as one debit and closes it.
    pub async fn close_wallet(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        command: CloseCommand,
    ) -> DomainResult<Wallet> {
        let (command, entry_id) = (&command, &EntryId::generate());
        until_committed(|| async move {
            let (id, current) = self.wallet_set(tenant, customer_id).await?;
            let (next, entry) = closing::close(
                &current,
                &tenant.business_id,
                command,
                entry_id.clone(),
                &now(),
            )?;
            let wallet = Wallet::view(&id, command.currency, &next.wallets[&command.currency]);
            let commit = Commit {
                entry,
                ..Commit::wallets(next)
            };
            Ok(self.try_commit(tenant, &commit).await?.then_some(wallet))
        })
        .await
    }

    /// One page of the customer's ledger, newest first; costs one wallet read and one query of
    /// at most `page_size` entries, whatever the page number.
    pub async fn list_entries(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        currency: Option<Currency>,
        page_number: u32,
        page_size: u32,
    ) -> DomainResult<Vec<LedgerEntry>> {
        let (id, set) = self.wallet_set(tenant, customer_id).await?;
        let entry_count = match currency {
            Some(c) => set.wallets.get(&c).map_or(0, |w| w.entry_count),
            None => set.entry_count,
        };
        let Some((oldest, newest)) = page_range(entry_count, page_number, page_size) else {
            return Ok(Vec::new());
        };
        let entries = self
            .store
            .list_entries(
                &tenant.business_id,
                &id,
                EntryRange {
                    currency,
                    oldest,
                    newest,
                },
            )
            .await?;
        debug_assert_eq!(
            entries.len() as u64,
            newest - oldest + 1,
            "a committed range has no gaps"
        );
        Ok(entries)
    }
}
