//! `wallets-admin`: operator commands against the table named by `TABLE_NAME`
//! (and `DYNAMODB_ENDPOINT` for DynamoDB Local).
//!
//! ```text
//! wallets-admin create-table
//! wallets-admin upgrade-table <table> <new table>  # copies a table of an earlier layout (AWS)
//! wallets-admin upgrade-table <table>              # the same in place (writers stopped; local)
//! wallets-admin create-business "<name>"    # prints BUSINESS_ID=... and API_KEY=...
//! wallets-admin expire-holds                 # releases pending holds past their expiry
//! wallets-admin retry-webhooks               # attempts the webhook deliveries now due
//! wallets-admin top-ups                      # runs the auto top-ups now due (STRIPE_* set)
//! wallets-admin create-key <business_id> [name]   # prints KEY_ID=... and API_KEY=... (once)
//! wallets-admin list-keys <business_id>
//! wallets-admin revoke-key <business_id> <key_id>
//! wallets-admin rotate-key <business_id> <key_id> [grace seconds, default 86400]
//! ```

use std::process::ExitCode;

use shared::adapters::dynamo::table;

const USAGE: &str =
    "usage: wallets-admin create-table | upgrade-table <table> [<new table>] | create-business <name> | expire-holds | retry-webhooks | top-ups | create-key <business> [name] | list-keys <business> | revoke-key <business> <key> | rotate-key <business> <key> [grace s]";
/// Holds one `expire-holds` run expires at most (run it again for more).
const EXPIRE_BATCH: usize = 10_000;

fn tenant_of(business: &str) -> Result<shared::access::model::Tenant, ExitCode> {
    match shared::kernel::BusinessId::parse(business) {
        Ok(business_id) => Ok(shared::access::model::Tenant { business_id }),
        Err(e) => {
            eprintln!("{e}");
            Err(ExitCode::from(2))
        }
    }
}

fn key_id_of(key: &str) -> Result<shared::kernel::KeyId, ExitCode> {
    shared::kernel::KeyId::parse(key).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// One line per key: id, name, prefix, and its dates.
fn describe_key(key: &shared::access::model::ApiKey) -> String {
    let at =
        |t: Option<shared::kernel::Timestamp>| t.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into());
    format!(
        "{} {:?} prefix={} scope={} created={} expires={} revoked={} last_used={}",
        key.id,
        key.name,
        key.prefix,
        key.scope.as_str(),
        key.created_at.rfc3339(),
        at(key.expires_at),
        at(key.revoked_at),
        at(key.last_used_at)
    )
}

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
        ["upgrade-table", name] => {
            shared::adapters::dynamo::upgrade::upgrade_in_place(store.client(), name)
                .await
                .map(|copied| match copied {
                    Some(c) => println!(
                        "table {name} upgraded in place: {} items read, {} written",
                        c.read, c.written
                    ),
                    None => println!(
                        "table {name}: nothing to upgrade (absent, or in the current layout)"
                    ),
                })
        }
        ["upgrade-table", from, to] => {
            shared::adapters::dynamo::upgrade::copy_table(store.client(), from, to)
                .await
                .map(|c| {
                    println!(
                "table {from} copied to {to} in the current layout: {} items read, {} written",
                c.read, c.written
            )
                })
        }
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
        ["create-key", business, rest @ ..] => match tenant_of(business) {
            Ok(tenant) => app
                .create_key(
                    &tenant,
                    None,
                    rest.first().copied(),
                    None,
                    shared::access::model::Scope::Full,
                )
                .await
                .map(|(key, secret)| {
                    println!("KEY_ID={}", key.id);
                    println!("API_KEY={secret}");
                }),
            Err(code) => return code,
        },
        ["list-keys", business] => match tenant_of(business) {
            Ok(tenant) => app.list_keys(&tenant).await.map(|keys| {
                for key in keys {
                    println!("{}", describe_key(&key));
                }
            }),
            Err(code) => return code,
        },
        ["revoke-key", business, key] => match (tenant_of(business), key_id_of(key)) {
            (Ok(tenant), Ok(id)) => app
                .revoke_key(&tenant, &id)
                .await
                .map(|key| println!("{}", describe_key(&key))),
            _ => return ExitCode::from(2),
        },
        ["rotate-key", business, key, rest @ ..] => {
            let grace = match rest.first().map(|s| s.parse::<u64>()) {
                None => None,
                Some(Ok(seconds)) => Some(seconds),
                Some(Err(_)) => {
                    eprintln!("the grace period is a number of seconds");
                    return ExitCode::from(2);
                }
            };
            match (tenant_of(business), key_id_of(key)) {
                (Ok(tenant), Ok(id)) => {
                    app.rotate_key(&tenant, None, &id, grace)
                        .await
                        .map(|((new, secret), old)| {
                            println!("KEY_ID={}", new.id);
                            println!("API_KEY={secret}");
                            println!("old key: {}", describe_key(&old));
                        })
                }
                _ => return ExitCode::from(2),
            }
        }
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
