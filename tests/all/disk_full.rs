//! A full disk (issue 14): the store on a small tmpfs made by the test fills up in the
//! middle of a sync. The account says `disk full` with the store's path, nothing is
//! half-written, the API keeps answering, and once space is freed the sync continues by
//! itself. Mounting needs root, as Postfix in the harness does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

use postfach_test_harness::DovecotConfig;

use crate::api::client::{Api, token};
use crate::support::{Env, account_toml, dovecot};

const USER: &str = "mm@example.de";
const T: Duration = Duration::from_secs(60);
/// Messages of 512 KiB each.
const MESSAGES: usize = 100;

/// A tmpfs of a given size, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u32) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mounting a tmpfs needs root");
        Tmpfs(at.to_owned())
    }

    fn resize(&self, mib: u32) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

#[test]
fn a_disk_that_fills_up_mid_sync_shows_disk_full_keeps_the_api_up_and_continues_once_space_is_freed() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    // 50 MiB of mail for a 40 MiB file system: it cannot all fit, whether a batch's bytes
    // are in the write-ahead log only (while the routing of the previous batch reads, the
    // log is not checkpointed) or in the log and the database, plus a 4 MiB reserve. Each
    // message carries a scan (random bytes, base64), which the store can compress by a
    // quarter at most (text it would shrink to almost nothing).
    let mut rng = fastrand::Rng::with_seed(14);
    let messages: Vec<Vec<u8>> = (1..=MESSAGES)
        .map(|n| {
            let random: Vec<u8> = (0..384 * 1024).map(|_| rng.u8(..)).collect();
            let encoded = base64::engine::general_purpose::STANDARD.encode(random);
            let scan: String =
                encoded.as_bytes().chunks(76).map(|l| format!("{}\r\n", String::from_utf8_lossy(l))).collect();
            format!(
                "Message-ID: <aufmass-{n}@bau.example>\r\nFrom: Bauleitung <bl@bau.example>\r\n\
                 To: {USER}\r\nSubject: Aufmass {n}\r\nDate: Mon, 2 Nov 2026 09:00:00 +0100\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei das Aufmass als Scan.\r\n\
                 --b\r\nContent-Type: application/pdf; name=\"aufmass-{n}.pdf\"\r\n\
                 Content-Disposition: attachment; filename=\"aufmass-{n}.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{scan}--b--\r\n"
            )
            .into_bytes()
        })
        .collect();
    dv.client(USER).unwrap().append_many("INBOX", &messages).unwrap();
    let env = Env::new();
    let data = env.path().join("data");
    let disk = Tmpfs::mount(&data, 40);
    let admin = token(&env, &["--user", "root", "--admin"]);
    env.write_account(
        "mm",
        &account_toml(&dv, USER, "[sync]\nretry_initial_secs = 1\nretry_max_secs = 2\nmax_failures = 1000\n"),
    );
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    let error = daemon.wait_for("the disk to fill up", T, || {
        let a = api.get(&admin, "/v1/accounts/mm").ok();
        let e = a["last_error"].as_str().unwrap_or_default().to_owned();
        (a["state"] == "backing-off" && e.starts_with("disk full")).then_some(e)
    });
    let db = data.join("postfach.sqlite3");
    assert!(error.contains(&db.display().to_string()), "{error}");
    // The API keeps answering from what is stored, and what is stored is whole.
    let listed = api.get(&admin, "/v1/messages?account=mm&limit=500").ok();
    let stored = listed["items"].as_array().unwrap().len();
    assert!(stored > 0 && stored < MESSAGES, "the disk did not fill up mid-sync: {stored} stored");
    for m in listed["items"].as_array().unwrap() {
        let raw = api.get(&admin, &format!("/v1/messages/{}/raw", m["local_id"]));
        assert_eq!(raw.status, 200);
        assert!(raw.body.len() > 500 * 1024, "a message stored in part: {} bytes", raw.body.len());
    }
    assert_eq!(integrity(&db), "ok");
    // Space is freed: the sync goes on by itself, nothing twice.
    disk.resize(240);
    daemon.wait_for("the rest of the mail", T, || {
        (env.account("mm")["state"] == "idle" && env.messages("mm").len() == MESSAGES).then_some(())
    });
    let ids: std::collections::BTreeSet<String> =
        env.messages("mm").iter().map(|m| m["message_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), MESSAGES);
    assert_eq!(integrity(&db), "ok");
    eprintln!(
        "disk-full: 50 MiB of mail on a 40 MiB tmpfs: {stored} of {MESSAGES} stored when full, then all after the resize; integrity ok"
    );
}
