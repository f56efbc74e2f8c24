//! Pure rules of top-up links: what a request may ask, what a claim, a release, a cancel, an
//! expiry and a payment do to a link. No I/O; `links_ops.rs` reads, applies these and commits.

use super::links::{
    LinkAmount, LinkClaim, TopUpLink, TopUpLinkCommand, TopUpLinkStatus, CLAIM_LEASE_MS,
    EXPIRES_IN_DEFAULT_S, EXPIRES_IN_MAX_S, EXPIRES_IN_MIN_S,
};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Amount, BusinessId, Currency, Timestamp, TopUpLinkId, ValidationError};
use crate::ledger::model::{CustomerWallets, WalletStatus};

/// The amount of a request: `amount`, or both `min_amount` and `max_amount` (min <= max), each a
/// valid amount; never both kinds.
pub fn link_amount(
    amount: Option<i64>,
    min_amount: Option<i64>,
    max_amount: Option<i64>,
) -> Result<LinkAmount, ValidationError> {
    let invalid = |message: &str| ValidationError::new("invalid_top_up_link_amount", message);
    match (amount, min_amount, max_amount) {
        (Some(amount), None, None) => Ok(LinkAmount::Fixed(Amount::new(amount)?.minor())),
        (None, Some(min), Some(max)) => {
            let (min, max) = (Amount::new(min)?.minor(), Amount::new(max)?.minor());
            if min > max {
                return Err(invalid(
                    "min_amount must be at most max_amount (minor units)",
                ));
            }
            Ok(LinkAmount::Range { min, max })
        }
        (Some(_), _, _) => Err(invalid(
            "give either `amount` or the range `min_amount` and `max_amount`, not both",
        )),
        (None, None, None) => Err(invalid(
            "give `amount`, or the range `min_amount` and `max_amount` (minor units)",
        )),
        (None, _, _) => Err(invalid(
            "a range needs both `min_amount` and `max_amount` (minor units)",
        )),
    }
}

/// The seconds a link lives: the default when absent, else within the bounds.
pub fn expires_in(raw: Option<i64>) -> Result<u64, ValidationError> {
    let Some(seconds) = raw else {
        return Ok(EXPIRES_IN_DEFAULT_S);
    };
    u64::try_from(seconds)
        .ok()
        .filter(|s| (EXPIRES_IN_MIN_S..=EXPIRES_IN_MAX_S).contains(s))
        .ok_or_else(|| {
            ValidationError::new(
                "invalid_expires_in",
                format!(
                    "expires_in must be {EXPIRES_IN_MIN_S} to {EXPIRES_IN_MAX_S} seconds (30 days); got {seconds}"
                ),
            )
        })
}

/// A new link of the customer whose wallets are `wallets`: its currency must be one of the
/// customer's open wallets.
pub fn create(
    wallets: &CustomerWallets,
    business_id: &BusinessId,
    command: &TopUpLinkCommand,
    id: &TopUpLinkId,
    now: Timestamp,
) -> DomainResult<TopUpLink> {
    let currency = command.currency;
    open_wallet(wallets, currency)?;
    let (amount, min_amount, max_amount) = match command.amount {
        LinkAmount::Fixed(amount) => (Some(amount), None, None),
        LinkAmount::Range { min, max } => (None, Some(min), Some(max)),
    };
    Ok(TopUpLink {
        id: id.clone(),
        business_id: business_id.clone(),
        customer_id: wallets.customer_id.clone(),
        currency,
        amount,
        min_amount,
        max_amount,
        reason: command.reason.clone(),
        single_use: command.single_use,
        status: TopUpLinkStatus::Active,
        expires_at: Timestamp::from_unix_ms(now.unix_ms + command.expires_in_s * 1000),
        created_at: now,
        updated_at: now,
        paying: None,
        paid_count: 0,
        paid_amount: 0,
        last_paid_top_up_id: None,
        idempotency_key: command.idempotency_key.clone(),
        version: 1,
        created_by: crate::access::actor::current(),
    })
}

fn open_wallet(wallets: &CustomerWallets, currency: Currency) -> DomainResult<()> {
    match wallets.wallets.get(&currency) {
        None => Err(DomainError::CurrencyNotEnabled {
            customer_id: wallets.customer_id.to_string(),
            currency: currency.to_string(),
            enabled: wallets
                .wallets
                .keys()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
        Some(wallet) if wallet.status == WalletStatus::Closed => Err(DomainError::WalletClosed {
            currency: currency.to_string(),
        }),
        Some(_) => Ok(()),
    }
}

/// Whether the link may be paid at `now`: active and not past its expiry. The refusals are the
/// pages the payer sees.
pub fn payable(link: &TopUpLink, now: Timestamp) -> DomainResult<()> {
    let id = link.id.to_string();
    match link.status {
        TopUpLinkStatus::Paid => Err(DomainError::TopUpLinkUsed(id)),
        TopUpLinkStatus::Cancelled => Err(DomainError::TopUpLinkCancelled(id)),
        TopUpLinkStatus::Expired => Err(DomainError::TopUpLinkExpired(id)),
        TopUpLinkStatus::Active if link.expires_at <= now => Err(DomainError::TopUpLinkExpired(id)),
        TopUpLinkStatus::Active => Ok(()),
    }
}

/// Whether `amount` is what the link asks for (422 `top_up_link_amount` otherwise).
pub fn check_amount(link: &TopUpLink, amount: i64) -> Result<(), ValidationError> {
    let fits = match link.asks() {
        LinkAmount::Fixed(asked) => amount == asked,
        LinkAmount::Range { min, max } => (min..=max).contains(&amount),
    };
    if fits {
        return Ok(());
    }
    let asked = match link.asks() {
        LinkAmount::Fixed(asked) => format!("exactly {asked}"),
        LinkAmount::Range { min, max } => format!("{min} to {max}"),
    };
    Err(ValidationError::new(
        "top_up_link_amount",
        format!(
            "this link takes {asked} (minor units of {}); got {amount}",
            link.currency
        ),
    ))
}

/// The claim a new claim of the link would have to take over: another top-up's, whose lease
/// ended at `now` (then the caller asks whether that top-up charged anything).
pub fn lapsed_claim<'a>(link: &'a TopUpLink, top_up_id: &str, now: Timestamp) -> Option<&'a str> {
    let held = link.paying.as_ref()?;
    (link.single_use && held.top_up_id != top_up_id && held.lease_until <= now)
        .then_some(held.top_up_id.as_str())
}

