#!/usr/bin/python3
"""Integration: network mode proxy as tools use it (DESIGN.md §6). curl (HTTP and HTTPS) and
Python's urllib inside the sandbox reach a loopback server by an allowed name, through the
proxy's environment variables; keep-alive and chunked bodies work; every connection is reported
with its rule, address, bytes and duration; `explain connect` agrees with the proxy.
The attacks on the proxy are in tests/conformance/test_network.py."""

import os
import hashlib
import random
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest  # noqa: E402
import proxytest  # noqa: E402
from proxytest import inside_script, proxy_args, resolve_env  # noqa: E402

ENV = resolve_env({"allowed.test": "127.0.0.1", "other.test": "127.0.0.1"})


def events(box, kind):
    """The KIND events ("net.connect", "net.close") of the newest session's decision log, with
    every value as a string: what the issue asks is that each connection is in the log."""
    import json
    with open(os.path.join(box.sessions()[-1], "log.jsonl")) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    return [{k: v if isinstance(v, str) else json.dumps(v) for k, v in e.items()}
            for e in lines if e["event"] == kind]


class ProxyTools(BoxTest):
    def setUp(self):
        super().setUp()
        self.srv = proxytest.http_server(self)
        self.tls = proxytest.tls_server(self, proxytest.tmpdir(self), ["allowed.test"])
        self.args = proxy_args("allowed.test:%d" % self.srv.port, "127.0.0.1:%d" % self.srv.port,
                               "allowed.test:%d" % self.tls.port, "127.0.0.1:%d" % self.tls.port)

    def run_v(self, cmd, args=None):
        argv = self.box.argv(cmd, args=args or self.args)
        argv[argv.index("-q")] = "-v"
        return self.box.run(None, argv=argv, env=ENV)

    def test_curl_http_through_the_proxy_by_allowed_name(self):
        res = self.run_v(["curl", "-sS", "http://allowed.test:%d/" % self.srv.port])
        self.assertRc(res, 0)
        self.assertIn("hello from the loopback server host=allowed.test:%d" % self.srv.port,
                      res.out, res)
        connects = events(self.box, "net.connect")
        self.assertEqual(len(connects), 1, res)
        c = connects[0]
        self.assertEqual((c["host"], c["port"], c["verdict"], c["address"]),
                         ("allowed.test", str(self.srv.port), "allow", "127.0.0.1"), res)
        self.assertEqual(c["rule"], 'network.allow "allowed.test:%d"' % self.srv.port)
        self.assertEqual(c["source"], "<command line>")
        closes = events(self.box, "net.close")
        self.assertEqual(len(closes), 1, res)
        self.assertGreater(int(closes[0]["bytes_up"]), 50)
        self.assertGreater(int(closes[0]["bytes_down"]), 50)
        self.assertIn("duration_ms", closes[0])

    def test_curl_https_through_the_proxy_by_allowed_name(self):
        cert = os.path.join(self.box.project, "ca.pem")
        with open(self.tls.cert) as src, open(cert, "w") as dst:
            dst.write(src.read())
        res = self.run_v(["curl", "-sS", "--cacert", cert,
                          "https://allowed.test:%d/x" % self.tls.port])
        self.assertRc(res, 0)
        self.assertIn("hello over TLS", res.out, res)
        c = events(self.box, "net.connect")
        self.assertEqual([(e["method"], e["verdict"]) for e in c], [("CONNECT", "allow")], res)
        self.assertEqual(self.tls.hits, [("GET", "/x", "allowed.test:%d" % self.tls.port)])

    def test_curl_to_another_name_gets_a_clear_proxy_error(self):
        res = self.run_v(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n",
                          "http://other.test:%d/" % self.srv.port])
        self.assertEqual(res.out.strip(), "403", res)
        c = events(self.box, "net.connect")
        self.assertEqual([(e["host"], e["verdict"], e["rule"]) for e in c],
                         [("other.test", "deny", 'network.unlisted "deny"')], res)
        res = self.box.run(["curl", "-sS", "https://other.test/"], args=self.args, env=ENV)
        self.assertNotEqual(res.rc, 0)
        self.assertIn("403", res.err, res)
        self.assertEqual(self.srv.hits, [])

    def test_python_urllib_through_the_proxy(self):
        script = inside_script(self.box, "fetch.py", r"""
import urllib.request, urllib.error
print(urllib.request.urlopen("http://allowed.test:%d/u").read().decode())
try:
    urllib.request.urlopen("http://other.test:%d/")
except urllib.error.HTTPError as e:
    print("refused", e.code, e.read().decode().strip())
""" % (self.srv.port, self.srv.port))
        res = self.box.run(script, args=self.args, env=ENV)
        self.assertRc(res, 0)
        self.assertIn("hello from the loopback server", res.out, res)
        self.assertIn('refused 403 agentbox proxy: GET other.test:%d refused by network.unlisted'
                      % self.srv.port, res.out, res)

    def silent_or_trickling_server(self):
        """A loopback server that says nothing, unless the client's first line is "trickle":
        then a byte every 0.3 s for 3 s, and the end."""
        def serve(conn):
            try:
                if conn.recv(100).startswith(b"trickle"):
                    for _ in range(10):
                        conn.sendall(b"x")
                        time.sleep(0.3)
            except OSError:
                pass

        return self.tunnel_server(serve)[0]

    def test_a_connection_idle_past_the_idle_timeout_is_closed_and_a_slow_one_is_not(self):
        # The proxy closes a connection to a server on which nothing has moved for its idle
        # timeout (15 minutes; 1 s here), and only then: a trickle keeps it open.
        port = self.silent_or_trickling_server()
        script = inside_script(self.box, "idle.py", r"""
import socket, time
for first in (b"", b"trickle\n"):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT allowed.test:%d HTTP/1.1\r\nHost: allowed.test:%d\r\n\r\n")
    print(s.recv(100).split(b"\r\n")[0].decode())
    s.sendall(first)
    s.settimeout(60)
    t, got = time.monotonic(), b""
    while True:
        b = s.recv(100)
        if not b:
            break
        got += b
    print("eof after %%.1f s with %%d bytes" %% (time.monotonic() - t, len(got)))
""" % (port, port))
        env = dict(ENV, AGENTBOX_TEST_PROXY_IDLE_MS="1000")
        # The address rule: the private-address check lets only a named loopback address through.
        res = self.box.run(script, args=proxy_args("allowed.test:%d" % port, "127.0.0.1:%d" % port),
                           env=env)
        self.assertRc(res, 0)
        self.assertEqual(res.out.count("HTTP/1.1 200"), 2, res)
        ends = re.findall(r"^eof after ([\d.]+) s with (\d+) bytes$", res.out, re.M)
        self.assertEqual(len(ends), 2, res)
        (idle_s, idle_bytes), (slow_s, slow_bytes) = ends
        self.assertEqual(idle_bytes, "0")
        self.assertGreaterEqual(float(idle_s), 0.9, res)
        self.assertLess(float(idle_s), 30, res)
        self.assertEqual(slow_bytes, "10", res)  # 3 s, three times the idle timeout
        closes = events(self.box, "net.close")
        self.assertEqual([c.get("reason") for c in closes], ["idle", None], res)

    def test_keep_alive_reuses_one_upstream_connection(self):
        u = "http://allowed.test:%d/" % self.srv.port
        res = self.run_v(["curl", "-sS", "-v", u + "a", u + "b", u + "c"])
        self.assertRc(res, 0)
        self.assertIn("Re-using existing connection", res.err, res)
        self.assertEqual([h[1] for h in self.srv.hits], ["/a", "/b", "/c"])
        self.assertEqual(len(events(self.box, "net.connect")), 1, res)
        res = self.run_v(["curl", "-sS", "-I", u + "h1", u + "h2"])
        self.assertRc(res, 0)
        self.assertEqual(res.out.count("Content-Length: 1000"), 2, res)

    def test_chunked_bodies_both_ways(self):
        data = os.path.join(self.box.project, "upload")
        with open(data, "wb") as f:
            f.write(b"0123456789" * 10000)
        u = "http://allowed.test:%d/" % self.srv.port
        res = self.box.run(["curl", "-sS", "-H", "Transfer-Encoding: chunked", "--data-binary",
                            "@" + data, u + "post", "--next", u + "chunked"],
                           args=self.args, env=ENV)
        self.assertRc(res, 0)
        self.assertIn("got 100000 bytes: 0123456789", res.out, res)
        self.assertIn("chunk-one chunk-two end", res.out, res)

    def test_large_download_is_complete(self):
        n = 50 * 1024 * 1024 + 7
        res = self.box.run(["sh", "-c", "curl -sS http://allowed.test:%d/big/%d | wc -c"
                            % (self.srv.port, n)], args=self.args, env=ENV)
        self.assertRc(res, 0)
        self.assertEqual(res.out.strip(), str(n), res)

    # ---- what relaying by splice(2) could break: bytes lost in the pipe, a half-close that is
    # not passed on, an idle tunnel the watchdog no longer sees

    def tunnel_server(self, serve, rcvbuf=None):
        """A loopback TCP server running SERVE(conn) per connection in a thread; SERVE's
        result (or the exception it raised) lands in the returned list. RCVBUF: a small
        receive buffer, so that what the relay writes to it waits in the relay."""
        srv = socket.socket()
        if rcvbuf:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        self.addCleanup(srv.close)
        results = []

        def run(conn):
            try:
                results.append(serve(conn))
            except Exception as e:  # noqa: BLE001 (reported by the test's assertion)
                results.append(e)
            finally:
                conn.close()

        def accept():
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                threading.Thread(target=run, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return srv.getsockname()[1], results

    TUNNEL_CLIENT = r"""
import hashlib, random, socket, sys, threading
def tunnel(port):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT allowed.test:%d HTTP/1.1\r\nHost: allowed.test:%d\r\n\r\n" % (port, port))
    print(read_head(s).split(b"\r\n")[0].decode(), flush=True)
    return s
def drain(s):
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            return h.hexdigest(), n
        h.update(b)
        n += len(b)
"""

    def test_large_connect_tunnel_bytes_exact_both_ways(self):
        # 64 MiB each way at once through a tunnel relayed by splice: every byte arrives, in
        # order (sha256 on both ends), and net.close counts exactly what was relayed.
        size = 64 << 20
        up_data = random.Random(1).randbytes(size)
        down_data = random.Random(2).randbytes(size)

        def serve(conn):
            sender = threading.Thread(target=conn.sendall, args=(down_data,))
            sender.start()
            h, n = hashlib.sha256(), 0
            while True:
                b = conn.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
            sender.join()
            return h.hexdigest(), n

        port, got = self.tunnel_server(serve)
        script = inside_script(self.box, "big.py", self.TUNNEL_CLIENT + r"""
s = tunnel(%d)
data = random.Random(1).randbytes(%d)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
print("down %%s %%d" %% drain(s))
t.join()
""" % (port, size))
        res = self.box.run(script, args=proxy_args("allowed.test:%d" % port, "127.0.0.1:%d" % port),
                           env=ENV, timeout=300)
        self.assertRc(res, 0)
        self.assertIn("HTTP/1.1 200", res.out, res)
        self.assertIn("down %s %d" % (hashlib.sha256(down_data).hexdigest(), size), res.out, res)
        self.assertEqual(got, [(hashlib.sha256(up_data).hexdigest(), size)], res)
        closes = events(self.box, "net.close")
        self.assertEqual([(c["bytes_up"], c["bytes_down"]) for c in closes],
                         [(str(size), str(size))], res)

    def test_half_close_propagates_through_spliced_tunnel(self):
        # The client's half-close reaches the server, which still answers on the open half;
        # and the other way round: the server's half-close reaches the client, which still
        # sends on its open half.
        def client_first(conn):
            # A slow reader: the relay's writes block, so the client's end of stream arrives
            # while bytes still wait in the relay, and those must not be lost.
            time.sleep(0.3)
            n = 0
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                n += len(b)
                time.sleep(0.001)
            conn.sendall(b"server got %d bytes\n" % n)
            return ("client_first", n)

        def server_first(conn):
            conn.sendall(b"s" * 300000)
            conn.shutdown(socket.SHUT_WR)
            n = 0
            conn.settimeout(30)
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                n += len(b)
            return ("server_first", n)

        p1, got1 = self.tunnel_server(client_first, rcvbuf=16384)
        p2, got2 = self.tunnel_server(server_first)
        script = inside_script(self.box, "half.py", self.TUNNEL_CLIENT + r"""
s = tunnel(%d)
s.sendall(b"c" * 16777216)
s.shutdown(socket.SHUT_WR)
s.settimeout(30)
print("reply", s.makefile("rb").readline().decode().strip(), flush=True)
s.close()
s = tunnel(%d)
s.settimeout(30)
print("got %%s %%d" %% drain(s), flush=True)
s.sendall(b"t" * 123457)
s.close()
""" % (p1, p2))
        res = self.box.run(script, args=proxy_args("allowed.test:%d" % p1, "allowed.test:%d" % p2,
                                                    "127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2),
                           env=ENV)
        self.assertRc(res, 0)
        self.assertIn("reply server got 16777216 bytes", res.out, res)
        self.assertIn("got %s 300000" % hashlib.sha256(b"s" * 300000).hexdigest(), res.out, res)
        deadline = time.monotonic() + 10
        while not got2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual((got1, got2), ([("client_first", 16777216)], [("server_first", 123457)]),
                         res)
        closes = events(self.box, "net.close")
        self.assertEqual(sorted((c["bytes_up"], c["bytes_down"]) for c in closes),
                         [("123457", "300000"), ("16777216", str(len(b"server got 16777216 bytes\n")))], res)

    def test_idle_timeout_still_fires_on_spliced_tunnel(self):
        # A tunnel that has relayed bytes by splice, then goes quiet (the server neither sends
        # nor closes), is closed by the idle timeout (1 s here) like one that never moved,
        # with the bytes counted; and so is one whose client stops reading while the server
        # has more to send (the bytes wait in the relay, none are delivered).
        def quiet(conn):
            conn.sendall(b"q" * 1000000)
            conn.settimeout(30)
            conn.recv(100)  # until the proxy closes
            return "quiet"

        def stuck(conn):
            sent = 0
            conn.settimeout(30)
            try:
                while True:
                    sent += conn.send(b"z" * 65536)
            except OSError:
                pass
            return "stuck"

        p1, _ = self.tunnel_server(quiet)
        p2, _ = self.tunnel_server(stuck)
        script = inside_script(self.box, "idle.py", self.TUNNEL_CLIENT + r"""
import time
s = tunnel(%d)
t = time.monotonic()
print("quiet %%s %%d after %%.1f s" %% (drain(s) + (time.monotonic() - t,)), flush=True)
s = tunnel(%d)
time.sleep(3)  # reads nothing: the server's bytes pile up in the relay
s.settimeout(20)
try:
    print("stuck closed after %%d bytes" %% drain(s)[1], flush=True)
except socket.timeout:
    print("stuck never closed", flush=True)
""" % (p1, p2))
        env = dict(ENV, AGENTBOX_TEST_PROXY_IDLE_MS="1000")
        res = self.box.run(script, args=proxy_args("allowed.test:%d" % p1, "allowed.test:%d" % p2,
                                                    "127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2),
                           env=env)
        self.assertRc(res, 0)
        m = re.search(r"^quiet (\w+) (\d+) after ([\d.]+) s$", res.out, re.M)
        self.assertIsNotNone(m, res)
        self.assertEqual(m.group(1, 2), (hashlib.sha256(b"q" * 1000000).hexdigest(), "1000000"))
        self.assertGreaterEqual(float(m.group(3)), 0.9, res)
        self.assertLess(float(m.group(3)), 30, res)
        closes = events(self.box, "net.close")
        self.assertEqual(len(closes), 2, res)
        self.assertEqual((closes[0].get("reason"), closes[0]["bytes_down"]), ("idle", "1000000"),
                         res)
        self.assertEqual(closes[1].get("reason"), "idle", res)
        self.assertIn("stuck closed after", res.out, res)

    def test_explain_connect_agrees_with_the_proxy(self):
        port = self.srv.port
        prof = self.box.write_profile("net", """version = 1
extends = ["default"]
[network]
mode = "proxy"
allow = ["allowed.test:%d", "*.sub.test:%d", "127.0.0.1:%d"]
deny = ["deny.sub.test:%d"]
""" % (port, port, port, port))
        names = ["allowed.test", "ALLOWED.test.", "a.sub.test", "sub.test", "deny.sub.test",
                 "other.test", "127.0.0.1", "2130706433"]
        env = resolve_env({n: "127.0.0.1" for n in ("allowed.test", "a.sub.test", "sub.test",
                                                      "deny.sub.test", "other.test")})
        script = inside_script(self.box, "each.py", "\n".join(
            "print(%r, status(b'GET http://%s:%d/ HTTP/1.1\\r\\n\\r\\n'))" % (n, n, port)
            for n in names))
        res = self.box.run(script, profiles=[prof], env=env)
        self.assertRc(res, 0)
        for n in names:
            ex = self.box.run(None, argv=[AGENTBOX, "explain", "-p", prof, "connect",
                                          "%s:%d" % (n, port)], probes=False)
            m = re.search(r"^%s (\d+)$" % re.escape(n), res.out, re.M)
            self.assertIsNotNone(m, res)
            proxy_allowed = m.group(1) == "200"
            self.assertEqual(ex.rc == 0, proxy_allowed,
                             "%s: explain says rc %d, the proxy answered %s\n%s\n%s"
                             % (n, ex.rc, m.group(1), ex, res))


class ProxyToolsPortable(proxytest.PortableNet, ProxyTools):
    """Every case above again on the proxy's portable I/O (a read/write pump and a self-pipe:
    what macOS runs), switched on in this Linux build by AGENTBOX_TEST_PORTABLE_NET=1."""

    def test_the_portable_switch_is_announced(self):
        res = self.run_v(["curl", "-sS", "http://allowed.test:%d/" % self.srv.port])
        self.assertRc(res, 0)
        self.assertIn("AGENTBOX_TEST_PORTABLE_NET=1: the portable wake-up and pump", res.err, res)


if __name__ == "__main__":
    abtest.main()
