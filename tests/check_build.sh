#!/bin/sh
# Checks of the build itself, run by CTest (label unit):
#   check_build.sh exports EXTENSION   only sqlite3_pocketcache_init is exported
#   check_build.sh missing-dep SOURCE  configure stops naming the Debian
#                                      package when a dependency is missing
#   check_build.sh public-api SOURCE   ext/ uses the public header only
#                                      (no pc_internal.h, no pc__ calls)
set -eu
case "$1" in
exports)
  syms=$(nm -D --defined-only "$2" | awk '{print $3}' | grep -v '^_' | sort)
  if [ "$syms" != "sqlite3_pocketcache_init" ]; then
    echo "exported symbols: $syms"
    exit 1
  fi
  echo "1 passed, 0 failed"
  ;;
public-api)
  if grep -rn --include='*.c' --include='*.h' 'pc_internal\.h\|pc__[a-z]' \
    "$2/ext"; then
    echo "ext/ reaches into the engine's internals (above)"
    exit 1
  fi
  echo "1 passed, 0 failed"
  ;;
missing-dep)
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  # No pkg-config and no system include or library directory: the first
  # dependency looked for (SQLite) is missing.
  if cmake -S "$2" -B "$dir" -DPKG_CONFIG_EXECUTABLE=/bin/false \
    -DCMAKE_IGNORE_PATH="/usr/include;/usr/lib/x86_64-linux-gnu;/usr/lib" \
    >"$dir/out" 2>&1; then
    echo "configure succeeded without its dependencies"
    exit 1
  fi
  if ! grep -q "install the Debian package libsqlite3-dev" "$dir/out"; then
    cat "$dir/out"
    exit 1
  fi
  echo "1 passed, 0 failed"
  ;;
*)
  echo "usage: check_build.sh exports EXTENSION | missing-dep SOURCE |" \
    "public-api SOURCE" >&2
  exit 2
  ;;
esac
