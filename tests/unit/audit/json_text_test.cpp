// The JSON encoding of names that are not UTF-8 (util/json_text.hpp), as every --json output
// and the decision log write it. Here rather than with util: util may not include the JSON
// library (tests/check_includes.py); audit, which writes the log, links it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/json_text.hpp"
#include "util/strings.hpp"

using namespace agentbox::util;

TEST_CASE("test_non_utf8_name_in_diff_and_json: a name as a string, exact bytes in base64") {
    nlohmann::ordered_json j;
    put_text(j, "path", "good.txt");
    put_text(j, "bad", "bad-\xff-name");
    CHECK(j["path"] == "good.txt");
    CHECK_FALSE(j.contains("path_base64"));
    CHECK(j["bad"] == "bad-\xef\xbf\xbd-name");
    CHECK(j["bad_base64"] == "YmFkLf8tbmFtZQ==");
    std::string raw;
    REQUIRE(unbase64(j["bad_base64"].get<std::string>(), raw));
    CHECK(raw == "bad-\xff-name");
    CHECK_NOTHROW((void)j.dump());
    put_text_list(j, "argv", std::vector<std::string>{"touch", "\xfe"});
    CHECK(j["argv"][1] == "\xef\xbf\xbd");
    CHECK(j["argv_base64"][0] == "dG91Y2g=");
    CHECK(j["argv_base64"][1] == "/g==");
}

TEST_CASE("get_text reads back exactly what put_text wrote, and refuses bad base64") {
    nlohmann::ordered_json j;
    put_text(j, "project", "/home/u/proj-\xff");
    put_text(j, "plain", "/home/u/proj");
    put_text_list(j, "argv", std::vector<std::string>{"touch", "\xfe\xff"});
    put_text_list(j, "ok", std::vector<std::string>{"a", "b"});
    const auto back = nlohmann::json::parse(j.dump());
    CHECK(get_text(back, "project") == "/home/u/proj-\xff");
    CHECK(get_text(back, "plain") == "/home/u/proj");
    CHECK(get_text_list(back, "argv") == std::vector<std::string>{"touch", "\xfe\xff"});
    CHECK(get_text_list(back, "ok") == std::vector<std::string>{"a", "b"});
    nlohmann::json bad = back;
    bad["project_base64"] = "not base64!";
    CHECK_THROWS_AS((void)get_text(bad, "project"), std::runtime_error);
}
