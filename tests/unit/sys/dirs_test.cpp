// sys::DirStream, read_dir and has_entries: the one readdir loop of agentbox.
#include "sys/dirs.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;

TEST_CASE("DirStream yields every entry but . and .., with its type, and leaves the fd alone") {
    const test::TempDir tmp("dirs");
    REQUIRE(::mkdir((tmp / "d").c_str(), 0700) == 0);
    std::ofstream(tmp / "f") << "x";
    REQUIRE(::symlink("f", (tmp / "l").c_str()) == 0);
    const sys::unique_fd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);

    for (int pass = 0; pass < 2; ++pass) {  // the caller's descriptor is not consumed
        std::vector<std::pair<std::string, unsigned char>> seen;
        sys::DirStream d(fd.get(), tmp.path());
        std::string_view name;
        unsigned char type = 0;
        while (d.next(name, type)) seen.emplace_back(std::string(name), type);
        std::sort(seen.begin(), seen.end());
        REQUIRE(seen.size() == 3);
        CHECK(seen[0].first == "d");
        CHECK(seen[1].first == "f");
        CHECK(seen[2].first == "l");
        if (seen[0].second != DT_UNKNOWN) {
            CHECK(seen[0].second == DT_DIR);
            CHECK(seen[1].second == DT_REG);
            CHECK(seen[2].second == DT_LNK);
        }
    }
    CHECK(sys::read_dir(fd.get(), tmp.path()).size() == 3);
    CHECK(sys::has_entries(fd.get(), tmp.path()));
}

TEST_CASE("has_entries of an empty directory is false; a file is an opendir error") {
    const test::TempDir tmp("dirs");
    const sys::unique_fd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
    CHECK_FALSE(sys::has_entries(fd.get(), tmp.path()));
    CHECK(sys::read_dir(fd.get(), tmp.path()).empty());
    std::ofstream(tmp / "f") << "x";
    const sys::unique_fd file(::open((tmp / "f").c_str(), O_RDONLY | O_CLOEXEC));
    CHECK_THROWS_AS(sys::DirStream(file.get(), "f"), sys::SysError);
}
