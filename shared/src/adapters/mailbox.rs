//! A file mailbox (`MAILBOX_DIR`): each mail is one text file, `<ms>-<random>.txt`, holding
//! `To:`, `Subject:`, a blank line and the text. Local runs use `.local/mailbox/`; tests read it.
//! Written to a temporary name and renamed, so a reader never sees half a mail.

use std::path::{Path, PathBuf};

use crate::error::{DomainError, DomainResult};
use crate::portal::mail::{Mail, Mailer};

#[derive(Debug, Clone)]
pub struct FileMailbox {
    dir: PathBuf,
}

impl FileMailbox {
    pub fn new(dir: impl Into<PathBuf>) -> FileMailbox {
        FileMailbox { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, mail: &Mail) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("the operating system provides randomness");
        let name = format!(
            "{}-{}",
            crate::kernel::Timestamp::now().unix_ms,
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let text = format!(
            "To: {}\nSubject: {}\n\n{}",
            mail.to, mail.subject, mail.text
        );
        let partial = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, self.dir.join(format!("{name}.txt")))
    }
}

impl Mailer for FileMailbox {
    async fn send(&self, mail: &Mail) -> DomainResult<()> {
        self.write(mail).map_err(|e| {
            DomainError::MailUnavailable(format!("mailbox {}: {e}", self.dir.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_mail_is_one_file_with_its_address_subject_and_text() {
        let dir = std::env::temp_dir().join(format!("cw-mailbox-{}", ulid::Ulid::new()));
        let mailbox = FileMailbox::new(&dir);
        for to in ["a@example.com", "b@example.com"] {
            let mail = Mail {
                to: to.into(),
                subject: "Hi".into(),
                text: "the link".into(),
            };
            mailbox.send(&mail).await.unwrap();
        }
        let mut texts: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        texts.sort();
        assert_eq!(
            texts,
            [
                "To: a@example.com\nSubject: Hi\n\nthe link",
                "To: b@example.com\nSubject: Hi\n\nthe link"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
