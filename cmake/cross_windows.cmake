# ctest `cross.windows`: configure and build cmake/windows-cross with the mingw-w64 toolchain,
# then check that the result is a Windows (PE) executable.
#   cmake -DSRC=<source dir> -DBIN=<build dir> -P cmake/cross_windows.cmake
foreach(step configure build)
  if(step STREQUAL "configure")
    set(cmd ${CMAKE_COMMAND} -S ${SRC}/cmake/windows-cross -B ${BIN}
            -DCMAKE_TOOLCHAIN_FILE=${SRC}/cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=Release)
  else()
    set(cmd ${CMAKE_COMMAND} --build ${BIN} -j2)
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "windows cross-compile: ${step} failed (${rc})")
  endif()
endforeach()
set(exe ${BIN}/appcontainer_check.exe)
if(NOT EXISTS ${exe})
  message(FATAL_ERROR "windows cross-compile: ${exe} was not built")
endif()
file(READ ${exe} magic LIMIT 2 HEX)
if(NOT magic STREQUAL "4d5a")
  message(FATAL_ERROR "windows cross-compile: ${exe} is not a PE executable (${magic})")
endif()
message(STATUS "windows cross-compile: ${exe} built")
# The line tests/run_all.sh counts (a failure above exits non-zero and counts as one failure).
message(STATUS "SUMMARY: 1 passed, 0 failed, 0 skipped")
