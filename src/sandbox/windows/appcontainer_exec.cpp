// The AppContainer executor (Windows only; CI cross-compiles it with mingw-w64). What it does
// is decided by appcontainer_plan(); this file only performs it, and fails closed: any call
// that does not succeed ends the run before the command starts.
#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// clang-format off: these need windows.h first
#include <aclapi.h>
#include <sddl.h>
#include <userenv.h>
// clang-format on

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "sandbox/relocate.hpp"
#include "sandbox/windows/appcontainer_exec.hpp"

namespace agentbox::sandbox::windows {
namespace {

namespace fs = std::filesystem;

std::wstring wide(const std::string& s) {
    if (s.empty()) return {};
    const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(),
                                        static_cast<int>(s.size()), nullptr, 0);
    if (n <= 0) throw std::runtime_error("not valid UTF-8: " + s);
    std::wstring w(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()),
                          w.data(), n);
    return w;
}

std::string win32_error(const std::string& op, const std::string& what, DWORD err) {
    char buf[512] = {};
    ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, err, 0,
                     buf, sizeof buf, nullptr);
    std::string text(buf);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return op + (what.empty() ? "" : " " + what) + ": " + text + " (" + std::to_string(err) + ")";
}

struct Failed {
    std::string message;
};

std::string native(const std::string& p) {
    std::string out = p;
    std::replace(out.begin(), out.end(), '/', '\\');
    return out;
}

std::string resolve(const PathRef& r, const std::string& copy, const std::string& scratch) {
    switch (r.base) {
        case Base::host: return native(r.path);
        case Base::copy: return native(copy + r.path);
        case Base::scratch: return native(scratch + r.path);
    }
    return native(r.path);
}

struct LocalFreeSid {
    void operator()(void* p) const { ::LocalFree(p); }
};
struct FreeSid {
    void operator()(void* p) const { ::FreeSid(p); }
};
struct CloseHandleDel {
    void operator()(HANDLE h) const {
        if (h && h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
    }
};
using unique_handle = std::unique_ptr<void, CloseHandleDel>;

// The container's SID: created with the profile the first time, derived from its name after.
std::unique_ptr<void, FreeSid> container_sid(const AppContainerPlan& ac,
                                             std::vector<SID_AND_ATTRIBUTES>& caps) {
    PSID sid = nullptr;
    const std::wstring name = wide(ac.container), display = wide(ac.display);
    HRESULT hr = ::CreateAppContainerProfile(name.c_str(), display.c_str(), display.c_str(),
                                             caps.empty() ? nullptr : caps.data(),
                                             static_cast<DWORD>(caps.size()), &sid);
    if (hr == HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS))
        hr = ::DeriveAppContainerSidFromAppContainerName(name.c_str(), &sid);
    if (FAILED(hr)) throw Failed{win32_error("CreateAppContainerProfile", ac.container,
                                             static_cast<DWORD>(hr))};
    return std::unique_ptr<void, FreeSid>(sid);
}

// Adds (or, with REVOKE_ACCESS, removes) one entry for `sid` on `path`, merged into the DACL
// that is there.
DWORD set_entry(const std::string& path, PSID sid, DWORD mask, ACCESS_MODE mode, bool inherit) {
    std::wstring wpath = wide(path);
    PACL old_dacl = nullptr;
    PSECURITY_DESCRIPTOR sd = nullptr;
    DWORD err = ::GetNamedSecurityInfoW(wpath.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                        nullptr, nullptr, &old_dacl, nullptr, &sd);
    if (err != ERROR_SUCCESS) return err;
    std::unique_ptr<void, LocalFreeSid> sd_owner(sd);

    EXPLICIT_ACCESS_W ea{};
    ea.grfAccessPermissions = mask;
    ea.grfAccessMode = mode;
    const DWORD attrs = ::GetFileAttributesW(wpath.c_str());
    const bool dir = attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY);
    ea.grfInheritance = inherit && dir ? SUB_CONTAINERS_AND_OBJECTS_INHERIT : NO_INHERITANCE;
    ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea.Trustee.TrusteeType = TRUSTEE_IS_WELL_KNOWN_GROUP;
    ea.Trustee.ptstrName = static_cast<LPWSTR>(sid);

    PACL new_dacl = nullptr;
    err = ::SetEntriesInAclW(1, &ea, old_dacl, &new_dacl);
    if (err != ERROR_SUCCESS) return err;
    std::unique_ptr<void, LocalFreeSid> dacl_owner(new_dacl);
    return ::SetNamedSecurityInfoW(wpath.data(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                   nullptr, nullptr, new_dacl, nullptr);
}

