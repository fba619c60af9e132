"""Rewrites one section of bench/RESULTS.md, keeping the others, with the machine noted."""
import os
import platform
import re
import subprocess
import time


def machine():
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    distro = ""
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            distro = m.group(1) if m else ""
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {distro}, "
            f"kernel {platform.release()}, run as uid {os.geteuid()}")


def write_section(path, name, body):
    text = open(path).read() if os.path.exists(path) else (
        "# Benchmark results\n\nWritten by `make bench` (bench/run.sh). Shared, noisy "
        "machines: read medians and ratios, not single numbers.\n")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = f"<!-- {name} -->\n## {name}\n\n{stamp} on {machine()}\n\n{body}\n<!-- /{name} -->\n"
    pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text + "\n" + section
    with open(path, "w") as f:
        f.write(text)
