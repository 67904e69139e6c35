# cmake -DSQLRUN=... -DEXT=... -DSRC=<source dir> -P sql_update.cmake
# Rewrites the expected output of every SQL script (tests/sql/*.sql) and of
# the quickstart (examples/quickstart.sql), run as the tests run them: under
# umask 000. Review the diff afterwards.
file(GLOB scripts ${SRC}/tests/sql/*.sql)
foreach(script ${scripts})
  string(REGEX REPLACE "\\.sql$" ".expected" expected ${script})
  list(APPEND pairs "${script}|${expected}")
endforeach()
list(APPEND pairs
  "${SRC}/examples/quickstart.sql|${SRC}/tests/examples/quickstart.expected")
foreach(pair ${pairs})
  string(REPLACE "|" ";" pair ${pair})
  list(GET pair 0 script)
  list(GET pair 1 expected)
  execute_process(
    COMMAND sh -c "umask 000 && exec \"$0\" \"$@\"" ${SQLRUN} ${EXT} ${script}
            ${expected} --update
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "sqlrun failed on ${script}")
  endif()
endforeach()
