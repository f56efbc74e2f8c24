//! Times every DynamoDB call (retries included) into the work's counters (`crate::stats`).

use std::time::Instant;

use aws_sdk_dynamodb::config::Intercept;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// When the call started, kept in the call's own configuration bag.
#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Started>;
}

#[derive(Debug)]
pub struct Timing;

impl Intercept for Timing {
    fn name(&self) -> &'static str {
        "Timing"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(started) = cfg.load::<Started>() {
            crate::stats::store_call(started.0.elapsed());
        }
        Ok(())
    }
}
