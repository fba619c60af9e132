#include "cli/doctor.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/errors.hpp"
#include "cli/term.hpp"
#include "sandbox/host.hpp"

namespace agentbox::cli {

int run_doctor(const DoctorOptions& o) {
    const auto features = sandbox::doctor(sandbox::probe_host());
    bool all_required = true;
    for (const auto& f : features) all_required = all_required && (f.ok || !f.required);

    if (o.json) {
        nlohmann::ordered_json a = nlohmann::ordered_json::array();
        for (const auto& f : features)
            a.push_back({{"name", f.name},
                         {"ok", f.ok},
                         {"required", f.required},
                         {"detail", f.detail},
                         {"fix", f.fix}});
        std::cout << a.dump(2) << '\n';
        return all_required ? 0 : exit_refused;
    }

    std::size_t name_w = 0;
    for (const auto& f : features) name_w = std::max(name_w, f.name.size());
    for (const auto& f : features) {
        // "missing" in red only for what the backend cannot run without; optional features
        // that are absent weaken some rules, which `run` reports per rule.
        const std::string status = f.ok          ? paint(1, Style::green, "ok     ")
                                   : f.required ? paint(1, Style::red, "MISSING")
                                                : paint(1, Style::yellow, "missing");
        std::cout << status << "  " << f.name << std::string(name_w - f.name.size(), ' ')
                  << "  " << f.detail << (f.required ? "" : "  (optional)") << '\n';
        if (!f.ok && !f.fix.empty())
            std::cout << "         " << std::string(name_w, ' ') << "  fix: " << f.fix << '\n';
    }
    // Mode proxy sets HTTP_PROXY, HTTPS_PROXY, ALL_PROXY (and lower case) inside; tools that
    // ignore them get no network, so say how to point the common ones at it.
    std::cout << "\nWith --net proxy, tools inside reach the network only through "
                 "http://127.0.0.1:3128:\n"
                 "  curl, wget, pip, apt, Go, Python, git over https: the *_PROXY variables "
                 "are enough\n"
                 "  git over ssh (git@host:repo): not proxied; use an https remote URL\n"
                 "  npm, yarn: read the variables; else npm config set https-proxy "
                 "http://127.0.0.1:3128\n"
                 "  Node.js fetch/http: --env NODE_USE_ENV_PROXY=1 (recent Node), or a proxy "
                 "agent\n"
                 "  Java, Gradle, Maven: --env JAVA_TOOL_OPTIONS=\"-Dhttp.proxyHost=127.0.0.1 "
                 "-Dhttp.proxyPort=3128 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128\"\n"
                 "  Tools that ignore the variables: with network capture (above), the DNS "
                 "inside gives allowed names\n"
                 "  synthetic addresses and their connects go through the proxy; without it "
                 "they get no network.\n";
    if (!all_required)
        std::cout << "\nagentbox cannot run here until the MISSING features above are fixed.\n";
    return all_required ? 0 : exit_refused;
}

}  // namespace agentbox::cli
