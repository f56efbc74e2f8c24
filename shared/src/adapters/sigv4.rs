//! SigV4 signing of the plain HTTPS calls this crate makes to AWS without an SDK client (SES's
//! SendEmail, Lambda's Invoke).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;

/// Signs `request` (a POST of `body`) for the AWS `service` in `region` (SigV4: `Authorization`,
/// `x-amz-date`, and `x-amz-security-token` with temporary credentials).
pub(crate) fn sign(
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
    service: &str,
    region: &str,
    credentials: Credentials,
    time: SystemTime,
) -> Result<(), String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing: {e}"))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}
