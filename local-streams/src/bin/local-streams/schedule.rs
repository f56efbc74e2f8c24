//! The EventBridge schedule: the retry sweep invoked every `SWEEP_EVERY_S` seconds.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::invoke::invoke;
use crate::log::Throttled;
use crate::settings::Settings;

/// Invokes the retry sweep every `sweep_every`, with an EventBridge scheduled event.
pub(crate) async fn sweep(settings: Arc<Settings>) {
    let path = settings.invoke_path(&settings.sweep_function);
    let mut log = Throttled::default();
    let mut ticks = tokio::time::interval(settings.sweep_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match invoke(&settings, &path, &scheduled_event()).await {
            Ok(_) => log.succeeded(&settings.sweep_function),
            Err(e) => log.failed(|| format!("{}: {e}", settings.sweep_function)),
        }
    }
}

/// What EventBridge passes to a function on a schedule.
fn scheduled_event() -> Value {
    let id = ulid::Ulid::new().0;
    let hex = format!("{id:032x}");
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let now = time::OffsetDateTime::now_utc()
        .format(format)
        .expect("a time formats");
    json!({
        "version": "0",
        "id": uuid,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": now,
        "region": std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        "resources": [],
        "detail": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduled_event_is_eventbridges() {
        let event = scheduled_event();
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["id"].as_str().unwrap().len(), 36);
        assert!(event["time"].as_str().unwrap().ends_with('Z'));
    }
}
