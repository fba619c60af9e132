"""Fake model APIs for the real-agent suite (test_real_agents.py), stdlib only.

One loopback HTTP server speaks the three wire protocols the agents use: Anthropic's Messages
API (Claude Code), OpenAI's Responses API (Codex) and Google's Gemini API (Gemini CLI), each
streaming server-sent events. It plays a fixed script: write a file, edit it, run a shell
command, then say it is done. Which step comes next is read from the request itself (how many
tool results the conversation holds), so retries and side requests do not derail it. Every tool
result that comes back is recorded, so a test can check what the agent's tools really did.
"""

import http.server
import json
import socketserver
import threading
import time

from proxytest import read_body

NOTE = "notes.txt"
FIRST = "first line from the model\n"
EDITED = "edited line from the model\n"
SHELL = "ls; git status --short"


def script():
    """The steps, each (kind, arguments)."""
    return [("write", {"path": NOTE, "content": FIRST}),
            ("edit", {"path": NOTE, "old": "first line", "new": "edited line"}),
            ("shell", {"command": SHELL})]


def _text(content):
    """A tool result's content as text, whichever shape the agent sent."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text(c.get("text", c.get("content", ""))) if isinstance(c, dict)
                         else str(c) for c in content)
    if isinstance(content, dict):
        return json.dumps(content)
    return str(content)


def _sse(handler, events):
    """Writes EVENTS ((name or None, dict) pairs) as one server-sent event stream."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    body = b""
    for name, data in events:
        if name:
            body += b"event: " + name.encode() + b"\n"
        body += b"data: " + json.dumps(data).encode() + b"\n\n"
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _json(handler, data, status=200):
    body = json.dumps(data).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


