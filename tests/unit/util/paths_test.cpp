// util::path_join and split_parent: the one spelling of each, for host paths and tree-relative
// paths alike.
#include "util/paths.hpp"

#include <doctest/doctest.h>

using namespace agentbox::util;

TEST_CASE("path_join joins below a directory, the root and a relative tree's root alike") {
    CHECK(path_join("/home/u", "proj") == "/home/u/proj");
    CHECK(path_join("/", "etc") == "/etc");
    CHECK(path_join("", "a") == "a");  // the root of upper/ or the project
    CHECK(path_join("a/b", "c") == "a/b/c");
    CHECK(path_join("/x", "") == "/x");
}

TEST_CASE("split_parent splits at the last slash; a bare name has no parent") {
    CHECK(split_parent("a/b/c") == std::pair<std::string, std::string>{"a/b", "c"});
    CHECK(split_parent("c") == std::pair<std::string, std::string>{"", "c"});
    CHECK(split_parent("a/") == std::pair<std::string, std::string>{"a", ""});
}
