# Turns completions/agentbox.bash, _agentbox and agentbox.fish into a C++ table so that
# `agentbox completions SHELL` prints exactly the files that `make install` installs.
# Run as: cmake -DSRC=<completions dir> -DOUT=<file.inc> -P embed_completions.cmake
set(body "// Generated from completions/ by cmake/embed_completions.cmake. Do not edit.\n")
foreach(pair "bash=agentbox.bash" "zsh=_agentbox" "fish=agentbox.fish")
  string(REPLACE "=" ";" kv ${pair})
  list(GET kv 0 shell)
  list(GET kv 1 file)
  file(READ ${SRC}/${file} text)
  string(APPEND body "{\"${shell}\", R\"ab_completion(${text})ab_completion\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
