"""Summarizes scripts/bench.sh's results: the median of each figure per broker and the
Riffle/Tansu ratio, printed as a Markdown table and written into README.md's Performance
section (between the bench markers; the section is created before "## Layout" if missing).

usage: summarize.py RESULTS_JSONL README_MD REPETITIONS"""

import datetime
import json
import os
import statistics
import sys

# workload -> [(field, label, better)]; better is "higher" or "lower".
FIGURES = {
    "idle": [("idle_rss_mb", "idle RSS (MB)", "lower")],
    "produce-1KiB-acks1-1p": [
        ("mb_per_s", "MB/s", "higher"),
        ("broker_cpu_s_per_gb", "broker CPU s/GB", "lower"),
        ("broker_peak_rss_mb", "broker peak RSS (MB)", "lower"),
    ],
    "produce-1KiB-acksall-8p": [
        ("mb_per_s", "MB/s", "higher"),
        ("broker_cpu_s_per_gb", "broker CPU s/GB", "lower"),
        ("broker_peak_rss_mb", "broker peak RSS (MB)", "lower"),
    ],
    "consume-1KiB-8p": [
        ("mb_per_s", "MB/s", "higher"),
        ("broker_cpu_s_per_gb", "broker CPU s/GB", "lower"),
    ],
    "produce-100B-acks1-8p": [
        ("msgs_per_s", "msgs/s", "higher"),
        ("broker_cpu_s_per_gb", "broker CPU s/GB", "lower"),
    ],
    "produce-1KiB-acks1-1000p": [
        ("mb_per_s", "MB/s", "higher"),
        ("broker_cpu_s_per_gb", "broker CPU s/GB", "lower"),
        ("broker_peak_rss_mb", "broker peak RSS (MB)", "lower"),
    ],
    "paced-1000msgs-acksall": [
        ("p50_us", "p50 latency (µs)", "lower"),
        ("p99_us", "p99 latency (µs)", "lower"),
        ("p999_us", "p99.9 latency (µs)", "lower"),
        ("broker_cpu_us_per_request", "broker CPU µs/request", "lower"),
    ],
    "lean-1conn-1record": [
        ("requests_per_s", "requests/s", "higher"),
        ("p99_us", "p99 latency (µs)", "lower"),
        ("broker_cpu_us_per_request", "broker CPU µs/request", "lower"),
    ],
    "lean-200conn-10records": [
        ("requests_per_s", "requests/s", "higher"),
        ("p99_us", "p99 latency (µs)", "lower"),
        ("broker_cpu_us_per_request", "broker CPU µs/request", "lower"),
        ("broker_peak_rss_mb", "broker peak RSS (MB)", "lower"),
    ],
    "startup-1000-partitions": [("startup_ms", "start-up to first Metadata (ms)", "lower")],
    "produce-10GiB-acks1-8p": [
        ("mb_per_s", "MB/s", "higher"),
        ("broker_cpu_s_per_gb", "broker CPU s/GB", "lower"),
        ("broker_peak_rss_mb", "broker peak RSS (MB)", "lower"),
    ],
    "recovery-after-sigkill-10GiB": [("startup_ms", "SIGKILL recovery to first Metadata (ms)", "lower")],
}
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def main():
    results_path, readme_path, repetitions = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = [json.loads(line) for line in open(results_path, encoding="utf-8") if line.strip()]
    values, failures = {}, {}
    for row in rows:
        key = (row["broker"], row["workload"])
        if row.get("failed"):
            failures[key] = failures.get(key, 0) + 1
            continue
        for field, _, _ in FIGURES.get(row["workload"], []):
            if field in row:
                values.setdefault((row["broker"], row["workload"], field), []).append(row[field])

    def median(broker, workload, field):
        found = values.get((broker, workload, field))
        return statistics.median(found) if found else None

    def shown(value, broker, workload):
        if value is None:
            return "failed" if (broker, workload) in failures else "n/a"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"

    table = [
        "| workload | figure | Riffle | Tansu | Riffle/Tansu | better |",
        "|---|---|---:|---:|---:|---|",
    ]
    for workload, figures in FIGURES.items():
        for field, label, better in figures:
            riffle, tansu = median("riffle", workload, field), median("tansu", workload, field)
            ratio = f"{riffle / tansu:.2f}" if riffle is not None and tansu else "-"
            table.append(f"| {workload} | {label} | {shown(riffle, 'riffle', workload)} | {shown(tansu, 'tansu', workload)} | {ratio} | {better} |")
    notes = [f"- {broker} {workload}: failed in {count} of {repetitions} repetitions"
             for (broker, workload), count in sorted(failures.items())]
    floor = [row["cpu_us_per_echo"] for row in rows if row.get("workload") == "echo-floor"]
    if floor:
        notes.append(
            f"- Machine floor (`bench/echo_floor.py`): a minimal blocking TCP echo server costs"
            f" {statistics.median(floor):.1f} µs of CPU per round trip here, before any broker work.")

    today = datetime.date.today().isoformat()
    cores = os.cpu_count()
    section = "\n".join([
        BEGIN,
        f"Measured by `scripts/bench.sh` on {today}, {cores} cores, medians of {repetitions}"
        " repetitions. Riffle keeps its log on disk with default durability (each batch written"
        " to its segment file before the acknowledgement; fsync only where `flush.messages` or"
        " `flush.ms` ask, as in Kafka); Tansu 0.6.0 keeps its log in memory. Both are"
        " driven by the same load generator (`bench/riffle_bench.rs`: rdkafka, and a lean protocol"
        " client of its own for the `lean-*` rows) on the same machine. Start-up, the 10 GiB run"
        " and recovery are Riffle's alone (Tansu's memory engine has nothing on disk to reopen)."
        " The machine floor below is what one request at a time costs on this VM before any"
        " broker work (each sleep and wake-up of a thread is dear here).",
        "",
        *table,
        *([""] + notes if notes else []),
        END,
    ])
    print(section)

    readme = open(readme_path, encoding="utf-8").read()
    if BEGIN in readme and END in readme:
        start, end = readme.index(BEGIN), readme.index(END) + len(END)
        readme = readme[:start] + section + readme[end:]
    else:
        anchor = readme.index("## Layout") if "## Layout" in readme else len(readme)
        readme = readme[:anchor] + "## Performance\n\n" + section + "\n\n" + readme[anchor:]
    with open(readme_path, "w", encoding="utf-8") as out:
        out.write(readme)


if __name__ == "__main__":
    main()
