# Turns profiles/*.toml into a C++ table so the binary carries its built-in profiles.
# Run as: cmake -DSRC=<profiles dir> -DOUT=<file.inc> -P embed_profiles.cmake
file(GLOB files ${SRC}/*.toml)
list(SORT files)
set(body "// Generated from profiles/*.toml by cmake/embed_profiles.cmake. Do not edit.\n")
foreach(f IN LISTS files)
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(APPEND body "{\"${name}\", R\"agentbox_toml(${text})agentbox_toml\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
