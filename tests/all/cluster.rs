//! The cluster's coordination against a real PostgreSQL: leases spread evenly, are
//! claimed by exactly one node, move when a node joins or dies, and fence a node that
//! lost them.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use postfach_store::StoreError;
use postfach_store::postgres::Postgres;
use postfach_store::postgres::leases::{self, Lease, Node, Tick};
use postfach_test_harness::postgres::{self as pg, Postgres as Server};

use crate::support::{Env, wait_for};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn accounts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("konto-{i:03}")).collect()
}

async fn connect(url: &str) -> Postgres {
    Postgres::connect(url, Some(pg::PASSWORD)).await.unwrap()
}

/// One tick of `node`, giving back its excess at once (as the daemon does once the
/// excess accounts' work has stopped).
async fn settle(node: &Node, accounts: &[String]) -> Tick {
    let tick = node.tick(accounts).await.unwrap();
    if !tick.excess.is_empty() {
        node.release(&tick.excess).await.unwrap();
    }
    tick
}

/// Each account's holder according to the database.
async fn holders(db: &Postgres) -> BTreeMap<String, Option<String>> {
    leases::status(db, Duration::from_secs(30)).await.unwrap().accounts.into_iter().map(|a| (a.id, a.holder)).collect()
}

fn held_by(holders: &BTreeMap<String, Option<String>>, node: &str) -> usize {
    holders.values().filter(|h| h.as_deref() == Some(node)).count()
}

#[test]
fn leases_spread_evenly_over_three_nodes_and_every_account_has_one_holder() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    runtime().block_on(async {
        let db = connect(&url).await;
        let all = accounts(30);
        let lease = Duration::from_secs(30);
        let mut nodes = Vec::new();
        for id in ["node-a", "node-b", "node-c"] {
            nodes.push(Node::join(&db, id, lease, "digest").await.unwrap());
        }
        // The first node to tick sees three live nodes already: nobody takes more than 10.
        for _ in 0..2 {
            for n in &nodes {
                let tick = settle(n, &all).await;
                assert_eq!((tick.live_nodes, tick.fair_share), (3, 10));
                assert!(tick.lost.is_empty());
            }
        }
        let h = holders(&db).await;
        assert_eq!(h.len(), 30);
        assert!(h.values().all(Option::is_some), "{h:?}");
        for id in ["node-a", "node-b", "node-c"] {
            assert_eq!(held_by(&h, id), 10, "{h:?}");
        }
        let status = leases::status(&db, lease).await.unwrap();
        assert_eq!(
            status.nodes.iter().map(|n| (n.id.as_str(), n.accounts, n.live)).collect::<Vec<_>>(),
            [("node-a", 10, true), ("node-b", 10, true), ("node-c", 10, true)]
        );
        // Each account's first holder claimed it with epoch 1.
        assert!(status.accounts.iter().all(|a| a.epoch == 1));
    });
}

#[test]
fn a_joining_node_gets_its_fair_share_after_the_others_give_back_their_excess() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    runtime().block_on(async {
        let db = connect(&url).await;
        let all = accounts(30);
        let lease = Duration::from_secs(30);
        let a = Node::join(&db, "node-a", lease, "d").await.unwrap();
        let b = Node::join(&db, "node-b", lease, "d").await.unwrap();
        settle(&a, &all).await;
        settle(&b, &all).await;
        assert_eq!((held_by(&holders(&db).await, "node-a"), held_by(&holders(&db).await, "node-b")), (15, 15));

        let c = Node::join(&db, "node-c", lease, "d").await.unwrap();
        // Nothing is free yet: the newcomer claims nothing and waits.
        assert!(settle(&c, &all).await.claimed.is_empty());
        // The others see a third live node and name 5 accounts each as excess; they are
        // still held until given back.
        let ta = a.tick(&all).await.unwrap();
        assert_eq!((ta.fair_share, ta.excess.len(), ta.held.len()), (10, 5, 15));
        assert_eq!(held_by(&holders(&db).await, "node-a"), 15);
        a.release(&ta.excess).await.unwrap();
        settle(&b, &all).await;
        let tc = settle(&c, &all).await;
        assert_eq!(tc.claimed.len(), 10);
        // A moved account has a new epoch: the old holder's writes are fenced.
        assert!(tc.claimed.iter().all(|l| l.epoch == 2), "{:?}", tc.claimed);
        let h = holders(&db).await;
        assert_eq!([held_by(&h, "node-a"), held_by(&h, "node-b"), held_by(&h, "node-c")], [10, 10, 10]);
    });
}

