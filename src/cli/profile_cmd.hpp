// `agentbox profile list|show|check|test|keygen|sign|verify` (DESIGN.md §2): what profiles exist, one resolved with the
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
    // keygen / sign / verify (cli/profile_sign.cpp)
    std::string secret_key;           // keygen, sign: -s SECKEY
    std::string public_key_file;      // keygen: -p PUBKEY (written); verify: -p PUBKEY (read)
    std::string public_key;           // verify: -P KEY
    std::string trusted_comment;      // sign: -t COMMENT
    bool force = false;               // keygen -f: overwrite
    std::vector<std::string> sign;    // sign FILE...
    std::vector<std::string> verify;  // verify FILE...
    CLI::App* keygen_cmd = nullptr;
    CLI::App* sign_cmd = nullptr;
    CLI::App* verify_cmd = nullptr;
};

CLI::App* register_profile(CLI::App& app, ProfileOptions& opts);
int run_profile(const ProfileOptions& opts);

}  // namespace agentbox::cli
