// `agentbox doctor [--json]`: what this kernel and system can enforce, what is missing, and the
// exact fix. Exit 0 when every feature the native backend needs is present, else 1.
#pragma once

namespace CLI {
class App;
}

namespace agentbox::cli {

struct DoctorOptions {
    bool json = false;
};

CLI::App* register_doctor(CLI::App& app, DoctorOptions& opts);
int run_doctor(const DoctorOptions& opts);

}  // namespace agentbox::cli
