//! The settings, from the environment (see the binary's documentation).

use std::time::Duration;

use local_streams::StartingPosition;

pub(crate) struct Settings {
    pub(crate) table: String,
    pub(crate) endpoint: Option<String>,
    /// `host:port` of cargo lambda watch.
    pub(crate) invoke_authority: String,
    pub(crate) stream_function: String,
    pub(crate) sweep_function: String,
    pub(crate) sweep_every: Duration,
    pub(crate) batch_size: usize,
    pub(crate) start: StartingPosition,
    pub(crate) ready_file: Option<String>,
    pub(crate) invoke_timeout: Duration,
    pub(crate) async_invoke_port: Option<u16>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    pub(crate) fn from_env() -> Result<Settings, String> {
        let invoke_authority = match (var("INVOKE_URL"), var("WATCH_PORT")) {
            (Some(url), _) => url
                .strip_prefix("http://")
                .ok_or_else(|| format!("INVOKE_URL must start with http:// (not '{url}')"))?
                .trim_end_matches('/')
                .to_owned(),
            (None, Some(port)) => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("WATCH_PORT must be a port, not '{port}'"))?;
                format!("127.0.0.1:{port}")
            }
            (None, None) => return Err("set WATCH_PORT or INVOKE_URL".into()),
        };
        let number = |name: &str, default: u64| -> Result<u64, String> {
            var(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{name} must be a whole number, not '{v}'"))
            })
        };
        Ok(Settings {
            table: var("TABLE_NAME").ok_or("set TABLE_NAME")?,
            endpoint: var("DYNAMODB_ENDPOINT"),
            invoke_authority,
            stream_function: var("STREAM_FUNCTION").unwrap_or("webhook-dispatcher".into()),
            sweep_function: var("SWEEP_FUNCTION").unwrap_or("sweep".into()),
            sweep_every: Duration::from_secs(number("SWEEP_EVERY_S", 5)?),
            batch_size: usize::try_from(number("BATCH_SIZE", 100)?.clamp(1, 1000)).unwrap_or(100),
            start: var("STREAM_START").map_or(Ok(StartingPosition::TrimHorizon), |v| v.parse())?,
            ready_file: var("READY_FILE"),
            invoke_timeout: Duration::from_secs(number("INVOKE_TIMEOUT_S", 900)?),
            async_invoke_port: var("ASYNC_INVOKE_PORT")
                .map(|p| {
                    p.parse()
                        .map_err(|_| format!("ASYNC_INVOKE_PORT must be a port, not '{p}'"))
                })
                .transpose()?,
        })
    }
}
