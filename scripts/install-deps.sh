#!/usr/bin/env bash
# Installs what `make test` and `make demo` need on a fresh Debian machine: Dovecot
# (IMAP, LMTP), Postfix, PostgreSQL (for the cluster tests) and the wasm32-wasip2 Rust
# target; with `--bench` also what `make bench` compares against (isync's mbsync,
# offlineimap3) and GNU time. Idempotent: does nothing when everything is there.
set -euo pipefail

need=()
if [ "${1:-}" = "--bench" ]; then
    command -v mbsync >/dev/null 2>&1 || need+=(isync)
    command -v offlineimap >/dev/null 2>&1 || need+=(offlineimap3)
    [ -x /usr/bin/time ] || need+=(time)
fi
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd dovecot-lmtpd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
command -v doveadm >/dev/null 2>&1 || need+=(dovecot-core)
command -v postfix >/dev/null 2>&1 || need+=(postfix)
# The cluster tests start their own PostgreSQL server (initdb, pg_ctl) per run.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
# `make test` checks the systemd unit with systemd-analyze and the Debian package with
# lintian; packaging strips the binary with objcopy.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v objcopy >/dev/null 2>&1 || need+=(binutils)
# The demo shows the API with curl.
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)

if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix asks how to configure itself; the tests run their own instance.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
