//! Several `postfachd run` daemons on one PostgreSQL store and one Dovecot: every account
//! is synced by exactly one node, accounts move when a node joins, dies or is paused, and
//! nothing is lost or stored twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use postfach_test_harness::mail::Mail;
use postfach_test_harness::postgres::Postgres as Server;
use postfach_test_harness::{Dovecot, DovecotConfig};
use serde_json::Value;

use crate::support::{Env, account_toml, dovecot, wait_for};

/// A config directory for node `id` on `url`, with every account of `users` on `dv`.
fn node_env(url: &str, id: &str, dv: &Dovecot, users: &[String]) -> Env {
    let env = crate::cluster::cluster_env(url, &format!("[cluster]\nnode_id = \"{id}\"\nlease_secs = 6\n"));
    for user in users {
        env.write_account(&account_id(user), &account_toml(dv, user, ""));
    }
    env
}

/// Dovecot for a few hundred simultaneous connections (each node keeps one IDLE
/// connection per account it holds): by default it runs at most 100 `imap` processes,
/// one per connection; here each serves up to 50, and `imap-login` keeps the TLS
/// sessions of many clients per process.
const MANY_CONNECTIONS: &str = "
default_process_limit = 1000
default_client_limit = 4000
service imap-login {
  service_count = 0
  client_limit = 2000
  process_min_avail = 2
}
service imap {
  service_count = 0
  client_limit = 50
  process_limit = 50
}
";

fn account_id(user: &str) -> String {
    user.split('@').next().unwrap().to_owned()
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("konto{i:03}@example.test")).collect()
}

/// `postfachd cluster status --json`, as `(holder per account, accounts per live node)`.
fn status(env: &Env) -> (BTreeMap<String, Option<String>>, BTreeMap<String, u64>) {
    let status: Value = env.json(&["cluster", "status"]);
    let holders = status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a["holder"].as_str().map(str::to_owned)))
        .collect();
    let nodes = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["live"] == true)
        .map(|n| (n["id"].as_str().unwrap().to_owned(), n["accounts"].as_u64().unwrap()))
        .collect();
    (holders, nodes)
}

/// Waits until the live nodes are exactly `nodes`, each holding `share` accounts, and
/// every one of the `total` accounts has a holder among them.
fn wait_balanced(env: &Env, nodes: &[&str], share: u64, total: usize, timeout: Duration) {
    wait_for(&format!("{total} accounts spread as {share} per node over {nodes:?}"), timeout, || {
        let (holders, live) = status(env);
        let expected: BTreeMap<String, u64> = nodes.iter().map(|n| ((*n).to_owned(), share)).collect();
        let all_held =
            holders.len() == total && holders.values().all(|h| h.as_deref().is_some_and(|h| nodes.contains(&h)));
        (live == expected && all_held).then_some(())
    });
}

/// One row of `psql -At`, split at `|`.
fn query(server: &Server, db: &str, sql: &str) -> Vec<String> {
    server.psql(db, sql).unwrap().split('|').map(str::to_owned).collect()
}

