# cmake -DPROG=<program> -DEXPECTED=<file> [-DUPDATE=1] -P compare_output.cmake
# Runs a C example and compares its standard output with the expected file
# byte for byte (with UPDATE=1 rewrites the file instead; review the diff).
# Fails as well when the program exits non-zero.
execute_process(COMMAND ${PROG} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(UPDATE)
  file(WRITE ${EXPECTED} "${out}")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROG} exited with ${rc}:\n${out}")
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  file(WRITE ${EXPECTED}.got "${out}")
  execute_process(COMMAND diff -u ${EXPECTED} ${EXPECTED}.got)
  file(REMOVE ${EXPECTED}.got)
  message(FATAL_ERROR "${PROG}: output differs from ${EXPECTED}")
endif()
message("${PROG}: output as expected")
