//! A failed DynamoDB call as a domain error, and whether a write's condition refused it.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::DomainError;

/// Error codes DynamoDB answers when it is overloaded or failing; worth a retry later.
const UNAVAILABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Whether a single-item write was refused by its condition (the item is not as expected).
pub(super) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// A failed call as a domain error: [`DomainError::Unavailable`] when the store timed out, could
/// not be reached or was throttled or failing after the SDK's retries (503, retry later), else
/// [`DomainError::Storage`] (a 500: a bug or a misconfiguration).
pub(super) fn storage<E, R>(context: &str, err: SdkError<E, R>) -> DomainError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let unavailable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&code)),
        _ => false,
    };
    let detail = format!("{context}: {}", DisplayErrorContext(err));
    if unavailable {
        DomainError::Unavailable(detail)
    } else {
        DomainError::Storage(detail)
    }
}
