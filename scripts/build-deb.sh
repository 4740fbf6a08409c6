#!/usr/bin/env bash
# Builds the Debian package from an already built postfachd and its bundled plugins:
#   scripts/build-deb.sh PROFILE OUTDIR
# PROFILE is `release` (`make deb`) or `debug` (what `make test` packages and checks, to
# spare a release build). The binary is stripped into the package either way.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:?profile: release or debug}"
out="${2:?output directory}"
target="${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}/$profile"
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT

[ -x "$target/postfachd" ] || { echo "build-deb: no $target/postfachd; build it first" >&2; exit 1; }
ls "$target"/plugins/*.wasm >/dev/null 2>&1 || { echo "build-deb: no plugins in $target/plugins; run scripts/build-plugins.sh" >&2; exit 1; }

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/postfach/plugins" \
    "$stage/etc/postfach/accounts" "$stage/usr/lib/systemd/system" "$stage/usr/share/man/man1" \
    "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/fish/vendor_completions.d" "$stage/usr/share/doc/postfach"
objcopy --strip-all "$target/postfachd" "$stage/usr/bin/postfachd"
chmod 0755 "$stage/usr/bin/postfachd"
install -m 0644 "$target"/plugins/*.wasm "$stage/usr/lib/postfach/plugins/"
install -m 0640 packaging/postfach.toml "$stage/etc/postfach/postfach.toml"
install -m 0644 packaging/postfach.service "$stage/usr/lib/systemd/system/postfach.service"

docs="$stage/docs"
"$target/postfachd" docs --out "$docs"
for page in "$docs"/man/man1/*.1; do
    gzip -9n -c "$page" > "$stage/usr/share/man/man1/$(basename "$page").gz"
done
install -m 0644 "$docs/completions/postfachd.bash" "$stage/usr/share/bash-completion/completions/postfachd"
install -m 0644 "$docs/completions/_postfachd" "$stage/usr/share/zsh/vendor-completions/_postfachd"
install -m 0644 "$docs/completions/postfachd.fish" "$stage/usr/share/fish/vendor_completions.d/postfachd.fish"
rm -rf "$docs"
install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/postfach/copyright"
printf 'postfach (%s) unstable; urgency=medium\n\n  * Built from the Postfach repository.\n\n -- Postfach <postfach@example.invalid>  %s\n' \
    "$version" "$(date -R)" | gzip -9n > "$stage/usr/share/doc/postfach/changelog.gz"

install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
echo /etc/postfach/postfach.toml > "$stage/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: postfach
Version: $version
Architecture: $arch
Maintainer: Postfach <postfach@example.invalid>
Installed-Size: $size
Depends: libc6 (>= 2.36), adduser
Section: mail
Priority: optional
Homepage: https://example.invalid/postfach
Description: mail sync daemon for business applications
 Postfach keeps many IMAP/SMTP mail accounts in sync with a local store
 for business applications (CRM, ERP, project and law-office software):
 one TOML file per account, every message routed to a project by
 sandboxed WebAssembly plugins, mail sent with a Sent copy, and an HTTP
 API with an event feed and webhooks.
CONTROL

mkdir -p "$out"
deb="$out/postfach_${version}_${arch}.deb"
compress=(-Zxz)
[ "$profile" = "release" ] || compress=(-Zgzip -z1)
dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null
echo "$deb"
