#!/usr/bin/env python3
"""The device check's report: lem's figures beside the independent logger's, from the raw files.

Reads the check's work folder (lem's run folder under results/, logger.csv and logger.json, the
server's stats, gpu.csv, torch.json, check/bundle.json) and writes report.json and report.md to
--out. The comparison:

- lem's window energy (its counter read at the measure phase's edges) against the logger's
  counter interpolated at the same instants. The instants are lem's boundary reads (the middle of
  each read) on lem's monotonic clock, put on the wall clock through the anchor lem records
  (`clock.wallMs` at `clock.t0Ns`); the logger's samples carry their own wall time.
- lem's counter against lem's integrated power, and the logger's likewise.
- one NVML read's cost, the samplers' jitter, idle power, energy per output token.
- whether the counter moved at all: a counter that never moves (a virtualised driver) leaves the
  integrated power as the only reading, and the report says so and compares that, labelled.

Exit 0: lem and the logger agree within --agree-pct; 3: they do not, or the counter never moved.
"""
import argparse
import csv
import glob
import json
import os
import sys
import time

from logger import percentiles  # the logger's summary uses the same p50 / p99 / max


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


class Log:
    """The logger's samples: wall and monotonic ns, counter mJ (None where not offered), power mW."""

    def __init__(self, path):
        self.wall, self.mono, self.energy, self.power = [], [], [], []
        with open(path) as f:
            for row in csv.DictReader(f):
                if row.get("power_read_ns") in (None, ""):
                    continue  # a line cut short when the logger stopped
                self.wall.append(int(row["wall_ns"]))
                self.mono.append(int(row["mono_ns"]))
                self.energy.append(int(row["energy_mj"]) if row["energy_mj"] else None)
                self.power.append(int(row["power_mw"]))
        if len(self.wall) < 2:
            raise SystemExit(f"report: {path} has {len(self.wall)} samples")
        self.has_counter = all(e is not None for e in self.energy)

    def bracket(self, times, t):
        """i such that times[i] <= t <= times[i + 1]; None outside the log."""
        if not times[0] <= t <= times[-1]:
            return None
        lo, hi = 0, len(times) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if times[mid] <= t else (lo, mid)
        return lo

    def at(self, values, t, clock="wall"):
        """values interpolated linearly at t (ns on `clock`)."""
        times = self.wall if clock == "wall" else self.mono
        i = self.bracket(times, t)
        if i is None:
            raise SystemExit(f"report: the logger's samples ({times[0]}..{times[-1]} ns) do not cover {t} ns on the {clock} clock")
        span = times[i + 1] - times[i]
        frac = (t - times[i]) / span if span else 0.0
        return values[i] + (values[i + 1] - values[i]) * frac

    def counter_j(self, start, end, clock="wall"):
        return (self.at(self.energy, end, clock) - self.at(self.energy, start, clock)) / 1000

    def integrated_j(self, start, end):
        """Trapezoid of power over [start, end] on the wall clock, J."""
        points = [(start, self.at(self.power, start))]
        points += [(t, p) for t, p in zip(self.wall, self.power) if start < t < end]
        points.append((end, self.at(self.power, end)))
        return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(points, points[1:])) / 1e12

    def mean_power_w(self, start, end):
        return self.integrated_j(start, end) / ((end - start) / 1e9)

    def counter_moved(self, start=None, end=None):
        inside = [e for t, e in zip(self.wall, self.energy) if e is not None and (start is None or start <= t <= end)]
        return len(inside) >= 2 and max(inside) > min(inside)

    def counter_update_ms(self):
        """Median time between changes of the counter's value: how often the driver updates it."""
        changes = [t for t, e0, e1 in zip(self.mono[1:], self.energy, self.energy[1:]) if e0 is not None and e1 != e0]
        gaps = percentiles([b - a for a, b in zip(changes, changes[1:])], 1e-6)
        return gaps["p50"] if gaps else None

    def clock_offset_ns(self):
        """wall − monotonic, as the logger saw it (median)."""
        return percentiles([w - m for w, m in zip(self.wall, self.mono)])["p50"]


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def pct(a, b):
    r = ratio(a, b)
    return (r - 1) * 100 if r is not None else None


