//! Mail, by SMTP with `SMTP_URL` (`smtp://` takes STARTTLS when the server offers it,
//! `smtps://` is TLS from the start; credentials come from the URL), or as one log line with
//! the recipient and subject without it. Every mail has a plain-text and an HTML part and never
//! carries a password or a token.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

/// One mail to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Stable per job, so a mail sent twice (a worker stopped after sending, before recording
    /// it) is recognisable as one.
    pub message_id: String,
}

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Log {
        from: Mailbox,
    },
}

impl Mailer {
    /// The mailer `SMTP_URL` asks for; an unusable URL is a start-up error.
    pub fn new(smtp_url: Option<&SecretString>, from: Mailbox) -> anyhow::Result<Self> {
        let Some(url) = smtp_url else {
            return Ok(Mailer::Log { from });
        };
        let url = opportunistic_starttls(url.expose_secret());
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .context("SMTP_URL cannot be used")?
            // Bounds connecting; `send` below bounds the whole conversation.
            .timeout(Some(Duration::from_secs(10)))
            .build();
        Ok(Mailer::Smtp { transport, from })
    }

    /// Sends `mail`, giving up after `timeout` for the whole SMTP conversation (lettre's own
    /// timeout covers only connecting, and a silent server would hang a send forever).
    pub async fn send(&self, mail: Mail, timeout: Duration) -> anyhow::Result<()> {
        match self {
            Mailer::Log { .. } => {
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail (SMTP_URL is not set)");
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(mail.to)
                    .subject(mail.subject)
                    .message_id(Some(mail.message_id))
                    .header(header::MIME_VERSION_1_0)
                    .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
                    .context("cannot build the mail")?;
                tokio::time::timeout(timeout, transport.send(message))
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!("the SMTP server did not answer within {timeout:?}")
                    })?
                    .map_err(|error| {
                        anyhow::anyhow!("the SMTP server refused the mail: {error}")
                    })?;
                Ok(())
            }
        }
    }
}

/// lettre treats `smtp://` without `tls=` as plain text even when the server offers STARTTLS;
/// the contract says "STARTTLS when offered".
fn opportunistic_starttls(url: &str) -> String {
    if !url.starts_with("smtp://") || url.contains("tls=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}tls=opportunistic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_takes_starttls_when_offered() {
        assert_eq!(
            opportunistic_starttls("smtp://mail.example:25"),
            "smtp://mail.example:25?tls=opportunistic"
        );
        assert_eq!(
            opportunistic_starttls("smtp://u:p@mail.example:587?foo=1"),
            "smtp://u:p@mail.example:587?foo=1&tls=opportunistic"
        );
        assert_eq!(
            opportunistic_starttls("smtp://mail.example?tls=required"),
            "smtp://mail.example?tls=required"
        );
        assert_eq!(
            opportunistic_starttls("smtps://mail.example"),
            "smtps://mail.example"
        );
    }
}
