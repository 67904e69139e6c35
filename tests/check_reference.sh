#!/bin/sh
# check_reference.sh EXTENSION SOURCE_DIR [README [LIBRARY]]: every SQL function and virtual
# table the extension registers, every configuration key the parser
# accepts, and every function the C library (LIBRARY, the shared one)
# exports appears in the README's reference (as `name`).
set -eu
ext=$1
src=$2
readme=${3:-$src/README.md}
missing=0
# What loading the extension adds to a connection.
before=$(sqlite3 :memory: "SELECT DISTINCT name FROM pragma_function_list
                           UNION SELECT name FROM pragma_module_list" | sort)
after=$(sqlite3 :memory: ".load $ext" "SELECT DISTINCT name FROM pragma_function_list
                           UNION SELECT name FROM pragma_module_list" | sort)
names=$(printf '%s\n%s\n' "$before" "$after" | sort | uniq -u)
# The configuration keys: the parser's table (core/pc_config.c).
keys=$(sed -n 's/.*\.name = "\([a-z_]*\)".*/\1/p' "$src/core/pc_config.c")
cfuns=""
if [ -n "${4:-}" ]; then
  cfuns=$(nm -D --defined-only "$4" | awk '$2 == "T" {print $3}')
  test -n "$cfuns" || { echo "check_reference: no functions in $4"; exit 1; }
fi
test -n "$names" && test -n "$keys" ||
  { echo "check_reference: found no names"; exit 1; }
for n in $names $keys $cfuns; do
  if ! grep -q "\`$n[\`(]" "$readme" && ! grep -q "\`$n=" "$readme"; then
    echo "check_reference: '$n' is not in README.md"
    missing=1
  fi
done
echo "check_reference: $(echo $names | wc -w) SQL names, $(echo $keys | wc -w) configuration keys, $(echo $cfuns | wc -w) C functions"
test $missing -eq 0 && echo "check_reference: ok"
exit $missing
