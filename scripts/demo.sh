#!/usr/bin/env bash
# `make demo`: start local mail servers with sample mailboxes, run postfachd on config/
# until every account is synced, show accounts and folders, and explain what to try next.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${TARGET_DIR:-target}/debug"
POSTFACHD="$BIN/postfachd --config config"

echo "== Starting demo mail servers (Dovecot and Postfix on 127.0.0.1, a CA made for this run)"
"$BIN/postfach-mailservers" demo demo/servers
rm -rf config/data

echo
echo "== postfachd check"
$POSTFACHD check

echo
echo "== A small webhook receiver on 127.0.0.1:19970 (checks each Standard Webhooks signature)"
"$BIN/postfach-mailservers" webhooks 19970 demo/servers/secrets/webhook.secret >demo/webhooks.log 2>&1 &
receiver=$!

trap 'kill $receiver 2>/dev/null || true' EXIT

echo
echo "== An OAuth2 provider on 127.0.0.1:19971 (for the buero mailbox, as Microsoft 365 or Google would be)"
# It keeps running with the mail servers (the law office's Dovecot checks buero's tokens there).
if [ -f demo/oauth.pid ]; then kill "$(cat demo/oauth.pid)" 2>/dev/null || true; sleep 0.2; fi
nohup "$BIN/postfach-mailservers" oauth 19971 buero@ra-schmidt.de >demo/oauth.log 2>&1 &
echo $! >demo/oauth.pid
for _ in $(seq 1 50); do grep -q "OAuth2 provider" demo/oauth.log && break; sleep 0.1; done
cat demo/oauth.log
echo
echo "== postfachd oauth authorize buero   (the demo plays the browser: it opens the printed URL with curl)"
$POSTFACHD oauth authorize buero --timeout-secs 30 >demo/authorize.log 2>&1 &
authorize=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o 'http://127.0.0.1:19971/authorize[^ ]*' demo/authorize.log || true)
    if [ -n "$url" ]; then break; fi
    sleep 0.1
done
echo "the browser shows: $(curl -sS -L "$url" | grep -o 'Postfach is [^<]*')"
wait $authorize
sed 's/\(authorize?[^ ]\{40\}\)[^ ]*/\1…/' demo/authorize.log

echo
echo "== Running postfachd until every account is synced"
$POSTFACHD run >demo/postfachd.log 2>&1 &
daemon=$!
trap 'kill $daemon $receiver 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    states=$($POSTFACHD accounts --json | grep -o '"state": "[a-z-]*"' | sort -u)
    if [ "$states" = '"state": "idle"' ]; then break; fi
    sleep 0.1
done
echo
echo "== postfachd accounts   (while the daemon runs)"
$POSTFACHD accounts
echo
echo "== postfachd oauth status   (buero logs in with OAuth2; the daemon refreshes the token before it expires)"
$POSTFACHD oauth status

echo
echo "== The Integration API: a token for user mm (shown once; only its hash is stored)"
token=$($POSTFACHD token create --user mm --scope read --json | sed -n 's/.*"token": "\([^"]*\)".*/\1/p')
api="http://$(cat config/data/api.addr)"
echo "token ${token:0:10}… ; the API listens on $api"
echo
echo "== curl -H 'Authorization: Bearer pf_…' '$api/v1/messages?project=210-01'"
pretty() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), indent=2, ensure_ascii=False))'
    else
        cat; echo
    fi
}
curl -sS -H "Authorization: Bearer $token" "$api/v1/messages?project=210-01" | pretty
echo
echo "== curl … '$api/v1/search?q=Brandschutzplaene'   (umlauts as typed on any keyboard)"
curl -sS -H "Authorization: Bearer $token" "$api/v1/search?q=Brandschutzplaene" | pretty
echo
echo "== The same token asks for the law office's mail: 404 (mm may not see it, and may not know it exists)"
curl -sS -H "Authorization: Bearer $token" "$api/v1/accounts/kanzlei"; echo

