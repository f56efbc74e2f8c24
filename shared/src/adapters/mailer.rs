//! The mailer the configuration names (`config::MailerConfig`): a file mailbox, SES, or none.

use crate::config::MailerConfig;
use crate::error::DomainResult;
use crate::kernel::ValidationError;
use crate::portal::mail::{Mail, Mailer};

use super::mailbox::FileMailbox;
use super::ses::SesMailer;

#[derive(Debug, Clone)]
pub enum ConfiguredMailer {
    /// No mailer: sending is refused (`mailer_not_configured`, 422).
    None,
    Mailbox(FileMailbox),
    Ses(Box<SesMailer>),
}

impl ConfiguredMailer {
    pub fn from_config(config: &MailerConfig) -> ConfiguredMailer {
        match config {
            MailerConfig::None => ConfiguredMailer::None,
            MailerConfig::Mailbox(dir) => ConfiguredMailer::Mailbox(FileMailbox::new(dir)),
            MailerConfig::Ses { from, region } => {
                ConfiguredMailer::Ses(Box::new(SesMailer::new(region, from)))
            }
        }
    }
}

impl Mailer for ConfiguredMailer {
    async fn send(&self, mail: &Mail) -> DomainResult<()> {
        match self {
            ConfiguredMailer::None => Err(ValidationError::new(
                "mailer_not_configured",
                "this deployment sends no email (MailerKind none): create the session without send_email and give the customer the link yourself",
            )
            .into()),
            ConfiguredMailer::Mailbox(mailbox) => mailbox.send(mail).await,
            ConfiguredMailer::Ses(ses) => ses.send(mail).await,
        }
    }
}
