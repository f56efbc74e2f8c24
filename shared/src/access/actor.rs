//! The actor of the work in progress: set once where a request or an automatic run starts
//! (`acting`), read where a record is made (`current`), so every change records who made it
//! without each operation passing it along.

use std::future::Future;

use super::model::Actor;

tokio::task_local! {
    static ACTOR: Actor;
}

/// Runs `work` as `actor`.
pub async fn acting<F: Future>(actor: Actor, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// The actor of the running work, if one was set.
pub fn current() -> Option<Actor> {
    ACTOR.try_with(Clone::clone).ok()
}

/// Runs `work` as the current actor, or as the process `name` when none is set: what an
/// automatic change (a top-up's credit, a hold's expiry) records when no request started it.
pub async fn or_process<F: Future>(name: &str, work: F) -> F::Output {
    // Boxed: the work is a deep future (a top-up is three changes); boxing keeps the futures
    // that await this one small enough for the compiler's layout limits.
    let work = Box::pin(work);
    match current() {
        Some(_) => work.await,
        None => acting(process(name, None), work).await,
    }
}

/// An automatic process (`sweep`, `dispatcher`) as an actor.
pub fn process(name: &str, request_id: Option<String>) -> Actor {
    Actor {
        key_id: None,
        process: Some(name.to_owned()),
        request_id,
        session_id: None,
    }
}
