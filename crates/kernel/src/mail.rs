//! Outgoing email (`CAMPUS_EMAIL_URL`), over one of three transports:
//!
//! - `smtp://user:pass@host:port` (STARTTLS when the server offers it;
//!   `?tls=required` insists on it, `?tls=none` never uses it) or
//!   `smtps://user:pass@host:port` (TLS from the first byte), through lettre;
//! - `file:///some/dir`: each message written as an `.eml` file in that
//!   directory (created when missing);
//! - `console`: each message printed on standard output (development).

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where messages go.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
    Console,
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
            Transport::Console => "console",
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Checks the form of a `CAMPUS_EMAIL_URL` value without connecting anywhere.
pub fn check_url(url: &str) -> Result<(), String> {
    const EXPECTED: &str =
        "expected smtp://user:pass@host:port, smtps://user:pass@host:port, file:///dir or console";
    if url == "console" {
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|_| EXPECTED.to_owned())?;
    match parsed.scheme() {
        "smtp" | "smtps" if parsed.host_str().is_some_and(|h| !h.is_empty()) => {
            match parsed.query_pairs().find(|(k, _)| k == "tls") {
                Some((_, v)) if !matches!(&*v, "required" | "opportunistic" | "none") => {
                    Err("tls must be one of required, opportunistic or none".to_owned())
                }
                _ => Ok(()),
            }
        }
        "file" if parsed.to_file_path().is_ok() && parsed.path() != "/" => Ok(()),
        _ => Err(EXPECTED.to_owned()),
    }
}

impl Mailer {
    /// A mailer for `url`, sending as `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("CAMPUS_EMAIL_FROM: {e}"))?;
        check_url(url).map_err(|e| format!("CAMPUS_EMAIL_URL: {e}"))?;
        let transport = if url == "console" {
            Transport::Console
        } else {
            let mut parsed = url::Url::parse(url).map_err(|e| format!("CAMPUS_EMAIL_URL: {e}"))?;
            match parsed.scheme() {
                "file" => Transport::File(
                    parsed
                        .to_file_path()
                        .map_err(|()| "CAMPUS_EMAIL_URL: not a directory path".to_owned())?,
                ),
                scheme => {
                    let tls = parsed
                        .query_pairs()
                        .find(|(k, _)| k == "tls")
                        .map(|(_, v)| v.into_owned());
                    let url = match (scheme, tls.as_deref()) {
                        // STARTTLS whenever the server offers it.
                        ("smtp", None) => {
                            parsed.query_pairs_mut().append_pair("tls", "opportunistic");
                            parsed.to_string()
                        }
                        ("smtp", Some("none")) => {
                            let kept: Vec<(String, String)> = parsed
                                .query_pairs()
                                .filter(|(k, _)| k != "tls")
                                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                .collect();
                            parsed.set_query(None);
                            if !kept.is_empty() {
                                parsed.query_pairs_mut().extend_pairs(kept);
                            }
                            parsed.to_string()
                        }
                        _ => url.to_owned(),
                    };
                    Transport::Smtp(
                        AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                            .map_err(|e| format!("CAMPUS_EMAIL_URL: {e}"))?
                            .timeout(Some(std::time::Duration::from_secs(20)))
                            .build(),
                    )
                }
            }
        };
        Ok(Self { transport, from })
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_owned())
            .map_err(|e| e.to_string())?;
        self.deliver(message).await
    }

    /// Sends a plain-text `body` with `attachments` (a `multipart/mixed`
    /// message; each file base64-encoded).
    pub async fn send_with_attachments(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        attachments: &[Attachment],
    ) -> Result<(), String> {
        use lettre::message::{MultiPart, SinglePart, header::ContentType};
        let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body.to_owned()));
        for file in attachments {
            let kind = ContentType::parse(&file.content_type)
                .map_err(|e| format!("{}: {e}", file.filename))?;
            parts = parts.singlepart(
                lettre::message::Attachment::new(file.filename.clone())
                    .body(file.bytes.clone(), kind),
            );
        }
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(parts)
            .map_err(|e| e.to_string())?;
        self.deliver(message).await
    }

    async fn deliver(&self, message: Message) -> Result<(), String> {
        match &self.transport {
            Transport::Smtp(transport) => transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Transport::File(dir) => {
                let bytes = message.formatted();
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || write_eml(&dir, &bytes))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Transport::Console => {
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                println!("----- email -----\n{text}\n----- end of email -----");
                Ok(())
            }
        }
    }
}

/// A file sent with a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    /// Its MIME type (`application/pdf`, `text/csv; charset=utf-8`, …).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Writes one message as `<time>-<random>.eml`, complete or not at all (a
/// temporary file renamed into place).
fn write_eml(dir: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
        uuid::Uuid::new_v4().simple()
    );
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file =
        std::fs::File::create(&temporary).map_err(|e| format!("{}: {e}", temporary.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, dir.join(format!("{name}.eml"))).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_the_three_forms() {
        for url in [
            "smtp://user:pass@mail.example.org:587",
            "smtp://mail.example.org:587?tls=required",
            "smtps://user:pass@mail.example.org:465",
            "file:///var/spool/campus-mail",
            "console",
        ] {
            assert!(check_url(url).is_ok(), "{url}");
            assert!(
                Mailer::new(url, "campus <no-reply@example.org>").is_ok(),
                "{url}"
            );
        }
        for url in [
            "http://example.org",
            "smtp://",
            "file:///",
            "mail.example.org",
            "smtp://h:25?tls=maybe",
            "",
        ] {
            assert!(check_url(url).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn console_transport_prints() {
        let mailer = Mailer::new("console", "campus <no-reply@example.org>").unwrap();
        assert!(format!("{mailer:?}").contains("console"));
        mailer
            .send("someone@example.org", "Hi", "Printed, not sent")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn attachments_travel_as_mime_parts() {
        let dir = std::env::temp_dir().join(format!("campus_test_mail_{}", uuid::Uuid::new_v4()));
        let url = url::Url::from_directory_path(&dir).unwrap().to_string();
        let mailer = Mailer::new(&url, "campus <no-reply@example.org>").unwrap();
        let file = Attachment {
            filename: "report.csv".into(),
            content_type: "text/csv; charset=utf-8".into(),
            bytes: b"a,b\r\n1,2\r\n".to_vec(),
        };
        mailer
            .send_with_attachments("someone@example.org", "Report", "Attached.", &[file])
            .await
            .unwrap();
        let path = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("filename=\"report.csv\""), "{text}");
        assert!(text.contains("Attached."), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn file_transport_writes_a_parseable_eml() {
        let dir = std::env::temp_dir().join(format!("campus_test_mail_{}", uuid::Uuid::new_v4()));
        let url = url::Url::from_directory_path(&dir).unwrap().to_string();
        let mailer = Mailer::new(&url, "campus <no-reply@example.org>").unwrap();
        mailer
            .send("someone@example.org", "Hello there", "Line one\nLine two")
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().unwrap(), "eml");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let (headers, body) = text.split_once("\r\n\r\n").expect("headers and body");
        assert!(
            headers.lines().any(|l| l == "Subject: Hello there"),
            "{headers}"
        );
        assert!(
            headers.lines().any(|l| l == "To: someone@example.org"),
            "{headers}"
        );
        assert!(
            headers.lines().any(|l| l.starts_with("From: ")),
            "{headers}"
        );
        assert!(
            body.contains("Line one") && body.contains("Line two"),
            "{body}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
