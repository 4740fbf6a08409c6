//! The conformance table: every quirk of `../shared/imap-quirks.md` and every
//! Dovecot-played case, with the test that replays it. A test that passes records its
//! row (`record`), and each record rewrites `CONFORMANCE.md` from all rows recorded in
//! this run, so the file the suite leaves behind is produced by the run, not by hand.
//! `make test` clears the rows before the run and fails if a row was not recorded.

use std::io::Write;
use std::path::PathBuf;

use crate::support::{repo_root, target_dir};

/// One row: a provider's behaviour and how it is played.
pub struct Case {
    /// `Q1`…`Q26` for the quirks list, `D…` for the Dovecot-played cases.
    pub id: &'static str,
    /// Whose behaviour it is.
    pub provider: &'static str,
    /// What the server does.
    pub behaviour: &'static str,
    /// `replay` (the scripted server, exact bytes), `dovecot` (by configuration) or
    /// `not reachable` (Postfach never sends the command the quirk is in; the test checks that).
    pub played: &'static str,
    /// The test (function name in `tests/all/conformance/`).
    pub test: &'static str,
}

/// Every row of the table, in order.
pub const CASES: &[Case] = &[
    Case {
        id: "Q1",
        provider: "Gmail",
        behaviour: "`* OK [HIGHESTMODSEQ n]` without text",
        played: "replay",
        test: "q01_highestmodseq_without_text",
    },
    Case {
        id: "Q2",
        provider: "Gmail",
        behaviour: "flag names with `[`, `]` and `/` in FLAGS",
        played: "replay",
        test: "q02_flags_with_forbidden_characters",
    },
    Case {
        id: "Q3",
        provider: "Gmail, QQMail, Yandex",
        behaviour: "impossible multipart BODYSTRUCTURE",
        played: "not reachable",
        test: "q03_q04_q07_q09_structure_quirks_are_never_asked_for",
    },
    Case {
        id: "Q4",
        provider: "Gmail",
        behaviour: "ENVELOPE name/mailbox swapped, odd X-GM-LABELS, QUOTA above 32 bits",
        played: "not reachable",
        test: "q03_q04_q07_q09_structure_quirks_are_never_asked_for",
    },
    Case {
        id: "Q5",
        provider: "Exchange Online",
        behaviour: "trailing space in `* STATUS … ) `",
        played: "replay",
        test: "q05_status_with_a_trailing_space",
    },
    Case {
        id: "Q6",
        provider: "Outlook.com, Exchange 2013",
        behaviour: "`[COPYUID 701  ]` with empty sets; a bare `[COPYUID …]` line",
        played: "replay",
        test: "q06_broken_copyuid_after_a_move",
    },
    Case {
        id: "Q7",
        provider: "outlook.com",
        behaviour: "extra space between ENVELOPE addresses",
        played: "not reachable",
        test: "q03_q04_q07_q09_structure_quirks_are_never_asked_for",
    },
    Case {
        id: "Q8",
        provider: "Exchange",
        behaviour: "LIST names with a tab, unquoted",
        played: "replay",
        test: "q08_list_name_with_a_tab",
    },
    Case {
        id: "Q9",
        provider: "Exchange",
        behaviour: "BODYSTRUCTURE disposition, NIL parameters, size -1",
        played: "not reachable",
        test: "q03_q04_q07_q09_structure_quirks_are_never_asked_for",
    },
    Case {
        id: "Q10",
        provider: "Yahoo",
        behaviour: "`* SEARCH 1 ` with a trailing space",
        played: "replay",
        test: "q10_search_with_a_trailing_space",
    },
    Case {
        id: "Q11",
        provider: "Zoho",
        behaviour: "`MODSEQ (-1)`; `\\*` inside FLAGS",
        played: "replay",
        test: "q11_negative_modseq_and_wildcard_flag",
    },
    Case {
        id: "Q12",
        provider: "mail.ru",
        behaviour: "numbers as `9.3736e+06`",
        played: "replay",
        test: "q12_size_in_exponent_notation",
    },
    Case {
        id: "Q13",
        provider: "Courier",
        behaviour: "`* 0 FETCH`",
        played: "replay",
        test: "q13_fetch_of_message_zero",
    },
    Case {
        id: "Q14",
        provider: "Zimbra",
        behaviour: "`* NOOP` in the middle of an answer",
        played: "replay",
        test: "q14_untagged_noop",
    },
    Case {
        id: "Q15",
        provider: "Exchange 2010",
        behaviour: "body FETCH answered OK without data; a made-up \"Retrieval … failed\" message",
        played: "replay",
        test: "q15_fetch_without_the_message_and_a_made_up_body",
    },
    Case {
        id: "Q16",
        provider: "Exchange Online",
        behaviour: "`NO Request is throttled. Suggested Backoff Time: … milliseconds`",
        played: "replay",
        test: "q16_throttling_with_a_suggested_backoff",
    },
    Case {
        id: "Q17",
        provider: "Office 365",
        behaviour: "wrong password accepted, then `BAD User is authenticated but not connected`",
        played: "replay",
        test: "q17_authenticated_but_not_connected",
    },
    Case {
        id: "Q18",
        provider: "Exchange 2003",
        behaviour: "drops the connection on NAMESPACE",
        played: "replay",
        test: "q18_namespace_drops_the_connection",
    },
    Case {
        id: "Q19",
        provider: "Exchange, GMX, WEB.DE",
        behaviour: "ID rejected",
        played: "replay",
        test: "q19_id_rejected",
    },
    Case {
        id: "Q20",
        provider: "iCloud",
        behaviour: "ENABLE answered OK without `* ENABLED`",
        played: "replay",
        test: "q20_enable_without_enabled",
    },
    Case {
        id: "Q21",
        provider: "iCloud",
        behaviour: "`FETCH (RFC822)` without the RFC822 item",
        played: "replay",
        test: "q21_rfc822_is_never_asked_for",
    },
    Case {
        id: "Q22",
        provider: "Yahoo",
        behaviour: "XYMHIGHESTMODSEQ instead of CONDSTORE; FETCH above the highest UID never answered",
        played: "replay",
        test: "q22_yahoo_modseq_and_fetch_above_the_highest_uid",
    },
    Case {
        id: "Q23",
        provider: "163.com",
        behaviour: "`NO SELECT Unsafe Login` until ID; no UIDNEXT; empty STATUS",
        played: "replay",
        test: "q23_unsafe_login_until_id",
    },
    Case {
        id: "Q24",
        provider: "Yandex",
        behaviour: "repeated untagged BYE",
        played: "replay",
        test: "q24_repeated_bye",
    },
    Case {
        id: "Q25",
        provider: "ProtonMail Bridge, SmarterMail",
        behaviour: "unsolicited FETCH mid-command; CONDSTORE without MODSEQ; `UIDVALIDITY 0`",
        played: "replay",
        test: "q25_unsolicited_fetch_missing_modseq_and_uidvalidity_zero",
    },
    Case {
        id: "Q26",
        provider: "Gmail",
        behaviour: "every message also in `[Gmail]/All Mail`; X-GM-MSGID and X-GM-THRID",
        played: "dovecot",
        test: "q26_gmail_all_mail_and_thread_ids",
    },
    Case {
        id: "P1",
        provider: "Gmail",
        behaviour: "`NO [ALERT] Too many simultaneous connections` at login (providers.md)",
        played: "replay",
        test: "p01_gmail_too_many_simultaneous_connections_at_login",
    },
    Case {
        id: "D1",
        provider: "servers without CONDSTORE",
        behaviour: "no CONDSTORE (and so no QRESYNC)",
        played: "dovecot",
        test: "d01_without_condstore",
    },
    Case {
        id: "D2",
        provider: "servers without QRESYNC",
        behaviour: "CONDSTORE but no QRESYNC",
        played: "dovecot",
        test: "d02_without_qresync",
    },
    Case {
        id: "D3",
        provider: "servers without MOVE",
        behaviour: "no MOVE",
        played: "dovecot",
        test: "d03_without_move",
    },
    Case {
        id: "D4",
        provider: "servers without IDLE",
        behaviour: "no IDLE",
        played: "dovecot",
        test: "d04_without_idle",
    },
    Case { id: "D5", provider: "servers without ID", behaviour: "no ID", played: "dovecot", test: "d05_without_id" },
    Case {
        id: "D6",
        provider: "servers without SPECIAL-USE",
        behaviour: "no SPECIAL-USE",
        played: "dovecot",
        test: "d06_without_special_use",
    },
    Case {
        id: "D7",
        provider: "servers without UIDPLUS",
        behaviour: "no UIDPLUS (and no MOVE)",
        played: "dovecot",
        test: "d07_without_uidplus",
    },
    Case {
        id: "D8",
        provider: "servers that delay new-mail notifications",
        behaviour: "no EXISTS during IDLE (`imap_client_workarounds = delay-newmail`)",
        played: "dovecot",
        test: "d08_delayed_new_mail_notifications",
    },
    Case {
        id: "D9",
        provider: "servers with a connection cap",
        behaviour: "fewer connections allowed than the account would use (`mail_max_userip_connections`)",
        played: "dovecot",
        test: "d09_connection_cap_below_what_the_account_would_use",
    },
    Case {
        id: "D10",
        provider: "any server with a damaged message",
        behaviour: "FETCH fails for one message (`imap_fetch_failure = no-after`)",
        played: "dovecot",
        test: "d10_fetch_failures",
    },
    Case {
        id: "D11",
        provider: "any server with quotas",
        behaviour: "`NO [OVERQUOTA]` to the APPEND of the Sent copy",
        played: "dovecot",
        test: "d11_over_quota_append_of_the_sent_copy",
    },
];

