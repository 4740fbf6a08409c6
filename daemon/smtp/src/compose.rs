//! Building the message: identity headers (From with the display name, Organization,
//! Reply-To), text and HTML bodies as multipart/alternative, attachments, signatures
//! (left off replies and forwards when `signature_on_reply = false`), and threading
//! headers for replies. Header encoding (umlauts) is lettre's.

use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue, InReplyTo, References};
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart};

use postfach_config::Identity;

/// A file to attach, held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAttachment {
    /// File name shown to the recipient.
    pub filename: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The file's bytes as they are; lettre encodes them for transport.
    pub bytes: Vec<u8>,
}

/// The message being answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// Its Message-ID (without brackets).
    pub message_id: String,
    /// Its References without brackets, oldest first; the reply's References add its Message-ID.
    pub references: Vec<String>,
}

/// What to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// To recipients; one entry may list several (`a@x, "Müller, Jürgen" <j@y>`).
    pub to: Vec<String>,
    /// Cc recipients, in the same form as `to`.
    pub cc: Vec<String>,
    /// Bcc (envelope only, never a header).
    pub bcc: Vec<String>,
    /// The Subject header; lettre encodes non-ASCII text.
    pub subject: String,
    /// Plain-text body; together with `html` it forms multipart/alternative.
    pub text: Option<String>,
    /// HTML body; a signature goes before `</body>` where there is one.
    pub html: Option<String>,
    /// Files attached after the body, in order.
    pub attachments: Vec<FileAttachment>,
    /// The message this replies to; sets In-Reply-To and References.
    pub reply_to: Option<Parent>,
    /// A forwarded message, attached as `message/rfc822`.
    pub forward: Option<Vec<u8>>,
}

/// A built message, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// Message-ID without brackets.
    pub message_id: String,
    /// The complete RFC 5322 message as it will be sent, signature included.
    pub raw: Vec<u8>,
    /// SMTP envelope sender: the identity's address.
    pub envelope_from: String,
    /// SMTP envelope recipients: To, Cc and Bcc addresses, duplicates (ignoring case) removed.
    pub recipients: Vec<String>,
}

/// Why a message could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// An address does not parse.
    #[error("`{0}` is not a valid email address")]
    Address(String),
    /// No recipient at all (only drafts may have none).
    #[error("the message has no recipient (--to, --cc or --bcc)")]
    NoRecipient,
    /// lettre refused the message.
    #[error("cannot build the message: {0}")]
    Build(String),
}

#[derive(Debug, Clone)]
struct Organization(String);

