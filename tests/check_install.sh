#!/bin/sh
# check_install.sh BUILD_DIR SOURCE_DIR: installs the build into a fresh
# prefix, then builds examples/embed.c against the installed tree with
# pkg-config (shared library) and runs it, and loads the installed
# extension into the sqlite3 shell.
set -eu
build=$1
src=$2
prefix=$(mktemp -d /tmp/pc_install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name pocketcache.pc)")
export PKG_CONFIG_PATH="$pcdir"
echo "check_install: pkg-config --cflags --libs pocketcache:" \
  "$(pkg-config --cflags --libs pocketcache)"
for f in include/pocketcache.h; do
  test -f "$prefix/$f" || { echo "check_install: $f not installed"; exit 1; }
done
libdir=$(pkg-config --variable=libdir pocketcache)
extdir=$(pkg-config --variable=extensiondir pocketcache)
for f in "$libdir/libpocketcache.a" "$libdir/libpocketcache.so" \
         "$extdir/pocketcache.so"; do
  test -f "$f" || { echo "check_install: $f not installed"; exit 1; }
done
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$prefix/embed" "$src/examples/embed.c" \
  $(pkg-config --cflags --libs pocketcache sqlite3)
LD_LIBRARY_PATH="$libdir" "$prefix/embed"
# The binary uses the installed shared library.
LD_LIBRARY_PATH="$libdir" ldd "$prefix/embed" | grep -q "$libdir/libpocketcache.so" ||
  { echo "check_install: embed does not use the installed library"; exit 1; }
# Statically, as examples/embed.c says: runs without the shared library.
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$prefix/embed_static" "$src/examples/embed.c" \
  $(pkg-config --cflags pocketcache) "$libdir/libpocketcache.a" \
  -lsqlite3 -lcjson -lhiredis -pthread -lm
if ldd "$prefix/embed_static" | grep -q libpocketcache; then
  echo "check_install: the static build needs libpocketcache.so"; exit 1
fi
"$prefix/embed_static" >/dev/null
out=$(sqlite3 :memory: ".load $extdir/pocketcache" "SELECT pcache_version()")
echo "check_install: the installed extension loads: pcache_version() = $out"
echo "check_install: ok"
