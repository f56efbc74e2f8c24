//! What a browser sends: form fields (`application/x-www-form-urlencoded`) and query
//! parameters, as text, bounded.

use lambda_http::Request;

use crate::respond::PageError;

/// Longest form body accepted.
pub const FORM_LENGTH_MAX: usize = 64 * 1024;

/// Named text fields, in order (a name may repeat).
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(bytes: &[u8]) -> Fields {
        Fields(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The field's value, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of a repeated field, blanks left out.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// The form of a POST.
pub fn form(request: &Request) -> Result<Fields, PageError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > FORM_LENGTH_MAX {
        return Err(PageError::Domain(api::http::ApiError::new(
            lambda_http::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a form must be at most {FORM_LENGTH_MAX} bytes"),
        )));
    }
    Ok(Fields::parse(bytes))
}

/// The query parameters of a request.
pub fn query(request: &Request) -> Fields {
    Fields::parse(request.uri().query().unwrap_or("").as_bytes())
}

/// A query string of `pairs` (values encoded), for links that keep a filter.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    out.finish()
}
