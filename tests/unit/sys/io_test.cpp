// sys::read_file: the one loop that reads a whole file, for /proc probes (errno, bounded) and
// for session files and logs (SysError naming the step).
#include "sys/io.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include "sys/error.hpp"

using namespace agentbox;

TEST_CASE("read_file reads a file whole, bounded, and says which step failed") {
    char tmpl[] = "/tmp/agentbox-io-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl, file = dir + "/f", link = dir + "/l";
    const std::string big(200000, 'x');  // more than one read(2) of the loop
    std::ofstream(file) << big;
    REQUIRE(::symlink("f", link.c_str()) == 0);

    std::string out = "stale";
    CHECK(sys::read_file(file, out) == 0);
    CHECK(out == big);
    CHECK(sys::read_file(file, out, 1000) == EFBIG);
    CHECK(sys::read_file(link, out, 1 << 20, O_NOFOLLOW) == ELOOP);
    CHECK(sys::read_file(dir + "/missing", out) == ENOENT);
    CHECK(sys::read_file("/proc/self/stat", out) == 0);  // no size until read
    CHECK_FALSE(out.empty());

    CHECK(sys::read_file(link) == big);
    try {
        (void)sys::read_file(link, O_NOFOLLOW);
        FAIL("a symlink was followed");
    } catch (const sys::SysError& e) {
        CHECK(std::string(e.what()).find("open") != std::string::npos);
    }
    try {
        (void)sys::read_file(dir);  // opens, then read(2) fails with EISDIR
        FAIL("a directory was read");
    } catch (const sys::SysError& e) {
        CHECK(std::string(e.what()).find("read") != std::string::npos);
        CHECK(e.err() == EISDIR);
    }
    std::system(("rm -rf '" + dir + "'").c_str());
}