/// Waits until the store holds `n` messages and every account is idle.
fn wait_synced(server: &Server, db: &str, accounts: usize, messages: usize, timeout: Duration) {
    let want = vec![messages.to_string(), accounts.to_string()];
    let started = Instant::now();
    loop {
        let got = query(
            server,
            db,
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM accounts WHERE state = 'idle')",
        );
        if got == want {
            return;
        }
        if started.elapsed() > timeout {
            let states = server
                .psql(db, "SELECT state, count(*), max(last_error) FROM accounts GROUP BY state")
                .unwrap_or_default();
            panic!(
                "timed out after {timeout:?} waiting for {want:?} (messages, idle accounts): {got:?}; states: {states}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Nothing stored twice, and the event feed numbered 1..n without a gap.
fn assert_consistent(server: &Server, db: &str, messages: usize) {
    let per_identity = query(server, db, "SELECT count(*), count(DISTINCT (account, identity)) FROM messages");
    assert_eq!(per_identity, [messages.to_string(), messages.to_string()]);
    let feed = query(server, db, "SELECT count(*), COALESCE(min(seq), 1), COALESCE(max(seq), 0) FROM events");
    assert_eq!(feed[1], "1", "{feed:?}");
    assert_eq!(feed[0], feed[2], "the event feed has a gap: {feed:?}");
    let new = query(server, db, "SELECT count(*) FROM events WHERE kind = 'new-message'");
    assert_eq!(new, [messages.to_string()], "each message is announced once");
}

fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[test]
fn accounts_spread_over_joining_nodes_and_move_to_the_others_when_one_is_killed() {
    const ACCOUNTS: usize = 300;
    let users = users(ACCOUNTS);
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let dv = dovecot(DovecotConfig::default().settings(MANY_CONNECTIONS), &refs);
    dv.seed_inboxes(&users, &[Mail::new(1, "Willkommen").to_bytes()]).unwrap();
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let db = db_name(&url);
    let envs: Vec<Env> = ["node-a", "node-b", "node-c"].iter().map(|id| node_env(&url, id, &dv, &users)).collect();

    let mut a = envs[0].daemon();
    let mut b = envs[1].daemon();
    wait_balanced(&envs[0], &["node-a", "node-b"], 150, ACCOUNTS, Duration::from_secs(90));
    wait_synced(&server, db, ACCOUNTS, ACCOUNTS, Duration::from_secs(90));

    // A third node joins: the two give back their excess, it takes its fair share.
    let mut c = envs[2].daemon();
    wait_balanced(&envs[0], &["node-a", "node-b", "node-c"], 100, ACCOUNTS, Duration::from_secs(90));
    wait_synced(&server, db, ACCOUNTS, ACCOUNTS, Duration::from_secs(90));
    assert_consistent(&server, db, ACCOUNTS);
    let json: Value = envs[1].json(&["cluster", "status"]);
    assert!(json["nodes"].as_array().unwrap().iter().all(|n| n["config_matches"] == true), "{json}");

    // node-b dies; mail arrives for its accounts meanwhile.
    let (holders, _) = status(&envs[0]);
    let orphans: Vec<&String> =
        holders.iter().filter(|(_, h)| h.as_deref() == Some("node-b")).map(|(a, _)| a).collect();
    assert_eq!(orphans.len(), 100);
    b.kill9();
    let killed = Instant::now();
    for account in &orphans {
        let mut client = dv.client(&format!("{account}@example.test")).unwrap();
        client.append("INBOX", &[], None, &Mail::new(2, "Nach dem Ausfall").to_bytes()).unwrap();
    }
    wait_balanced(&envs[0], &["node-a", "node-c"], 150, ACCOUNTS, Duration::from_secs(90));
    wait_synced(&server, db, ACCOUNTS, ACCOUNTS + orphans.len(), Duration::from_secs(90));
    eprintln!("failover of {} accounts: all synced again {:?} after kill -9", orphans.len(), killed.elapsed());
    assert_consistent(&server, db, ACCOUNTS + orphans.len());
    // Any node answers for every account: the store is shared.
    let accounts = envs[2].json(&["accounts"]);
    assert_eq!(accounts.as_array().unwrap().len(), ACCOUNTS);
    let logs = (a.log(), c.log());
    if std::env::var_os("SHOW_LOGS").is_some() {
        eprintln!("{}", logs.0);
    }
    assert!(a.stop() && c.stop(), "a: {}\nc: {}", logs.0, logs.1);
}

#[test]
fn a_paused_node_stops_its_accounts_when_it_wakes_and_its_accounts_move_meanwhile() {
    const ACCOUNTS: usize = 10;
    let users = users(ACCOUNTS);
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let dv = dovecot(DovecotConfig::default(), &refs);
    dv.seed_inboxes(&users, &[Mail::new(1, "Willkommen").to_bytes()]).unwrap();
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let db = db_name(&url);
    let envs: Vec<Env> = ["node-a", "node-b"].iter().map(|id| node_env(&url, id, &dv, &users)).collect();
    let a = envs[0].daemon();
    let mut b = envs[1].daemon();
    wait_balanced(&envs[1], &["node-a", "node-b"], 5, ACCOUNTS, Duration::from_secs(60));
    wait_synced(&server, db, ACCOUNTS, ACCOUNTS, Duration::from_secs(60));
    let (holders, _) = status(&envs[1]);
    let paused: Vec<String> =
        holders.iter().filter(|(_, h)| h.as_deref() == Some("node-a")).map(|(a, _)| a.clone()).collect();

    a.signal("STOP");
    // node-b takes everything once node-a's leases have expired on the database's clock.
    wait_balanced(&envs[1], &["node-b"], 10, ACCOUNTS, Duration::from_secs(60));
    let mut client = dv.client(&format!("{}@example.test", paused[0])).unwrap();
    client.append("INBOX", &[], None, &Mail::new(2, "Während der Pause").to_bytes()).unwrap();
    wait_synced(&server, db, ACCOUNTS, ACCOUNTS + 1, Duration::from_secs(60));

    a.signal("CONT");
    a.wait_for("node-a to stop the accounts it can no longer prove", Duration::from_secs(30), || {
        let log = a.log();
        (log.contains("leases not renewed in time") || log.contains("leases lost to another node")).then_some(())
    });
    // Then it rejoins the spread, and nothing was stored twice.
    wait_balanced(&envs[1], &["node-a", "node-b"], 5, ACCOUNTS, Duration::from_secs(60));
    wait_synced(&server, db, ACCOUNTS, ACCOUNTS + 1, Duration::from_secs(60));
    assert_consistent(&server, db, ACCOUNTS + 1);
    assert!(b.stop(), "{}", b.log());
}

#[test]
fn a_node_whose_account_files_differ_is_shown_in_cluster_status() {
    let users = users(2);
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let dv = dovecot(DovecotConfig::default(), &refs);
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let a_env = node_env(&url, "node-a", &dv, &users);
    let b_env = node_env(&url, "node-b", &dv, &users[..1]);
    let _a = a_env.daemon();
    let _b = b_env.daemon();
    let matches = |env: &Env| -> Option<Vec<(String, bool)>> {
        let status: Value = env.json(&["cluster", "status"]);
        let nodes: Vec<(String, bool)> = status["nodes"]
            .as_array()?
            .iter()
            .map(|n| (n["id"].as_str().unwrap_or("").to_owned(), n["config_matches"].as_bool().unwrap_or(true)))
            .collect();
        (nodes.len() == 2 && nodes.iter().any(|(_, m)| !m)).then_some(nodes)
    };
    // With two nodes the tie goes to the smaller digest: which one is marked depends on
    // the digests, that one is, is the point.
    wait_for("one of two nodes with different account files marked", Duration::from_secs(30), || matches(&b_env));
}

#[test]
fn mail_queued_on_one_node_is_sent_once_by_each_accounts_holder_while_two_nodes_are_killed_and_restarted() {
    use postfach_test_harness::{MailboxSpec, Postfix};
    const SENDERS: usize = 6;
    const MESSAGES: usize = 100;
    let senders = users(SENDERS);
    let mut all: Vec<&str> = senders.iter().map(String::as_str).collect();
    all.push("empfang@example.test");
    let config = DovecotConfig::default().mailbox(MailboxSpec::special("Gesendet", "\\Sent"));
    let dv = dovecot(config, &all);
    let pf = Postfix::start(&dv).unwrap();
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let db = db_name(&url);
    let smtp = format!("[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\n", pf.submission_port);
    let envs: Vec<Env> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|id| {
            let env = node_env(&url, id, &dv, &[]);
            for user in &senders {
                env.write_account(&account_id(user), &account_toml(&dv, user, &smtp));
            }
            env
        })
        .collect();
    let mut daemons: Vec<_> = envs.iter().map(Env::daemon).collect();
    wait_balanced(&envs[0], &["node-a", "node-b", "node-c"], 2, SENDERS, Duration::from_secs(60));

    // All queued through node-a; each is sent by the node holding its account.
    for i in 0..MESSAGES {
        let account = account_id(&senders[i % SENDERS]);
        let subject = format!("Auftrag {i:03}");
        envs[0].ok(&["send", &account, "--to", "empfang@example.test", "--subject", &subject, "--body", "x"]);
    }
    let sent =
        || -> usize { query(&server, db, "SELECT count(*) FROM outbox WHERE state = 'sent'")[0].parse().unwrap() };
    wait_for("a fifth of the mail sent", Duration::from_secs(60), || (sent() >= MESSAGES / 5).then_some(()));
    daemons[0].kill9();
    daemons[1].kill9();
    daemons[0] = envs[0].daemon();
    daemons[1] = envs[1].daemon();
    wait_for("every message sent", Duration::from_secs(120), || (sent() == MESSAGES).then_some(()));

    // At the receiving end: every message arrived. One that was on the wire when its node
    // was killed may arrive twice (the server accepted it, the node died before recording
    // that); such a message was attempted again. Every other one arrived exactly once.
    let received = wait_for("every message in the recipient's INBOX", Duration::from_secs(60), || {
        let mut c = dv.client("empfang@example.test").unwrap();
        c.select("INBOX").unwrap();
        let uids = c.uid_search("ALL").unwrap();
        (uids.len() >= MESSAGES).then(|| uids.iter().map(|u| c.body(*u).unwrap()).collect::<Vec<_>>())
    });
    let mut per_subject: BTreeMap<String, usize> = BTreeMap::new();
    for raw in &received {
        let text = String::from_utf8_lossy(raw);
        let subject = text.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("").trim().to_owned();
        *per_subject.entry(subject).or_default() += 1;
    }
    assert_eq!(per_subject.len(), MESSAGES, "{per_subject:?}");
    let attempts: BTreeMap<String, i64> = server
        .psql(db, "SELECT subject, attempts FROM outbox")
        .unwrap()
        .lines()
        .map(|l| {
            let (s, a) = l.split_once('|').unwrap();
            (s.to_owned(), a.parse().unwrap())
        })
        .collect();
    for (subject, n) in &per_subject {
        assert!(*n == 1 || attempts[subject] > 1, "{subject} arrived {n} times in one attempt");
    }
    let twice = per_subject.values().filter(|n| **n > 1).count();
    eprintln!("{MESSAGES} messages, {} received, {twice} twice (on the wire at a kill)", received.len());
    // Events: one `sent` per message, numbered without a gap.
    let feed = query(&server, db, "SELECT count(*) FILTER (WHERE kind = 'sent'), count(*), max(seq) FROM events");
    assert_eq!(feed[0], MESSAGES.to_string());
    assert_eq!(feed[1], feed[2], "the event feed has a gap: {feed:?}");
}

#[test]
fn webhooks_come_from_one_node_at_a_time_in_order_and_without_a_gap_when_it_is_killed() {
    use postfach_test_harness::WebhookReceiver;
    const SECRET: &str = "whsec_c2VocmdlaGVpbWVzLXdlYmhvb2stZ2VoZWltbmlz";
    const ACCOUNTS: usize = 6;
    let users = users(ACCOUNTS);
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let dv = dovecot(DovecotConfig::default(), &refs);
    let receiver = WebhookReceiver::start(SECRET).unwrap();
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let db = db_name(&url);
    let envs: Vec<Env> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|id| {
            let env = node_env(&url, id, &dv, &users);
            let path = env.path().join("postfach.toml");
            let toml = std::fs::read_to_string(&path).unwrap();
            let hook = format!(
                "\n[[webhooks]]\nurl = \"{}\"\nsecret = {{ env = \"POSTFACH_WEBHOOK_SECRET\" }}\n",
                receiver.url()
            );
            // Before [store]: `[[webhooks]]` is a top-level array of tables.
            let (top, cluster) = toml.split_once("\n[store]").unwrap();
            std::fs::write(&path, format!("{top}{hook}\n[store]{cluster}")).unwrap();
            env
        })
        .collect();
    let start = |env: &Env| env.daemon_with_env(&[("POSTFACH_WEBHOOK_SECRET", SECRET)]);
    let mut daemons: Vec<_> = envs.iter().map(start).collect();
    wait_balanced(&envs[0], &["node-a", "node-b", "node-c"], 2, ACCOUNTS, Duration::from_secs(60));
    let holder =
        |server: &Server| server.psql(db, "SELECT COALESCE(holder, '') FROM webhook_cursors").unwrap_or_default();
    let first = wait_for("one node delivering", Duration::from_secs(30), || {
        let h = holder(&server);
        (!h.is_empty()).then_some(h)
    });
    let from: i64 = query(&server, db, "SELECT delivered_seq FROM webhook_cursors")[0].parse().unwrap();
    let mail = |round: usize| {
        for (i, user) in users.iter().enumerate() {
            let mut c = dv.client(user).unwrap();
            c.append("INBOX", &[], None, &Mail::new(round * 10 + i, &format!("Runde {round}")).to_bytes()).unwrap();
        }
    };
    let delivered = || -> Vec<i64> {
        receiver.deliveries().iter().filter(|d| d.answered == 200).map(|d| d.json()["seq"].as_i64().unwrap()).collect()
    };
    let feed = |server: &Server| -> Vec<i64> {
        server
            .psql(db, &format!("SELECT seq FROM events WHERE seq > {from} ORDER BY seq"))
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    };
    mail(1);
    wait_for("the first round delivered", Duration::from_secs(60), || {
        let got = delivered();
        let events = feed(&server);
        (events.len() >= ACCOUNTS && events.iter().all(|s| got.contains(s))).then_some(())
    });
    // The deliverer dies; the next round's events come from another node, after the
    // cursor the dead one left.
    let index = ["node-a", "node-b", "node-c"].iter().position(|n| *n == first).unwrap();
    daemons[index].kill9();
    mail(2);
    let events = wait_for("both rounds delivered", Duration::from_secs(60), || {
        let got = delivered();
        let events = feed(&server);
        (events.len() >= 2 * ACCOUNTS && events.iter().all(|s| got.contains(s))).then_some(events)
    });
    let second = holder(&server);
    assert!(!second.is_empty() && second != first, "still held by {second}");
    // First arrivals in seq order, every event of the feed, nothing else.
    let mut first_seen: Vec<i64> = Vec::new();
    for seq in delivered() {
        if !first_seen.contains(&seq) {
            first_seen.push(seq);
        }
    }
    assert_eq!(first_seen, events, "out of order or a gap");

    // The API of any node answers for every account, with a token made on another node.
    let admin = crate::api::client::token(&envs[0], &["--user", "root", "--admin"]);
    let live = (index + 1) % 3;
    let api = crate::api::client::Api::of(&envs[live], &daemons[live]);
    let page = api.get(&admin, "/v1/messages?limit=100").ok();
    let accounts: std::collections::BTreeSet<&str> =
        page["items"].as_array().unwrap().iter().map(|m| m["account"].as_str().unwrap()).collect();
    assert_eq!(page["items"].as_array().unwrap().len(), 2 * ACCOUNTS, "{page}");
    assert_eq!(accounts.len(), ACCOUNTS, "{page}");
    let hits = api.get(&admin, "/v1/search?q=Runde&limit=100").ok();
    assert_eq!(hits["items"].as_array().unwrap().len(), 2 * ACCOUNTS, "{hits}");
}
