// The sockets write grants name (unix_connect.hpp, named_sockets): a socket file by its
// identity; nothing for a grant whose path leads through a link, or that is no socket.
#include "sandbox/linux/unix_connect.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "../temp_dir.hpp"

using namespace agentbox;
namespace fs = std::filesystem;

namespace {

// A socket bound at `path` (then closed: the file stays).
void make_socket(const std::string& path) {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(s >= 0);
    struct sockaddr_un a {};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, path.c_str(), path.size());
    REQUIRE(::bind(s, reinterpret_cast<struct sockaddr*>(&a), sizeof a) == 0);
    ::close(s);
}

std::pair<dev_t, ino_t> id_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return {st.st_dev, st.st_ino};
}

policy::Plan plan_writing(std::initializer_list<std::string> sources,
                          policy::MountKind kind = policy::MountKind::bind_rw) {
    policy::Plan p;
    for (const auto& s : sources) p.mounts.push_back(policy::Mount{kind, s, s, "test", {}});
    return p;
}

}  // namespace

TEST_CASE("named_sockets: a write grant of a socket file names that socket") {
    test::TempDir tmp("named");
    const std::string sock = tmp.path() + "/agent.sock";
    make_socket(sock);
    const auto ids = sandbox::lnx::named_sockets(plan_writing({sock}));
    REQUIRE(ids.size() == 1);
    CHECK(ids[0] == id_of(sock));
    // A read grant names nothing: connecting needs write permission.
    CHECK(sandbox::lnx::named_sockets(plan_writing({sock}, policy::MountKind::bind_ro)).empty());
}

TEST_CASE("named_sockets: a grant whose path is now a link, or leads through one, names nothing") {
    test::TempDir tmp("named");
    const std::string sock = tmp.path() + "/real/agent.sock";
    fs::create_directories(tmp.path() + "/real");
    make_socket(sock);
    fs::create_symlink(sock, tmp.path() + "/link.sock");
    fs::create_directory_symlink(tmp.path() + "/real", tmp.path() + "/dirlink");
    CHECK(sandbox::lnx::named_sockets(
              plan_writing({tmp.path() + "/link.sock", tmp.path() + "/dirlink/agent.sock"}))
              .empty());
}

TEST_CASE("named_sockets: a grant through /proc/PID/root names nothing") {
    // A magic link leads wherever the kernel says (another process's root, a descriptor),
    // not where its name does: the plan never makes one a grant's path, so none is followed.
    test::TempDir tmp("named");
    const std::string sock = tmp.path() + "/agent.sock";
    make_socket(sock);
    CHECK(sandbox::lnx::named_sockets(plan_writing({"/proc/self/root" + sock,
                                                    "/proc/" + std::to_string(::getpid()) +
                                                        "/root" + sock}))
              .empty());
}

TEST_CASE("named_sockets: a file, a directory or a missing path names nothing") {
    test::TempDir tmp("named");
    std::ofstream(tmp.path() + "/file") << "x";
    CHECK(sandbox::lnx::named_sockets(
              plan_writing({tmp.path() + "/file", tmp.path(), tmp.path() + "/missing"}))
              .empty());
}
