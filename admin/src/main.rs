//! `wallets-admin`: operator commands against the table named by `TABLE_NAME`
//! (and `DYNAMODB_ENDPOINT` for DynamoDB Local).
//!
//! ```text
//! wallets-admin create-table
//! wallets-admin create-business "<name>"    # prints BUSINESS_ID=... and API_KEY=...
//! wallets-admin expire-holds                 # releases pending holds past their expiry
//! wallets-admin retry-webhooks               # attempts the webhook deliveries now due
//! wallets-admin top-ups                      # runs the auto top-ups now due (STRIPE_* set)
//! ```

use std::process::ExitCode;

use shared::adapters::dynamo::table;

const USAGE: &str =
    "usage: wallets-admin create-table | create-business <name> | expire-holds | retry-webhooks | top-ups";
/// Holds one `expire-holds` run expires at most (run it again for more).
const EXPIRE_BATCH: usize = 10_000;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let app = match shared::from_env().await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let store = app.store();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create-table"] => table::create_table(store.client(), store.table())
            .await
            .map(|created| {
                println!(
                    "table {} {}",
                    store.table(),
                    if created { "created" } else { "already exists" }
                );
            }),
        ["create-business", name] => app.create_business(name).await.map(|(business_id, key)| {
            println!("BUSINESS_ID={business_id}");
            println!("API_KEY={key}");
        }),
        ["expire-holds"] => app
            .expire_holds(app.now(), EXPIRE_BATCH)
            .await
            .map(|expired| println!("expired {expired} holds")),
        ["retry-webhooks"] => {
            let sender =
                shared::adapters::webhook_http::HttpSender::new(app.config().webhook_targets);
            app.retry_deliveries(&sender, app.now(), EXPIRE_BATCH)
                .await
                .map(|report| {
                    println!(
                        "{} due deliveries: {} succeeded, {} failed again",
                        report.deliveries, report.succeeded, report.failed
                    )
                })
        }
        ["top-ups"] => match shared::adapters::stripe::from_config(app.config()) {
            Ok(Some(gateway)) => app
                .sweep_top_ups_and_holds(
                    Some(&gateway),
                    app.now(),
                    EXPIRE_BATCH,
                    std::time::Duration::from_secs(600),
                )
                .await
                .map(|report| println!("{report:?}")),
            Ok(None) => {
                eprintln!("set STRIPE_SECRET_KEY (and STRIPE_BASE_URL) to run top-ups");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("configuration: {e}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
