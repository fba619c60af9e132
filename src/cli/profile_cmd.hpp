// `agentbox profile list|show|check|test` (DESIGN.md §2): what profiles exist, one resolved with the
// source of every value, and validation of profile files.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace agentbox::cli {

struct ProfileOptions {
    bool json = false;
    bool names_only = false;          // list --names: for shell completion
    std::optional<std::string> project;
    std::string show;                 // show NAME|FILE
    std::vector<std::string> check;   // check FILE...
    std::vector<std::string> test;    // test FILE...
    CLI::App* list_cmd = nullptr;
    CLI::App* show_cmd = nullptr;
    CLI::App* check_cmd = nullptr;
    CLI::App* test_cmd = nullptr;
};

CLI::App* register_profile(CLI::App& app, ProfileOptions& opts);
int run_profile(const ProfileOptions& opts);

}  // namespace agentbox::cli
