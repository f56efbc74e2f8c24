//! The dashboard's own assets, compiled into the binary and served under names that carry a hash
//! of their content (`app.3f2a….css`), so they can be cached for a year and a new build is a new
//! name. No CDN, no build step: one stylesheet, one small script, a pinned htmx.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// One asset: its name without the hash, its type and its bytes.
pub struct Asset {
    pub stem: &'static str,
    pub extension: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

pub static CSS: Asset = Asset {
    stem: "app",
    extension: "css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("../assets/app.css"),
};

pub static JS: Asset = Asset {
    stem: "app",
    extension: "js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../assets/app.js"),
};

/// The customer portal's script: the card form (Stripe.js) and a top-up's progress.
pub static PORTAL_JS: Asset = Asset {
    stem: "portal",
    extension: "js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../assets/portal.js"),
};

/// htmx 2.0.11 (npm `htmx.org`, `dist/htmx.min.js`, BSD Zero-Clause), unchanged.
pub static HTMX: Asset = Asset {
    stem: "htmx-2.0.11",
    extension: "js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../assets/htmx-2.0.11.min.js"),
};

pub static ALL: [&Asset; 4] = [&CSS, &JS, &PORTAL_JS, &HTMX];

static NAMES: LazyLock<Vec<String>> =
    LazyLock::new(|| ALL.iter().map(|a| a.hashed_name()).collect());

impl Asset {
    /// `stem.<first 12 hex digits of the SHA-256>.extension`.
    pub fn hashed_name(&self) -> String {
        let digest = Sha256::digest(self.bytes);
        let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{}.{hash}.{}", self.stem, self.extension)
    }

    /// The path pages link to.
    pub fn path(&self) -> String {
        let index = ALL
            .iter()
            .position(|a| a.stem == self.stem && a.extension == self.extension)
            .expect("a known asset");
        format!("/dashboard/assets/{}", NAMES[index])
    }
}

/// The asset a file name (with its hash) names; an old hash is not served.
pub fn named(file: &str) -> Option<&'static Asset> {
    NAMES
        .iter()
        .position(|name| name == file)
        .map(|index| ALL[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_by_their_hashed_name_only() {
        for asset in ALL {
            let name = asset.hashed_name();
            assert!(name.starts_with(asset.stem) && name.ends_with(asset.extension));
            // By content, not address: each use of a `const` may be its own copy.
            let found = named(&name).unwrap();
            assert_eq!((found.stem, found.extension), (asset.stem, asset.extension));
            assert_eq!(found.bytes, asset.bytes);
            assert_eq!(asset.path(), format!("/dashboard/assets/{name}"));
        }
        assert!(named("app.css").is_none());
        assert!(named("app.000000000000.css").is_none());
    }
}
