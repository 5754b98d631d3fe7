#!/usr/bin/env python3
"""bench/run's summary: reads the raw figures (one JSON object per line: round, system, measure,
value), prints median, min-max and the ratio per measure, and writes OUT.json and OUT.md.
The ratio is always "how many times better Herald is": Herald/BullMQ where higher is better,
BullMQ/Herald where lower is better; above 1 Herald is ahead. The run's context comes from the
BENCH_* environment variables bench/run sets.
Usage: summarize.py RAW.jsonl OUT   (writes OUT.json and OUT.md)"""
import json
import os
import statistics
import sys

# id, what is measured, unit, "higher" or "lower" is better
MEASURES = [
    ("queue_per_s", "queue only: claim + ack, no I/O", "deliveries/s", "higher"),
    ("pickup_ms", "queue only: alert pickup, median (Herald behind the backlog, BullMQ on an "
     "empty queue)", "ms", "lower"),
    ("e2e_per_s", "end to end: waiting backlog drained, one HTTP POST each, 50 in flight",
     "deliveries/s", "higher"),
    ("ingest_per_s", "ingest: one item per request, 32 in flight", "items/s", "higher"),
    ("batch_per_s", "ingest: batches of 1,000", "items/s", "higher"),
    ("busy_alert_p50_ms", "alert latency, channel busy with 1 s calls: p50", "ms", "lower"),
    ("busy_alert_p99_ms", "alert latency, channel busy with 1 s calls: p99", "ms", "lower"),
    ("drain_alert_p50_ms", "alert latency during a full-speed drain: p50", "ms", "lower"),
    ("drain_alert_p99_ms", "alert latency during a full-speed drain: p99", "ms", "lower"),
    ("waiting_bytes", "Redis memory per waiting item", "bytes", "lower"),
    ("kept_bytes", "Redis memory kept per published delivery (ledger/audit, completed job)",
     "bytes", "lower"),
    ("rss_mb", "process RSS with the waiting items (heraldd / node Worker+Queue)", "MiB", "lower"),
    ("idle_cmds_per_s", "idle: Redis commands/s (one heraldd / one Worker)", "commands/s",
     "lower"),
]


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def main():
    raw, out = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(raw, encoding="utf-8") if line.strip()]
    env = os.environ
    result = {
        "command": env.get("BENCH_COMMAND", ""),
        "date": env.get("BENCH_DATE", ""),
        "commit": env.get("BENCH_COMMIT", ""),
        "heraldd_build": env.get("BENCH_BUILD", ""),
        "bullmq": env.get("BENCH_BULLMQ", ""),
        "rounds": int(env.get("BENCH_ROUNDS", "0")),
        "seconds": int(env.get("BENCH_SECONDS", "0")),
        "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}",
        "load_average_at_end": env.get("BENCH_LOAD", ""),
        "sink_req_per_s": float(env.get("BENCH_SINK_RATE", "0")),
        "sink_tool": env.get("BENCH_SINK_TOOL", ""),
        "sink_req_per_cpu_s": int(env.get("BENCH_SINK_CAPACITY", "0")),
        "sizes": env.get("BENCH_SIZES", ""),
        "ratio": "times better Herald is: Herald/BullMQ if higher is better, BullMQ/Herald if lower",
        "measures": [],
    }
    for mid, label, unit, better in MEASURES:
        h = stats([r["value"] for r in rows if r["measure"] == mid and r["system"] == "herald"])
        b = stats([r["value"] for r in rows if r["measure"] == mid and r["system"] == "bullmq"])
        ratio = None
        if h and b and h["median"] and b["median"]:
            ratio = h["median"] / b["median"] if better == "higher" else b["median"] / h["median"]
        result["measures"].append({"id": mid, "label": label, "unit": unit, "better": better,
                                   "herald": h, "bullmq": b, "ratio": ratio})

    def cell(s):
        if not s:
            return "n/a"
        if len(s["values"]) == 1:
            return fmt(s["median"])
        return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"

    lines = [
        f"# Herald vs BullMQ {result['bullmq']}",
        "",
        f"`{result['command']}` on {result['date']} at {result['commit']}: {result['rounds']} "
        f"round(s), {result['seconds']} s; heraldd "
        f"{result['heraldd_build']}; {result['machine']}, load average at the end "
        f"{result['load_average_at_end']}. Sizes: {result['sizes']}. The sink alone "
        f"({result['sink_tool']}, sharing the cores): {result['sink_req_per_s']:,.0f} req/s; "
        f"{result['sink_req_per_cpu_s']:,} requests per CPU-second of the sink.",
        "",
        "Median (min–max) over the rounds. Ratio: how many times better Herald is (Herald/BullMQ "
        "where higher is better, BullMQ/Herald where lower is better); above 1, Herald is ahead.",
        "",
        "| measure | unit | better | Herald | BullMQ | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in result["measures"]:
        lines.append(f"| {m['label']} | {m['unit']} | {m['better']} | {cell(m['herald'])} | "
                     f"{cell(m['bullmq'])} | {fmt(m['ratio']) + 'x' if m['ratio'] else 'n/a'} |")
    text = "\n".join(lines) + "\n"
    with open(out + ".json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(out + ".md", "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    print(f"bench: wrote {out}.json and {out}.md")


if __name__ == "__main__":
    main()