impl Header for Organization {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Organization")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Organization(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

fn mailbox(text: &str) -> Result<Mailbox, ComposeError> {
    text.trim().parse::<Mailbox>().map_err(|_| ComposeError::Address(text.trim().to_owned()))
}

/// One `--to` value may list several addresses (`a@x, "Müller, Jürgen" <j@y>`). Empty
/// entries (`a@x, ` as pasted from a spreadsheet, `a@x,,b@y`) are skipped.
fn mailboxes(text: &str) -> Result<Vec<Mailbox>, ComposeError> {
    let cleaned = without_empty_entries(text);
    if cleaned.is_empty() {
        return Ok(Vec::new());
    }
    let list = cleaned.parse::<Mailboxes>().map_err(|_| ComposeError::Address(text.trim().to_owned()))?;
    Ok(list.into_iter().collect())
}

/// Drops empty entries of a comma-separated address list; commas inside quotes or angle
/// brackets are not separators.
fn without_empty_entries(text: &str) -> String {
    let mut entries: Vec<String> = Vec::new();
    let (mut current, mut quoted, mut angle) = (String::new(), false, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                entries.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    entries.push(current);
    entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect::<Vec<_>>().join(", ")
}

/// A new Message-ID for an address's domain.
pub fn new_message_id(email: &str) -> String {
    let domain = email.rsplit_once('@').map_or("postfach.invalid", |(_, d)| d);
    format!("{:016x}{:08x}.postfach@{domain}", fastrand::u64(..), chrono::Utc::now().timestamp() as u32)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Builds the message. Signatures are added here, so the outbox holds exactly what goes
/// out.
pub fn compose(identity: &Identity, draft: &Draft) -> Result<Composed, ComposeError> {
    let from = Mailbox::new(
        identity.name.clone().filter(|n| !n.trim().is_empty()),
        identity.email.parse().map_err(|_| ComposeError::Address(identity.email.clone()))?,
    );
    let message_id = new_message_id(&identity.email);
    let mut builder = Message::builder()
        .from(from)
        .subject(draft.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .date_now()
        .user_agent(format!("Postfach/{}", env!("CARGO_PKG_VERSION")));
    if let Some(reply_to) = &identity.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    if let Some(org) = identity.organization.as_ref().filter(|o| !o.trim().is_empty()) {
        builder = builder.header(Organization(org.clone()));
    }
    let mut recipients: Vec<String> = Vec::new();
    for to in &draft.to {
        for m in mailboxes(to)? {
            recipients.push(m.email.to_string());
            builder = builder.to(m);
        }
    }
    for cc in &draft.cc {
        for m in mailboxes(cc)? {
            recipients.push(m.email.to_string());
            builder = builder.cc(m);
        }
    }
    for bcc in &draft.bcc {
        for m in mailboxes(bcc)? {
            recipients.push(m.email.to_string());
            builder = builder.bcc(m);
        }
    }
    let mut seen = std::collections::HashSet::new();
    recipients.retain(|r| seen.insert(r.to_ascii_lowercase()));
    if recipients.is_empty() {
        // A draft may have no recipient yet; lettre wants an envelope all the same.
        let me: lettre::Address = identity.email.parse().map_err(|_| ComposeError::Address(identity.email.clone()))?;
        let envelope = lettre::address::Envelope::new(Some(me.clone()), vec![me])
            .map_err(|e| ComposeError::Build(e.to_string()))?;
        builder = builder.envelope(envelope);
    }
    if let Some(parent) = &draft.reply_to {
        let mut refs: Vec<String> = parent.references.iter().map(|r| format!("<{r}>")).collect();
        refs.push(format!("<{}>", parent.message_id));
        builder = builder
            .header(InReplyTo::from(format!("<{}>", parent.message_id)))
            .header(References::from(refs.join(" ")));
    }

    // Replies and forwards carry the signature only when the account wants it there.
    let is_answer = draft.reply_to.is_some() || draft.forward.is_some();
    let sign = !is_answer || identity.signature_on_reply;
    let mut text = draft.text.clone();
    let mut html = draft.html.clone();
    if sign {
        if let (Some(t), Some(sig)) = (&mut text, &identity.signature_text) {
            t.push_str(&format!("\n\n-- \n{sig}"));
        }
        if let Some(h) = &mut html {
            let sig_html = identity
                .signature_html
                .clone()
                .or_else(|| identity.signature_text.as_ref().map(|s| html_escape(s).replace('\n', "<br>\n")));
            if let Some(sig) = sig_html {
                let block = format!("<div class=\"signature\">-- <br>\n{sig}</div>");
                match h.to_ascii_lowercase().rfind("</body>") {
                    Some(at) => h.insert_str(at, &block),
                    None => h.push_str(&block),
                }
            }
        }
    }

    let body: Option<MultiPart> = match (&text, &html) {
        (Some(t), Some(h)) => Some(MultiPart::alternative_plain_html(t.clone(), h.clone())),
        _ => None,
    };
    let single: Option<SinglePart> = match (&text, &html) {
        (Some(_), Some(_)) => None,
        (None, Some(h)) => Some(SinglePart::html(h.clone())),
        (Some(t), None) => Some(SinglePart::plain(t.clone())),
        (None, None) => Some(SinglePart::plain(String::new())),
    };
    let attachments: Vec<SinglePart> = draft
        .attachments
        .iter()
        .map(|a| {
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or(ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN));
            Attachment::new(a.filename.clone()).body(a.bytes.clone(), ct)
        })
        .chain(draft.forward.iter().map(|raw| {
            let ct = ContentType::parse("message/rfc822").unwrap_or(ContentType::TEXT_PLAIN);
            Attachment::new("weitergeleitet.eml".into()).body(raw.clone(), ct)
        }))
        .collect();
    let message = if attachments.is_empty() {
        match (body, single) {
            (Some(multi), _) => builder.multipart(multi),
            (None, Some(part)) => builder.singlepart(part),
            (None, None) => builder.body(String::new()),
        }
    } else {
        let mut mixed = match (body, single) {
            (Some(multi), _) => MultiPart::mixed().multipart(multi),
            (None, Some(part)) => MultiPart::mixed().singlepart(part),
            (None, None) => MultiPart::mixed().singlepart(SinglePart::plain(String::new())),
        };
        for a in attachments {
            mixed = mixed.singlepart(a);
        }
        builder.multipart(mixed)
    }
    .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(Composed { message_id, raw: message.formatted(), envelope_from: identity.email.clone(), recipients })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            name: Some("Jürgen Müller".into()),
            email: "jm@example.de".into(),
            organization: Some("Müller & Söhne GmbH".into()),
            reply_to: Some("buero@example.de".into()),
            signature_text: Some("Jürgen Müller\nGeschäftsführer".into()),
            signature_html: Some("<b>Jürgen Müller</b>".into()),
            signature_on_reply: false,
        }
    }

    #[test]
    fn empty_entries_in_an_address_list_are_skipped() {
        let got: Vec<String> = mailboxes("a@x.de, ").unwrap().into_iter().map(|m| m.email.to_string()).collect();
        assert_eq!(got, ["a@x.de"]);
        let got: Vec<String> = mailboxes(",a@x.de,, \"Müller, Jürgen\" <j@y.de>,")
            .unwrap()
            .into_iter()
            .map(|m| m.email.to_string())
            .collect();
        assert_eq!(got, ["a@x.de", "j@y.de"]);
        assert!(mailboxes(" , ").unwrap().is_empty());
        assert!(mailboxes("a@x.de, kein-address").is_err());
    }

    fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::new().parse(raw).unwrap()
    }

