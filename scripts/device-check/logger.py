#!/usr/bin/env python3
"""The device check's independent NVML logger: its own process, its own binding and its own clock.

Every --interval-ms (default 20) on an absolute schedule of CLOCK_MONOTONIC it reads GPU
--gpu's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`, mJ) and its power
(`nvmlDeviceGetPowerUsage`, mW), and writes a CSV line:

    mono_ns,wall_ns,energy_mj,power_mw,scheduled_ns,energy_read_ns,power_read_ns

`mono_ns` and `wall_ns` are the instant of the energy read (the middle of the call) on the
monotonic and the wall clock; a counter the driver does not offer leaves energy_mj empty.
Before sampling it times --cost-reads back-to-back reads of each function (what one NVML read
costs on this driver). On SIGTERM or SIGINT it stops and writes the summary (the binding, the
device, the read costs, the schedule's jitter) as JSON to --summary.

The binding is pynvml (`nvidia-ml-py`) where it is installed; where it is not, or where
$LEM_NVML_LIBRARY names another libnvidia-ml (tests point it at a fake), a ctypes binding of
the same C functions. Neither shares anything with lem's own binding (koffi, in Node).
"""
import argparse
import ctypes
import json
import os
import signal
import sys
import time


class CtypesNvml:
    """The few NVML calls the logger makes, bound with ctypes to one library file."""

    NOT_SUPPORTED = 3

    class Error(Exception):
        def __init__(self, code):
            super().__init__(f"NVML error {code}")
            self.code = code

    def __init__(self, path):
        self.name = f"ctypes ({path})"
        self.lib = ctypes.CDLL(path)

    def call(self, fn, *args):
        code = getattr(self.lib, fn)(*args)
        if code != 0:
            raise CtypesNvml.Error(code)

    def init(self):
        self.call("nvmlInit_v2")

    def shutdown(self):
        self.call("nvmlShutdown")

    def handle(self, index):
        handle = ctypes.c_void_p()
        self.call("nvmlDeviceGetHandleByIndex_v2", ctypes.c_uint(index), ctypes.byref(handle))
        return handle

    def text(self, fn, *args):
        buffer = ctypes.create_string_buffer(96)
        self.call(fn, *args, buffer, ctypes.c_uint(len(buffer)))
        return buffer.value.decode()

    def driver(self):
        return self.text("nvmlSystemGetDriverVersion")

    def device_name(self, handle):
        return self.text("nvmlDeviceGetName", handle)

    def uuid(self, handle):
        return self.text("nvmlDeviceGetUUID", handle)

    def energy_mj(self, handle):
        value = ctypes.c_ulonglong()
        self.call("nvmlDeviceGetTotalEnergyConsumption", handle, ctypes.byref(value))
        return value.value

    def power_mw(self, handle):
        value = ctypes.c_uint()
        self.call("nvmlDeviceGetPowerUsage", handle, ctypes.byref(value))
        return value.value

    def not_supported(self, error):
        return isinstance(error, CtypesNvml.Error) and error.code == CtypesNvml.NOT_SUPPORTED


class Pynvml:
    """The same calls through pynvml."""

    def __init__(self, pynvml):
        self.name = f"pynvml {getattr(pynvml, '__version__', '')}".strip()
        self.m = pynvml

    def init(self):
        self.m.nvmlInit()

    def shutdown(self):
        self.m.nvmlShutdown()

    def handle(self, index):
        return self.m.nvmlDeviceGetHandleByIndex(index)

    @staticmethod
    def decoded(value):
        return value.decode() if isinstance(value, bytes) else value

    def driver(self):
        return self.decoded(self.m.nvmlSystemGetDriverVersion())

    def device_name(self, handle):
        return self.decoded(self.m.nvmlDeviceGetName(handle))

    def uuid(self, handle):
        return self.decoded(self.m.nvmlDeviceGetUUID(handle))

    def energy_mj(self, handle):
        return self.m.nvmlDeviceGetTotalEnergyConsumption(handle)

    def power_mw(self, handle):
        return self.m.nvmlDeviceGetPowerUsage(handle)

    def not_supported(self, error):
        return isinstance(error, self.m.NVMLError) and error.value == self.m.NVML_ERROR_NOT_SUPPORTED


