"""Loopback servers and helpers for the network-proxy tests (stdlib only).

The servers run in the test process, on the host's 127.0.0.1, and stand in for allowed and
denied hosts: the sandbox reaches them only by name through agentbox's proxy, with the test
resolver override (AGENTBOX_TEST_RESOLVE) mapping those names to 127.0.0.1. Every server counts
what reached it, so a test can prove that a refused request never arrived.
"""

import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading

PROXY = ("127.0.0.1", 3128)  # the Plan's default proxy port, inside the sandbox


def read_body(handler):
    """The request body of a BaseHTTPRequestHandler: chunked (trailers skipped) or
    Content-Length."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        data = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return data
            data += handler.rfile.read(size)
            handler.rfile.readline()
    n = int(handler.headers.get("Content-Length", "0"))
    return handler.rfile.read(n) if n else b""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the proxy's connection reuse is exercised

    def log_message(self, *args):
        pass

    def _body(self):
        return read_body(self)

    def _record(self):
        self.server.hits.append((self.command, self.path, self.headers.get("Host")))

    def do_GET(self):
        self._record()
        if self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"chunk-one ", b"chunk-two ", b"end"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/bigchunk/"):
            # One large chunk (the proxy splices its data) and the end of the body.
            n = int(self.path[len("/bigchunk/"):])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n" % n + b"y" * n + b"\r\n0\r\n\r\n")
            return
        if self.path.startswith("/big/"):
            n = int(self.path[5:])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n > 0:
                self.wfile.write(block[:n])
                n -= len(block[:n])
            return
        body = self.server.body + b" host=" + (self.headers.get("Host") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()

    def do_POST(self):
        self._record()
        data = self._body()
        body = b"got %d bytes: " % len(data) + data[:64]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # malformed bodies are sent on purpose; the tests check what arrived


def http_server(tc, body=b"hello from the loopback server", tls_context=None, handler=None):
    """A threaded HTTP/1.1 server on 127.0.0.1; returns it (port in .port, hits in .hits).
    HANDLER: a _Handler subclass that records more."""
    srv = _Server(("127.0.0.1", 0), handler or _Handler)
    srv.hits, srv.body = [], body
    if tls_context is not None:
        srv.socket = tls_context.wrap_socket(srv.socket, server_side=True)
    srv.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    tc.addCleanup(srv.server_close)
    tc.addCleanup(srv.shutdown)
    return srv


def throwaway_cert(tc, directory, names):
    """A self-signed certificate for NAMES made with openssl now; returns (cert, key) paths."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    san = ",".join("DNS:" + n for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=" + names[0],
                    "-addext", "subjectAltName=" + san],
                   check=True, capture_output=True)
    os.chmod(cert, 0o644)
    return cert, key


def tls_server(tc, directory, names, body=b"hello over TLS", handler=None):
    cert, key = throwaway_cert(tc, directory, names)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = http_server(tc, body, tls_context=ctx, handler=handler)
    srv.cert = cert
    return srv


class TcpServer:
    """A plain TCP server: 'echo' answers each line, 'firehose' writes without end. Counts
    accepted connections."""

    def __init__(self, tc, mode):
        self.mode, self.accepted, self.sent = mode, 0, 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2048)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()
        tc.addCleanup(self.close)

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.mode == "echo":
                f = c.makefile("rb")
                for line in f:
                    c.sendall(line)
            else:
                block = b"z" * 65536
                while not self.stop:
                    c.sendall(block)
                    self.sent += len(block)
        except OSError:
            pass
        finally:
            c.close()


# Client code run INSIDE the sandbox (python3 from the host's /usr): raw requests to the proxy,
# so that tests control every byte and see every status line.
INSIDE_HELPERS = r'''
import socket, sys, time
PROXY = ("127.0.0.1", 3128)

def raw(data, read_all=True, timeout=20):
    s = socket.create_connection(PROXY, timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        out += b
        if not read_all and b"\r\n\r\n" in out:
            break
    s.close()
    return out

def read_head(s):
    """A response's head from socket S, byte by byte so nothing after it is consumed."""
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        if not b:
            break
        head += b
    return head

def status(data):
    out = raw(data, read_all=False)
    line = out.split(b"\r\n", 1)[0].decode(errors="replace")
    return line.split(" ")[1] if line.startswith("HTTP/") else "none:" + repr(out[:60])
'''


def inside_script(box, name, body):
    """Write a Python script (INSIDE_HELPERS + BODY) into the project; returns its argv."""
    path = os.path.join(box.project, name)
    with open(path, "w") as f:
        f.write(INSIDE_HELPERS + "\n" + body)
    return ["python3", path]


def resolve_env(mapping):
    return {"AGENTBOX_TEST_RESOLVE": ",".join("%s=%s" % kv for kv in mapping.items())}


def proxy_args(*allow, allow_private=False):
    args = ["--net", "proxy"]
    for a in allow:
        args += ["--allow-host", a]
    return args


def log_events(box):
    """The events of the box's newest session, in order."""
    with open(os.path.join(box.sessions()[-1], "log.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def tmpdir(tc):
    d = tempfile.mkdtemp(prefix="abproxy-")
    os.chmod(d, 0o755)
    tc.addCleanup(subprocess.run, ["rm", "-rf", d])
    return d


PORTABLE_NET = {"AGENTBOX_TEST_PORTABLE_NET": "1"}


class PortableNet:
    """Mixin for a proxy test class: every agentbox its cases start moves bytes and wakes the
    supervisor the portable way (src/net/portable.hpp: a read/write pump and a self-pipe, what
    macOS uses) instead of Linux's splice and eventfd. Put it first: PortableNet, TheClass."""

    def setUp(self):
        super().setUp()
        env = self.box.env
        self.box.env = lambda extra=None: dict(env(extra), **PORTABLE_NET)


def only(*names):
    """Class decorator: the class with every test_ method but NAMES (inherited ones included)
    taken away, for a variant that re-runs the cases it names and no others."""
    def keep(cls):
        for n in dir(cls):
            if n.startswith("test_") and n not in names:
                setattr(cls, n, None)
        missing = [n for n in names if not callable(getattr(cls, n, None))]
        if missing:
            raise AttributeError("no such test: %s" % ", ".join(missing))
        return cls
    return keep
