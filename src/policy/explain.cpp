// Renderings of one decision, for `agentbox explain` and the decision log.
#include <nlohmann/json.hpp>

#include "policy/policy.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

std::string render_text(const Decision& d, const Request& r) {
    // The target is quoted only when it needs to be: it may come from an agent and must not
    // be able to drive the terminal.
    std::string target = util::quote(r.target);
    bool plain = target.size() == r.target.size() + 2 &&
                 r.target.find_first_of(" \t\"") == std::string::npos && !r.target.empty();
    std::string out = std::string(to_string(d.verdict));
    out.append(6 - out.size(), ' ');
    out += std::string(to_string(r.op)) + " " + (plain ? r.target : target) + "\n";
    out += "  rule: " + d.rule + "\n";
    out += "  from: " + d.source.str() + "\n";
    out += "  why:  " + d.reason + "\n";
    return out;
}

std::string render_json(const Decision& d, const Request& r) {
    nlohmann::ordered_json j;
    j["op"] = to_string(r.op);
    j["target"] = r.target;
    j["verdict"] = to_string(d.verdict);
    j["rule"] = d.rule;
    j["source"] = d.source.str();
    j["reason"] = d.reason;
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace agentbox::policy