// Every entry added is revoked when this goes out of scope, whatever happened in between.
class Grants {
public:
    explicit Grants(PSID sid) : sid_(sid) {}
    ~Grants() {
        for (auto it = done_.rbegin(); it != done_.rend(); ++it)
            set_entry(*it, sid_, 0, REVOKE_ACCESS, false);
    }
    Grants(const Grants&) = delete;
    Grants& operator=(const Grants&) = delete;

    void add(const std::string& path, const AclEntry& e) {
        const DWORD err =
            set_entry(path, sid_, e.mask, e.deny ? DENY_ACCESS : GRANT_ACCESS, e.inherit);
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
            // A masked path that is gone needs no mask; a grant on a missing path grants
            // nothing. Neither weakens the sandbox.
            return;
        }
        if (err != ERROR_SUCCESS)
            throw Failed{win32_error("SetNamedSecurityInfo", path + " (" + e.rule + ")", err)};
        if (std::find(done_.begin(), done_.end(), path) == done_.end()) done_.push_back(path);
    }

private:
    PSID sid_;
    std::vector<std::string> done_;
};

// The environment block: NAME=VALUE\0 ... \0, sorted case-insensitively as Windows expects.
std::wstring environment_block(std::vector<std::string> env) {
    std::sort(env.begin(), env.end(), [](const std::string& a, const std::string& b) {
        return ::_stricmp(a.c_str(), b.c_str()) < 0;
    });
    std::wstring block;
    for (const auto& e : env) {
        block += wide(e);
        block += L'\0';
    }
    block += L'\0';
    return block;
}

unique_handle make_job(const JobLimits& limits) {
    unique_handle job(::CreateJobObjectW(nullptr, nullptr));
    if (!job) throw Failed{win32_error("CreateJobObject", "", ::GetLastError())};
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
    info.BasicLimitInformation.LimitFlags = limits.flags;
    info.BasicLimitInformation.ActiveProcessLimit = limits.active_processes;
    info.JobMemoryLimit = static_cast<SIZE_T>(limits.job_memory);
    if (!::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &info,
                                   sizeof info))
        throw Failed{win32_error("SetInformationJobObject", "limits", ::GetLastError())};
    JOBOBJECT_BASIC_UI_RESTRICTIONS ui{};
    ui.UIRestrictionsClass = limits.ui_restrictions;
    if (!::SetInformationJobObject(job.get(), JobObjectBasicUIRestrictions, &ui, sizeof ui))
        throw Failed{win32_error("SetInformationJobObject", "UI restrictions", ::GetLastError())};
    return job;
}

