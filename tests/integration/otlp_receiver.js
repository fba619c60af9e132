// A stand-in OpenTelemetry collector for tests/integration/test_otlp.py: it accepts OTLP/HTTP
// log exports on /v1/logs and decodes each with the official schema - the protobufjs code the
// OpenTelemetry project generates from opentelemetry-proto, shipped in
// @opentelemetry/otlp-transformer (installed by scripts/agents.sh) - never by hand. A body
// that does not survive schema decoding unchanged (a field the schema does not have, a value
// of the wrong type) is answered 400 and recorded as an error.
//
//   node otlp_receiver.js PORT OUT CONTROL
//
// Listens on 127.0.0.1:PORT (0: any; the port is printed as the first line of stdout).
// Appends one JSON line per request to OUT: {"status": N, "records": [...], "resource": {...}}
// or {"status": 400, "error": "..."}. CONTROL is a JSON file read on every request:
// {"statuses": [500, 429], "delay_ms": N} - the next answers (then 200), and a delay before
// answering.
'use strict';

const fs = require('fs');
const http = require('http');

const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const Request = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
const Response = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;

const [port, out, control] = process.argv.slice(2);

function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sorted(v[k]);
    return o;
  }
  return v;
}

// The protobuf JSON mapping, through the schema and its binary encoding and back: what comes
// out must be what went in.
function decode(body, type) {
  let msg;
  if (type.startsWith('application/x-protobuf')) {
    msg = Request.decode(body);
  } else {
    const json = JSON.parse(body.toString('utf8'));
    const err = Request.verify(Request.fromObject(json));
    if (err) throw new Error('schema: ' + err);
    msg = Request.fromObject(json);
    const back = Request.toObject(Request.decode(Request.encode(msg).finish()),
      { longs: String, enums: Number, bytes: String });
    const a = JSON.stringify(sorted(json)), b = JSON.stringify(sorted(back));
    if (a !== b) {
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      throw new Error('not the OTLP schema: at ' + i + ' sent ...' + a.slice(Math.max(0, i - 300), i + 200) +
                      ' decoded ...' + b.slice(Math.max(0, i - 300), i + 200));
    }
  }
  return Request.toObject(msg, { longs: String, enums: Number, bytes: String });
}

function anyValue(v) {
  if (v === undefined || v === null) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
  if ('kvlistValue' in v) return attrs(v.kvlistValue.values || []);
  return null;
}

function attrs(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = anyValue(kv.value);
  return o;
}

function readControl() {
  try {
    return JSON.parse(fs.readFileSync(control, 'utf8'));
  } catch (e) {
    return {};
  }
}

function writeControl(c) {
  fs.writeFileSync(control + '.tmp', JSON.stringify(c));
  fs.renameSync(control + '.tmp', control);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const c = readControl();
    const statuses = c.statuses || [];
    const status = statuses.length > 0 ? statuses.shift() : 200;
    writeControl(Object.assign(c, { statuses }));
    const answer = () => {
      const line = { status, path: req.url, at: Date.now() };
      if (req.method !== 'POST' || req.url !== '/v1/logs') {
        line.status = 404;
      } else if (status === 200) {
        try {
          const msg = decode(Buffer.concat(chunks), req.headers['content-type'] || '');
          line.records = [];
          for (const rl of msg.resourceLogs || []) {
            line.resource = attrs(rl.resource && rl.resource.attributes);
            for (const sl of rl.scopeLogs || []) {
              for (const r of sl.logRecords || []) {
                line.records.push({
                  timeUnixNano: r.timeUnixNano, severityNumber: r.severityNumber,
                  severityText: r.severityText, body: anyValue(r.body),
                  attributes: attrs(r.attributes), scope: sl.scope && sl.scope.name,
                });
              }
            }
          }
        } catch (e) {
          line.status = 400;
          line.error = String(e.message || e);
        }
      }
      fs.appendFileSync(out, JSON.stringify(line) + '\n');
      if (line.status === 200) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(Response.toObject(Response.create({}))));
      } else {
        res.writeHead(line.status, { 'Content-Type': 'text/plain' });
        res.end(line.error || 'refused by the test');
      }
    };
    if (c.delay_ms) setTimeout(answer, c.delay_ms); else answer();
  });
});

server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});
