#include "cli/names.hpp"

namespace agentbox::cli {

const char* name_of(profile::NetMode v) {
    switch (v) {
        case profile::NetMode::none: return "none";
        case profile::NetMode::proxy: return "proxy";
        case profile::NetMode::host: return "host";
    }
    return "?";
}

const char* name_of(profile::Unlisted v) {
    switch (v) {
        case profile::Unlisted::deny: return "deny";
        case profile::Unlisted::ask: return "ask";
    }
    return "?";
}

const char* name_of(profile::SeccompMode v) {
    switch (v) {
        case profile::SeccompMode::default_: return "default";
        case profile::SeccompMode::strict: return "strict";
    }
    return "?";
}

const char* name_of(profile::LandlockMode v) {
    switch (v) {
        case profile::LandlockMode::best_effort: return "best-effort";
        case profile::LandlockMode::require: return "require";
        case profile::LandlockMode::off: return "off";
    }
    return "?";
}

const char* name_of(profile::OnExit v) {
    switch (v) {
        case profile::OnExit::ask: return "ask";
        case profile::OnExit::commit: return "commit";
        case profile::OnExit::discard: return "discard";
        case profile::OnExit::keep: return "keep";
    }
    return "?";
}

}  // namespace agentbox::cli
