#!/usr/bin/env bash
# The project's test command (README "Set up"; .ci/run runs it):
#   1. installs what the checks need when it is missing: Debian's hcloud-cli (plus jq, curl,
#      ssh-keygen) and the Python packages pinned in scripts/requirements-test.txt;
#   2. cargo build (the fidelity check runs the binary), compiles the benches without running
#      them, runs cargo test (unit, integration and doc tests);
#   3. runs scripts/fidelity.sh, whose last line is `fidelity: N passed, M failed`.
# Works unattended (no stdin, CI=true), as root or with sudo, on a fresh clone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DEBIAN_FRONTEND=noninteractive
sudo_cmd=()
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo -n); fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    echo "test.sh: apt-get update"
    "${sudo_cmd[@]}" apt-get update -qq </dev/null
    apt_updated=1
  fi
  echo "test.sh: apt-get install $*"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

# tool -> Debian package
declare -A debian_package=([hcloud]=hcloud-cli [jq]=jq [curl]=curl [ssh-keygen]=openssh-client [python3]=python3)
missing=()
for tool in hcloud jq curl ssh-keygen python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${debian_package[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

# Python packages: install only when a pinned version is not the installed one.
requirements=scripts/requirements-test.txt
if ! python3 - "$requirements" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if want and have != want:
        sys.exit(1)
PY
then
  if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
  echo "test.sh: pip install -r $requirements"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      -r "$requirements" </dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
      -r "$requirements" </dev/null
fi

cargo build
cargo test --benches --no-run
cargo test

bash scripts/fidelity.sh