class Run:
    """lem's run: result.json and timeline.csv, and its instants on the wall and monotonic clocks."""

    def __init__(self, work):
        experiment = load_json(os.path.join(work, "experiment.json"), {})
        run_dir = experiment.get("runDir") or (sorted(glob.glob(os.path.join(work, "results", "*", "result.json"))) or [""])[-1].removesuffix("/result.json")
        self.dir = run_dir
        self.result = load_json(os.path.join(run_dir, "result.json"))
        if self.result is None:
            raise SystemExit(f"report: no result.json under {work}/results")
        clock = self.result["clock"]
        self.anchor_wall_ns = int(clock["wallMs"]) * 1_000_000
        self.t0_ns = int(clock["t0Ns"])
        self.metrics = self.result["metrics"]

    def boundary(self, label):
        return next((b for b in self.result["boundaries"] if b["label"] == label), None)

    def window_ms(self):
        """lem's energy window: its measure boundaries' counter reads, ms since t0."""
        return self.edge_ms("measure:start"), self.edge_ms("measure:end")

    def edge_ms(self, label):
        """The instant lem read the counter at a boundary: the middle of its nvml read (ms since t0)."""
        b = self.boundary(label)
        read = next((r for r in b["reads"] if r["meter"] == "nvml"), None) if b else None
        if read is None:
            raise SystemExit(f"report: lem's result has no nvml read at {label}")
        return (read["readStartMs"] + read["readEndMs"]) / 2

    def wall_ns(self, ms):
        return self.anchor_wall_ns + round(ms * 1e6)

    def mono_ns(self, ms):
        return self.t0_ns + round(ms * 1e6)

    def nvml_read_us(self):
        """lem's whole nvml read per sample (energy, power, temperature, clocks, memory, processes), µs."""
        times = []
        with open(os.path.join(self.dir, "timeline.csv")) as f:
            for row in csv.DictReader(f):
                if row["meter"] == "nvml" and row["read_start_ms"] and row["read_end_ms"]:
                    times.append((float(row["read_end_ms"]) - float(row["read_start_ms"])) * 1000)
        return percentiles(times)


def window_figures(run, log, window_ms, moved):
    """Both sides over lem's window: counter, integrated power, per token, and the alignment check."""
    m = run.metrics
    energy = m["energy"]
    gpu = (m.get("gpus") or [{}])[0]
    start_ms, end_ms = window_ms
    start, end = run.wall_ns(start_ms), run.wall_ns(end_ms)
    seconds = (end - start) / 1e9
    output_tokens = m["tokens"]["output"]
    lem_j = next((c["energyJ"] for c in energy["channels"] if c["meter"] == "nvml"), None)
    logger_counter_j = log.counter_j(start, end) if log.has_counter else None
    logger_integrated_j = log.integrated_j(start, end)
    logger_j = logger_counter_j if moved else logger_integrated_j  # a still counter says nothing: power does
    # The same window placed through the monotonic clocks instead (lem's t0Ns, the logger's mono_ns):
    # on one machine both placements must agree, which checks the wall-clock anchor itself.
    mono_j = log.counter_j(run.mono_ns(start_ms), run.mono_ns(end_ms), clock="mono") if log.has_counter else None
    anchor_offset_ms = ((run.anchor_wall_ns - run.t0_ns) - log.clock_offset_ns()) / 1e6
    return {
        "windowS": seconds,
        "edges": {"startWallMs": start / 1e6, "endWallMs": end / 1e6},
        "outputTokens": output_tokens,
        "requests": m["requests"],
        "lem": {
            "energyJ": lem_j,
            "uncertaintyJ": energy.get("uncertaintyJ"),
            "counterEnergyJ": gpu.get("counterEnergyJ"),
            "integratedPowerJ": gpu.get("integratedPowerJ"),
            "counterOverIntegrated": ratio(gpu.get("counterEnergyJ"), gpu.get("integratedPowerJ")),
            "energyPerOutputTokenJ": energy.get("energyPerOutputTokenJ"),
            "avgPowerW": energy.get("avgPowerW"),
            "peakPowerW": energy.get("peakPowerW"),
            "outputTokensPerS": m.get("outputTokensPerS"),
        },
        "logger": {
            "counterEnergyJ": logger_counter_j,
            "integratedPowerJ": logger_integrated_j,
            "counterOverIntegrated": ratio(logger_counter_j, logger_integrated_j),
            "energyPerOutputTokenJ": ratio(logger_j, output_tokens),
            "avgPowerW": logger_j / seconds,
            "counterEnergyMonotonicJ": mono_j,
        },
        "alignment": {
            "anchorVsLoggerClockMs": anchor_offset_ms,
            "wallVsMonotonicJ": (logger_counter_j - mono_j) if mono_j is not None else None,
        },
    }


