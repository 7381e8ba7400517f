"""Renders the compatibility matrix from the per-client results that scripts/compat.sh
collected (`<work>/<column>/results`: `CLIENT ...` and `RESULT <scenario> <outcome> <detail>`
lines, or one `INSTALL_FAILED <detail>` line).

usage: matrix.py WORK_DIR RESULTS_MD_OR_EMPTY COLUMN...

Prints the matrix, the detail of every failure and n/a, and the closing line
"N passed, M failed"; writes the same as Markdown to RESULTS_MD unless it is empty.
Exits 1 if any cell failed. A scenario a client did not report counts as failed."""

import datetime
import os
import re
import sys

SCENARIOS = [
    "metadata",
    "create-topic",
    "produce-none",
    "produce-gzip",
    "produce-snappy",
    "produce-lz4",
    "produce-zstd",
    "consume-assign",
    "group-resume",
    "group-split",
    "admin-groups",
    "delete-topic",
    "broker-log",
]


def load(work, column):
    """(version, {scenario: (outcome, detail)}, [extra scenario ids in order])"""
    version, cells, extras = "?", {}, []
    path = os.path.join(work, column, "results")
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines() if os.path.exists(path) else []
    for line in lines:
        if line.startswith("INSTALL_FAILED"):
            detail = "install failed: " + line[len("INSTALL_FAILED"):].strip()
            detail = re.sub(r"(\d+) (passed|failed)", r"\1_\2", detail)
            return "not installed", {s: ("fail", detail) for s in SCENARIOS}, []
        if line.startswith("CLIENT "):
            version = line[len("CLIENT "):].strip()
            continue
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[2] not in ("pass", "fail", "n/a"):
            continue
        scenario, outcome, detail = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
        # Only the closing line may read "N passed, M failed" (scripts/test.sh sums it).
        detail = re.sub(r"(\d+) (passed|failed)", r"\1_\2", detail)
        if scenario in cells:
            # Reported twice: the worse outcome stands (fail, then n/a, then pass).
            rank = {"pass": 0, "n/a": 1, "fail": 2}
            if rank[outcome] <= rank[cells[scenario][0]]:
                continue
        elif scenario not in SCENARIOS:
            extras.append(scenario)
        cells[scenario] = (outcome, detail)
    for scenario in SCENARIOS:
        cells.setdefault(scenario, ("fail", "not reported"))
    return version, cells, extras


def main():
    work, results_md, columns = sys.argv[1], sys.argv[2], sys.argv[3:]
    loaded = {column: load(work, column) for column in columns}
    extras = []
    for column in columns:
        extras += [e for e in loaded[column][2] if e not in extras]
    rows = SCENARIOS + extras

    def cell(column, scenario):
        outcome = loaded[column][1].get(scenario, ("", ""))[0]
        return {"pass": "pass", "fail": "FAIL", "n/a": "n/a", "": "-"}[outcome]

    passed = sum(1 for c in columns for s in rows if cell(c, s) == "pass")
    failed = sum(1 for c in columns for s in rows if cell(c, s) == "FAIL")
    notes = [
        (c, s, loaded[c][1][s][0], loaded[c][1][s][1])
        for c in columns
        for s in rows
        if s in loaded[c][1] and loaded[c][1][s][0] != "pass"
    ]

    width = max(len(r) for r in rows)
    widths = [max(len(c), 4) for c in columns]
    print("=== compatibility matrix")
    print(" " * width + "  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for scenario in rows:
        print(scenario.ljust(width) + "  " + "  ".join(cell(c, scenario).ljust(w) for c, w in zip(columns, widths)))
    for column in columns:
        print(f"{column}: {loaded[column][0]}")
    for column, scenario, outcome, detail in notes:
        print(f"{outcome} {column} {scenario}: {detail}")

    if results_md:
        today = datetime.date.today().isoformat()
        out = [
            "# Client compatibility matrix",
            "",
            f"Written by `scripts/compat.sh` on {today}: each client against a fresh Riffle.",
            "Scenarios are defined in `compat/README.md`; rows below `broker-log` are a client's",
            "extra checks. `-` means the client has no such extra check.",
            "",
            "| scenario | " + " | ".join(columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for scenario in rows:
            out.append(f"| {scenario} | " + " | ".join(cell(c, scenario) for c in columns) + " |")
        out += ["", "## Client versions", ""]
        out += [f"- {column}: {loaded[column][0]}" for column in columns]
        out += ["", "## Failures and n/a", ""]
        out += [f"- {c} `{s}` {o}: {d}" for c, s, o, d in notes] or ["None."]
        out += ["", f"{passed} passed, {failed} failed", ""]
        with open(results_md, "w", encoding="utf-8") as target:
            target.write("\n".join(out))

    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
