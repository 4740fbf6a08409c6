//! How a message's raw bytes are kept in `blobs`: compressed with zstd when that saves
//! space, as they are otherwise.
//!
//! Mail is mostly text and base64, which zstd shrinks to a third or so; already
//! compressed attachments it hardly shrinks, and those are kept as they are so that
//! reading them costs nothing. The codec is stored per row (`blobs.codec`), so stores
//! written before compression existed stay readable; [`pack_backlog`] compresses their
//! blobs once, at open, in small transactions.
//!
//! The hash (`blobs.hash`) is always the hash of the raw bytes, so deduplication and
//! `store verify` do not depend on how a blob is kept.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

/// zstd's level: 1 compresses at several hundred MB/s per core, and the higher levels
/// gain only a few per cent on mail (measured on the bench corpus).
const LEVEL: i32 = 1;

/// A blob is compressed only when that saves at least this share (in 1/16ths): reading
/// a compressed blob costs a decompression, which a few per cent of space don't repay.
const MIN_SAVING_SIXTEENTHS: usize = 2;

/// Below this size compression rarely pays (zstd's frame header alone is 10 bytes).
const MIN_SIZE: usize = 256;

/// The stored form of `blobs.codec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// The raw bytes as they came from the server.
    Raw = 0,
    /// A zstd frame of the raw bytes.
    Zstd = 1,
}

/// A blob ready to insert: its codec and the bytes to store.
pub(crate) struct Packed {
    /// How `data` is encoded.
    pub codec: Codec,
    /// The bytes for `blobs.data`.
    pub data: Vec<u8>,
}

thread_local! {
    /// One compression context per thread, reused: a fresh context per message costs
    /// allocations of about a megabyte each, which glibc's arenas then keep (10k vs 100k
    /// messages showed 20 MiB more peak RSS with a context per call).
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Compresses `raw` when that pays, else keeps it (without a copy). Runs where the
/// store prepares a batch, off the writer's lock.
pub(crate) fn pack(raw: Vec<u8>) -> Packed {
    if raw.len() >= MIN_SIZE
        && let Some(mut data) = compress(&raw)
        && data.len() <= raw.len() - raw.len() * MIN_SAVING_SIXTEENTHS / 16
    {
        // The buffer was sized for the worst case (larger than `raw`); a batch waiting
        // for its turn should hold only what is stored.
        data.shrink_to_fit();
        return Packed { codec: Codec::Zstd, data };
    }
    Packed { codec: Codec::Raw, data: raw }
}

/// `raw` as a zstd frame, with this thread's context.
fn compress(raw: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        slot.as_mut()?.compress(raw).ok()
    })
}

/// The raw bytes of a stored blob, from its `codec`, `size` and `data` columns.
pub(crate) fn unpack(codec: Option<i64>, size: i64, data: Vec<u8>) -> Result<Vec<u8>, std::io::Error> {
    match codec {
        // NULL: written before compression existed, and not yet packed by the backlog.
        None => Ok(data),
        Some(c) if c == Codec::Raw as i64 => Ok(data),
        Some(c) if c == Codec::Zstd as i64 => zstd::bulk::decompress(&data, size.max(0) as usize),
        Some(other) => Err(std::io::Error::other(format!("unknown blob codec {other} (written by a newer Postfach?)"))),
    }
}

/// Reads `codec, size, data` from `row` starting at column `first` and returns the raw
/// bytes; a blob that cannot be decoded is a conversion error of that row.
pub(crate) fn raw_from(row: &Row<'_>, first: usize) -> rusqlite::Result<Vec<u8>> {
    let codec: Option<i64> = row.get(first)?;
    let size: i64 = row.get(first + 1)?;
    let data: Vec<u8> = row.get(first + 2)?;
    unpack(codec, size, data)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(first + 2, rusqlite::types::Type::Blob, Box::new(e)))
}

/// The columns [`raw_from`] reads, for a `blobs` table aliased `b`.
pub(crate) const COLUMNS: &str = "b.codec, b.size, b.data";

/// Inserts a blob unless one with this hash is stored.
pub(crate) fn insert(conn: &Connection, hash: &str, size: usize, packed: &Packed) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO blobs (hash, size, data, codec) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![hash, size as i64, packed.data, packed.codec as i64])?;
    Ok(())
}

/// Blobs packed per transaction while working off the backlog.
const BACKLOG_BATCH: i64 = 200;

/// Packs every blob stored before compression existed (`codec IS NULL`); returns how
/// many and the bytes saved. Each batch is its own transaction, walking the table in
/// rowid order, so an interrupted run continues where it stopped and never rereads.
pub(crate) fn pack_backlog(conn: &mut Connection) -> rusqlite::Result<(u64, u64)> {
    let any: Option<i64> =
        conn.query_row("SELECT rowid FROM blobs WHERE codec IS NULL LIMIT 1", [], |r| r.get(0)).optional()?;
    let Some(mut after) = any.map(|first| first - 1) else { return Ok((0, 0)) };
    let (mut done, mut saved) = (0u64, 0u64);
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let batch: Vec<(i64, Vec<u8>)> = tx
            .prepare_cached("SELECT rowid, data FROM blobs WHERE rowid > ?1 AND codec IS NULL ORDER BY rowid LIMIT ?2")?
            .query_map(params![after, BACKLOG_BATCH], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _)) = batch.last() else { return Ok((done, saved)) };
        done += batch.len() as u64;
        for (rowid, raw) in batch {
            let len = raw.len();
            let packed = pack(raw);
            if packed.codec == Codec::Raw {
                // Kept as it is: only the decision is written, not the bytes again.
                tx.prepare_cached("UPDATE blobs SET codec = ?2 WHERE rowid = ?1")?
                    .execute(params![rowid, Codec::Raw as i64])?;
                continue;
            }
            saved += (len - packed.data.len()) as u64;
            tx.prepare_cached("UPDATE blobs SET data = ?2, codec = ?3 WHERE rowid = ?1")?.execute(params![
                rowid,
                packed.data,
                packed.codec as i64
            ])?;
        }
        tx.commit()?;
        after = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_compressed_and_comes_back_the_same() {
        let raw = "Subject: Angebot\r\n\r\nSehr geehrte Damen und Herren,\r\n".repeat(40).into_bytes();
        let packed = pack(raw.clone());
        assert_eq!(packed.codec, Codec::Zstd);
        assert!(packed.data.len() < raw.len() / 4, "{} of {}", packed.data.len(), raw.len());
        assert_eq!(unpack(Some(1), raw.len() as i64, packed.data).unwrap(), raw);
    }

    #[test]
    fn incompressible_and_small_blobs_are_kept_raw() {
        let mut random = vec![0u8; 8192];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for b in &mut random {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        assert_eq!(pack(random).codec, Codec::Raw);
        assert_eq!(pack(b"Subject: x\r\n\r\nhi".to_vec()).codec, Codec::Raw);
    }

    #[test]
    fn legacy_and_unknown_codecs_are_told_apart() {
        assert_eq!(unpack(None, 2, b"hi".to_vec()).unwrap(), b"hi");
        assert!(unpack(Some(7), 2, b"hi".to_vec()).unwrap_err().to_string().contains("unknown blob codec 7"));
    }
}
