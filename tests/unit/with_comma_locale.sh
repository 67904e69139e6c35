#!/bin/sh
# with_comma_locale.sh PROGRAM [ARGS...]: runs PROGRAM with de_DE.UTF-8 (a
# locale whose decimal point is a comma) compiled into a temporary
# directory and named by LOCPATH, so that test_codec can prove the JSON
# serializer writes and reads numbers the same in any locale. Needs
# localedef and the locale sources (Debian package locales).
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! localedef -i de_DE -f UTF-8 "$dir/de_DE.UTF-8" >/dev/null 2>&1; then
  echo "with_comma_locale.sh: cannot build de_DE.UTF-8 (install the Debian" \
    "package locales)" >&2
  exit 1
fi
LOCPATH=$dir "$@"