# ---- Anthropic Messages API (Claude Code)
def _anthropic(server, handler, req):
    if handler.path.split("?")[0].endswith("/count_tokens"):
        return _json(handler, {"input_tokens": 10})
    results = [b for m in req.get("messages", []) if isinstance(m.get("content"), list)
               for b in m["content"] if b.get("type") == "tool_result"]
    tools = {t.get("name") for t in req.get("tools", [])}
    step = server.step(len(results), [_text(r.get("content")) for r in results],
                       main="Write" in tools)
    usage = {"input_tokens": 10, "output_tokens": 5}
    start = {"type": "message_start", "message": {
        "id": "msg_%d" % server.count, "type": "message", "role": "assistant",
        "model": req.get("model", "fake"), "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": usage}}
    if step is None:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": "All done."}
        stop = "end_turn"
    else:
        kind, a = step
        if kind == "write":
            name, args = "Write", {"file_path": server.abspath(a["path"]), "content": a["content"]}
        elif kind == "edit":
            name, args = "Edit", {"file_path": server.abspath(a["path"]), "old_string": a["old"],
                                  "new_string": a["new"]}
        else:
            name, args = "Bash", {"command": a["command"], "description": "list the project"}
        block = {"type": "tool_use", "id": "toolu_%d" % server.count, "name": name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
        stop = "tool_use"
    _sse(handler, [
        ("message_start", start),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": block}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ])


# ---- OpenAI Responses API (Codex)
def _patch(kind, a, path):
    if kind == "write":
        lines = "".join("+" + line + "\n" for line in a["content"].splitlines())
        return "*** Begin Patch\n*** Add File: %s\n%s*** End Patch\n" % (path, lines)
    return ("*** Begin Patch\n*** Update File: %s\n@@\n-%s\n+%s\n*** End Patch\n"
            % (path, FIRST.strip(), FIRST.strip().replace(a["old"], a["new"])))


def _openai(server, handler, req):
    items = req.get("input", [])
    if isinstance(items, str):
        items = []
    results = [i for i in items
               if i.get("type") in ("function_call_output", "custom_tool_call_output")]
    tools = {t.get("name"): t.get("type") for t in req.get("tools", []) if t.get("name")}
    step = server.step(len(results), [_text(r.get("output")) for r in results],
                       main=bool(tools))
    rid = "resp_%d" % server.count
    if step is None:
        item = {"type": "message", "role": "assistant", "id": "msg_%d" % server.count,
                "content": [{"type": "output_text", "text": "All done."}]}
    else:
        kind, a = step
        call = "call_%d" % server.count
        if kind in ("write", "edit") and tools.get("apply_patch") == "custom":
            item = {"type": "custom_tool_call", "name": "apply_patch", "call_id": call,
                    "input": _patch(kind, a, a["path"])}
        elif kind in ("write", "edit") and tools.get("apply_patch") == "function":
            item = {"type": "function_call", "name": "apply_patch", "call_id": call,
                    "arguments": json.dumps({"input": _patch(kind, a, a["path"])})}
        else:
            # No patch tool offered: the shell tool, which Codex also intercepts for
            # `apply_patch` and applies as a patch.
            argv = (["apply_patch", _patch(kind, a, a["path"])] if kind != "shell"
                    else ["bash", "-lc", a["command"]])
            if "shell" in tools:
                name, args = "shell", {"command": argv}
            elif "shell_command" in tools:
                cmd = a["command"] if kind == "shell" else (
                    "apply_patch <<'EOF'\n%sEOF\n" % _patch(kind, a, a["path"]))
                name, args = "shell_command", {"command": cmd}
            else:
                cmd = a["command"] if kind == "shell" else (
                    "apply_patch <<'EOF'\n%sEOF\n" % _patch(kind, a, a["path"]))
                name, args = "exec_command", {"cmd": cmd}
            item = {"type": "function_call", "name": name, "call_id": call,
                    "arguments": json.dumps(args)}
    usage = {"input_tokens": 10, "input_tokens_details": None, "output_tokens": 5,
             "output_tokens_details": None, "total_tokens": 15}
    _sse(handler, [
        ("response.created", {"type": "response.created", "response": {"id": rid}}),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                       "item": item}),
        ("response.completed", {"type": "response.completed",
                                "response": {"id": rid, "usage": usage}}),
    ])


# ---- Gemini API (Gemini CLI)
def _gemini(server, handler, req):
    path = handler.path.split("?")[0]
    if path.endswith(":countTokens"):
        return _json(handler, {"totalTokens": 10})
    results = [p["functionResponse"] for c in req.get("contents", [])
               for p in c.get("parts", []) if "functionResponse" in p]
    decls = {d.get("name") for t in req.get("tools", [])
             for d in t.get("functionDeclarations", [])}
    streaming = path.endswith(":streamGenerateContent")
    # A result is {"output": text} (or {"error": text}).
    step = server.step(len(results), [_text(r.get("response", {}).get("output")
                                            or r.get("response")) for r in results],
                       main="write_file" in decls and streaming)
    if step is None:
        # Also answers Gemini CLI's own side questions (e.g. whose turn is next) with JSON.
        part = {"text": json.dumps({"reasoning": "the task is done", "next_speaker": "user"})
                if not streaming else "All done."}
    else:
        kind, a = step
        if kind == "write":
            name, args = "write_file", {"file_path": server.abspath(a["path"]),
                                        "content": a["content"]}
        elif kind == "edit":
            name, args = "replace", {"file_path": server.abspath(a["path"]),
                                     "old_string": a["old"], "new_string": a["new"],
                                     "instruction": "edit the note"}
        else:
            name, args = "run_shell_command", {"command": a["command"],
                                               "description": "list the project"}
        part = {"functionCall": {"name": name, "args": args}}
    resp = {"candidates": [{"content": {"role": "model", "parts": [part]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                              "totalTokenCount": 15},
            "modelVersion": "fake"}
    if streaming:
        _sse(handler, [(None, resp)])
    else:
        _json(handler, resp)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        return read_body(self)

    def do_GET(self):
        self.server.record(self.command, self.path, None)
        _json(self, {"data": [], "models": [], "object": "list"})

    def do_HEAD(self):
        self.server.record(self.command, self.path, None)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        raw = self._body()
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            req = {}
        self.server.record(self.command, self.path, req)
        path = self.path.split("?")[0]
        if "/messages" in path:
            _anthropic(self.server, self, req)
        elif path.endswith("/responses"):
            _openai(self.server, self, req)
        elif "/models/" in path:
            _gemini(self.server, self, req)
        else:
            _json(self, {"error": {"message": "no such endpoint: " + path}}, status=404)


class FakeModel(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The server. .port, .requests [(method, path, body)], .results (every tool result text
    seen, by step), .main_turns (requests that carried the agent's tools)."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, project):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.project = project
        self.port = self.server_address[1]
        self.lock = threading.Lock()
        self.requests, self.results, self.count, self.main_turns = [], {}, 0, 0
        self.errors, self.times = [], []
        self.steps = script()

    def handle_error(self, request, client_address):
        # A fake that cannot answer shows up as the agent retrying: keep the reason for the
        # test's failure message.
        import traceback
        with self.lock:
            self.errors.append(traceback.format_exc())

    def abspath(self, rel):
        return self.project + "/" + rel

    def record(self, method, path, body):
        with self.lock:
            self.count += 1
            self.requests.append((method, path, body))
            self.times.append(time.monotonic())

    def step(self, done, results, main):
        """The next step after DONE tool results (None: answer with text)."""
        with self.lock:
            for i, text in enumerate(results):
                self.results[i] = text
            if not main:
                return None
            self.main_turns += 1
            return self.steps[done] if done < len(self.steps) else None


def serve(tc, project):
    srv = FakeModel(project)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    tc.addCleanup(srv.server_close)
    tc.addCleanup(srv.shutdown)
    return srv
