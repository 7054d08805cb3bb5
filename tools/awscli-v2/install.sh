#!/usr/bin/env bash
# Install AWS CLI v2 releases newer than Debian bookworm's 2.9 beside the project, for the tests that run
# `aws sso login` with the PKCE default (2.22+) and `--use-device-code`.
#
#   tools/awscli-v2/install.sh DEST NAME=VERSION...      e.g.  .tools/awscli-v2 2.23.6=2.23.6-1 newest=2.38.1-1
#
# For each NAME=VERSION: apt-get downloads Debian's awscli_VERSION_all.deb (pure Python; its signature is checked
# through the signed Release file), dpkg-deb unpacks it into DEST/NAME/root, pip installs its dependencies into
# DEST/NAME/venv (pinned in tools/awscli-v2/<upstream version>.txt), and DEST/NAME/bin/aws runs it; DEST/NAME/VERSION
# says which version it is. Nothing outside DEST is changed: apt works from its own lists and cache under DEST/apt.
#
# NAME "newest" follows Debian unstable, which keeps only its latest upload: when the pinned VERSION is gone from
# the archive, unstable's current awscli is installed instead (with the version ranges its METADATA names), with a
# warning to pin it; every other NAME must be found as pinned.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$1"; shift
python="${PY:-python3}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
exec 9>"$dest/.lock"
flock 9  # two installs at once would share apt's lists and cache
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
apt_opts=(
  -o "Dir::Etc::SourceList=$here/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
  -o Acquire::Languages=none -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq
)
inputs="$(cat "$0" "$here/sources.list" "$here"/*.txt; "$python" -c 'import sys; print(sys.version)')"
updated=""
for spec in "$@"; do
  name="${spec%%=*}"
  version="${spec#*=}"
  target="$dest/$name"
  stamp="$target/.installed-$(printf '%s\n%s\n%s' "$inputs" "$spec" "$target" | sha1sum | cut -c1-12)"
  if [ -e "$stamp" ] && "$target/bin/aws" --version >/dev/null 2>&1; then
    continue
  fi
  if [ -z "$updated" ]; then
    echo "fetching Debian's package lists for the AWS CLI v2 ($here/sources.list)"
    apt-get "${apt_opts[@]}" update || {
      echo "could not fetch Debian's package lists (network, proxy or keyring): see apt-get's message above" >&2
      exit 1
    }
    updated=1
  fi
  rm -rf "$target"
  mkdir -p "$target"
  if ! (cd "$target" && apt-get "${apt_opts[@]}" download "awscli=$version" 2>/dev/null); then
    available="$(apt-cache "${apt_opts[@]}" madison awscli | awk '{print $3}' | tr '\n' ' ')"
    if [ "$name" != newest ]; then
      echo "awscli $version is not in Debian's archive (it has: $available); pin one of those in the Makefile" >&2
      exit 1
    fi
    echo "WARNING: awscli $version is no longer in Debian unstable (it has: $available); installing its current" \
         "one. Pin it: CLI_V2 in the Makefile and tools/awscli-v2/<version>.txt (docs/sso-login.md)" >&2
    (cd "$target" && apt-get "${apt_opts[@]}" download awscli/sid)
  fi
  deb="$(ls "$target"/awscli_*_all.deb)"
  dpkg-deb -x "$deb" "$target/root"
  rm "$deb"
  site="$target/root/usr/lib/python3/dist-packages"
  upstream="$(ls -d "$site"/awscli-*.dist-info | sed 's/.*awscli-\(.*\)\.dist-info/\1/')"
  "$python" -m venv "$target/venv"
  if [ -e "$here/$upstream.txt" ]; then
    "$target/venv/bin/pip" install -q --disable-pip-version-check -r "$here/$upstream.txt"
  else  # the ranges the package itself names
    sed -n 's/^Requires-Dist: //p' "$site/awscli-$upstream.dist-info/METADATA" > "$target/requirements.txt"
    "$target/venv/bin/pip" install -q --disable-pip-version-check -r "$target/requirements.txt"
  fi
  mkdir -p "$target/bin"
  cat > "$target/bin/aws" <<SH
#!/bin/sh
PYTHONPATH="$site" exec "$target/venv/bin/python" -m awscli "\$@"
SH
  chmod +x "$target/bin/aws"
  echo "$upstream" > "$target/VERSION"
  "$target/bin/aws" --version
  touch "$stamp"
done