def binding():
    path = os.environ.get("LEM_NVML_LIBRARY")
    if path:
        return CtypesNvml(path)
    try:
        import pynvml
    except ImportError:
        return CtypesNvml("libnvidia-ml.so.1")
    return Pynvml(pynvml)


def percentiles(values, scale=1):
    """p50 (the upper median), p99 and max of a list, times `scale` (an int list stays int at 1); None for an empty one."""
    if not values:
        return None
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale
    return {"p50": pick(0.5), "p99": pick(0.99), "max": ordered[-1] * scale, "n": len(ordered)}


def read_cost(nvml, handle, reads):
    """Each read's cost in µs (p50, p99, max over `reads` back-to-back calls); None where the driver does not offer it."""
    costs = {}
    for key, fn in (("energy", nvml.energy_mj), ("power", nvml.power_mw)):
        times = []
        try:
            for _ in range(reads):
                start = time.perf_counter_ns()
                fn(handle)
                times.append(time.perf_counter_ns() - start)
        except Exception as error:
            if not nvml.not_supported(error):
                raise
            costs[key] = None
            continue
        costs[key] = percentiles(times, 1e-3)
    return costs


class Sampler:
    def __init__(self, nvml, handle, out, interval_ns):
        self.nvml, self.handle, self.out, self.interval_ns = nvml, handle, out, interval_ns
        self.counter = True
        self.lateness_ns = []
        self.errors = 0
        self.stopped = False

    def sample(self, scheduled):
        energy, wall, start, end = "", time.time_ns(), time.monotonic_ns(), None
        if self.counter:
            try:
                energy = self.nvml.energy_mj(self.handle)
            except Exception as error:
                if not self.nvml.not_supported(error):
                    raise
                self.counter = False
        end = time.monotonic_ns()
        power = self.nvml.power_mw(self.handle)
        after = time.monotonic_ns()
        mid = (start + end) // 2
        self.out.write(f"{mid},{wall + (mid - start)},{energy},{power},{scheduled},{end - start},{after - end}\n")

    def run(self):
        t0 = time.monotonic_ns()
        k = 0
        last_flush = t0
        while not self.stopped:
            scheduled = t0 + k * self.interval_ns
            now = time.monotonic_ns()
            if now < scheduled:
                time.sleep((scheduled - now) / 1e9)
            self.lateness_ns.append(time.monotonic_ns() - scheduled)
            try:
                self.sample(scheduled)
            except Exception as error:
                self.errors += 1
                print(f"logger: read failed: {error}", file=sys.stderr, flush=True)
            k += 1
            # A late tick is not made up: the next one is the next on the schedule.
            while t0 + k * self.interval_ns < time.monotonic_ns() - self.interval_ns:
                k += 1
            if scheduled - last_flush > 1e9:
                self.out.flush()
                last_flush = scheduled
        self.out.flush()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpu", type=int, default=0)
    p.add_argument("--interval-ms", type=float, default=20)
    p.add_argument("--cost-reads", type=int, default=200)
    p.add_argument("--out", required=True)
    p.add_argument("--summary", required=True)
    args = p.parse_args(argv)

    nvml = binding()
    nvml.init()
    handle = nvml.handle(args.gpu)
    summary = {"binding": nvml.name, "driver": nvml.driver(), "gpu": {"index": args.gpu, "name": nvml.device_name(handle), "uuid": nvml.uuid(handle)}, "intervalMs": args.interval_ms}
    summary["readCostUs"] = read_cost(nvml, handle, args.cost_reads)
    with open(args.out, "w") as out:
        out.write("mono_ns,wall_ns,energy_mj,power_mw,scheduled_ns,energy_read_ns,power_read_ns\n")
        sampler = Sampler(nvml, handle, out, int(args.interval_ms * 1e6))

        def stop(*_):
            sampler.stopped = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(json.dumps({"event": "sampling", **summary}), flush=True)
        sampler.run()
    summary["samples"] = len(sampler.lateness_ns)
    summary["readErrors"] = sampler.errors
    summary["counter"] = sampler.counter
    summary["jitterMs"] = percentiles(sampler.lateness_ns, 1e-6)
    nvml.shutdown()
    with open(args.summary + ".tmp", "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(args.summary + ".tmp", args.summary)


if __name__ == "__main__":
    main(sys.argv[1:])