def idle_figures(run, log):
    energy = run.metrics["energy"]
    start, end = run.boundary("idle:start"), run.boundary("idle:end")
    logger_w = log.mean_power_w(run.wall_ns(start["atMs"]), run.wall_ns(end["atMs"])) if start and end and end["atMs"] > start["atMs"] else None
    return {"lemIdlePowerW": energy.get("idlePowerW"), "lemIdlePowerStdW": energy.get("idlePowerStdW"), "loggerIdlePowerW": logger_w, "seconds": (end["atMs"] - start["atMs"]) / 1000 if start and end else None}


def verdict(window, counter, agree_pct):
    """The headline: lem's window energy against the logger's counter; integrated power, labelled, where the counter cannot be read."""
    lem, logger = window["lem"], window["logger"]
    if counter["moved"]:
        label, lem_j, independent_j = "lem's window energy (NVML counter) vs the logger's counter at lem's edges", lem["energyJ"], logger["counterEnergyJ"]
    elif not counter["offered"]:
        # lem integrates sampled power itself where the driver has no counter: that figure is checked.
        label, lem_j, independent_j = "integrated power, lem's window energy vs the logger's (this driver offers no energy counter)", lem["energyJ"], logger["integratedPowerJ"]
    else:
        label, lem_j, independent_j = "integrated power, lem's vs the logger's (the counter did not move: lem's counter figure cannot be checked here)", lem["integratedPowerJ"], logger["integratedPowerJ"]
    diff = pct(lem_j, independent_j)
    within = diff is not None and abs(diff) <= agree_pct
    compared = "counter" if counter["moved"] else "integrated-power"
    # A counter that is offered but still leaves lem's counter-based figure wrong, whatever the powers say.
    agree = within and (counter["moved"] or not counter["offered"])
    return {"agree": agree, "withinThreshold": within, "thresholdPct": agree_pct, "compared": compared, "label": label, "lemJ": lem_j, "independentJ": independent_j, "diffPct": diff}


