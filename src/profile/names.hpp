// The profile's enums as the schema spells them (DESIGN.md §3): one table per enum, read by the
// TOML loader and the command-line flags, written by `profile show`, the Plan rendering and
// `explain`, so that what agentbox prints can be pasted back into a profile.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "profile/model.hpp"

namespace agentbox::profile {

template <class E>
struct EnumName {
    std::string_view name;
    E value;
};

inline constexpr EnumName<NetMode> kNetModeNames[] = {
    {"none", NetMode::none}, {"proxy", NetMode::proxy}, {"host", NetMode::host}};
inline constexpr EnumName<Unlisted> kUnlistedNames[] = {{"deny", Unlisted::deny},
                                                        {"ask", Unlisted::ask}};
inline constexpr EnumName<SeccompMode> kSeccompModeNames[] = {
    {"default", SeccompMode::default_}, {"strict", SeccompMode::strict}};
inline constexpr EnumName<LandlockMode> kLandlockModeNames[] = {
    {"best-effort", LandlockMode::best_effort},
    {"require", LandlockMode::require},
    {"off", LandlockMode::off}};
inline constexpr EnumName<OnExit> kOnExitNames[] = {{"ask", OnExit::ask},
                                                    {"commit", OnExit::commit},
                                                    {"discard", OnExit::discard},
                                                    {"keep", OnExit::keep}};

// The DLP credential-format rules (net/dlp.hpp, same names, same order: a unit test holds
// them together), which network.dlp_off may turn off for one host. Not among them, and never
// switchable: the run's own secret values ("secret:NAME") and "unscannable".
inline constexpr std::string_view kDlpFormatRules[] = {
    "private-key", "aws-access-key-id", "github-token", "anthropic-key", "openai-key"};

// The table of each enum, for generic code (the loader's "must be one of ...").
inline std::span<const EnumName<NetMode>> names(NetMode) { return kNetModeNames; }
inline std::span<const EnumName<Unlisted>> names(Unlisted) { return kUnlistedNames; }
inline std::span<const EnumName<SeccompMode>> names(SeccompMode) { return kSeccompModeNames; }
inline std::span<const EnumName<LandlockMode>> names(LandlockMode) { return kLandlockModeNames; }
inline std::span<const EnumName<OnExit>> names(OnExit) { return kOnExitNames; }

// The name of `v` ("?" for a value outside the table). A NUL-terminated literal. Called
// name_of() rather than to_string() so that it never collides, through argument-dependent
// lookup, with another to_string().
template <class E>
    requires requires(E e) { names(e); }
const char* name_of(E v) {
    for (const auto& n : names(E{}))
        if (n.value == v) return n.name.data();
    return "?";
}

// The value named `s`, if any.
template <class E>
    requires requires(E e) { names(e); }
std::optional<E> parse_name(std::string_view s) {
    for (const auto& n : names(E{}))
        if (n.name == s) return n.value;
    return std::nullopt;
}

}  // namespace agentbox::profile
