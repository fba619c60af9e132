// sys::rename_noreplace: the rename that refuses an existing destination (archive export
// without --force, and on macOS where renameat2 does not exist).
#include "sys/rename.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "../temp_dir.hpp"

using namespace agentbox;

TEST_CASE("rename_noreplace moves to a free name and refuses to replace an existing file") {
    const test::TempDir tmp("rename");
    std::ofstream(tmp / "a") << "new";
    std::ofstream(tmp / "taken") << "old";
    errno = 0;
    CHECK(sys::rename_noreplace(AT_FDCWD, (tmp / "a").c_str(), AT_FDCWD, (tmp / "taken").c_str()) < 0);
    CHECK(errno == EEXIST);
    std::string kept;
    std::ifstream(tmp / "taken") >> kept;
    CHECK(kept == "old");
    CHECK(sys::rename_noreplace(AT_FDCWD, (tmp / "a").c_str(), AT_FDCWD, (tmp / "free").c_str()) == 0);
    std::string moved;
    std::ifstream(tmp / "free") >> moved;
    CHECK(moved == "new");
}
