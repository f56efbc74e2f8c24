//! Customer operations.

use super::model::{Customer, CustomerPatch, CustomerQuery, NewCustomer};
use super::rules::patched;
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, CustomerId};
use crate::ledger::model::CustomerWallets;
use crate::ports::Store;
use crate::service::Service;

fn not_found(customer_id: &CustomerId) -> DomainError {
    DomainError::CustomerNotFound(customer_id.to_string())
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Creates a customer with a zero-balance wallet in every enabled currency.
    pub async fn create_customer(
        &self,
        tenant: &Tenant,
        new: NewCustomer,
    ) -> DomainResult<Customer> {
        let new = &new;
        self.change(&tenant.business_id, None, |now| async move {
            // The id's ULID carries the creation millisecond: listing by date is a key range.
            let customer_id = CustomerId::generate_at(now.unix_ms);
            let customer = Customer {
                customer_id: customer_id.clone(),
                business_id: tenant.business_id.clone(),
                email: new.email.clone(),
                name: new.name.clone(),
                phone_number: new.phone_number.clone(),
                metadata: new.metadata.clone(),
                preferred_locale: new.preferred_locale.clone(),
                created_at: now,
                gateway_customer_id: None,
                payment_methods: Vec::new(),
                auto_pay: false,
            };
            let wallets = CustomerWallets::open(customer_id, &self.config().currencies, now);
            let writes = vec![
                Write::NewCustomer(customer.clone()),
                Write::NewWallets(wallets),
            ];
            Ok(Plan::Commit(writes, customer))
        })
        .await
    }

    pub async fn get_customer(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<Customer> {
        self.store()
            .get_customer(&tenant.business_id, customer_id)
            .await?
            .ok_or_else(|| not_found(customer_id))
    }

    /// Applies the patch; concurrent patches never lose each other's fields.
    pub async fn update_customer(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        patch: CustomerPatch,
    ) -> DomainResult<Customer> {
        let patch = &patch;
        self.change(&tenant.business_id, None, |_| async move {
            let read = self
                .store()
                .get_customer_revision(&tenant.business_id, customer_id)
                .await?
                .ok_or_else(|| not_found(customer_id))?;
            let customer = patched(&read.customer, patch);
            let write = Write::ReplaceCustomer {
                customer: customer.clone(),
                revision: read.revision,
            };
            Ok(Plan::Commit(vec![write], customer))
        })
        .await
    }

    pub async fn list_customers(
        &self,
        tenant: &Tenant,
        query: CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        query.page.check_depth("customer")?;
        self.store()
            .list_customers(&tenant.business_id, &query)
            .await
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
