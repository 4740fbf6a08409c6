//! The message view routers receive: it borrows its text from the batch the host sent.
//! The other plain values of the API live in `postfach-plugin-types`, shared with the
//! host, and are re-exported at the crate root.

/// A stored message as routers see it. It borrows its text from the batch the host sent,
/// so routing a thousand messages allocates nothing per message.
///
/// In tests, build one with struct syntax and [`Texts::from`]:
/// `MessageMeta { subject: Some("Hallo"), from: Texts::from(&["a@b.de"][..]), ..MessageMeta::default() }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageMeta<'a> {
    /// Account id.
    pub account: &'a str,
    /// Decoded full folder name.
    pub folder: &'a str,
    /// Folder hierarchy without the namespace prefix.
    pub folder_path: Texts<'a>,
    /// Message-ID without brackets.
    pub message_id: Option<&'a str>,
    /// Subject.
    pub subject: Option<&'a str>,
    /// From addresses (`Name <addr>` or `addr`).
    pub from: Texts<'a>,
    /// To addresses.
    pub to: Texts<'a>,
    /// Cc addresses.
    pub cc: Texts<'a>,
    /// In-Reply-To without brackets.
    pub in_reply_to: Option<&'a str>,
    /// References without brackets, oldest first.
    pub references: Texts<'a>,
    /// Date header, Unix seconds.
    pub date: Option<i64>,
    /// Size in bytes.
    pub size: u64,
    /// IMAP flags.
    pub flags: Texts<'a>,
    /// Further header fields the host passes on, as name, value, name, value, …; see
    /// [`MessageMeta::header`].
    pub headers: Texts<'a>,
}

impl<'a> MessageMeta<'a> {
    /// The value of a passed-on header field (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let mut it = self.headers.iter();
        while let (Some(n), Some(v)) = (it.next(), it.next()) {
            if n.eq_ignore_ascii_case(name) {
                return Some(v);
            }
        }
        None
    }
}

/// A list of texts of a [`MessageMeta`], borrowed; iterate with [`Texts::iter`].
#[derive(Clone, Copy)]
pub struct Texts<'a> {
    repr: TextsRepr<'a>,
}

#[derive(Clone, Copy)]
enum TextsRepr<'a> {
    Slice(&'a [&'a str]),
    #[cfg(all(target_arch = "wasm32", feature = "router"))]
    Spans {
        text: &'a str,
        spans: &'a [crate::export::wit::types::Span],
    },
}

impl<'a> Texts<'a> {
    /// No texts.
    pub const EMPTY: Texts<'static> = Texts { repr: TextsRepr::Slice(&[]) };

    #[cfg(all(target_arch = "wasm32", feature = "router"))]
    pub(crate) fn spans(text: &'a str, spans: &'a [crate::export::wit::types::Span]) -> Texts<'a> {
        Texts { repr: TextsRepr::Spans { text, spans } }
    }

    /// How many.
    pub fn len(&self) -> usize {
        match self.repr {
            TextsRepr::Slice(s) => s.len(),
            #[cfg(all(target_arch = "wasm32", feature = "router"))]
            TextsRepr::Spans { spans, .. } => spans.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th text.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self.repr {
            TextsRepr::Slice(s) => s.get(i).copied(),
            #[cfg(all(target_arch = "wasm32", feature = "router"))]
            TextsRepr::Spans { text, spans } => {
                let span = spans.get(i)?;
                let start = span.start as usize;
                text.get(start..start + span.len as usize)
            }
        }
    }

    /// The first text.
    pub fn first(&self) -> Option<&'a str> {
        self.get(0)
    }

    /// The last text.
    pub fn last(&self) -> Option<&'a str> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The texts in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator + 'a {
        let this = *self;
        (0..this.len()).map(move |i| this.get(i).unwrap_or_default())
    }

    /// The texts as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl<'a> From<&'a [&'a str]> for Texts<'a> {
    fn from(slice: &'a [&'a str]) -> Texts<'a> {
        Texts { repr: TextsRepr::Slice(slice) }
    }
}

impl Default for Texts<'_> {
    fn default() -> Self {
        Texts::EMPTY
    }
}

impl PartialEq for Texts<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Texts<'_> {}

impl std::fmt::Debug for Texts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
