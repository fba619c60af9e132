// util::own_dir: agentbox's state, config and cache directories, computed one way for the
// session store, trust, the seccomp cache and the masks every sandbox gets.
#include "util/own_dirs.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace agentbox::util;

TEST_CASE("own_dir follows an absolute XDG variable, else the home directory") {
    CHECK(own_dir(OwnDir::state, "/x/state", "/home/u") == "/x/state/agentbox");
    CHECK(own_dir(OwnDir::config, "/x//conf/", "/home/u") == "/x/conf/agentbox");
    CHECK(own_dir(OwnDir::state, "", "/home/u") == "/home/u/.local/state/agentbox");
    CHECK(own_dir(OwnDir::config, "", "/home/u/") == "/home/u/.config/agentbox");
    CHECK(own_dir(OwnDir::cache, "", "/home/u") == "/home/u/.cache/agentbox");
    CHECK(std::string(xdg_variable(OwnDir::cache)) == "XDG_CACHE_HOME");
}

TEST_CASE("a relative XDG variable is ignored, as the spec says; no absolute home is no dir") {
    CHECK(own_dir(OwnDir::cache, "rel/cache", "/home/u") == "/home/u/.cache/agentbox");
    CHECK(own_dir(OwnDir::config, "rel", "").empty());
    CHECK(own_dir(OwnDir::config, "", "relative/home").empty());
}