RunResult run(const policy::Plan& plan, const AppContainerPlan& ac, const std::string& copy,
              const std::string& scratch) {
    RunResult result;
    if (!ac.weakenings.empty() && !plan.allow_weaker)
        throw Failed{"cannot enforce " + ac.weakenings.front().rule + ": " +
                     ac.weakenings.front().missing};

    // The copy strategy: the command works in a copy; what it changes is diffed against the
    // project afterwards, like the overlay's upper directory.
    std::error_code ec;
    if (plan.staging != policy::Staging::none) {
        fs::copy(fs::path(wide(plan.project)), fs::path(wide(copy)),
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
        if (ec) throw Failed{"copy " + plan.project + " to " + copy + ": " + ec.message()};
        for (const auto& rel : ac.copy_excludes) fs::remove_all(fs::path(wide(copy + "/" + rel)), ec);
    }
    const Relocation where(plan, copy, scratch);
    for (const auto& m : plan.mounts)
        if (m.kind == policy::MountKind::tmpfs || m.kind == policy::MountKind::state_home) {
            fs::create_directories(fs::path(wide(native(where.scratch_dir(m.target)))), ec);
            if (ec) throw Failed{"create " + where.scratch_dir(m.target) + ": " + ec.message()};
        }

    std::vector<std::unique_ptr<void, LocalFreeSid>> cap_sids;
    std::vector<SID_AND_ATTRIBUTES> caps;
    for (const auto& c : ac.capabilities) {
        PSID sid = nullptr;
        if (!::ConvertStringSidToSidW(wide(c.sid).c_str(), &sid))
            throw Failed{win32_error("ConvertStringSidToSid", c.sid, ::GetLastError())};
        cap_sids.emplace_back(sid);
        caps.push_back(SID_AND_ATTRIBUTES{sid, SE_GROUP_ENABLED});
    }
    auto sid = container_sid(ac, caps);
    Grants grants(sid.get());
    for (const auto& e : ac.acl) grants.add(resolve(e.path, copy, scratch), e);

    unique_handle job = make_job(ac.job);

    SECURITY_CAPABILITIES sc{};
    sc.AppContainerSid = sid.get();
    sc.Capabilities = caps.empty() ? nullptr : caps.data();
    sc.CapabilityCount = static_cast<DWORD>(caps.size());
    SIZE_T size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
    std::vector<unsigned char> attr_buf(size);
    auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buf.data());
    if (!::InitializeProcThreadAttributeList(attrs, 1, 0, &size))
        throw Failed{win32_error("InitializeProcThreadAttributeList", "", ::GetLastError())};
    std::unique_ptr<void, void (*)(void*)> attrs_owner(
        attrs, [](void* a) { ::DeleteProcThreadAttributeList(static_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(a)); });
    if (!::UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_SECURITY_CAPABILITIES, &sc,
                                     sizeof sc, nullptr, nullptr))
        throw Failed{win32_error("UpdateProcThreadAttribute", "SECURITY_CAPABILITIES",
                                 ::GetLastError())};

    STARTUPINFOEXW si{};
    si.StartupInfo.cb = sizeof si;
    si.lpAttributeList = attrs;
    PROCESS_INFORMATION pi{};
    std::wstring cmd = wide(ac.command_line);
    std::wstring env = environment_block(relocated_env(plan, where));
    std::wstring cwd = wide(resolve(ac.cwd, copy, scratch));
    // Suspended until it is in the job: nothing it starts may escape the limits.
    if (!::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, FALSE,
                          EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED |
                              CREATE_UNICODE_ENVIRONMENT,
                          env.data(), cwd.c_str(), &si.StartupInfo, &pi)) {
        const DWORD err = ::GetLastError();
        const bool missing = err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND;
        result.exit_code = missing ? util::kExitNotFound : util::kExitNotExecutable;
        result.error = win32_error("CreateProcess", ac.command_line, err);
        return result;
    }
    unique_handle process(pi.hProcess), thread(pi.hThread);
    if (!::AssignProcessToJobObject(job.get(), process.get())) {
        const DWORD err = ::GetLastError();
        ::TerminateProcess(process.get(), util::kExitSetup);
        throw Failed{win32_error("AssignProcessToJobObject", "", err)};
    }
    ::ResumeThread(thread.get());
    result.started = true;

    const DWORD wait = ac.job.timeout_ms ? static_cast<DWORD>(std::min<std::uint64_t>(
                                               ac.job.timeout_ms, INFINITE - 1))
                                         : INFINITE;
    if (::WaitForSingleObject(process.get(), wait) == WAIT_TIMEOUT) {
        ::TerminateJobObject(job.get(), util::kExitTimeout);
        ::WaitForSingleObject(process.get(), INFINITE);
        result.timed_out = true;
        result.exit_code = util::kExitTimeout;
    } else {
        DWORD code = 0;
        ::GetExitCodeProcess(process.get(), &code);
        result.exit_code = static_cast<int>(code);
        // What the command left behind in the job ends with it (kill on close does the same
        // when `job` is closed; this makes it happen before the grants are revoked).
        ::TerminateJobObject(job.get(), 0);
    }
    return result;
}

}  // namespace

RunResult run_appcontainer(const policy::Plan& plan, const AppContainerPlan& ac,
                           const std::string& copy, const std::string& scratch) {
    try {
        return run(plan, ac, copy, scratch);
    } catch (const Failed& f) {
        RunResult r;
        r.error = f.message;
        return r;
    } catch (const std::exception& e) {
        RunResult r;
        r.error = e.what();
        return r;
    }
}

}  // namespace agentbox::sandbox::windows

#endif  // _WIN32
