//! Failures injected by tests (conflicts, lost answers, forgotten tokens, unreadable items) and
//! the count of commits.

use super::{Commits, MemoryStore};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, CustomerId, EndpointId};

impl MemoryStore {
    /// Refuses the next `n` commits as conflicts with another transaction
    /// (`Rejection { failed: [] }`, DynamoDB's `TransactionConflict`), without looking at them.
    pub fn fail_next_commits(&self, n: u32) {
        self.lock().conflicts_to_inject = n;
    }

    /// Every read of this customer's wallets or holds fails from now on (a storage error): one
    /// item that a sweep cannot process.
    pub fn break_customer(&self, business_id: &BusinessId, customer_id: &CustomerId) {
        let customer = (business_id.clone(), customer_id.clone());
        self.lock().broken.insert(customer);
    }

    /// Every read of this endpoint or of its deliveries fails from now on (a storage error).
    pub fn break_endpoint(&self, business_id: &BusinessId, endpoint_id: &EndpointId) {
        let endpoint = (business_id.clone(), endpoint_id.clone());
        self.lock().broken_endpoints.insert(endpoint);
    }

    pub(super) fn check_endpoint_not_broken(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<()> {
        let endpoint = (business_id.clone(), endpoint_id.clone());
        if self.lock().broken_endpoints.contains(&endpoint) {
            return Err(DomainError::Storage(format!(
                "read endpoint {endpoint_id}: failed (injected)"
            )));
        }
        Ok(())
    }

    pub(super) fn check_not_broken(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<()> {
        let customer = (business_id.clone(), customer_id.clone());
        if self.lock().broken.contains(&customer) {
            return Err(DomainError::Storage(format!(
                "read customer {customer_id}: failed (injected)"
            )));
        }
        Ok(())
    }

    /// The next `n` commits that land answer as if the store had failed: the caller cannot tell
    /// whether they landed (a timeout after the write).
    pub fn lose_next_answers(&self, n: u32) {
        self.lock().answers_to_lose = n;
    }

    /// From now on, a change sent again with its token is checked like a new one (DynamoDB
    /// remembers a `ClientRequestToken` for ten minutes only).
    pub fn forget_tokens(&self) {
        self.lock().forget_tokens = true;
    }

    /// From now on, right after a commit whose answer is lost, another change of the same
    /// wallets lands before the caller can look (a concurrent request of the customer's).
    pub fn move_wallets_after_lost_answers(&self) {
        self.lock().move_wallets_after_lost_answer = true;
    }

    /// Commits landed and refused so far.
    pub fn commits(&self) -> Commits {
        self.lock().commits
    }
}
