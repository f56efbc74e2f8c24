//! Page numbers and sizes of every list, bounded.

use super::codes::ValidationError;

/// Largest page a list request may ask for.
pub const PAGE_SIZE_MAX: u32 = 100;
/// Page size when the caller gives none (Dodo's default).
pub const PAGE_SIZE_DEFAULT: u32 = 10;
/// Largest page number accepted (far beyond any real ledger at the largest page size).
pub const PAGE_NUMBER_MAX: u32 = 10_000_000;

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
}
