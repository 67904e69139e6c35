# cmake -DSQLRUN=... -DEXT=... -DDIR=... -P sql_update.cmake
file(GLOB scripts ${DIR}/*.sql)
foreach(script ${scripts})
  string(REGEX REPLACE "\\.sql$" ".expected" expected ${script})
  execute_process(COMMAND ${SQLRUN} ${EXT} ${script} ${expected} --update)
endforeach()
