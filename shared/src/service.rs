//! The wallet operations: what each API route does, over the storage port.

use crate::auth::{hash_key, KEY_LENGTH_MAX};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::{DomainError, DomainResult};
use crate::ids::{BusinessId, CustomerId, EntryId};
use crate::ledger::{apply_entry, page_range};
use crate::model::{Customer, CustomerPatch, EntryCommand, LedgerEntry, Tenant, Wallet, WalletSet};
use crate::money::Currency;
use crate::retry::{backoff, ATTEMPTS_MAX};
use crate::store::{CommitRejected, CustomerQuery, EntryRange, Store};
use crate::validation::NewCustomer;

/// The wallets of a customer and their sum in USD (Dodo's wallet list response).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WalletList {
    pub items: Vec<Wallet>,
    pub total_balance_usd: i64,
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
        let entry_id = EntryId::generate();
        for attempt in 0..ATTEMPTS_MAX {
            let (id, current) = self.wallet_set(tenant, customer_id).await?;
            let applied = match apply_entry(
                &current,
                &tenant.business_id,
                &command,
                entry_id.clone(),
                &now(),
            ) {
                Ok(applied) => applied,
                // A repeat of an accepted request must answer 409, even if it could not apply now.
                Err(refused) => {
                    return Err(self
                        .original_if_repeated(tenant, &command)
                        .await?
                        .unwrap_or(refused))
                }
            };
            match self
                .store
                .commit_entry(
                    &tenant.business_id,
                    &applied.next,
                    &applied.entry,
                    command.idempotency_key.as_ref(),
                )
                .await?
            {
                Ok(()) => {
                    return Ok(Wallet::view(
                        &id,
                        command.currency,
                        &applied.next.wallets[&command.currency],
                    ))
                }
                Err(CommitRejected::KeyTaken) => {
                    return Err(self
                        .original_if_repeated(tenant, &command)
                        .await?
                        .expect("the key was taken, so its entry exists"));
                }
                Err(CommitRejected::Raced) => backoff(attempt).await,
            }
        }
        Err(DomainError::Contention)
    }

    async fn original_if_repeated(
        &self,
        tenant: &Tenant,
        command: &EntryCommand,
    ) -> DomainResult<Option<DomainError>> {
        let Some(key) = &command.idempotency_key else {
            return Ok(None);
        };
        let original = self.store.entry_for_key(&tenant.business_id, key).await?;
        Ok(original.map(|entry| DomainError::IdempotencyKeyReused {
            key: key.as_str().to_owned(),
            original: Box::new(entry),
        }))
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
