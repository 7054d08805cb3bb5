#!/usr/bin/env bash
# Install AWS CLI v2 releases newer than Debian bookworm's 2.9 beside the project, for the tests that run
# `aws sso login` with the PKCE default (2.22+) and `--use-device-code`.
#
#   tools/awscli-v2/install.sh DEST VERSION...
#
# For each VERSION: apt-get downloads Debian's awscli_VERSION-1_all.deb (pure Python; its signature is checked
# through the signed Release file), dpkg-deb unpacks it into DEST/VERSION/root, pip installs the pinned
# dependencies of tools/awscli-v2/VERSION.txt into DEST/VERSION/venv, and DEST/VERSION/bin/aws runs it.
# Nothing outside DEST is changed: apt works from its own lists and cache under DEST/apt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$1"; shift
python="${PY:-python3}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
apt_opts=(
  -o "Dir::Etc::SourceList=$here/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
  -o Acquire::Languages=none -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq
)
updated=""
for version in "$@"; do
  target="$dest/$version"
  stamp="$target/.installed-$(sha1sum "$here/$version.txt" | cut -c1-12)"
  [ -e "$stamp" ] && continue
  if [ -z "$updated" ]; then
    echo "fetching Debian's package lists for the AWS CLI v2 ($here/sources.list)"
    apt-get "${apt_opts[@]}" update
    updated=1
  fi
  rm -rf "$target"
  mkdir -p "$target"
  (cd "$target" && apt-get "${apt_opts[@]}" download "awscli=$version-1") || {
    echo "awscli $version-1 is no longer in Debian's archive: pick a version that is" >&2
    echo "(apt-cache policy awscli with the options in $0) and update tools/awscli-v2/ and tests/helpers/cli.py" >&2
    exit 1
  }
  dpkg-deb -x "$target/awscli_${version}-1_all.deb" "$target/root"
  rm "$target/awscli_${version}-1_all.deb"
  "$python" -m venv "$target/venv"
  "$target/venv/bin/pip" install -q --disable-pip-version-check -r "$here/$version.txt"
  mkdir -p "$target/bin"
  cat > "$target/bin/aws" <<SH
#!/bin/sh
PYTHONPATH="$target/root/usr/lib/python3/dist-packages" exec "$target/venv/bin/python" -m awscli "\$@"
SH
  chmod +x "$target/bin/aws"
  "$target/bin/aws" --version
  touch "$stamp"
done