/// Where this run's rows are kept until the table is written.
fn rows_dir() -> PathBuf {
    target_dir().join("tmp").join("conformance")
}

/// Records that `id` passed with `result` (the end state in a few words) and rewrites
/// `CONFORMANCE.md` from every row recorded so far.
pub fn record(id: &str, result: &str) {
    assert!(CASES.iter().any(|c| c.id == id), "no conformance case {id}");
    let dir = rows_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{id}.txt")), result.replace('\n', " ")).unwrap();
    // One writer at a time, so the last one sees every row.
    let lock = std::fs::File::create(dir.join(".lock")).unwrap();
    lock.lock().unwrap();
    write_table(&dir);
    lock.unlock().unwrap();
}

fn write_table(dir: &std::path::Path) {
    let mut out = String::from(
        "# IMAP conformance\n\n\
         Generated by `make test` (`tests/all/conformance/`): each row is a test that drives\n\
         `postfachd sync --once` or `postfachd run` through one real provider's behaviour, as\n\
         documented in public issue trackers (see `imap-quirks.md` in the design notes). \"replay\"\n\
         rows run against the harness's scripted server speaking the provider's exact bytes;\n\
         \"dovecot\" rows against real Dovecot configured to behave that way; \"not reachable\" rows\n\
         check that Postfach never sends the command the quirk lives in. Do not edit by hand.\n\n\
         | # | Provider | Behaviour | Played by | Result | Test |\n|---|---|---|---|---|---|\n",
    );
    for c in CASES {
        let result = std::fs::read_to_string(dir.join(format!("{}.txt", c.id)))
            .map(|r| format!("pass: {r}"))
            .unwrap_or_else(|_| "not run".into());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | `{}` |\n",
            c.id, c.provider, c.behaviour, c.played, result, c.test
        ));
    }
    let path = repo_root().join("CONFORMANCE.md");
    let tmp = path.with_extension("md.tmp");
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(out.as_bytes()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}