#[test]
fn a_dead_nodes_accounts_are_taken_over_when_its_leases_expire() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let rt = runtime();
    let all = accounts(12);
    let lease = Duration::from_secs(2);
    let (db, a, b, c) = rt.block_on(async {
        let db = connect(&url).await;
        let a = Node::join(&db, "node-a", lease, "d").await.unwrap();
        let b = Node::join(&db, "node-b", lease, "d").await.unwrap();
        let c = Node::join(&db, "node-c", lease, "d").await.unwrap();
        for n in [&a, &b, &c] {
            settle(n, &all).await;
        }
        (db, a, b, c)
    });
    let before = rt.block_on(holders(&db));
    let dead: Vec<String> =
        before.iter().filter(|(_, h)| h.as_deref() == Some("node-c")).map(|(a, _)| a.clone()).collect();
    assert_eq!(dead.len(), 4);
    // node-c stops ticking (killed). The survivors keep ticking; once its leases have
    // expired on the database's clock they claim them.
    wait_for("node-c's accounts to move to the survivors", Duration::from_secs(20), || {
        rt.block_on(async {
            settle(&a, &all).await;
            settle(&b, &all).await;
        });
        let h = rt.block_on(holders(&db));
        dead.iter().all(|acc| matches!(h[acc].as_deref(), Some("node-a" | "node-b"))).then_some(())
    });
    let h = rt.block_on(holders(&db));
    assert_eq!(held_by(&h, "node-a") + held_by(&h, "node-b"), 12);
    assert_eq!((held_by(&h, "node-a"), held_by(&h, "node-b")), (6, 6), "{h:?}");
    let status = rt.block_on(leases::status(&db, lease)).unwrap();
    assert!(!status.nodes.iter().find(|n| n.id == "node-c").unwrap().live);
    // node-c wakes up: its tick reports every lease lost, and it claims nothing while the
    // others hold their fair share.
    let tc = rt.block_on(c.tick(&all)).unwrap();
    assert_eq!(tc.lost.len(), 4);
    assert!(tc.held.len() <= tc.fair_share);
}

