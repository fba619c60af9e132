#!/usr/bin/env python3
"""The network proxy's cost, in one paired run (the variants alternate round by round, each
round in a new random order):

- throughput: a 1 GiB download from a loopback server by curl (to /dev/null), directly on the
  host and from inside `agentbox run --net proxy`: plain http through the proxy (absolute-URI
  request), the same bytes through a CONNECT tunnel (`curl -p`), and HTTPS to a host the proxy
  intercepts (`--secret`, a test CA trusted through AGENTBOX_TEST_CA as
  tests/conformance/test_secrets.py does), paired with curl straight to the same HTTPS server;
- time to first byte of small requests, each on a new connection (plain and intercepted; and
  plain and HTTPS direct from inside `agentbox run --net host`, to compare inside against
  inside: a command in the sandbox is in a session, and so a scheduler autogroup, of its own,
  which on a loaded machine waits longer for a CPU than the host's curl does, proxy or not);
- agentbox's memory: the supervisor's VmHWM and VmRSS with 500 concurrent slow downloads
  through the proxy, and with 1,000 idle CONNECT tunnels open.

Targets (issue 20): plain proxy >= 0.8x direct; intercepted HTTPS >= 0.3x direct TLS, time to
first byte +<= 1 ms; 500 concurrent downloads in <= 16 MiB. The plain server sends from a memfd
with sendfile(2), so that the bench's own copies do not decide the ratios. Usage:
    bench/proxy.py AGENTBOX [--rounds N] [--size BYTES] [--small N] [--results bench/RESULTS.md]
                        [--portable] [--baseline OLD_AGENTBOX] [--ttfb]
With --baseline, the proxied variants run a second time with another binary (an older build)
in the same rounds: an A/B comparison at the same load. With --portable, the plain and CONNECT downloads and the 500 downloads are measured a second
time on the proxy's portable I/O (a read/write pump and a self-pipe, what macOS uses;
AGENTBOX_TEST_PORTABLE_NET=1), in the same rounds.
"""
import argparse
import os
import random
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

NAME = "bench.test"
TLS_NAME = "secure.test"  # intercepted (every tunnel to it is), so not NAME
SLOW_CHUNK, SLOW_EVERY, SLOW_CHUNKS = 1024, 0.1, 60  # a slow download: 1 KiB per 0.1 s, 6 s


