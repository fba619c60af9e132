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


def cells(line):
    return [c.strip() for c in line.strip("|").split("|")]


def sections(results):
    """(name, stamp line, tables, conclusion lines) of each section, in order. A table is
    (caption, header, rows); the caption is the line above it ("Wall time:"), when a section
    has more than one."""
    out = []
    for m in re.finditer(r"<!-- (\w+) -->\n## \w+\n\n(.*?)\n<!-- /\1 -->", results, re.S):
        name, body = m.group(1), m.group(2)
        lines = body.split("\n")
        stamp = lines[0].strip()
        tables, last, caption = [], -1, ""
        for i, line in enumerate(lines):
            if not line.startswith("|"):
                if line.strip():
                    caption = line.strip()
                continue
            if i != last + 1:  # a new table: header, separator, rows
                tables.append((caption.rstrip(":"), cells(line), []))
            elif not re.fullmatch(r"[|\-: ]+", line):
                tables[-1][2].append(cells(line))
            last = i
        if len(tables) < 2:
            tables = [("", h, r) for _, h, r in tables]
        # The lines after the last table: what the section concludes (ratios against targets,
        # memory, latency), as RESULTS.md words them.
        notes = [l.strip() for l in lines[last + 1:] if l.strip()] if tables else []
        out.append((name, stamp, tables, notes))
    return out


def render(results):
    parts = [BEGIN,
             "<!-- written by bench/readme.py from bench/RESULTS.md; edit neither by hand -->", "",
             "| benchmark | what | median | ratio |", "|---|---|---:|---:|"]
    notes = []
    for name, stamp, tables, extra in sections(results):
        if not tables:
            continue
        for caption, header, rows in tables:
            unit = re.sub(r"^median\s*", "", header[1]).strip()
            baseline = re.sub(r"^ratio to\s*", "", header[-1]).strip()
            for row in rows:
                what, median, ratio = row[0], row[1], row[-1]
                if what == "true":  # the bare process start: a floor, not a contender
                    continue
                if caption:
                    what += " (%s)" % caption
                parts.append("| %s | %s | %s %s | %s to %s |"
                             % (name, what, median, unit, ratio, baseline))
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
