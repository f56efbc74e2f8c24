//! The scheduled sweep: the due work no request starts (auto top-ups due or being retried,
//! expired holds), run fairly across businesses, each item on its own, within a time budget.

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
