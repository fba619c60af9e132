// The seam between the cli and the platform (sandbox/host.hpp, sandbox/choose.hpp): the
// portable filesystem queries the macOS host answers with (fs_posix.hpp) give what Linux's own
// give on the same tree, and the backend choice accepts every backend for a dry run while
// refusing to run one this system does not have.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sandbox/choose.hpp"
#include "sandbox/fs_posix.hpp"
#include "sandbox/host.hpp"
#include "sandbox/linux/glob_walk.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;
namespace fs = std::filesystem;

namespace {

struct Tree {
    agentbox::test::TempDir tmp{"seam"};
    std::string root = tmp.path();
    Tree() {
        for (const char* d : {"/a", "/a/b", "/a/b/c", "/.hidden", "/loop"})
            fs::create_directories(root + d);
        for (const char* f : {"/.env", "/.env.local", "/a/.env", "/a/b/c/.env", "/a/x.txt",
                              "/.hidden/.env", "/a/b/y.txt"})
            std::ofstream(root + f) << "x";
        // A link to a directory is matched, never followed (a loop would walk forever).
        fs::create_directory_symlink(root, root + "/loop/up");
        fs::create_symlink(root + "/a/.env", root + "/.env.link");
    }
};

}  // namespace

TEST_CASE("the POSIX deny-glob expansion answers as the Linux walk on the same tree") {
    Tree t;
    for (const std::string rel :
         {"/**/.env", "/**/.env.*", "/a/**", "/a/*.txt", "/**/*.txt", "/.env*",
          "/a/b/c/.env", "/missing/**/x", "/**/up", "/a/?/c"}) {
        CAPTURE(rel);
        const std::string pattern = t.root + rel;
        CHECK(sandbox::posix::expand_glob(pattern) == sandbox::lnx::expand_glob(pattern));
    }
    // One difference, on the side of hiding more: glob(3) (GLOB_PERIOD reaches only the last
    // component) lets a * in a directory component skip dot-directories; util::glob_match does
    // not, so the POSIX expansion masks /.hidden/.env too.
    const auto lnx_one = sandbox::lnx::expand_glob(t.root + "/*/.env");
    const auto posix_one = sandbox::posix::expand_glob(t.root + "/*/.env");
    CHECK(lnx_one == std::vector<std::string>{t.root + "/a/.env"});
    CHECK(posix_one == std::vector<std::string>{t.root + "/.hidden/.env", t.root + "/a/.env"});
    // Spot checks of what both say.
    const auto envs = sandbox::posix::expand_glob(t.root + "/**/.env");
    CHECK(envs == std::vector<std::string>{t.root + "/.env", t.root + "/.hidden/.env",
                                           t.root + "/a/.env", t.root + "/a/b/c/.env"});
    CHECK(sandbox::posix::expand_glob(t.root + "/**/up") ==
          std::vector<std::string>{t.root + "/loop/up"});
}

TEST_CASE("the POSIX path queries: lstat's kind, realpath, readlink") {
    Tree t;
    CHECK(sandbox::posix::path_kind(t.root + "/a") == policy::PathKind::dir);
    CHECK(sandbox::posix::path_kind(t.root + "/a/x.txt") == policy::PathKind::file);
    CHECK(sandbox::posix::path_kind(t.root + "/loop/up") == policy::PathKind::symlink);
    CHECK(sandbox::posix::path_kind(t.root + "/nope") == policy::PathKind::missing);
    CHECK(sandbox::posix::read_link(t.root + "/.env.link") == t.root + "/a/.env");
    CHECK(sandbox::posix::read_link(t.root + "/a") == "");
    CHECK(sandbox::posix::real_path(t.root + "/loop/up/a") == fs::canonical(t.root + "/a").string());
    CHECK(sandbox::posix::real_path(t.root + "/nope") == "");
}

TEST_CASE("every backend is built for a dry run; only this system's own may run") {
    // seatbelt is built on Linux for its check(): `--dry-run --target macos` uses it.
    const auto seatbelt = sandbox::make_backend("seatbelt");
    REQUIRE(seatbelt != nullptr);
    CHECK(std::string(seatbelt->name()) == "seatbelt");
    const std::string why = sandbox::cannot_run_here("seatbelt");
    CHECK(why.find("macOS only") != std::string::npos);
    CHECK(why.find("--dry-run") != std::string::npos);
    CHECK(sandbox::cannot_run_here("native") == "");
    CHECK(sandbox::cannot_run_here("bwrap") == "");
    CHECK(sandbox::choose_backend("seatbelt", policy::HostFacts{}) == "seatbelt");
    CHECK(sandbox::choose_backend("bwrap", policy::HostFacts{}) == "bwrap");
    policy::HostFacts userns;
    userns.userns = true;
    CHECK(sandbox::choose_backend("auto", userns) == "native");
    CHECK_THROWS_AS(sandbox::make_backend("nonsense"), std::invalid_argument);
}

TEST_CASE("the filter record for the log: the digest and count the launch reports") {
    policy::Plan plan;
    const sandbox::Prepared a = sandbox::filter_record(plan);
    CHECK(a.seccomp_digest.size() == 16);  // XXH3-64 in hex
    CHECK(a.seccomp_rules > 0);
    plan.seccomp.deny.push_back({"ptrace", {}});
    const sandbox::Prepared b = sandbox::filter_record(plan);
    CHECK(b.seccomp_digest != a.seccomp_digest);
    CHECK_THROWS_AS(
        [] {
            policy::Plan bad;
            bad.seccomp.deny.push_back({"no_such_syscall_anywhere", {}});
            sandbox::check_syscall_names(bad);
        }(),
        std::runtime_error);
}
