#!/usr/bin/env bash
# Fidelity check of the fake Hetzner API (`crabglamp sim`) against the official clients and
# Hetzner's OpenAPI document (docs/hetzner-api.md §13-§14):
#   (a) the hcloud CLI flow of docs/hetzner-api.md §14.1, every command checked for success (or for the
#       expected error code) and for what it created, read back with `-o json` + jq;
#   (b) the hcloud-python flow of docs/hetzner-api.md §14.2 (scripts/fidelity_py.py);
#   (c) raw curl checks of docs/hetzner-api.md §14.3 and listings of the demo seed;
#   (d) every recorded response validated against openapi.json (scripts/openapi_check.py).
# Each check counts once; the last line is `fidelity: N passed, M failed`; exit 1 if M > 0.
#
# Needs: target/debug/crabglamp (cargo build), hcloud (Debian hcloud-cli 1.30.x), python3 with
# hcloud 2.27.x and jsonschema (scripts/requirements-test.txt), jq, curl, ssh-keygen.
# Env: CRABGLAMP_BIN (binary), HETZNER_OPENAPI (spec; default <repo>/../shared/hetzner/openapi.json),
#      FIDELITY_ACTION_MS (sim action duration, default 200), FIDELITY_VERBOSE=1 (print outputs).
# `fidelity.sh --self-test-only` runs only the schema converter's self-test (no sim needed).
# Every server it starts listens on 127.0.0.1 only and is killed on exit.
set -euo pipefail
self_test_only=0
[ "${1:-}" = "--self-test-only" ] && self_test_only=1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${CRABGLAMP_BIN:-$root/target/debug/crabglamp}
spec=${HETZNER_OPENAPI:-$root/../shared/hetzner/openapi.json}
action_ms=${FIDELITY_ACTION_MS:-200}
verbose=${FIDELITY_VERBOSE:-0}

