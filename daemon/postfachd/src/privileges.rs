//! Running as the store's owner. The installed service runs as the `postfach` user; an
//! admin who types `postfachd accounts` or `postfachd backup` as root would otherwise
//! create root-owned files (the store's write-ahead log, the plugin cache) in the data
//! directory that the service can no longer write. So, like `doveadm`, every command
//! started as root switches to the owner of the data directory first, when that is
//! another user. Done before any thread is started: the switch is per thread on Linux.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::process::{Gid, Uid};

/// Switches to the owner (user and group) of `data_dir` when running as root and the
/// directory belongs to someone else; returns the user id switched to.
pub fn drop_to_owner_of(data_dir: &Path) -> std::io::Result<Option<u32>> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let Ok(meta) = std::fs::metadata(data_dir) else { return Ok(None) };
    if meta.uid() == 0 {
        return Ok(None);
    }
    // Supplementary groups first, then the group, then the user (after which the others
    // could no longer be changed).
    let gid = Gid::from_raw(meta.gid());
    rustix::thread::set_thread_groups(&[gid])?;
    rustix::thread::set_thread_gid(gid)?;
    // The uid is non-zero here (checked above).
    let uid = Uid::from_raw(meta.uid());
    rustix::thread::set_thread_uid(uid)?;
    Ok(Some(meta.uid()))
}