/// The link claimed by `top_up_id` for `amount`, or `None` when nothing changes (a multi-use
/// link takes any number of payers; a repeated claim of the same top-up keeps its claim).
/// A single-use link held by another top-up is in use while its lease lasts, and after it when
/// `lapsed_charged` (that top-up's card was charged: its credit is on its way).
pub fn claim(
    link: &TopUpLink,
    top_up_id: &str,
    amount: i64,
    now: Timestamp,
    lapsed_charged: bool,
) -> DomainResult<Option<TopUpLink>> {
    payable(link, now)?;
    check_amount(link, amount)?;
    if !link.single_use {
        return Ok(None);
    }
    if let Some(held) = &link.paying {
        if held.top_up_id == top_up_id && held.amount == amount {
            return Ok(None);
        }
        if held.lease_until > now || lapsed_charged {
            return Err(DomainError::TopUpLinkInUse(link.id.to_string()));
        }
    }
    let mut next = changed(link, now);
    next.paying = Some(LinkClaim {
        top_up_id: top_up_id.to_owned(),
        amount,
        claimed_at: now,
        lease_until: Timestamp::from_unix_ms(now.unix_ms + CLAIM_LEASE_MS),
    });
    Ok(Some(next))
}

/// The link with `top_up_id`'s claim given back (its card declined), or `None` when that
/// top-up holds no claim (released before, or taken over).
pub fn release(link: &TopUpLink, top_up_id: &str, now: Timestamp) -> Option<TopUpLink> {
    let held = link.paying.as_ref()?;
    if held.top_up_id != top_up_id || link.paid_count > 0 {
        return None;
    }
    let mut next = changed(link, now);
    next.paying = None;
    Some(next)
}

/// The link cancelled by the merchant; `None` when it already is. A paid or expired link
/// cannot be cancelled.
pub fn cancel(link: &TopUpLink, now: Timestamp) -> DomainResult<Option<TopUpLink>> {
    match link.status {
        TopUpLinkStatus::Cancelled => Ok(None),
        TopUpLinkStatus::Paid => Err(DomainError::TopUpLinkUsed(link.id.to_string())),
        TopUpLinkStatus::Expired => Err(DomainError::TopUpLinkExpired(link.id.to_string())),
        TopUpLinkStatus::Active => {
            let mut next = changed(link, now);
            next.status = TopUpLinkStatus::Cancelled;
            Ok(Some(next))
        }
    }
}

/// The link marked expired, if it is active, past its expiry, and held by no live claim (a
/// top-up being charged right now keeps it until its lease ends).
pub fn expire(link: &TopUpLink, now: Timestamp) -> Option<TopUpLink> {
    let live_claim = link.paying.as_ref().is_some_and(|c| c.lease_until > now);
    if link.status != TopUpLinkStatus::Active || link.expires_at > now || live_claim {
        return None;
    }
    let mut next = changed(link, now);
    next.status = TopUpLinkStatus::Expired;
    Some(next)
}

/// The link after `top_up_id` was credited `amount` through it: a single-use link claimed by
/// that top-up becomes paid (whatever happened to it since: the money moved); a multi-use link
/// counts the payment. `None` when the top-up is not the link's to count (no claim of it, or
/// counted already): the credit goes on without it.
pub fn mark_paid(
    link: &TopUpLink,
    top_up_id: &str,
    amount: i64,
    now: Timestamp,
) -> Option<TopUpLink> {
    if link.last_paid_top_up_id.as_deref() == Some(top_up_id) {
        return None;
    }
    let claimed = link
        .paying
        .as_ref()
        .is_some_and(|c| c.top_up_id == top_up_id);
    if link.single_use && (!claimed || link.paid_count > 0) {
        return None;
    }
    let mut next = changed(link, now);
    if link.single_use {
        next.status = TopUpLinkStatus::Paid;
    }
    next.paid_count += 1;
    next.paid_amount = next.paid_amount.saturating_add(amount);
    next.last_paid_top_up_id = Some(top_up_id.to_owned());
    Some(next)
}

/// The link's next version, changed at `now`.
fn changed(link: &TopUpLink, now: Timestamp) -> TopUpLink {
    let mut next = link.clone();
    next.version += 1;
    next.updated_at = now;
    next
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
