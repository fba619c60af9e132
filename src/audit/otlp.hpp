// The decision log as OpenTelemetry log records (agentbox-log(5), OPENTELEMETRY): one
// ExportLogsServiceRequest in the OTLP/JSON encoding (the protobuf JSON mapping of
// opentelemetry-proto's logs service), POSTed to a collector's /v1/logs by cli/otlp_export.
// Pure: no I/O, so the mapping is unit-tested on its own.
//
// Each event is one LogRecord: timeUnixNano from "ts", body the event name, every member of
// the line an attribute "agentbox.NAME" (the chain's seq, prev and hash included, so that a
// SIEM can check the chain without the file), nested objects as kvlistValue and arrays as
// arrayValue; severity WARN for a denial or a warning, else INFO.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/chain.hpp"

namespace agentbox::audit::otlp {

struct Resource {
    std::string host;     // host.name
    std::string user;     // user.name and enduser.id
    std::string version;  // service.version
    std::string session;  // agentbox.session
};

// Nanoseconds since the epoch of an RFC 3339 UTC time as the log writes it
// ("2026-12-05T15:52:31.123Z"; any number of fraction digits, or none); nullopt otherwise.
std::optional<std::uint64_t> unix_nanos(std::string_view ts);

// SeverityNumber: 13 (WARN) for an event that reports something refused or a warning, else
// 9 (INFO).
int severity(const Json& event);

// The request body for `events` (parsed log lines, in log order).
std::string logs_request(const std::vector<Json>& events, const Resource& r);

}  // namespace agentbox::audit::otlp
