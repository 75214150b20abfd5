#!/bin/bash
# Compiles PostgreSQL 9.1 from source inside the builder stage of Dockerfile.pg91 and installs it,
# in Debian's layout, into /stage (copied whole into the runtime image).
# Prints "PGLAB_PROGRESS <phase>" lines for `lab`; the compiler's output goes to /build/logs and
# only its last lines are printed when something fails.
set -euo pipefail
src_archive="$1"
jobs="$(nproc)"
mkdir -p /build/src /build/logs /stage
cd /build/src

phase() { echo "PGLAB_PROGRESS $1"; }
run() { # run LOGNAME CMD...: quiet unless it fails
  local log="/build/logs/$1.log"; shift
  if ! "$@" >"$log" 2>&1; then
    echo "PGLAB_ERROR build step '$*' failed; last lines of its output:"
    tail -n 40 "$log"
    exit 1
  fi
}

phase "unpack"
tar -xf "$src_archive" --strip-components=1
test -f configure -a -f src/include/pg_config_manual.h || { echo "PGLAB_ERROR not a PostgreSQL source tree"; exit 1; }

phase "patch"
# flex >= 2.6 redeclares yylex in the generated scanners that the grammars #include; later
# PostgreSQL branches #undef it first (the same fix, applied to every grammar that does this).
for y in src/backend/parser/gram.y src/backend/replication/repl_gram.y src/backend/bootstrap/bootparse.y \
         contrib/cube/cubeparse.y contrib/seg/segparse.y; do
  sed -i 's/^#include "\([a-z_]*scan[a-z_]*\.c\)"$/#undef yylex\n#include "\1"/' "$y"
done
# Debian's socket directory, as in Debian's own postgresql-9.1 package.
sed -i 's|^#define DEFAULT_PGSOCKET_DIR  "/tmp"|#define DEFAULT_PGSOCKET_DIR  "/var/run/postgresql"|' src/include/pg_config_manual.h
grep -q '"/var/run/postgresql"' src/include/pg_config_manual.h
# Not amd64-only: 2011's config.guess does not know aarch64 (Apple Silicon's Docker), so use the
# build system's current ones, and give aarch64 the ARM spinlock (gcc's __sync builtins), as 9.4+ does.
cp /usr/share/misc/config.guess /usr/share/misc/config.sub config/
sed -i 's/^#if defined(__arm__) || defined(__arm)$/#if defined(__arm__) || defined(__arm) || defined(__aarch64__)/' src/include/storage/s_lock.h
grep -q '__aarch64__' src/include/storage/s_lock.h

# The database system identifier as 9.4+ draw it (PostgreSQL commit 5035701e, "Fix bogus generation of
# unique system identifiers"): 9.1 ORs tv_usec into tv_sec's low bits, so two clusters made in the same
# second (maestro and esclavo at `lab up`, a class's envs at `lab class up`) share one often: up to half
# the time, depending on the second. Graders tell a clone and a copied env by this identifier.
sed -i 's/^\tsysidentifier |= (uint32) (tv.tv_sec | tv.tv_usec);$/\tsysidentifier |= ((uint64) tv.tv_usec) << 12;\n\tsysidentifier |= getpid() \& 0xFFF;/' \
  src/backend/access/transam/xlog.c
grep -q 'sysidentifier |= getpid() & 0xFFF;' src/backend/access/transam/xlog.c

# Optional cross build (PG91_CROSS_HOST=aarch64-linux-gnu): lets an amd64 host check the arm64 recipe.
cross=()
if [ -n "${PG91_CROSS_HOST:-}" ]; then cross=(--host="$PG91_CROSS_HOST" CC="$PG91_CROSS_HOST-gcc"); fi

phase "configure ($(uname -m))"
# -fcommon: gcc >= 10 defaults to -fno-common and 9.1 relies on tentative definitions.
# No OpenSSL: 9.1's SSL code does not build against OpenSSL 3.
run configure ./configure "${cross[@]}" \
  --prefix=/usr/lib/postgresql/9.1 --datadir=/usr/share/postgresql/9.1 \
  --includedir=/usr/include/postgresql --localedir=/usr/share/locale \
  --sysconfdir=/etc/postgresql-common --mandir=/usr/share/postgresql/9.1/man \
  --with-pgport=5432 --enable-nls --enable-integer-datetimes --enable-thread-safety \
  --with-system-tzdata=/usr/share/zoneinfo --with-libxml --without-openssl \
  CFLAGS="-O2 -fcommon -Wno-error"

phase "compile server and client tools"
run make make -j"$jobs" -C src
phase "compile contrib (pg_archivecleanup, pg_standby)"
run make-contrib make -j"$jobs" -C contrib/pg_archivecleanup
run make-contrib2 make -j"$jobs" -C contrib/pg_standby

phase "install"
run install make -C src install DESTDIR=/stage
run install-contrib make -C contrib/pg_archivecleanup install DESTDIR=/stage
run install-contrib2 make -C contrib/pg_standby install DESTDIR=/stage
# Headers and static libraries are not needed to run the lab.
rm -rf /stage/usr/include /stage/usr/lib/postgresql/9.1/lib/*.a
# Only the course's languages.
find /stage/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'es*' ! -name 'en*' -exec rm -rf {} +
test -x /stage/usr/lib/postgresql/9.1/bin/postgres
test -x /stage/usr/lib/postgresql/9.1/bin/pg_archivecleanup
if [ -n "${PG91_CROSS_HOST:-}" ]; then
  # A cross-built postgres cannot run here: check its ELF e_machine instead (183 = AArch64).
  m="$(od -An -tu2 -j18 -N2 /stage/usr/lib/postgresql/9.1/bin/postgres | tr -d ' ')"
  case "$PG91_CROSS_HOST" in aarch64*) [ "$m" = 183 ] || { echo "PGLAB_ERROR postgres is not AArch64 (e_machine $m)"; exit 1; };; esac
  phase "done: cross-built for $PG91_CROSS_HOST (ELF e_machine $m)"
else
  phase "done: $(/stage/usr/lib/postgresql/9.1/bin/postgres --version)"
fi
