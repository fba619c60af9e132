// sys::DirStream, DentReader, read_dir and has_entries: the directory readers of agentbox.
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

TEST_CASE("DentReader reads through the caller's descriptor, consuming it, a buffer at a time") {
    const test::TempDir tmp("dirs");
    for (int i = 0; i < 200; ++i)
        std::ofstream(tmp / ("entry-with-a-long-name-" + std::to_string(i))) << "x";
    const sys::unique_fd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
    // has_entries reads an open description of its own: the caller's offset stays at 0.
    CHECK(sys::has_entries(fd.get(), tmp.path()));
    alignas(8) char buf[512];  // many reads of a few entries each
    std::vector<std::string> seen;
    {
        sys::DentReader r(fd.get(), buf, sizeof buf);
        std::string_view name;
        unsigned char type = 0;
        while (r.next(name, type)) seen.emplace_back(name);
        CHECK(r.error() == 0);
    }
    CHECK(seen.size() == 200);
    CHECK(std::find(seen.begin(), seen.end(), ".") == seen.end());
    // Consumed: a second reader over the same descriptor finds nothing left.
    sys::DentReader again(fd.get(), buf, sizeof buf);
    std::string_view name;
    unsigned char type = 0;
    CHECK_FALSE(again.next(name, type));
    CHECK(again.error() == 0);
    // A file is no directory: the error is reported, not taken for the end.
    std::ofstream(tmp / "f") << "x";
    const sys::unique_fd file(::open((tmp / "f").c_str(), O_RDONLY | O_CLOEXEC));
    sys::DentReader bad(file.get(), buf, sizeof buf);
    CHECK_FALSE(bad.next(name, type));
    CHECK(bad.error() == ENOTDIR);
}

TEST_CASE("read_dir reads a directory larger than one buffer whole; read_dir_here consumes") {
    // 2000 entries of ~60 bytes each: four getdents64 buffers of 32 KiB.
    const test::TempDir tmp("dirs");
    for (int i = 0; i < 2000; ++i)
        std::ofstream(tmp / ("an-entry-with-a-name-long-enough-to-fill-buffers-" +
                             std::to_string(i))) << "x";
    const sys::unique_fd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
    for (int pass = 0; pass < 2; ++pass) {  // read_dir leaves the caller's offset alone
        auto all = sys::read_dir(fd.get(), tmp.path());
        CHECK(all.size() == 2000);
        std::sort(all.begin(), all.end(),
                  [](const auto& a, const auto& b) { return a.name < b.name; });
        CHECK(std::adjacent_find(all.begin(), all.end(), [](const auto& a, const auto& b) {
                  return a.name == b.name;
              }) == all.end());
    }
    CHECK(sys::read_dir_here(fd.get(), tmp.path()).size() == 2000);
    CHECK(sys::read_dir_here(fd.get(), tmp.path()).empty());  // consumed
    std::ofstream(tmp / "f") << "x";
    const sys::unique_fd file(::open((tmp / "f").c_str(), O_RDONLY | O_CLOEXEC));
    CHECK_THROWS_AS(sys::read_dir_here(file.get(), "f"), sys::SysError);
}
