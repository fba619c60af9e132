# Turns profiles/*.toml into a C++ table so the binary carries its built-in profiles.
# Run as: cmake -DSRC=<profiles dir> -DOUT=<file.inc> -P embed_profiles.cmake
file(GLOB files ${SRC}/*.toml)
list(SORT files)
set(body "// Generated from profiles/*.toml by cmake/embed_profiles.cmake. Do not edit.\n")
foreach(f IN LISTS files)
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  # The digest every run reports for the layer (Layer::sha256), computed once here rather than
  # on every start; a unit test checks it against the text.
  file(SHA256 ${f} digest)
  string(APPEND body "{\"${name}\", R\"agentbox_toml(${text})agentbox_toml\", \"${digest}\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
