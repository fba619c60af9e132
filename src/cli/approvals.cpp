#include "cli/approvals.hpp"

#include <unordered_map>
#include <unordered_set>

#include "approve/approver.hpp"
#include "cli/run_log.hpp"
#include "policy/policy.hpp"

namespace agentbox::cli {

std::optional<ApproverSetting> approver_of(const profile::Profile& prof,
                                           const std::optional<std::string>& flag) {
    ApproverSetting a;
    if (flag) a.command = *flag;
    else if (prof.approve.command.set) a.command = prof.approve.command.value;
    else return std::nullopt;
    if (prof.approve.timeout_ms.set)
        a.timeout = std::chrono::milliseconds(prof.approve.timeout_ms.value);
    return a;
}

sandbox::Approver backend_approver(const ApproverSetting& a, const std::string& session) {
    return [a, session](const sandbox::AskRequest& r, int cancel_fd) {
        const approve::Request req{r.op, r.target, r.rule, r.source, session};
        const approve::Answer ans = approve::ask_command(a.command, req, a.timeout, cancel_fd);
        sandbox::AskAnswer out;
        out.allow = ans.verdict == approve::Verdict::allow;
        out.session = ans.scope == approve::Scope::session;
        out.by = ans.by;
        out.how = ans.how;
        out.reason = ans.reason;
        out.ms = ans.ms;
        return out;
    };
}

CommitApprovals ask_for_commits(const ApproverSetting& a, const std::string& session,
                                const std::vector<Judged>& judged) {
    CommitApprovals out;
    for (const auto& j : judged) {
        if (j.verdict != policy::Verdict::ask) continue;
        const approve::Request req{"commit", j.change.path, j.rule, j.source, session};
        const approve::Answer ans = approve::ask_command(a.command, req, a.timeout);
        if (ans.verdict == approve::Verdict::allow) out.allowed.insert(j.change.path);
        out.events.push_back(approval_event(req, ans));
    }
    return out;
}

audit::Event explicit_approval(const Judged& j, const std::string& session, const std::string& by,
                               const std::string& reason) {
    const approve::Request req{"commit", j.change.path, j.rule.empty() ? j.why : j.rule, j.source,
                               session};
    approve::Answer ans;
    ans.verdict = approve::Verdict::allow;
    ans.by = by;
    ans.how = "answered";
    ans.reason = reason;
    return approval_event(req, ans);
}

std::vector<audit::Event> commit_decisions(const std::vector<Judged>& judged,
                                           const stage::Selection& sel) {
    std::unordered_map<std::string, const Judged*> held;
    for (const auto& h : sel.held) held.emplace(h.change.path, &h);
    std::unordered_set<std::string> go;
    for (const auto& c : sel.go) go.insert(c.path);
    std::vector<audit::Event> out;
    for (const auto& j : judged) {
        const auto it = held.find(j.change.path);
        const Judged& d = it != held.end() ? *it->second : j;
        // A plain change that lands; a replaced directory's own held back (its entries say it).
        if (it == held.end() && (j.verdict == policy::Verdict::allow || !go.count(j.change.path)))
            continue;
        audit::Event ev("decision");
        ev.set("op", "commit");
        ev.set("target", d.change.path);
        ev.set("verdict", policy::to_string(d.verdict));
        ev.set("rule", d.rule.empty() ? d.why : d.rule);
        ev.set("source", d.source);
        ev.set("outcome", it != held.end() ? "held" : "committed");
        if (it != held.end()) ev.set("reason", d.why);
        out.push_back(std::move(ev));
    }
    return out;
}

}  // namespace agentbox::cli