if [ -f demo/servers/postfix/main.cf ]; then
    echo
    echo "== postfachd test kanzlei   (IMAP login + LIST, SMTP connect + EHLO + AUTH; nothing is sent)"
    $POSTFACHD test kanzlei || true
    echo
    echo "== postfachd send architekt --to kanzlei@ra-schmidt.de …   (queued; the running daemon delivers it)"
    $POSTFACHD send architekt --to "Kanzlei Schmidt <kanzlei@ra-schmidt.de>" \
        --subject "[P-211-07] Bauantrag Schule Süd: Brandschutzpläne" --body-file - <<'BODY'
Sehr geehrte Frau Schmidt,

anbei wie besprochen die Brandschutzpläne für die Nachforderung des Bauamts.
BODY
    echo
    echo "== postfachd send-test makler --to mm@muster-architekten.de   (delivered right away)"
    $POSTFACHD send-test makler --to mm@muster-architekten.de
    for _ in $(seq 1 300); do
        if ! $POSTFACHD outbox --json | grep -q '"state": "\(queued\|sending\|deferred\)"\|"copy": null'; then break; fi
        sleep 0.1
    done
    echo
    echo "== postfachd outbox   (Gmail keeps its own Sent copy, so none is appended for makler)"
    $POSTFACHD outbox
    echo
    echo "== Waiting for the mail in kanzlei's inbox (the daemon IDLEs there and hears of it at once)"
    arrived=""
    for i in $(seq 1 100); do
        if $POSTFACHD messages kanzlei --json | grep -q 'Brandschutzpläne'; then
            arrived="$i"; break
        fi
        sleep 0.1
    done
    if [ -n "$arrived" ]; then
        echo "stored in kanzlei's store within $((arrived / 10)).$((arrived % 10)) s of the outbox reporting it sent"
    else
        echo "not there yet; the next sync picks it up"
    fi
fi
echo
echo "== Webhooks the receiver got ($(grep -c '^evt_' demo/webhooks.log || true) events; the first of each kind)"
for kind in new-message routed sent; do grep "^evt_[0-9]* $kind " demo/webhooks.log | head -n 3 || true; done
echo
echo "== postfachd webhooks"
$POSTFACHD webhooks
kill -TERM $daemon; wait $daemon || true
kill $receiver 2>/dev/null || true; trap - EXIT
echo
echo "== postfachd sync --once   (one full pass: picks up the copy in Gesendet, which is outside the watched inbox)"
$POSTFACHD sync --once
echo
echo "== postfachd plugins"
$POSTFACHD plugins
for account in architekt kanzlei makler; do
    echo
    echo "== postfachd folders $account"
    $POSTFACHD folders "$account"
done
echo
echo "== postfachd messages architekt   (PROJECT: assigned by the routers)"
$POSTFACHD messages architekt
echo
echo "== postfachd messages kanzlei   (the architect's mail arrived through Postfix)"
$POSTFACHD messages kanzlei
echo
echo "== postfachd messages buero   (synced with OAuth2: Dovecot checked every token at the provider)"
$POSTFACHD messages buero
echo
echo "== postfachd projects"
$POSTFACHD projects
reply=$($POSTFACHD messages architekt --project 211-07 --json | grep -o '"local_id": [0-9]*' | head -n 1 | grep -o '[0-9]*$')
echo
echo "== postfachd route explain $reply"
$POSTFACHD route explain "$reply"

cat <<MSG

The demo mail servers keep running (imaps on 127.0.0.1:19931, :19941 and :19951, SMTP submission on :19960, :19962 and :19964, the OAuth2 provider on :19971); the daemon's
log is in demo/postfachd.log. Things to try:

  # the daemon; edit or add config/accounts/*.toml while it runs
  $POSTFACHD run
  # what a CRM would read
  $POSTFACHD messages kanzlei --json
  # load the folder list from the server
  $POSTFACHD folders kanzlei --refresh
  # send mail (start the daemon first, or add --now); see what happened to it
  $POSTFACHD send kanzlei --to mm@muster-architekten.de --subject "Termin" --body "Passt Dienstag?"
  $POSTFACHD outbox
  # what a changed routing option would do, without doing it
  $POSTFACHD route dry-run architekt
  # the Integration API (while the daemon runs): a token, then any HTTP client
  $POSTFACHD token create --user mm --scope read --scope write
  curl -H "Authorization: Bearer pf_…" http://127.0.0.1:8025/v1/events?wait=30
  # stop the demo mail servers
  make demo-stop
MSG