    /// The text body with the wire's CRLF line ends as LF.
    fn text_of(m: &mail_parser::Message<'_>) -> String {
        m.body_text(0).unwrap().replace("\r\n", "\n")
    }

    #[test]
    fn identity_headers_and_alternative_bodies() {
        let draft = Draft {
            to: vec!["Anna <anna@example.org>".into()],
            bcc: vec!["archiv@example.de".into()],
            subject: "Grüße aus Süd".into(),
            text: Some("Hallo Anna".into()),
            html: Some("<html><body><p>Hallo Anna</p></body></html>".into()),
            ..Draft::default()
        };
        let c = compose(&identity(), &draft).unwrap();
        let text = String::from_utf8_lossy(&c.raw);
        assert!(!text.contains("archiv@example.de"), "no Bcc header:\n{text}");
        assert_eq!(c.recipients, ["anna@example.org", "archiv@example.de"]);
        let m = parse(&c.raw);
        assert_eq!(m.subject(), Some("Grüße aus Süd"));
        let from = m.from().unwrap().first().unwrap();
        assert_eq!((from.name.as_deref(), from.address.as_deref()), (Some("Jürgen Müller"), Some("jm@example.de")));
        let org = mail_parser::MessageParser::new().header_text("Organization").parse_headers(&c.raw).unwrap();
        assert_eq!(org.header("Organization").and_then(|h| h.as_text()), Some("Müller & Söhne GmbH"));
        assert_eq!(m.message_id(), Some(c.message_id.as_str()));
        assert!(text_of(&m).ends_with("-- \nJürgen Müller\nGeschäftsführer"));
        assert!(m.body_html(0).unwrap().contains("<b>Jürgen Müller</b></div></body>"));
    }

    #[test]
    fn replies_thread_and_may_go_unsigned() {
        let draft = Draft {
            to: vec!["anna@example.org".into()],
            subject: "Re: Angebot".into(),
            text: Some("Danke".into()),
            reply_to: Some(Parent { message_id: "parent@x".into(), references: vec!["root@x".into()] }),
            ..Draft::default()
        };
        let c = compose(&identity(), &draft).unwrap();
        let m = parse(&c.raw);
        assert_eq!(m.in_reply_to().as_text(), Some("parent@x"));
        assert_eq!(m.references().as_text_list().map(|l| l.len()), Some(2));
        assert_eq!(text_of(&m).trim_end(), "Danke", "no signature on replies");
        let mut signs = identity();
        signs.signature_on_reply = true;
        let c = compose(&signs, &draft).unwrap();
        assert!(text_of(&parse(&c.raw)).contains("-- \nJürgen Müller"));
    }

    #[test]
    fn bad_addresses_and_no_recipients_are_errors() {
        let draft = Draft { to: vec!["kein at".into()], subject: "x".into(), ..Draft::default() };
        assert_eq!(compose(&identity(), &draft).unwrap_err(), ComposeError::Address("kein at".into()));
        let draft = Draft { subject: "x".into(), ..Draft::default() };
        assert!(compose(&identity(), &draft).unwrap().recipients.is_empty(), "drafts may lack recipients");
        let draft =
            Draft { to: vec!["a@x.de, \"Müller, Jürgen\" <j@y.de>".into()], subject: "x".into(), ..Draft::default() };
        assert_eq!(compose(&identity(), &draft).unwrap().recipients, ["a@x.de", "j@y.de"]);
    }
}
