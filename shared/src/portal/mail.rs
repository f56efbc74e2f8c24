//! The mailer port: what the portal needs to send a customer their link. Adapters: a file
//! mailbox (`adapters::mailbox`, local runs and tests), Amazon SES (`adapters::ses`), and none.

use std::future::Future;

use crate::error::DomainResult;
use crate::kernel::Timestamp;
pub use crate::portal::model::Mail;

/// Sends one email.
pub trait Mailer: Send + Sync {
    fn send(&self, mail: &Mail) -> impl Future<Output = DomainResult<()>> + Send;
}

/// The mail that carries a portal link to its customer. It holds the link (its whole purpose),
/// so it is never logged.
pub fn portal_link_mail(to: &str, name: &str, link: &str, expires_at: Timestamp) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your wallet portal link".to_owned(),
        text: format!(
            "Hello {name},\n\nOpen your wallet portal with this link:\n\n{link}\n\n\
             It is valid until {expires_at} and only for you: do not forward it.\n\
             If you did not ask for it, you can ignore this email.\n"
        ),
    }
}
