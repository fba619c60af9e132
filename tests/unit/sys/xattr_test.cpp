// sys::xattr_listed: the one reading of flistxattr's NUL-separated name list.
#include "sys/xattr.hpp"

#include <doctest/doctest.h>

#include <string_view>

using agentbox::sys::xattr_listed;
using namespace std::string_view_literals;

TEST_CASE("xattr_listed finds whole names only, in a list as flistxattr gives it") {
    const std::string_view list = "user.a\0trusted.overlay.opaque\0user.agentbox.mode\0"sv;
    CHECK(xattr_listed(list, "user.a"));
    CHECK(xattr_listed(list, "trusted.overlay.opaque"));
    CHECK(xattr_listed(list, "user.agentbox.mode"));
    CHECK_FALSE(xattr_listed(list, "user."));             // a prefix is not the name
    CHECK_FALSE(xattr_listed(list, "user.agentbox.mod"));
    CHECK_FALSE(xattr_listed(list, "overlay.opaque"));    // nor a suffix
    CHECK_FALSE(xattr_listed(""sv, "user.a"));
    // A last name without its NUL (a list cut short) is still read whole, and no further.
    CHECK(xattr_listed("user.a\0user.b"sv, "user.b"));
    CHECK_FALSE(xattr_listed("user.a\0user.bc"sv, "user.b"));
}