die() { echo "fidelity: $*" >&2; exit 1; }
[ -f "$spec" ] || die "OpenAPI document not found: $spec (CI lays shared/ beside the clone; set HETZNER_OPENAPI to override)"
[ "$self_test_only" = 1 ] || [ -x "$bin" ] || die "binary not found: $bin (run cargo build first)"
for tool in hcloud python3 jq curl ssh-keygen; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (scripts/test.sh installs it)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/crabglamp-fidelity.XXXXXX")
sim_pid=""
stop_sim() {
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=""
  fi
}
cleanup() { stop_sim; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# show: print a captured output, indented and cut, after a failure.
show() { printf '%s\n' "$1" | head -n 40 | sed 's/^/     | /'; }

token="fidelity-$$-$RANDOM"
export HCLOUD_TOKEN=$token
export HOME=$work/home HCLOUD_CONFIG=$work/home/cli.toml
mkdir -p "$HOME"

# start_sim SEED RECORD: start the sim on a loopback port, set $port and $HCLOUD_ENDPOINT.
start_sim() {
  local seed=$1 record=$2 log=$work/sim-$1.log try listen line
  for try in 0 1; do
    if [ "$try" = 0 ]; then
      listen=127.0.0.1:0
    else # the sim may not take port 0: pick a free port ourselves
      listen=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    fi
    "$bin" sim --listen "$listen" --token "$token" --seed "$seed" --action-ms "$action_ms" \
      --record "$record" >"$log" 2>&1 </dev/null &
    sim_pid=$!
    for _ in $(seq 1 300); do
      line=$(grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+/v1' "$log" || true)
      if [ -n "$line" ]; then
        port=${line##*:}
        port=${port%/v1}
        export HCLOUD_ENDPOINT=http://127.0.0.1:$port/v1
        echo "sim ($seed seed) listening on $HCLOUD_ENDPOINT"
        return 0
      fi
      kill -0 "$sim_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_sim
  done
  echo "sim did not start; its output:" >&2
  show "$(cat "$log")" >&2
  return 1
}

# cli WANT... -- ARGS...: hcloud ARGS must exit 0 and print every WANT (fixed strings).
cli() {
  local wants=() out rc w missing=""
  while [ "$1" != "--" ]; do wants+=("$1"); shift; done
  shift
  if out=$(timeout 60 hcloud --poll-interval 100ms "$@" 2>&1 </dev/null); then rc=0; else rc=$?; fi
  last_out=$out
  [ "$verbose" = 1 ] && show "$out"
  if [ "$rc" != 0 ]; then
    bad "hcloud $* (exit $rc)"; show "$out"; return 0
  fi
  for w in "${wants[@]}"; do
    grep -qF -- "$w" <<<"$out" || missing+=" '$w'"
  done
  if [ -n "$missing" ]; then
    bad "hcloud $*: output lacks$missing"; show "$out"
  else
    ok "hcloud $*"
  fi
}

# cli_fail WANT -- ARGS...: hcloud ARGS must exit 1 and print WANT (the error code or message).
cli_fail() {
  local want=$1 out rc
  shift 2
  if out=$(timeout 60 hcloud --poll-interval 100ms "$@" 2>&1 </dev/null); then rc=0; else rc=$?; fi
  [ "$verbose" = 1 ] && show "$out"
  if [ "$rc" = 1 ] && grep -qF -- "$want" <<<"$out"; then
    ok "hcloud $* fails with $want"
  else
    bad "hcloud $*: expected exit 1 with '$want', got exit $rc"; show "$out"
  fi
}

# jq_check DESC JSON FILTER: FILTER (jq -e) must hold on JSON.
jq_check() {
  local desc=$1 json=$2 filter=$3
  if jq -e "$filter" >/dev/null 2>&1 <<<"$json"; then
    ok "$desc"
  else
    bad "$desc: jq '$filter' does not hold"; show "$json"
  fi
}

# describe_json KIND NAME: `hcloud KIND describe NAME -o json`, or `{}` when that fails (the
# jq_check that reads it then fails).
describe_json() {
  local out
  if out=$(timeout 60 hcloud "$1" describe "$2" -o json 2>&1 </dev/null); then
    printf '%s' "$out"
  else
    printf '{}'
  fi
}

# add_counts WHAT OUTPUT: print OUTPUT (all but FAIL-free noise when QUIET=1) and add the
# `counts: P F` line that the Python checks end with; a missing line is one failure.
add_counts() {
  local what=$1 out=$2 line p f
  if [ "${quiet:-0}" = 1 ]; then
    printf '%s\n' "$out" | grep '^FAIL' || true
  else
    printf '%s\n' "$out" | grep -v '^counts:' || true
  fi
  line=$(printf '%s\n' "$out" | grep '^counts:' | tail -n 1 || true)
  if [ -z "$line" ]; then
    bad "$what did not finish"; show "$out"; return 0
  fi
  read -r _ p f <<<"$line"
  passed=$((passed + p)); failed=$((failed + f))
  echo "$what: $p ok, $f bad"
}

records=()

if [ "$self_test_only" = 1 ]; then
  out=$(python3 "$root/scripts/openapi_check.py" --spec "$spec" --self-test 2>&1 || true)
  quiet=1 add_counts "schema converter self-test" "$out"
  echo "fidelity: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
fi

# ---------------------------------------------------------------------------------------------
echo "== (a) hcloud CLI flow (docs/hetzner-api.md §14.1)"
records+=("$work/record-cli.jsonl")
start_sim empty "$work/record-cli.jsonl"

ssh-keygen -q -t ed25519 -N "" -C "fidelity@crabglamp" -f "$work/id_ed25519"
md5=$(ssh-keygen -E md5 -lf "$work/id_ed25519.pub" | awk '{print $2}')
md5=${md5#MD5:}
cat >"$work/rules.json" <<'RULES'
[{"direction":"in","protocol":"tcp","port":"22","source_ips":["0.0.0.0/0","::/0"],"description":"ssh"},
 {"direction":"in","protocol":"icmp","source_ips":["0.0.0.0/0","::/0"]}]
RULES
printf '#cloud-config\nhostname: srv1\n' >"$work/cloud.yaml"

# discovery
cli fsn1 hel1 -- location list
cli fsn1 -- datacenter list
cli cx22 -- server-type list
cli cx22 fsn1 -- server-type describe cx22
cli debian-12 -- image list -t system
cli debian-12 -- image describe debian-12

# ssh keys
cli "SSH key" created -- ssh-key create --name k1 --public-key-from-file "$work/id_ed25519.pub" --label team=a
cli_fail uniqueness_error -- ssh-key create --name k1dup --public-key-from-file "$work/id_ed25519.pub"
cli k1 "$md5" -- ssh-key list -o columns=id,name,fingerprint
cli k1 "$md5" team -- ssh-key describe k1
key=$(describe_json ssh-key k1)
jq_check "ssh key k1 read back (fingerprint MD5, label, key text)" "$key" \
  ".name == \"k1\" and .fingerprint == \"$md5\" and .labels == {\"team\":\"a\"} and (.public_key | startswith(\"ssh-ed25519 \"))"

# firewalls
cli Firewall created -- firewall create --name fw1 --rules-file "$work/rules.json" --label a=b
cli fw1 -- firewall list
cli fw1 ssh icmp 0.0.0.0/0 ::/0 -- firewall describe fw1
fw=$(describe_json firewall fw1)
fw_id=$(jq -r '.id // empty' <<<"$fw")
jq_check "firewall fw1 read back (2 rules, all six keys, labels)" "$fw" \
  '.name == "fw1" and .labels == {"a":"b"} and (.rules | length) == 2
   and .rules[0] == {"direction":"in","protocol":"tcp","port":"22","source_ips":["0.0.0.0/0","::/0"],"destination_ips":[],"description":"ssh"}
   and .rules[1].protocol == "icmp" and .rules[1].port == null'
cli "Firewall Rules for Firewall $fw_id updated" -- firewall add-rule fw1 --direction in --protocol udp --port 60000-61000 --source-ips 10.0.0.0/8
cli "Firewall Rules for Firewall $fw_id updated" -- firewall add-rule fw1 --direction out --protocol tcp --port 443 --destination-ips 0.0.0.0/0 --description https
jq_check "firewall fw1 has the two added rules" "$(describe_json firewall fw1)" \
  '(.rules | length) == 4
   and any(.rules[]; .direction == "in" and .protocol == "udp" and .port == "60000-61000" and .source_ips == ["10.0.0.0/8"])
   and any(.rules[]; .direction == "out" and .port == "443" and .destination_ips == ["0.0.0.0/0"] and .description == "https")'
cli "Firewall Rules for Firewall $fw_id updated" -- firewall delete-rule fw1 --direction in --protocol udp --port 60000-61000 --source-ips 10.0.0.0/8
jq_check "firewall fw1 lost the udp rule" "$(describe_json firewall fw1)" \
  '(.rules | length) == 3 and all(.rules[]; .protocol != "udp")'
cli "Firewall Rules for Firewall $fw_id updated" -- firewall replace-rules fw1 --rules-file "$work/rules.json"
jq_check "firewall fw1 rules replaced by the file" "$(describe_json firewall fw1)" \
  '(.rules | length) == 2 and all(.rules[]; .direction == "in")'

# servers
cli Server created "IPv4: " "IPv6 Network: " -- server create --name srv1 --type cx22 --image debian-12 --location fsn1 \
  --ssh-key k1 --firewall fw1 --label env=dev --user-data-from-file "$work/cloud.yaml"
create_out=$last_out
cli_fail uniqueness_error -- server create --name srv1 --type cx22 --image debian-12
cli srv1 running -- server list
cli srv1 running cx22 fsn1 env=dev -- server list -l env=dev -o columns=id,name,status,ipv4,ipv6,location,type,labels,created
cli srv1 cx22 fsn1 debian-12 -- server describe srv1
srv=$(describe_json server srv1)
srv_id=$(jq -r '.id // empty' <<<"$srv")
ipv4=$(jq -r '.public_net.ipv4.ip // empty' <<<"$srv")
jq_check "server srv1 read back (running, type, image, location, labels, firewall, IPs)" "$srv" \
  ".name == \"srv1\" and .status == \"running\" and .server_type.name == \"cx22\"
   and .image.name == \"debian-12\" and .datacenter.location.name == \"fsn1\"
   and .labels == {\"env\":\"dev\"} and .public_net.firewalls[0].id == ${fw_id:-0}
   and (.public_net.ipv4.ip | test(\"^[0-9]+\\\\.[0-9]+\\\\.[0-9]+\\\\.[0-9]+\$\"))
   and (.public_net.ipv6.ip | test(\"/64\$\"))"
if [ -n "$ipv4" ] && grep -qF "IPv4: $ipv4" <<<"$create_out"; then
  ok "server create printed the IPv4 that describe reads back ($ipv4)"
else
  bad "server create printed another IPv4 than describe's '$ipv4'"; show "$create_out"
fi
cli "${ipv4:-no-ipv4}" -- server ip srv1
cli "Server srv1 updated" -- server update srv1 --name srv2
cli "Label role added to server $srv_id" -- server add-label srv2 role=web
jq_check "server renamed to srv2 with labels env=dev, role=web" "$(describe_json server srv2)" \
  '.name == "srv2" and .labels == {"env":"dev","role":"web"}'
cli "Label role removed from server $srv_id" -- server remove-label srv2 role
jq_check "label role removed" "$(describe_json server srv2)" '.labels == {"env":"dev"}'
cli "Server $srv_id stopped" -- server poweroff srv2
jq_check "srv2 is off after poweroff" "$(describe_json server srv2)" '.status == "off"'
cli "Server $srv_id started" -- server poweron srv2
jq_check "srv2 is running after poweron" "$(describe_json server srv2)" '.status == "running"'
cli "Server $srv_id shut down" -- server shutdown srv2
cli "Server $srv_id started" -- server poweron srv2
cli "Server $srv_id rebooted" -- server reboot srv2
cli "Server $srv_id reset" -- server reset srv2
jq_check "srv2 is running after shutdown, poweron, reboot, reset" "$(describe_json server srv2)" \
  '.status == "running"'

# firewall attachment (fw1 was applied to the server at creation). The CLI prints "Firewall N
# applied" after remove-from-resource too (its typo, docs/hetzner-api.md §14.1).
cli_fail firewall_already_applied -- firewall apply-to-resource fw1 --type server --server srv2
cli "Firewall $fw_id applied" -- firewall remove-from-resource fw1 --type server --server srv2
jq_check "fw1 applied to nothing after remove" "$(describe_json firewall fw1)" '.applied_to == []'
cli "Firewall $fw_id applied" -- firewall apply-to-resource fw1 --type label_selector --label-selector env=dev
cli label_selector env=dev -- firewall describe fw1
jq_check "fw1 applied by label selector env=dev, matching srv2" "$(describe_json firewall fw1)" \
  ".applied_to | length == 1 and .[0].type == \"label_selector\" and .[0].label_selector.selector == \"env=dev\"
   and (.[0].applied_to_resources | map(.server.id) | index(${srv_id:-0}) != null)"
cli_fail firewall_managed_by_label_selector -- firewall remove-from-resource fw1 --type server --server srv2
cli_fail resource_in_use -- firewall delete fw1
cli "Firewall $fw_id applied" -- firewall remove-from-resource fw1 --type label_selector --label-selector env=dev
cli "Firewall fw1 updated" -- firewall update fw1 --name fw1b
cli fw1b -- firewall list

# teardown
cli "Server srv2 deleted" -- server delete srv2
cli_fail "server not found: 999999" -- server describe 999999
cli "firewall fw1b deleted" -- firewall delete fw1b
cli "SSHKey k1 updated" -- ssh-key update k1 --name k2
cli k2 -- ssh-key list
cli "SSH Key k2 deleted" -- ssh-key delete k2
cli_fail "not found" -- ssh-key describe k2
stop_sim

# ---------------------------------------------------------------------------------------------
echo "== (b) hcloud-python flow (docs/hetzner-api.md §14.2)"
records+=("$work/record-py.jsonl")
start_sim empty "$work/record-py.jsonl"
out=$(python3 "$root/scripts/fidelity_py.py" --endpoint "$HCLOUD_ENDPOINT" --token "$token" \
  --public-key "$work/id_ed25519.pub" 2>&1 </dev/null || true)
add_counts "python flow" "$out"
stop_sim

# ---------------------------------------------------------------------------------------------
echo "== (c) raw checks (docs/hetzner-api.md §14.3) and the demo seed"
records+=("$work/record-demo.jsonl")
start_sim demo "$work/record-demo.jsonl"
auth=(-H "Authorization: Bearer $token")
head=$(curl -s -D - -o /dev/null "${auth[@]}" "$HCLOUD_ENDPOINT/servers?per_page=1")
if grep -qi '^ratelimit-limit: [0-9]' <<<"$head" && grep -qi '^ratelimit-remaining: [0-9]' <<<"$head" \
   && grep -qi '^ratelimit-reset: [0-9]' <<<"$head"; then
  ok "RateLimit-Limit/Remaining/Reset headers sent"
else
  bad "RateLimit-* headers missing"; show "$head"
fi
body=$(curl -s "${auth[@]}" "$HCLOUD_ENDPOINT/servers?per_page=1")
jq_check "per_page=1 gives one server and pagination meta" "$body" \
  '(.servers | length) == 1 and .meta.pagination.per_page == 1 and .meta.pagination.page == 1
   and (.meta.pagination.total_entries >= 1)'
code=$(curl -s -o "$work/body" -w '%{http_code}' "$HCLOUD_ENDPOINT/servers")
jq_check "no token gives 401 unauthorized" "$(cat "$work/body")" \
  ".error.code == \"unauthorized\" and $code == 401"
code=$(curl -s -o "$work/body" -w '%{http_code}' -X POST "${auth[@]}" -H "Content-Type: application/json" \
  -d '{bad json' "$HCLOUD_ENDPOINT/ssh_keys")
jq_check "bad JSON gives 400 json_error" "$(cat "$work/body")" ".error.code == \"json_error\" and $code == 400"
hdr=$(curl -s -D - -o /dev/null -X DELETE "${auth[@]}" "$HCLOUD_ENDPOINT/ssh_keys/999999")
if grep -q '^HTTP/[0-9.]* 404' <<<"$hdr" && grep -qi '^content-type: application/json' <<<"$hdr"; then
  ok "unknown ssh key DELETE gives 404 with a JSON content type"
else
  bad "unknown ssh key DELETE"; show "$hdr"
fi
first_id=$(curl -s "${auth[@]}" "$HCLOUD_ENDPOINT/servers?per_page=1" | jq -r '.servers[0].id // 0')
code=$(curl -s -o "$work/body" -w '%{http_code}' -X POST "${auth[@]}" "$HCLOUD_ENDPOINT/servers/$first_id/actions/poweron")
jq_check "POST poweron without body or content type gives 201 and a start_server action" "$(cat "$work/body")" \
  ".action.command == \"start_server\" and .action.resources[0].id == $first_id and $code == 201"
pub=$(cat "$work/id_ed25519.pub")
key_id=$(curl -s "${auth[@]}" -H "Content-Type: application/json" \
  -d "$(jq -n --arg k "$pub" '{name: "raw-key", public_key: $k}')" "$HCLOUD_ENDPOINT/ssh_keys" | jq -r '.ssh_key.id // 0')
hdr=$(curl -s -D - -o "$work/body" -X DELETE "${auth[@]}" "$HCLOUD_ENDPOINT/ssh_keys/$key_id")
if grep -q '^HTTP/[0-9.]* 204' <<<"$hdr" && ! grep -qi '^content-type:' <<<"$hdr" && [ ! -s "$work/body" ]; then
  ok "ssh key DELETE gives 204 with no body and no Content-Type"
else
  bad "ssh key DELETE (id $key_id)"; show "$hdr"
fi
body=$(curl -s "${auth[@]}" -G --data-urlencode 'label_selector=env in (dev,prod),!legacy' "$HCLOUD_ENDPOINT/servers")
jq_check "label selector 'env in (dev,prod),!legacy' answers a server list" "$body" '.servers | type == "array"'
# servers and firewalls must be there; the CLI prints `null` for an empty list (ssh keys may be).
for kind in server firewall ssh-key; do
  want='type == "array" and length > 0'
  [ "$kind" = ssh-key ] && want='type == "array" or . == null'
  if out=$(timeout 60 hcloud "$kind" list -o json 2>&1 </dev/null); then
    jq_check "hcloud $kind list -o json on the demo seed" "$out" "$want"
  else
    bad "hcloud $kind list -o json (demo seed)"; show "$out"
  fi
done
out=$(python3 "$root/scripts/fidelity_py.py" --endpoint "$HCLOUD_ENDPOINT" --token "$token" \
  --list-only 2>&1 </dev/null || true)
add_counts "python listing of the demo seed" "$out"
stop_sim

# ---------------------------------------------------------------------------------------------
echo "== (d) recorded responses against openapi.json"
out=$(python3 "$root/scripts/openapi_check.py" --spec "$spec" --self-test 2>&1 || true)
quiet=1 add_counts "schema converter self-test" "$out"
out=$(python3 "$root/scripts/openapi_check.py" --spec "$spec" -v "${records[@]}" 2>&1 || true)
add_counts "recorded responses valid" "$out"

echo "fidelity: $passed passed, $failed failed"
[ "$failed" = 0 ]
