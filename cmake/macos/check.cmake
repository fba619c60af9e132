# ctest `cross.macos`: builds the targets macos_portability(_net) (cmake/macos/portability.cmake), the
# sources of the macOS build compiled on Linux with the Linux-only interfaces poisoned, and
# macos_link, the same objects linked into the macOS `agentbox` without the Linux build's code.
#   cmake -DBIN=<build dir> -P cmake/macos/check.cmake
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} --target macos_portability_all -j2
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "macOS portability: a source of the macOS build uses an interface macOS "
                      "does not have (cmake/macos/poison.h says which are poisoned and why), or "
                      "calls code only the Linux build has (an undefined reference when linking "
                      "macos_link: put it behind sandbox/host.hpp)")
endif()
# The line tests/run_all.sh counts (a failure above exits non-zero and counts as one failure).
message(STATUS "SUMMARY: 1 passed, 0 failed, 0 skipped")
