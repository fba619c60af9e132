#!/usr/bin/env python3
"""The network proxy's cost: a 1 GiB download from a loopback server, directly (curl on the
host) and from inside `agentbox run --net proxy` (curl through the proxy: plain http, and the
same bytes through a CONNECT tunnel), in one paired run: the variants alternate round by round.
Also the time to first byte of small requests (connection setup) and agentbox's memory with
1,000 idle tunnels open. Targets (issue 4): >= 0.5x direct throughput, <= 1 ms median added
to connection setup, memory bounded under 1,000 idle connections. Usage:
    bench/proxy.py AGENTBOX [--rounds N] [--size BYTES] [--results bench/RESULTS.md]
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

NAME = "bench.test"


class Server:
    """Answers every request with Content-Length: SIZE bytes (or 2 bytes for /small) and
    closes; /echo-style idle tunnels just stay open."""

    def __init__(self, size):
        self.size = size
        self.block = memoryview(b"x" * (1 << 20))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2048)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                b = c.recv(4096)
                if not b:
                    return
                head += b
            n = 2 if b" /small" in head.split(b"\r\n", 1)[0] else self.size
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
            while n > 0:
                k = min(n, len(self.block))
                c.sendall(self.block[:k])
                n -= k
        except OSError:
            pass
        finally:
            c.close()


def curl_args(url, n=1):
    fmt = "%{size_download} %{time_starttransfer} %{time_total}\\n"
    argv = ["curl", "-s", "-w", fmt]
    for _ in range(n):
        argv += ["-o", "/dev/null", url]  # -o applies to one URL each
    return argv


def parse(out):
    rows = [line.split() for line in out.strip().splitlines()]
    return [(int(float(a)), float(b), float(c)) for a, b, c in rows]


def captured(args):
    """Captured (transparent) connections against proxied ones (network.capture, issue 20
    §5): the same download inside `agentbox run --net proxy`, once through a CONNECT tunnel
    (`curl -p`) and once by a curl that ignores the proxy variables (`--noproxy '*'`: the
    sandbox's DNS names a synthetic address, the supervisor hands the connect to the proxy).
    Paired in interleaved rounds; prints, writes nothing (the proxy section is main()'s)."""
    srv = Server(args.size)
    work = tempfile.mkdtemp(prefix="abbench-capture-")
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    env = dict(os.environ, AGENTBOX_TEST_RESOLVE="%s=127.0.0.1" % NAME)
    box = [args.agentbox, "run", "-q", "--on-exit", "keep", "-C", proj, "--net", "proxy",
           "--allow-host", "%s:%d" % (NAME, srv.port), "--allow-host", "127.0.0.1:%d" % srv.port,
           "--"]
    big = "http://%s:%d/big" % (NAME, srv.port)
    small = "http://%s:%d/small" % (NAME, srv.port)
    variants = (("proxied (CONNECT)", ["curl", "-p"]), ("captured", ["curl", "--noproxy", "*"]))
    speed = {n: [] for n, _ in variants}
    ttfb = {n: [] for n, _ in variants}
    for _ in range(args.rounds):
        for name, pre in variants:
            argv = box + pre + curl_args(big)[1:]
            p = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=proj)
            if p.returncode != 0:
                raise SystemExit("%s failed (%d): %s" % (name, p.returncode, p.stderr))
            (size, _, total), = parse(p.stdout)
            if size != args.size:
                raise SystemExit("%s: got %d bytes, expected %d" % (name, size, args.size))
            speed[name].append(size / total / 2**20)
            p = subprocess.run(box + pre + curl_args(small, args.small)[1:], env=env,
                               capture_output=True, text=True, cwd=proj)
            ttfb[name] += [t for _, t, _ in parse(p.stdout)]
    base = statistics.median(speed["proxied (CONNECT)"])
    for name, _ in variants:
        m = statistics.median(speed[name])
        print("%-18s %6.0f MiB/s  %.2fx proxied   first byte %.2f ms median" % (
            name, m, m / base, statistics.median(ttfb[name]) * 1000))
    subprocess.run(["rm", "-rf", work])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--small", type=int, default=50, help="small requests per variant and round")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    ap.add_argument("--captured", action="store_true",
                    help="only compare captured connections with proxied ones (prints)")
    args = ap.parse_args()
    args.agentbox = os.path.realpath(args.agentbox)
    if args.captured:
        return captured(args)

    srv = Server(args.size)
    work = tempfile.mkdtemp(prefix="abbench-proxy-")
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    os.chdir(proj)  # the sandboxed command starts here; it must be visible inside
    env = dict(os.environ, AGENTBOX_TEST_RESOLVE="%s=127.0.0.1" % NAME)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    box = [args.agentbox, "run", "-q", "--on-exit", "keep", "-C", proj, "--net", "proxy",
           "--allow-host", "%s:%d" % (NAME, srv.port), "--allow-host", "127.0.0.1:%d" % srv.port,
           "--"]
    big = "http://%s:%d/big" % (NAME, srv.port)
    small = "http://%s:%d/small" % (NAME, srv.port)
    direct_big = "http://127.0.0.1:%d/big" % srv.port
    direct_small = "http://127.0.0.1:%d/small" % srv.port

    def run(argv):
        p = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=proj)
        if p.returncode != 0:
            raise SystemExit("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr))
        return parse(p.stdout)

    speed = {"direct": [], "proxy (http)": [], "proxy (CONNECT)": []}
    ttfb = {"direct": [], "proxy": []}
    for _ in range(args.rounds):
        for name, argv in (("direct", curl_args(direct_big)),
                           ("proxy (http)", box + curl_args(big)),
                           ("proxy (CONNECT)", box + ["curl", "-p"] + curl_args(big)[1:])):
            (size, _, total), = run(argv)
            if size != args.size:
                raise SystemExit("%s: got %d bytes, expected %d" % (name, size, args.size))
            speed[name].append(size / total / 2**20)
        ttfb["direct"] += [t for _, t, _ in run(curl_args(direct_small, args.small))]
        ttfb["proxy"] += [t for _, t, _ in run(box + curl_args(small, args.small))]

    # 1,000 idle tunnels: agentbox's resident memory while they are open.
    script = os.path.join(proj, "idle.py")
    with open(script, "w") as f:
        f.write("""import socket, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
socks = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT %s:%d HTTP/1.1\\r\\n\\r\\n")
    socks.append(s)
for s in socks:
    s.recv(100)
print("ready", flush=True)
time.sleep(3)
""" % (NAME, srv.port))
    p = subprocess.Popen(box + ["python3", script], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=proj, text=True)
    p.stdout.readline()
    time.sleep(1)
    rss = 0
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    p.communicate()

    base = statistics.median(speed["direct"])
    rows = ["| variant | median MiB/s | ratio to direct |", "|---|---:|---:|"]
    for name, v in speed.items():
        m = statistics.median(v)
        rows.append("| %s | %.0f | %.2fx |" % (name, m, m / base))
    d = statistics.median(ttfb["direct"]) * 1000
    pr = statistics.median(ttfb["proxy"]) * 1000
    body = "\n".join([
        "A %d MiB download from a loopback server by curl: directly on the host, and inside "
        "`agentbox run --net proxy` through the proxy (absolute-URI request; and `curl -p`, "
        "the same through a CONNECT tunnel). %d interleaved rounds." % (args.size >> 20,
                                                                        args.rounds),
        "", *rows, "",
        "Time to first byte of a 2-byte response, each on a new server connection (the "
        "server closes after every response; %d per variant and round): direct %.2f ms, "
        "through the proxy %.2f ms median (%+.2f ms)."
        % (args.small, d, pr, pr - d),
        "",
        "agentbox resident memory with 1,000 idle CONNECT tunnels open: %.1f MiB." % (rss / 1024),
        "",
        "Load average during the run: %s (other builds share these cores: the proxied path "
        "has more thread hand-offs than the direct one, so it suffers more from a busy CPU)."
        % " ".join(open("/proc/loadavg").read().split()[:3]),
    ])
    print(body)
    results.write_section(args.results, "proxy", body)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