class Server:
    """Answers every request with Content-Length: SIZE bytes (2 bytes for /small; /slow
    trickles) and closes; idle tunnels just stay open. Plain bytes come from a memfd by
    sendfile; over TLS (ctx) they are written by the ssl module."""

    def __init__(self, size, ctx=None):
        self.size, self.ctx = size, ctx
        self.block = memoryview(b"x" * (1 << 20))
        if not ctx:
            self.src = os.memfd_create("bench")
            os.write(self.src, bytes(self.block) * 64)  # 64 MiB, sent over and over
            self.src_size = 64 << 20
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
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
            # The response goes out as the proxy sends it: without Nagle, so that a small body
            # written after its head is not held for the client's delayed ACK (the direct and
            # proxied lines would then measure the same 40 ms, not the proxy).
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ctx:
                c = self.ctx.wrap_socket(c, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                b = c.recv(4096)
                if not b:
                    return
                head += b
            path = head.split(b"\r\n", 1)[0].split(b" ")[1]
            slow = path.endswith(b"/slow")
            n = 2 if path.endswith(b"/small") else SLOW_CHUNK * SLOW_CHUNKS if slow else self.size
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n
            if n <= len(self.block) and not slow:
                # A small response in one write (one TLS record), as servers send them.
                c.sendall(head + self.block[:n])
                return
            c.sendall(head)
            if slow:
                for _ in range(SLOW_CHUNKS):
                    time.sleep(SLOW_EVERY)
                    c.sendall(self.block[:SLOW_CHUNK])
            elif self.ctx:
                while n > 0:
                    k = min(n, len(self.block))
                    c.sendall(self.block[:k])
                    n -= k
            else:
                while n > 0:
                    off = 0
                    while n > 0 and off < self.src_size:
                        k = os.sendfile(c.fileno(), self.src, off, min(n, self.src_size - off))
                        off += k
                        n -= k
        except OSError:
            pass
        finally:
            c.close()


def curl_args(url, n=1, extra=()):
    fmt = "%{size_download} %{time_starttransfer} %{time_total}\\n"
    argv = ["curl", "-s", *extra, "-w", fmt]
    for _ in range(n):
        argv += ["-o", "/dev/null", url]  # -o applies to one URL each
    return argv


def parse(out):
    rows = [line.split() for line in out.strip().splitlines()]
    return [(int(float(a)), float(b), float(c)) for a, b, c in rows]


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def throwaway_ca(directory):
    """A self-signed certificate for TLS_NAME (the test CA of the HTTPS server); (cert, key)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "1", "-subj", "/CN=" + TLS_NAME, "-addext", "subjectAltName=DNS:" + TLS_NAME],
                   check=True, capture_output=True)
    os.chmod(cert, 0o644)
    return cert, key


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
    ap.add_argument("--downloads", type=int, default=500, help="concurrent slow downloads")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    ap.add_argument("--ttfb", action="store_true",
                    help="only the time to first byte (direct and proxied; prints)")
    ap.add_argument("--portable", action="store_true",
                    help="also measure the proxy's portable I/O (AGENTBOX_TEST_PORTABLE_NET=1)")
    ap.add_argument("--captured", action="store_true",
                    help="only compare captured connections with proxied ones (prints)")
    ap.add_argument("--baseline", metavar="AGENTBOX",
                    help="another agentbox binary (an older build, say): its proxied variants "
                         "run in the same rounds as this one's, marked [baseline], for an A/B "
                         "comparison at the same load")
    args = ap.parse_args()
    args.agentbox = os.path.realpath(args.agentbox)
    if args.baseline:
        args.baseline = os.path.realpath(args.baseline)
    if args.results:
        args.results = os.path.abspath(args.results)  # the bench runs from its own directory
    if args.captured:
        return captured(args)
    load_start = " ".join(open("/proc/loadavg").read().split()[:3])

    work = tempfile.mkdtemp(prefix="abbench-proxy-")
    os.chmod(work, 0o755)
    cert, key = throwaway_ca(work)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(args.size)
    tls = Server(args.size, ctx)
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    os.chdir(proj)  # the sandboxed command starts here; it must be visible inside
    env = dict(os.environ, AGENTBOX_TEST_RESOLVE="%s=127.0.0.1,%s=127.0.0.1" % (NAME, TLS_NAME),
               AGENTBOX_TEST_CA=cert,
               BENCH_TOKEN="bench-token-" + os.urandom(8).hex())
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    box = ["run", "-q", "--on-exit", "keep", "-C", proj, "--net", "proxy"]
    for name, port in ((NAME, srv.port), (TLS_NAME, tls.port)):
        box += ["--allow-host", "%s:%d" % (name, port), "--allow-host", "127.0.0.1:%d" % port]
    # The baseline binary (--baseline) runs the same commands as this one.
    base_box = [args.baseline] + box if args.baseline else None
    box = [args.agentbox] + box
    # A secret bound to TLS_NAME makes the proxy intercept its HTTPS; the run trusts its own CA.
    # Only the HTTPS variants carry it: the plain ones (and the memory figures) are measured
    # as a run without secrets is, without OpenSSL loaded.
    # Inside, curl would trust the run's merged bundle (the system's CAs and the run's), which
    # it parses again for every connection (tens of ms on a busy machine): it is given the
    # run's CA alone (the bundle's last certificate), as the direct line is given the test CA
    # alone, so that the comparison times the proxy, not PEM parsing.
    tbox = box + ["--secret", "BENCH_TOKEN@" + TLS_NAME, "--", "sh", "-c",
                  "awk '/BEGIN CERT/{c=\"\"} {c=c $0 \"\\n\"} END{printf \"%s\", c}' "
                  "\"$SSL_CERT_FILE\" > run-ca.pem && exec \"$@\"", "sh", "--cacert", "run-ca.pem"]
    box = box + ["--"]
    http = "http://%s:%d" % (NAME, srv.port)
    https = "https://%s:%d" % (TLS_NAME, tls.port)
    direct_tls = ["--cacert", cert, "--resolve", "%s:%d:127.0.0.1" % (TLS_NAME, tls.port)]

    # name -> (baseline it is paired with, argv of one big download). Another way into the
    # proxy (engineer c's "captured", say) is one more row here.
    variants = {
        "direct": ("direct", curl_args("http://127.0.0.1:%d/big" % srv.port)),
        "proxy (http)": ("direct", box + curl_args(http + "/big")),
        "proxy (CONNECT)": ("direct", box + curl_args(http + "/big", extra=["-p"])),
        "direct TLS": ("direct TLS", curl_args(https + "/big", extra=direct_tls)),
        "intercepted HTTPS": ("direct TLS", tbox[:-2] + curl_args(https + "/big", extra=tbox[-2:])),
    }
    # The proxied rows once more with the baseline binary, paired with the same baselines.
    def rebase(argv):
        return [args.baseline if a == args.agentbox else a for a in argv]
    baseline_names = []
    if args.baseline:
        for name in ("proxy (http)", "proxy (CONNECT)", "intercepted HTTPS"):
            base, argv = variants[name]
            variants[name + " [baseline]"] = (base, rebase(argv))
            baseline_names.append(name)
    portable = ["env", "AGENTBOX_TEST_PORTABLE_NET=1"]
    if args.portable:
        variants["portable proxy (http)"] = ("direct", portable + box + curl_args(http + "/big"))
        variants["portable proxy (CONNECT)"] = (
            "direct", portable + box + curl_args(http + "/big", extra=["-p"]))
    # Direct TLS from inside a sandbox with the host's network: the same connect gate and
    # sandbox as the intercepted line, without the proxy, so that the two compare inside
    # against inside. Its CA is copied into the project, which is what the sandbox sees.
    shutil.copy(cert, os.path.join(proj, "bench-ca.pem"))
    hostbox = [args.agentbox, "run", "-q", "--on-exit", "discard", "-C", proj, "--net", "host",
               "--"]
    inside_tls = ["--cacert", "bench-ca.pem"] + direct_tls[2:]
    # name -> argv of SMALL first-byte requests, each on a new connection.
    firsts = {
        "direct": curl_args("http://127.0.0.1:%d/small" % srv.port, args.small),
        "proxy": box + curl_args(http + "/small", args.small),
        "direct TLS": curl_args(https + "/small", args.small, extra=direct_tls),
        "direct TLS inside": hostbox + curl_args(https + "/small", args.small, extra=inside_tls),
        # Plain HTTP the same way: the proxied line's curl runs in the sandbox's own session
        # (its own scheduler autogroup); this one too, without the proxy (design note 84).
        "direct inside": hostbox + curl_args("http://127.0.0.1:%d/small" % srv.port, args.small),
        "intercepted HTTPS": tbox[:-2] + curl_args(https + "/small", args.small, extra=tbox[-2:]),
    }
    if args.baseline:
        for name in ("proxy", "direct inside", "direct TLS inside", "intercepted HTTPS"):
            firsts[name + " [baseline]"] = rebase(firsts[name])

    def run(argv):
        p = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=proj)
        if p.returncode != 0:
            raise SystemExit("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr))
        return parse(p.stdout)

    speed = {name: [] for name in variants}
    # Time to first byte: of each run's first request (the proxy's first connection to the
    # host: no session to resume anywhere) and of the ones after it (repeated connections,
    # which a client and the proxy may resume).
    ttfb = {name: [] for name in firsts}
    ttfb_first = {name: [] for name in firsts}
    rng = random.Random()
    for _ in range(args.rounds):
        order = list(variants.items())
        rng.shuffle(order)
        for name, (_, argv) in ([] if args.ttfb else order):
            (size, _, total), = run(argv)
            if size != args.size:
                raise SystemExit("%s: got %d bytes, expected %d" % (name, size, args.size))
            speed[name].append(size / total / 2**20)
        order = list(firsts.items())
        rng.shuffle(order)
        for name, argv in order:
            times = [t for _, t, _ in run(argv)]
            ttfb_first[name].append(times[0])
            ttfb[name] += times[1:]

    med = {name: statistics.median(v) * 1000 for name, v in ttfb.items()}
    med1 = {name: statistics.median(v) * 1000 for name, v in ttfb_first.items()}
    ttfb_text = (
        "Time to first byte of a 2-byte response, each on a new server connection (the "
        "server closes after every response and sends it in one write, without Nagle; %d "
        "requests per variant and round, by one curl), medians of the repeated connections: "
        "plain direct %.2f ms, through the proxy %.2f ms (%+.2f ms); HTTPS direct %.2f ms, "
        "intercepted %.2f ms (**%+.2f ms**: two TLS handshakes instead of one, both resuming a kept session). "
        "The first connection of each run (no session to resume; %d runs): HTTPS direct "
        "%.2f ms, intercepted %.2f ms (%+.2f ms)."
        % (args.small, med["direct"], med["proxy"], med["proxy"] - med["direct"],
           med["direct TLS"], med["intercepted HTTPS"],
           med["intercepted HTTPS"] - med["direct TLS"], args.rounds, med1["direct TLS"],
           med1["intercepted HTTPS"], med1["intercepted HTTPS"] - med1["direct TLS"]))
    ttfb_text += (
        " Plain direct from inside `agentbox run --net host` (the same sandbox and session as "
        "the proxied curl, no proxy): %.2f ms, so through the proxy against direct, both "
        "inside: **%+.2f ms**." % (med["direct inside"], med["proxy"] - med["direct inside"]))
    ttfb_text += (
        " HTTPS direct from inside `agentbox run --net host` (the sandbox and its connect gate, "
        "no proxy): %.2f ms, so intercepted against direct, both inside: **%+.2f ms**; first "
        "connection %.2f ms (%+.2f ms)."
        % (med["direct TLS inside"], med["intercepted HTTPS"] - med["direct TLS inside"],
           med1["direct TLS inside"], med1["intercepted HTTPS"] - med1["direct TLS inside"]))
    if args.baseline:
        ttfb_text += " The baseline binary, HTTPS direct inside --net host: %.2f ms " \
                     "(%+.2f ms over the host's direct TLS)." % (
                         med["direct TLS inside [baseline]"],
                         med["direct TLS inside [baseline]"] - med["direct TLS"])
        ttfb_text += " The baseline binary (`%s`), same rounds: through the proxy %.2f ms " \
                     "(%+.2f ms; %+.2f ms against its direct inside); intercepted %.2f ms " \
                     "(%+.2f ms; **%+.2f ms** against its direct TLS inside), first connection " \
                     "%.2f ms (%+.2f ms)." % (
                         os.path.basename(args.baseline), med["proxy [baseline]"],
                         med["proxy [baseline]"] - med["direct"],
                         med["proxy [baseline]"] - med["direct inside [baseline]"],
                         med["intercepted HTTPS [baseline]"],
                         med["intercepted HTTPS [baseline]"] - med["direct TLS"],
                         med["intercepted HTTPS [baseline]"] - med["direct TLS inside [baseline]"],
                         med1["intercepted HTTPS [baseline]"],
                         med1["intercepted HTTPS [baseline]"] - med1["direct TLS"])
    # Whether the figures were taken under real-time priority (`chrt`), which takes the
    # scheduler's session groups out of them (design note 84): without it they differ by
    # milliseconds, so the text says which.
    policy = os.sched_getscheduler(0)
    ttfb_text += " Scheduling: %s." % (
        "SCHED_FIFO priority %d (chrt -f), the bench and everything it starts"
        % os.sched_getparam(0).sched_priority if policy == os.SCHED_FIFO else
        "SCHED_RR priority %d (chrt -r), the bench and everything it starts"
        % os.sched_getparam(0).sched_priority if policy == os.SCHED_RR else
        "normal (no chrt): a command inside is in a scheduler group of its own")
    if args.ttfb:
        print(ttfb_text)
        print("load:", open("/proc/loadavg").read().strip())
        subprocess.run(["rm", "-rf", work])
        return

    def supervisor_memory(script_text, extra_env=None):
        """The agentbox supervisor's (VmHWM, VmRSS) in KiB once the script inside prints
        "ready", while what it holds is still open."""
        script = os.path.join(proj, "mem.py")
        with open(script, "w") as f:
            f.write(script_text)
        p = subprocess.Popen(box + ["python3", script], env=dict(env, **(extra_env or {})),
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=proj, text=True)
        line = p.stdout.readline()
        time.sleep(1)
        mem = (status_kib(p.pid, "VmHWM"), status_kib(p.pid, "VmRSS"))
        out, err = p.communicate()
        if not line.startswith("ready") or p.returncode != 0:
            raise SystemExit("memory run failed (%d): %s %s %s" % (p.returncode, line, out, err))
        return mem

    # N concurrent slow downloads (the server trickles 1 KiB per 0.1 s to each).
    downloads_script = """import resource, selectors, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
sel, left, got = selectors.DefaultSelector(), %d, {}
for i in range(left):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"GET %s/slow HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    got[s] = 0
ready, deadline = False, time.monotonic() + 120
while left and time.monotonic() < deadline:
    for key, _ in sel.select(1):
        b = key.fileobj.recv(65536)
        got[key.fileobj] += len(b)
        if not b:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            left -= 1
    if not ready and all(n > 2048 for n in got.values()):
        print("ready", flush=True)  # every download under way
        ready = True
sys.exit(0 if ready and left == 0 else 1)
""" % (args.downloads, http, NAME)
    downloads = supervisor_memory(downloads_script)
    portable_downloads = (supervisor_memory(downloads_script, {"AGENTBOX_TEST_PORTABLE_NET": "1"})
                          if args.portable else None)

    idle = supervisor_memory("""import socket, sys, time, resource
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

    rows = ["| variant | median MiB/s | ratio to direct |", "|---|---:|---:|"]
    for name, (base, _) in variants.items():
        m = statistics.median(speed[name])
        ratio = m / statistics.median(speed[base])
        label = name if base == "direct" else "%s (ratio to %s)" % (name, base)
        rows.append("| %s | %.0f | %.2fx |" % (label, m, ratio))
    load_end = " ".join(open("/proc/loadavg").read().split()[:3])
    body = "\n".join([
        "A %d MiB download from a loopback server by curl (to /dev/null; the server sends with "
        "sendfile): directly on the host, and inside `agentbox run --net proxy` through the "
        "proxy (absolute-URI request; `curl -p`, the same through a CONNECT tunnel, relayed "
        "by splice); and HTTPS from a loopback server with a test CA, straight from the host "
        "(\"direct TLS\") and from inside through the proxy intercepting the host (`--secret`, "
        "AGENTBOX_TEST_CA). %d interleaved rounds, each in a new random order.%s"
        % (args.size >> 20, args.rounds,
           " Rows marked [baseline]: the same through another agentbox binary (`%s`, "
           "`--baseline`), in the same rounds." % os.path.basename(args.baseline)
           if args.baseline else ""),
        "", *rows, "",
        ttfb_text,
        "",
        "agentbox supervisor memory with %d concurrent slow downloads through the proxy "
        "(1 KiB per 0.1 s each): **%.1f MiB** peak (VmHWM), %.1f MiB resident (VmRSS) while "
        "they run (target: at most 16 MiB)." % (args.downloads, downloads[0] / 1024,
                                                downloads[1] / 1024),
        *(["", "The same on the proxy's portable I/O (AGENTBOX_TEST_PORTABLE_NET=1: a "
            "read/write pump and a self-pipe, what macOS uses): **%.1f MiB** peak, %.1f MiB "
            "resident." % (portable_downloads[0] / 1024, portable_downloads[1] / 1024)]
          if portable_downloads else []),
        "",
        "agentbox resident memory with 1,000 idle CONNECT tunnels open: %.1f MiB (peak %.1f "
        "MiB)." % (idle[1] / 1024, idle[0] / 1024),
        "",
        "Load average (1, 5, 15 min) at the start: %s; at the end: %s (other engineers' "
        "builds share these 2 cores: the proxied path has one more process on the data path "
        "than the direct one, so it suffers more from a busy CPU)." % (load_start, load_end),
    ])
    print(body)
    results.write_section(args.results, "proxy", body)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