def build(work, agree_pct):
    run = Run(work)
    log = Log(os.path.join(work, "logger.csv"))
    summary = load_json(os.path.join(work, "logger.json"), {})
    window_ms = run.window_ms()
    start, end = run.wall_ns(window_ms[0]), run.wall_ns(window_ms[1])
    counter = {
        "offered": log.has_counter,
        "moved": log.has_counter and log.counter_moved(start, end),
        "movedAnyTime": log.has_counter and log.counter_moved(),
        "updatePeriodMs": log.counter_update_ms() if log.has_counter else None,
    }
    window = window_figures(run, log, window_ms, counter["moved"])
    sampling = run.result["meters"]["sampling"]
    stats = load_json(os.path.join(work, "server-stats.json"), {})
    return {
        "schema": "lem-device-check/1",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "verdict": verdict(window, counter, agree_pct),
        "gpu": {**summary.get("gpu", {}), "driver": summary.get("driver"), "nvidiaSmi": read_text(os.path.join(work, "gpu.csv"))},
        "software": {"lem": run.result["environment"].get("lemVersion"), "node": run.result["environment"].get("node"), "bundle": load_json(os.path.join(work, "check", "bundle.json")), "python": load_json(os.path.join(work, "torch.json")), "loggerBinding": summary.get("binding")},
        "server": {"model": model_line(work), "stats": stats, "meanBatch": ratio(stats.get("requests"), stats.get("batches"))},
        "counter": counter,
        "window": window,
        "idle": idle_figures(run, log),
        "readCostUs": {"logger": summary.get("readCostUs"), "lemWholeRead": run.nvml_read_us()},
        "jitterMs": {"lem": {"intervalMs": sampling.get("intervalMs"), "samples": sampling.get("samples"), "missedTicks": sampling.get("missedTicks"), **(sampling.get("jitterMs") or {})}, "logger": {"intervalMs": summary.get("intervalMs"), "samples": summary.get("samples"), **(summary.get("jitterMs") or {})}},
        "lemWarnings": [w["code"] for w in run.result.get("warnings", [])],
        "lemRunDir": os.path.relpath(run.dir, work),
    }


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def model_line(work):
    try:
        with open(os.path.join(work, "server.log")) as f:
            return next((json.loads(line) for line in f if '"event": "model"' in line), None)
    except FileNotFoundError:
        return None