#[test]
fn a_node_that_lost_its_lease_cannot_write_for_that_account() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let rt = runtime();
    let all = accounts(1);
    let lease = Duration::from_secs(1);
    rt.block_on(async {
        let db = connect(&url).await;
        let a = Node::join(&db, "node-a", lease, "d").await.unwrap();
        let tick = settle(&a, &all).await;
        let old: Lease = tick.held[0].clone();
        db.check_lease("node-a", &old).await.unwrap();

        // node-a pauses past its lease (SIGSTOP); node-b claims the account meanwhile.
        let b = Node::join(&db, "node-b", lease, "d").await.unwrap();
        // Polled until node-b's claim succeeds, which the database allows only once
        // node-a's lease has expired on its clock.
        let claim = async {
            loop {
                if let Some(l) = settle(&b, &all).await.held.first() {
                    break l.clone();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let new = tokio::time::timeout(Duration::from_secs(20), claim).await.expect("node-b never claimed the lease");
        assert_eq!(new.epoch, old.epoch + 1);
        // node-a wakes up: its write carries the old epoch and is refused …
        match db.check_lease("node-a", &old).await {
            Err(StoreError::Fenced { account, epoch }) => {
                assert_eq!((account.as_str(), epoch), ("konto-000", old.epoch))
            }
            other => panic!("a stale lease wrote: {other:?}"),
        }
        // … even under node-b's name with the old epoch, while node-b's own write passes.
        assert!(db.check_lease("node-b", &old).await.is_err());
        db.check_lease("node-b", &new).await.unwrap();
        // Its next tick reports the account lost, and does not renew node-b's lease.
        let t = a.tick(&all).await.unwrap();
        assert_eq!(t.lost, ["konto-000"]);
        assert!(t.held.is_empty());
        assert_eq!(holders(&db).await["konto-000"].as_deref(), Some("node-b"));
    });
}

#[test]
fn nodes_ticking_at_the_same_time_never_claim_one_account_twice() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    rt.block_on(async {
        let db = connect(&url).await;
        let all = accounts(100);
        let mut nodes = Vec::new();
        for i in 0..5 {
            nodes.push(std::sync::Arc::new(
                Node::join(&db, &format!("node-{i}"), Duration::from_secs(30), "d").await.unwrap(),
            ));
        }
        let tasks: Vec<_> = nodes
            .iter()
            .map(|n| {
                let (n, all) = (n.clone(), all.clone());
                tokio::spawn(async move {
                    let mut claimed = Vec::new();
                    for _ in 0..5 {
                        claimed.extend(settle(&n, &all).await.claimed);
                    }
                    claimed
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in tasks {
            for lease in t.await.unwrap() {
                assert!(seen.insert(lease.clone()), "{lease:?} claimed twice");
            }
        }
        let h = holders(&db).await;
        assert!(h.values().all(Option::is_some));
        for i in 0..5 {
            assert_eq!(held_by(&h, &format!("node-{i}")), 20, "{h:?}");
        }
    });
}

#[test]
fn a_restarted_node_reclaims_with_a_new_epoch_and_its_old_process_stops() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    runtime().block_on(async {
        let db = connect(&url).await;
        let all = accounts(3);
        let lease = Duration::from_secs(30);
        let old = Node::join(&db, "node-a", lease, "d").await.unwrap();
        assert_eq!(settle(&old, &all).await.held.len(), 3);
        // The same node id starts again (a restart after a crash, or a copied config).
        let new = Node::join(&db, "node-a", lease, "d").await.unwrap();
        let t = settle(&new, &all).await;
        assert_eq!(t.claimed.iter().map(|l| l.epoch).collect::<Vec<_>>(), [2, 2, 2]);
        match old.tick(&all).await {
            Err(StoreError::NodeReplaced { node, lost }) => {
                assert_eq!(node, "node-a");
                assert_eq!(lost.len(), 3);
            }
            other => panic!("the replaced process went on: {other:?}"),
        }
        // A clean shutdown gives everything back and leaves the node list.
        new.leave().await.unwrap();
        let status = leases::status(&db, lease).await.unwrap();
        assert!(status.nodes.is_empty());
        assert!(status.accounts.iter().all(|a| a.holder.is_none()));
    });
}

#[test]
fn a_wrong_database_password_is_refused_in_the_servers_words_without_the_password() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let err = runtime().block_on(Postgres::connect(&url, Some("falsches-passwort"))).unwrap_err().to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(err.contains(&url), "{err}");
    assert!(!err.contains("falsches-passwort"), "{err}");
}

/// A config directory whose store is `url` on the harness's server (password from a file).
pub(crate) fn cluster_env(url: &str, extra: &str) -> Env {
    let env = Env::new();
    std::fs::write(env.path().join("db-password"), format!("{}\n", pg::PASSWORD)).unwrap();
    let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
    std::fs::write(
        env.path().join("postfach.toml"),
        format!("{toml}\n[store]\nurl = \"{url}\"\npassword = {{ file = \"db-password\" }}\n{extra}"),
    )
    .unwrap();
    env
}

#[test]
fn cluster_status_shows_each_node_and_each_accounts_holder() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    runtime().block_on(async {
        let db = connect(&url).await;
        let all = accounts(4);
        let a = Node::join(&db, "node-a", Duration::from_secs(30), "same").await.unwrap();
        let b = Node::join(&db, "node-b", Duration::from_secs(30), "same").await.unwrap();
        let c = Node::join(&db, "node-c", Duration::from_secs(30), "other").await.unwrap();
        for n in [&a, &b, &c] {
            settle(n, &all).await;
        }
    });
    let env = cluster_env(&url, "[cluster]\nnode_id = \"node-a\"\nlease_secs = 30\n");
    let status = env.json(&["cluster", "status"]);
    let nodes: Vec<(&str, u64, bool)> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["accounts"].as_u64().unwrap(), n["config_matches"].as_bool().unwrap()))
        .collect();
    assert_eq!(nodes, [("node-a", 2, true), ("node-b", 2, true), ("node-c", 0, false)]);
    assert!(status["nodes"][0]["last_seen"].as_i64().unwrap() > 1_700_000_000);
    let accounts = status["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 4);
    assert!(accounts.iter().all(|a| a["epoch"] == 1 && a["holder"].is_string()), "{accounts:?}");
    let text = env.ok(&["cluster", "status"]);
    assert!(text.contains("node-c") && text.contains("DIFFER"), "{text}");
}

#[test]
fn cluster_settings_without_a_postgres_store_are_refused_with_their_position() {
    let env = Env::new();
    let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
    std::fs::write(env.path().join("postfach.toml"), format!("{toml}\n[cluster]\nlease_secs = 10\n")).unwrap();
    let out = env.run(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("postfach.toml:") && err.contains("[cluster] needs store.url"), "{err}");
    // Without any PostgreSQL, `cluster status` explains that this is a single SQLite node.
    let plain = Env::new();
    let out = plain.run(&["cluster", "status"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cluster"), "{out:?}");
}

#[test]
fn commands_on_an_unreachable_postgres_store_fail_in_its_words_and_never_fall_back_to_sqlite() {
    let env = cluster_env("postgres://postfach@127.0.0.1:1/none", "");
    let out = env.run(&["sync", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("postgres://postfach@127.0.0.1:1/none") && err.contains("refused"), "{err}");
    // The SQLite file commands say they work on SQLite only.
    let out = env.run(&["backup", "--to", "copy.sqlite3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("works on a SQLite store"), "{err}");
    assert!(!env.path().join("data/postfach.sqlite3").exists(), "it used SQLite anyway");
}

#[test]
fn nodes_starting_together_on_a_new_database_migrate_it_once() {
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Postgres::connect(&url, Some(pg::PASSWORD)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    let name = url.rsplit('/').next().unwrap();
    assert_eq!(server.psql(name, "SELECT count(*), max(version) FROM postfach_schema").unwrap(), "1|2");
    // The mail store's tables are there, with PostgreSQL's German text search.
    let hit = server
        .psql(
            name,
            "SELECT to_tsvector('german', 'die Bewehrungspläne') @@ plainto_tsquery('german', 'Bewehrungsplan')",
        )
        .unwrap();
    assert_eq!(hit, "t");
    assert_eq!(server.psql(name, "SELECT seq FROM event_counter").unwrap(), "0");
}

#[test]
fn a_sqlite_store_moves_to_postgres_and_back_with_every_row_and_source_checked() {
    let dv = crate::support::dovecot(postfach_test_harness::DovecotConfig::default(), &["mm@example.test"]);
    let mut client = dv.client("mm@example.test").unwrap();
    for n in 1..=3 {
        let mail = postfach_test_harness::mail::Mail::new(n, &format!("Bewehrungspläne Nachricht {n}"));
        client.append("INBOX", &[], None, &mail.to_bytes()).unwrap();
    }
    let env = Env::new();
    env.write_account("mm", &crate::support::account_toml(&dv, "mm@example.test", ""));
    env.ok(&["sync", "--once"]);
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let db = url.rsplit('/').next().unwrap().to_owned();
    // The target's password in the URL (a SQLite config has no [store] password); it is
    // never printed.
    let with_password = url.replacen("postfach@", &format!("postfach:{}@", pg::PASSWORD), 1);
    let out = env.json(&["store", "copy", "--to", &with_password]);
    assert!(!out.to_string().contains(pg::PASSWORD), "{out}");
    assert_eq!(out["blobs_verified"], 3, "{out}");
    let rows = |table: &str| {
        out["tables"].as_array().unwrap().iter().find(|t| t["table"] == table).map(|t| t["rows"].as_u64().unwrap())
    };
    assert_eq!((rows("accounts"), rows("messages"), rows("locations")), (Some(1), Some(3), Some(3)), "{out}");
    assert!(rows("events").unwrap() >= 3, "{out}");
    // PostgreSQL's German search finds them by stem; the event numbers continue.
    let found = server
        .psql(&db, "SELECT count(*) FROM messages WHERE search @@ plainto_tsquery('german', 'Bewehrungsplan')")
        .unwrap();
    assert_eq!(found, "3");
    assert_eq!(server.psql(&db, "SELECT seq = (SELECT max(seq) FROM events) FROM event_counter").unwrap(), "t");
    // Only into an empty database.
    let again = env.run(&["store", "copy", "--to", &with_password]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("only into an empty database"), "{again:?}");

    // And back: a node of the cluster copies PostgreSQL into a new SQLite file.
    let node = cluster_env(&url, "");
    assert_eq!(node.json(&["accounts"]).as_array().unwrap().len(), 1);
    let back = node.path().join("back.sqlite3");
    let out = node.json(&["store", "copy", "--to", back.to_str().unwrap()]);
    assert_eq!(out["blobs_verified"], 3, "{out}");
    let original = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let copied = rusqlite::Connection::open(&back).unwrap();
    let digest = |c: &rusqlite::Connection| -> Vec<(i64, String, String, i64)> {
        let mut stmt = c.prepare("SELECT id, identity, blob, has_attachments FROM messages ORDER BY id").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(digest(&copied), digest(&original));
    // Its full-text index was built when the copy was opened.
    let hits: i64 =
        copied.query_row("SELECT count(*) FROM search WHERE search MATCH 'Nachricht'", [], |r| r.get(0)).unwrap();
    assert_eq!(hits, 3);
}
