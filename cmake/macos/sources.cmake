# The sources of the macOS build of agentbox, in one place for its two users: cmake/macos
# (the build on a Mac: the `agentbox` program is exactly these) and cmake/macos/portability.cmake
# (the Linux-side check, ctest cross.macos, which compiles each of them with poison.h and links
# them without the Linux build's code, so that a Linux-only interface or a call into Linux-only
# code in any of them fails `make test` on Linux).
#
# Every module but the Linux sandboxes (src/sandbox/linux, src/sandbox/bwrap, src/sandbox/native.cpp,
# src/seccomp) and the Windows one; a module's Linux-only parts live in files named *_linux.cpp,
# which only the Linux build compiles. What the cli asks of the host is sandbox/host.hpp, defined
# here by sandbox/host_macos.cpp (on Linux by sandbox/host_linux.cpp). The Windows plan
# (sandbox/windows/appcontainer.cpp, pure) is in: `--dry-run --target windows` prints it.
#
#   ab_macos_sources(<var> <src dir>)          the list, absolute paths
#   ab_macos_pending(<var> <src dir>)          the part of it that does not build on macOS yet
function(ab_macos_sources var src)
  set(out)
  foreach(mod util sys profile policy audit approve stage net cli)
    file(GLOB s CONFIGURE_DEPENDS ${src}/${mod}/*.cpp)
    list(FILTER s EXCLUDE REGEX "_linux\\.cpp$")
    list(APPEND out ${s})
  endforeach()
  list(APPEND out ${src}/main.cpp ${src}/sandbox/relocate.cpp ${src}/sandbox/choose.cpp
       ${src}/sandbox/host_macos.cpp ${src}/sandbox/fs_posix.cpp
       ${src}/sandbox/windows/appcontainer.cpp
       ${src}/sandbox/pty.cpp ${src}/sandbox/asks.cpp ${src}/sandbox/proxy_options.cpp
       ${src}/sandbox/outcome.cpp
       ${src}/sandbox/macos/seatbelt.cpp ${src}/sandbox/macos/seatbelt_run.cpp
       ${src}/sandbox/macos/denials.cpp ${src}/sandbox/macos/seatbelt_exec.cpp)
  set(${var} ${out} PARENT_SCOPE)
endfunction()

# Known not to pass poison.h yet, each with what it still uses. The check compiles everything
# else; when a file here is ported, removing it from this list puts it under the check.
# Empty: every source of the list passes (the last ones ported: staging's commit, fsops and
# tree_read, and the approver, whose pipe2 and pidfd_open are in approve/approver_linux.cpp).
# A file added here must say what it still uses.
function(ab_macos_pending var src)
  set(out)
  set(${var} ${out} PARENT_SCOPE)
endfunction()