def fmt(value, digits=1, unit=""):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def markdown(r):
    v, w, idle, cost, jit = r["verdict"], r["window"], r["idle"], r["readCostUs"], r["jitterMs"]
    lem, logger = w["lem"], w["logger"]
    model = r["server"]["model"] or {}
    lines = [
        f"# lem device check — {r['date']}",
        "",
        f"**{'AGREE' if v['agree'] else 'DISAGREE'}**: {v['label']}: lem {fmt(v['lemJ'], 2)} J, independent {fmt(v['independentJ'], 2)} J, "
        f"difference {fmt(v['diffPct'], 3)} % (threshold ± {v['thresholdPct']} %).",
        "",
        f"- GPU: {r['gpu'].get('name')} ({r['gpu'].get('uuid')}), driver {r['gpu'].get('driver')}",
        f"- Software: lem {r['software']['lem']} on Node {r['software']['node']}; PyTorch {((r['software']['python'] or {}).get('torch'))}, "
        f"CUDA {((r['software']['python'] or {}).get('cuda'))}; logger binding: {r['software']['loggerBinding']}",
        f"- Server: random-weight Llama `{model.get('model')}`, {fmt((model.get('parameters') or 0) / 1e6, 1)} M parameters, {model.get('dtype')} on {model.get('device')}; "
        f"{r['server']['stats'].get('batches')} batches, mean batch {fmt(r['server']['meanBatch'])}, largest {r['server']['stats'].get('maxBatch')}",
        f"- Window: {fmt(w['windowS'], 2)} s, {w['requests'].get('ok', w['requests']) if isinstance(w['requests'], dict) else w['requests']} requests, "
        f"{w['outputTokens']} output tokens, {fmt(lem['outputTokensPerS'])} tokens/s",
        f"- Counter: offered {yes(r['counter']['offered'])}, moved in the window {yes(r['counter']['moved'])}, "
        f"updates every {fmt(r['counter']['updatePeriodMs'], 1)} ms (median, as the logger saw it)",
    ]
    if r["counter"]["offered"] and not r["counter"]["moved"]:
        lines += ["", "> The counter did not move during the window: this driver does not expose it (a virtualised GPU?). "
                  "The comparison falls back to **integrated power** (power samples integrated over time) and is labelled so; "
                  "lem's counter-based energy cannot be trusted here."]
    elif not r["counter"]["offered"]:
        lines += ["", "> This driver offers no energy counter: lem integrates sampled power, and so does the comparison (labelled)."]
    lines += [
        "",
        "| figure | lem | independent logger | lem ÷ logger |",
        "| --- | --- | --- | --- |",
        f"| window energy, counter (J) | {fmt(lem['energyJ'], 2)} ± {fmt(lem['uncertaintyJ'], 2)} | {fmt(logger['counterEnergyJ'], 2)} | {fmt(ratio(lem['energyJ'], logger['counterEnergyJ']), 5)} |",
        f"| window energy, integrated power (J) | {fmt(lem['integratedPowerJ'], 2)} | {fmt(logger['integratedPowerJ'], 2)} | {fmt(ratio(lem['integratedPowerJ'], logger['integratedPowerJ']), 5)} |",
        f"| counter ÷ integrated power | {fmt(lem['counterOverIntegrated'], 5)} | {fmt(logger['counterOverIntegrated'], 5)} | |",
        f"| energy per output token (J) | {fmt(lem['energyPerOutputTokenJ'], 5)} | {fmt(logger['energyPerOutputTokenJ'], 5)} | {fmt(ratio(lem['energyPerOutputTokenJ'], logger['energyPerOutputTokenJ']), 5)} |",
        f"| mean power in the window (W) | {fmt(lem['avgPowerW'])} | {fmt(logger['avgPowerW'])} | |",
        f"| idle power (W), over lem's idle phase of {fmt(idle['seconds'])} s | {fmt(idle['lemIdlePowerW'])} ± {fmt(idle['lemIdlePowerStdW'])} | {fmt(idle['loggerIdlePowerW'])} | {fmt(ratio(idle['lemIdlePowerW'], idle['loggerIdlePowerW']), 4)} |",
        f"| sampler interval (ms) | {jit['lem'].get('intervalMs')} | {jit['logger'].get('intervalMs')} | |",
        f"| sampler jitter p50 / p99 / max (ms) | {triple(jit['lem'])} | {triple(jit['logger'])} | |",
        f"| samples | {jit['lem'].get('samples')} ({jit['lem'].get('missedTicks')} missed) | {jit['logger'].get('samples')} | |",
        "",
        "| one NVML read (µs) | p50 | p99 | max |",
        "| --- | --- | --- | --- |",
    ]
    for name, key in (("nvmlDeviceGetTotalEnergyConsumption (logger)", "energy"), ("nvmlDeviceGetPowerUsage (logger)", "power")):
        c = (cost["logger"] or {}).get(key)
        lines.append(f"| {name} | {triple(c, 2) if c else 'not offered'} |".replace(" / ", " | "))
    if cost["lemWholeRead"]:
        lines.append(f"| lem's whole nvml read (energy, power, temperature, clocks, memory, processes) | {triple(cost['lemWholeRead'], 2)} |".replace(" / ", " | "))
    a = w["alignment"]
    lines += [
        "",
        f"Alignment: lem's window edges are its boundary reads placed on the wall clock through its anchor; "
        f"placed through the monotonic clocks instead the logger's counter differs by {fmt(a['wallVsMonotonicJ'], 3)} J "
        f"(anchor vs the logger's wall−monotonic offset: {fmt(a['anchorVsLoggerClockMs'], 3)} ms).",
        "",
        f"lem's warnings: {', '.join(r['lemWarnings']) or 'none'}. Raw files: raw.tar.gz ({r['lemRunDir']}, logger.csv, server.log).",
        "",
    ]
    return "\n".join(lines)


def yes(flag):
    return "yes" if flag else "no"


def triple(p, digits=3):
    return " / ".join(fmt(p.get(k), digits) for k in ("p50", "p99", "max")) if p else "—"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--agree-pct", type=float, default=1.0)
    args = p.parse_args(argv)
    report = build(args.work, args.agree_pct)
    for name, text in (("report.json", json.dumps(report, indent=1)), ("report.md", markdown(report))):
        with open(os.path.join(args.out, name + ".tmp"), "w") as f:
            f.write(text)
        os.replace(os.path.join(args.out, name + ".tmp"), os.path.join(args.out, name))
    print(markdown(report))
    return 0 if report["verdict"]["agree"] else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
