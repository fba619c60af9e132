#!/usr/bin/env python3
"""Rewrites the figures of README.md's Performance section from bench/RESULTS.md, so that the
README quotes what the last `make bench` measured and nothing else.

The part between <!-- bench:begin --> and <!-- bench:end --> in README.md becomes one table:
every row of every table in RESULTS.md (benchmark, what ran, its median, its ratio to the
baseline that section names), then each section's conclusion lines and when and where it ran.

Usage: bench/readme.py [--results bench/RESULTS.md] [--readme README.md] [--check]
  --check  exit 1 (and say so) when README.md is not what RESULTS.md gives; change nothing
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def sections(results):
    """(name, stamp line, table header, rows, conclusion lines) of each section, in order."""
    out = []
    for m in re.finditer(r"<!-- (\w+) -->\n## \w+\n\n(.*?)\n<!-- /\1 -->", results, re.S):
        name, body = m.group(1), m.group(2)
        lines = body.split("\n")
        stamp = lines[0].strip()
        table = [l for l in lines if l.startswith("|")]
        header = [c.strip() for c in table[0].strip("|").split("|")] if table else []
        rows = [[c.strip() for c in l.strip("|").split("|")] for l in table[2:]]
        # The lines after the table: what the section concludes (ratios against targets,
        # memory, latency), as RESULTS.md words them.
        after = lines[lines.index(table[-1]) + 1:] if table else []
        notes = [l.strip() for l in after if l.strip()]
        out.append((name, stamp, header, rows, notes))
    return out


def render(results):
    parts = [BEGIN,
             "<!-- written by bench/readme.py from bench/RESULTS.md; edit neither by hand -->", "",
             "| benchmark | what | median | ratio |", "|---|---|---:|---:|"]
    notes = []
    for name, stamp, header, rows, extra in sections(results):
        if not header:
            continue
        unit = re.sub(r"^median\s*", "", header[1]).strip()
        baseline = re.sub(r"^ratio to\s*", "", header[-1]).strip()
        for row in rows:
            what, median, ratio = row[0], row[1], row[-1]
            if what == "true":  # the bare process start: a floor, not a contender
                continue
            parts.append("| %s | %s | %s %s | %s to %s |" % (name, what, median, unit, ratio, baseline))
        notes += ["- %s: %s" % (name, n) for n in extra]
        notes.append("- %s: measured %s" % (name, stamp))
    return "\n".join(parts + [""] + notes + [END])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--readme", default=os.path.join(HERE, "..", "README.md"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    with open(args.results) as f:
        block = render(f.read())
    with open(args.readme) as f:
        readme = f.read()
    m = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), readme, re.S)
    if not m:
        sys.exit("%s has no %s ... %s section" % (args.readme, BEGIN, END))
    if args.check:
        if m.group(0) != block:
            sys.exit("%s does not quote %s: run bench/readme.py" % (args.readme, args.results))
        return
    with open(args.readme, "w") as f:
        f.write(readme[:m.start()] + block + readme[m.end():])


if __name__ == "__main__":
    main()
