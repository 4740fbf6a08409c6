#!/usr/bin/env bash
# Part of `make test` (issue 18): packages the debug build, then checks the package the
# way an admin meets it — its contents, lintian (no errors), the unit with
# systemd-analyze, install, an upgrade that keeps config and data, remove (keeps them),
# purge (removes them and the system user). Leaves the machine as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "check-deb: $*" >&2; exit 1; }

deb="$(scripts/build-deb.sh debug "$out")"
contents="$(dpkg-deb -c "$deb" | awk '{print $6}')"
for path in ./usr/bin/postfachd ./usr/lib/postfach/plugins/generic.wasm ./etc/postfach/postfach.toml \
    ./etc/postfach/accounts/ ./usr/lib/systemd/system/postfach.service ./usr/share/man/man1/postfachd.1.gz \
    ./usr/share/man/man1/postfachd-backup.1.gz ./usr/share/bash-completion/completions/postfachd \
    ./usr/share/zsh/vendor-completions/_postfachd ./usr/share/fish/vendor_completions.d/postfachd.fish \
    ./usr/share/doc/postfach/copyright; do
    grep -qxF "$path" <<<"$contents" || fail "$path is missing from the package"
done
lintian --fail-on error --tag-display-limit 0 "$deb" 2>&1 | grep -v "root privileges" || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || fail "lintian reports errors"

if dpkg -s postfach >/dev/null 2>&1; then
    fail "a postfach package is installed already; this check installs and purges its own"
fi
# Whatever happens from here, the machine is left without the package.
trap '$sudo dpkg -P postfach >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
$sudo dpkg -i "$deb" >/dev/null
[ "$(/usr/bin/postfachd --version)" = "postfachd $(dpkg-deb -f "$deb" Version)" ] || fail "postfachd --version"
id postfach >/dev/null || fail "no postfach user"
[ "$(stat -c %U /var/lib/postfach)" = postfach ] || fail "/var/lib/postfach is not the postfach user's"
said="$(systemd-analyze verify /usr/lib/systemd/system/postfach.service 2>&1 || true)"
[ -z "$said" ] || fail "systemd-analyze verify: $said"
env -u POSTFACH_BUNDLED_PLUGINS /usr/bin/postfachd --config /etc/postfach plugins --json | grep -q '"generic"' \
    || fail "the installed postfachd does not find its bundled plugins"
# It starts with the installed config and paths (as systemd would, minus systemd: this
# machine has none running), as the postfach user, serves, and stops on SIGTERM.
/usr/bin/postfachd --config /etc/postfach run 2>"$out/run.log" &
pid=$!
for _ in $(seq 1 100); do [ -s /var/lib/postfach/api.addr ] && break; sleep 0.1; done
[ -s /var/lib/postfach/api.addr ] || { kill "$pid" 2>/dev/null; fail "the installed daemon did not start: $(cat "$out/run.log")"; }
[ "$(stat -c %U /proc/$pid)" = postfach ] || { kill "$pid"; fail "the daemon does not run as postfach"; }
kill -TERM "$pid"
wait "$pid" || fail "the daemon did not stop cleanly: $(cat "$out/run.log")"
# A command an admin runs as root leaves nothing in the data directory the service cannot write.
[ -z "$(find /var/lib/postfach ! -user postfach)" ] || fail "root-owned files in /var/lib/postfach: $(find /var/lib/postfach ! -user postfach)"
# An upgrade (the same package again) keeps an account file, an edited config and the data.
echo '# edited' | $sudo tee -a /etc/postfach/postfach.toml >/dev/null
echo 'description = "kept"' | $sudo tee /etc/postfach/accounts/kept.toml >/dev/null
echo kept | $sudo tee /var/lib/postfach/kept >/dev/null
$sudo dpkg -i "$deb" >/dev/null
grep -q '# edited' /etc/postfach/postfach.toml || fail "the upgrade replaced the edited config"
[ -f /etc/postfach/accounts/kept.toml ] && [ -f /var/lib/postfach/kept ] || fail "the upgrade lost config or data"
$sudo dpkg -r postfach >/dev/null
[ ! -e /usr/bin/postfachd ] || fail "remove left /usr/bin/postfachd"
[ -f /etc/postfach/accounts/kept.toml ] && [ -f /var/lib/postfach/kept ] || fail "remove lost config or data"
$sudo dpkg -P postfach >/dev/null
[ ! -e /etc/postfach ] && [ ! -e /var/lib/postfach ] || fail "purge left config or data"
! id postfach >/dev/null 2>&1 || fail "purge left the postfach user"
echo "check-deb: $(basename "$deb"): contents, lintian, unit, install, start as postfach, upgrade, remove and purge all fine"
