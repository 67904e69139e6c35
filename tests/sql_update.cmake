# cmake -DSQLRUN=... -DEXT=... -DSRC=<source dir> -P sql_update.cmake
# Rewrites the expected output of every SQL script (tests/sql/*.sql) and of
# the SQL examples (examples/*.sql), run as the tests run them: under
# umask 000. Review the diff afterwards.
file(GLOB scripts ${SRC}/tests/sql/*.sql)
foreach(script ${scripts})
  string(REGEX REPLACE "\\.sql$" ".expected" expected ${script})
  list(APPEND pairs "${script}|${expected}")
endforeach()
foreach(example quickstart cached_views rate_limit sessions)
  list(APPEND pairs
    "${SRC}/examples/${example}.sql|${SRC}/tests/examples/${example}.expected")
endforeach()
# Scripts that use $redis get a redis-server of their own for the run.
set(rdir ${CMAKE_CURRENT_BINARY_DIR}/redis-update)
execute_process(COMMAND ${SRC}/tests/redis_fixture.sh start ${rdir}
                RESULT_VARIABLE rrc)
if(NOT rrc EQUAL 0)
  message(FATAL_ERROR "could not start redis-server")
endif()
set(ENV{PC_REDIS_URL_FILE} ${rdir}/url)
foreach(pair ${pairs})
  string(REPLACE "|" ";" pair ${pair})
  list(GET pair 0 script)
  list(GET pair 1 expected)
  execute_process(
    COMMAND sh -c "umask 000 && exec \"$0\" \"$@\"" ${SQLRUN} ${EXT} ${script}
            ${expected} --update
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    execute_process(COMMAND ${SRC}/tests/redis_fixture.sh stop ${rdir})
    message(FATAL_ERROR "sqlrun failed on ${script}")
  endif()
endforeach()
execute_process(COMMAND ${SRC}/tests/redis_fixture.sh stop ${rdir})
