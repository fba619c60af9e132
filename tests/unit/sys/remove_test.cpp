#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "sys/error.hpp"
#include "sys/remove.hpp"

namespace {

std::string make_temp_dir() {
    char tmpl[] = "/tmp/agentbox-remove-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    return tmpl;
}

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("remove_contents empties a tree with an unreadable directory, keeps the root") {
    const std::string root = make_temp_dir();
    REQUIRE(::mkdir((root + "/work").c_str(), 0700) == 0);
    REQUIRE(::mkdir((root + "/work/work").c_str(), 0) == 0);  // what overlayfs leaves behind
    REQUIRE(::mkdir((root + "/a").c_str(), 0700) == 0);
    std::ofstream(root + "/a/file") << "x";
    agentbox::sys::remove_contents(root);
    CHECK(exists(root));
    CHECK_FALSE(exists(root + "/work"));
    CHECK_FALSE(exists(root + "/a"));
    ::rmdir(root.c_str());
}

TEST_CASE("remove_contents never follows a symlink out of the tree") {
    const std::string root = make_temp_dir();
    const std::string outside = make_temp_dir();
    std::ofstream(outside + "/precious") << "keep me";
    REQUIRE(::symlink(outside.c_str(), (root + "/link").c_str()) == 0);
    agentbox::sys::remove_contents(root);
    CHECK_FALSE(exists(root + "/link"));
    CHECK(exists(outside + "/precious"));
    ::unlink((outside + "/precious").c_str());
    ::rmdir(outside.c_str());
    ::rmdir(root.c_str());
}

TEST_CASE("remove_contents of a missing directory is a no-op; of a file, an error") {
    CHECK_NOTHROW(agentbox::sys::remove_contents("/nonexistent/agentbox/x"));
    CHECK_THROWS_AS(agentbox::sys::remove_contents("/etc/hostname"), agentbox::sys::SysError);
}
