# Included by the top-level CMakeLists.txt on Linux: the target `macos_portability`, every
# source of the macOS build (sources.cmake) compiled with poison.h included first and
# linux-only/ ahead of the system headers, so that a Linux-only interface in code the macOS
# build compiles is a compile error here, on Linux, in `make test` (ctest cross.macos,
# tests/CMakeLists.txt); and `macos_link`, those objects linked into a program with only the
# libraries the macOS build links, so that a call into code only the Linux build has is an
# undefined symbol. Not part of `all`: it compiles the tree a second time.
include(${CMAKE_CURRENT_LIST_DIR}/sources.cmake)
ab_macos_sources(AB_MACOS_SOURCES ${CMAKE_SOURCE_DIR}/src)
ab_macos_pending(AB_MACOS_PENDING ${CMAKE_SOURCE_DIR}/src)
set(checked ${AB_MACOS_SOURCES})
list(REMOVE_ITEM checked ${AB_MACOS_PENDING})
# The proxy's sources apart: asio, whose Linux reactor uses epoll, is included before the poison
# for them only (AGENTBOX_POISON_ASIO) -- it is heavy, and nothing else uses it.
set(checked_net ${checked})
list(FILTER checked_net INCLUDE REGEX "/src/net/")
list(FILTER checked EXCLUDE REGEX "/src/net/")
set(AB_MACOS_CHECK_TARGETS macos_portability)
if(checked_net)
  list(APPEND AB_MACOS_CHECK_TARGETS macos_portability_net)
endif()
foreach(target IN LISTS AB_MACOS_CHECK_TARGETS)
  if(target STREQUAL "macos_portability")
    add_library(${target} OBJECT EXCLUDE_FROM_ALL ${checked})
  else()
    add_library(${target} OBJECT EXCLUDE_FROM_ALL ${checked_net})
    target_compile_definitions(${target} PRIVATE AGENTBOX_POISON_ASIO)
  endif()
  target_include_directories(${target} BEFORE PRIVATE ${CMAKE_CURRENT_LIST_DIR}/linux-only)
  target_include_directories(${target} PRIVATE ${CMAKE_BINARY_DIR}/generated
    ${TOMLPP_INCLUDE_DIRS} ${XXHASH_INCLUDE_DIRS} ${LIBGIT2_INCLUDE_DIRS} ${LibArchive_INCLUDE_DIRS})
  # The definitions the modules' own targets give their sources.
  target_compile_definitions(${target} PRIVATE TOML_HEADER_ONLY=1 XXH_INLINE_ALL
    AGENTBOX_BUILTIN_DIR="${AGENTBOX_BUILTIN_DIR}" AGENTBOX_SOURCE_PROFILES="${AGENTBOX_SOURCE_PROFILES}"
    AGENTBOX_LIBGIT2_SONAME="libgit2.dylib" AGENTBOX_LIBARCHIVE_SONAME="libarchive.dylib"
    AGENTBOX_ZLIB_SONAME="libz.dylib"
    AGENTBOX_LIBSSL_SONAME="libssl.3.dylib" AGENTBOX_LIBCRYPTO_SONAME="libcrypto.3.dylib" AGENTBOX_VERSION="${PROJECT_VERSION}")
  target_link_libraries(${target} PRIVATE ab_stage ab_audit ab_approve ab_net ab_policy
    ab_profile ab_sys ab_util CLI11::CLI11 nlohmann_json::nlohmann_json PkgConfig::SODIUM
    PkgConfig::OPENSSL)
  add_dependencies(${target} builtin_profiles)
  # Quick to compile (no optimisation, no debug info): only whether it compiles matters.
  target_compile_options(${target} PRIVATE -include ${CMAKE_CURRENT_LIST_DIR}/poison.h -O0 -g0)
  agentbox_warnings(${target})
endforeach()
# The link: the objects above, and nothing of the Linux build -- no ab_* library (they hold
# src/sandbox/linux, bwrap, native.cpp, seccomp and the *_linux.cpp files), no libseccomp --
# with the third-party libraries the macOS build links (cmake/macos/CMakeLists.txt: libsodium,
# zlib; libgit2, libarchive and OpenSSL are loaded on first use there as here). What is only
# `#ifdef __APPLE__` (clonefile) drops out here; every function it holds has a POSIX body too,
# so the program links. Never run: it is what the macOS `agentbox` links, proven on Linux.
# Everything kept (no --gc-sections), so that a reference from code no path reaches still
# counts.
if(NOT AB_MACOS_PENDING)
  set(objects $<TARGET_OBJECTS:macos_portability>)
  if(checked_net)
    list(APPEND objects $<TARGET_OBJECTS:macos_portability_net>)
  endif()
  add_executable(macos_link EXCLUDE_FROM_ALL ${objects})
  target_link_libraries(macos_link PRIVATE PkgConfig::SODIUM ${ZLIB_STATIC} ${CMAKE_DL_LIBS})
  target_link_options(macos_link PRIVATE -Wl,--no-gc-sections -Wl,--no-undefined)
  list(APPEND AB_MACOS_CHECK_TARGETS macos_link)
endif()
# One target for the ctest to build.
add_custom_target(macos_portability_all)
add_dependencies(macos_portability_all ${AB_MACOS_CHECK_TARGETS})
