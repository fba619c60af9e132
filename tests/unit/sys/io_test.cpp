// sys::read_file: the one loop that reads a whole file, for /proc probes (errno, bounded) and
// for session files and logs (SysError naming the step); read_own_file and replace_own_file,
// for the caches.
#include "sys/io.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;

TEST_CASE("read_file reads a file whole, bounded, and says which step failed") {
    const agentbox::test::TempDir tmp("io");
    const std::string dir = tmp.path(), file = dir + "/f", link = dir + "/l";
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
}

TEST_CASE("read_own_file trusts only a private regular file of this user's") {
    const agentbox::test::TempDir tmp("io");
    const std::string dir = tmp.path(), file = dir + "/cache";
    const std::string text(100000, 'c');
    REQUIRE(sys::replace_own_file(file, text));
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string out;
    CHECK(sys::read_own_file(file, out, 1 << 20));
    CHECK(out == text);
    CHECK_FALSE(sys::read_own_file(file, out, 1000));  // over the limit

    REQUIRE(sys::replace_own_file(file, "second"));  // replaced whole
    CHECK(sys::read_own_file(file, out, 1 << 20));
    CHECK(out == "second");
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
    CHECK(entries == 1);  // no temporary file left behind

    SUBCASE("writable by others") {
        REQUIRE(::chmod(file.c_str(), 0622) == 0);
        CHECK_FALSE(sys::read_own_file(file, out, 1 << 20));
    }
    SUBCASE("a symlink to a good one") {
        const std::string link = dir + "/link";
        REQUIRE(::symlink(file.c_str(), link.c_str()) == 0);
        CHECK_FALSE(sys::read_own_file(link, out, 1 << 20));
    }
    SUBCASE("a fifo, which must not hang the open") {
        const std::string fifo = dir + "/fifo";
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        CHECK_FALSE(sys::read_own_file(fifo, out, 1 << 20));
    }
    SUBCASE("a directory") { CHECK_FALSE(sys::read_own_file(dir, out, 1 << 20)); }
    SUBCASE("another user's") {
        if (::geteuid() != 0) return;  // only root can give a file away
        REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
        CHECK_FALSE(sys::read_own_file(file, out, 1 << 20));
    }
    SUBCASE("a directory that does not exist: nothing written, nothing left") {
        CHECK_FALSE(sys::replace_own_file(dir + "/missing/cache", "x"));
    }
}

TEST_CASE("write_full writes everything through short writes, and says why it stopped") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    const sys::unique_fd r(p[0]), w(p[1]);
    CHECK(sys::write_full(w.get(), "hello") == 0);
    char buf[8] = {};
    CHECK(::read(r.get(), buf, sizeof buf) == 5);
    CHECK(std::string(buf) == "hello");
    std::size_t written = 99;
    CHECK(sys::write_full(r.get(), "x", &written) == EBADF);  // the read end
    CHECK(written == 0);
    CHECK_THROWS_AS(sys::write_all(r.get(), "x", "pipe"), sys::SysError);
}

TEST_CASE("copy_data copies a file whole, also into a pipe where copy_file_range cannot") {
    const agentbox::test::TempDir tmp("io");
    const std::string big(300000, 'y');
    std::ofstream(tmp / "a") << big;
    {
        const sys::unique_fd in(::open((tmp / "a").c_str(), O_RDONLY | O_CLOEXEC));
        const sys::unique_fd out(::open((tmp / "b").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        sys::copy_data(in.get(), out.get(), "a");
    }
    CHECK(sys::read_file(tmp / "b") == big);
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    const sys::unique_fd r(p[0]), w(p[1]);
    std::ofstream(tmp / "small") << "small";
    const sys::unique_fd in(::open((tmp / "small").c_str(), O_RDONLY | O_CLOEXEC));
    sys::copy_data(in.get(), w.get(), "small");
    char buf[16] = {};
    CHECK(::read(r.get(), buf, sizeof buf) == 5);
}
