// The one temporary-directory fixture of the unit tests (each module's tests include it as
// "../temp_dir.hpp"): a fresh private directory, removed with everything in it when the test
// ends -- also what the test made unreadable or read-only on the way.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace agentbox::test {

class TempDir {
public:
    // /tmp/agentbox-<tag>-XXXXXX; `parent` for another filesystem (/var/tmp, /dev/shm).
    explicit TempDir(std::string_view tag = "unit", std::string_view parent = "/tmp") {
        std::string tmpl = std::string(parent) + "/agentbox-" + std::string(tag) + "-XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        // Opened up first: a directory without r or x cannot be emptied, even by its owner.
        for (auto it = fs::recursive_directory_iterator(
                 path_, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec))
                ::chmod(it->path().c_str(), 0700);
        ::chmod(path_.c_str(), 0700);
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // path()/rel
    std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

private:
    std::string path_;
};

}  // namespace agentbox::test
