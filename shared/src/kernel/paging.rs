//! Page numbers and sizes of every list, bounded.

use super::codes::ValidationError;

/// Largest page a list request may ask for.
pub const PAGE_SIZE_MAX: u32 = 100;
/// Page size when the caller gives none (Dodo's default).
pub const PAGE_SIZE_DEFAULT: u32 = 10;
/// Largest page number accepted (far beyond any real ledger at the largest page size).
pub const PAGE_NUMBER_MAX: u32 = 10_000_000;

/// Items one request for a page of customers, holds or webhook deliveries may examine, matched
/// or not: those lists skip the earlier pages' items and filter as they read, so without a bound
/// a caller could make one request read a whole partition. The ledger jumps to its page by
/// position and needs none.
pub const LIST_EXAMINED_MAX: u64 = 5_000;

/// The refusal of a list request that would examine more than [`LIST_EXAMINED_MAX`] items.
pub fn too_broad(what: &str) -> ValidationError {
    ValidationError::new(
        "query_too_broad",
        format!(
            "this {what} request would examine more than {LIST_EXAMINED_MAX} items: narrow it \
             (a created_at range, an email, a status or currency filter) or ask for an earlier page"
        ),
    )
}

/// A validated page request: number from 0, size 1 to [`PAGE_SIZE_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: u32,
    pub size: u32,
}

impl PageRequest {
    /// Page number (from 0) and size (1 to 100, default 10).
    pub fn parse(
        page_number: Option<i64>,
        page_size: Option<i64>,
    ) -> Result<PageRequest, ValidationError> {
        let number = page_number.unwrap_or(0);
        let size = page_size.unwrap_or(i64::from(PAGE_SIZE_DEFAULT));
        if !(0..=i64::from(PAGE_NUMBER_MAX)).contains(&number) {
            return Err(ValidationError::new(
                "invalid_page_number",
                format!("page_number must be between 0 and {PAGE_NUMBER_MAX}; got {number}"),
            ));
        }
        if !(1..=i64::from(PAGE_SIZE_MAX)).contains(&size) {
            return Err(ValidationError::new(
                "invalid_page_size",
                format!("page_size must be between 1 and {PAGE_SIZE_MAX}; got {size}"),
            ));
        }
        Ok(PageRequest {
            number: number as u32,
            size: size as u32,
        })
    }

    /// Items on the pages before this one.
    pub fn skipped(self) -> u64 {
        u64::from(self.number) * u64::from(self.size)
    }

    /// Refuses a page of a list that skips item by item (customers, holds) beyond the first
    /// [`LIST_EXAMINED_MAX`] items, before reading anything: its request would examine more.
    pub fn check_depth(self, what: &str) -> Result<(), ValidationError> {
        if self.skipped() + u64::from(self.size) > LIST_EXAMINED_MAX {
            return Err(ValidationError::new(
                "page_too_deep",
                format!(
                    "{what} lists reach their first {LIST_EXAMINED_MAX} items by page number \
                     (page_number x page_size + page_size at most {LIST_EXAMINED_MAX}); \
                     narrow the list (a created_at range, an email, a status or currency filter) \
                     to page further"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_are_bounded() {
        let page = |n, s| PageRequest::parse(n, s).map(|p| (p.number, p.size));
        assert_eq!(page(None, None).unwrap(), (0, 10));
        assert_eq!(page(Some(3), Some(100)).unwrap(), (3, 100));
        assert!(page(Some(-1), None).is_err());
        assert!(page(None, Some(0)).is_err());
        assert!(page(None, Some(101)).is_err());
    }

    #[test]
    fn a_skipping_list_reaches_its_first_items_only() {
        let page = |n, s| PageRequest::parse(Some(n), Some(s)).unwrap();
        assert!(page(49, 100).check_depth("customer").is_ok());
        let deep = page(50, 100).check_depth("customer").unwrap_err();
        assert_eq!(deep.code, "page_too_deep");
        assert!(page(499, 10).check_depth("hold").is_ok());
        assert!(page(500, 10).check_depth("hold").is_err());
    }
}
