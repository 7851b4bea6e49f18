"""The proxy benchmark's HTTP/1.1 scenarios: API latency, requests/s and CPU per request
for direct, bare mitmdump and the addon; the addon's own hooks; a playback heartbeat; 1 GiB
streams; the first byte of a slow chunked response. Then the HTTP/2 scenario."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.proxy_http2 import http2_section
from tests.bench.proxy_measure import (
    counted,
    cpu_seconds,
    first_byte,
    latencies,
    pct,
    stream_gib,
    throughput,
)
from tests.bench.proxy_processes import bare, start
from tests.bench.proxy_upstream import API_BODY, upstream_process
from tests.proxy.harness import Receiver
from tests.support.polling import wait_for
from tests.support.processes import LOCALHOST, MitmdumpProcess, mitmdump_proxy

TIMELINE = (
    "/:/timeline?ratingKey=101&key=/library/metadata/101&state=playing&time={t}"
    "&duration=7200000&identifier=com.plexapp.plugins.library"
)


def hook_cost_us(n: int = 20000) -> float:
    """The addons' own per-request hooks on a real mitmproxy flow, in this process."""
    from mitmproxy.test import taddons, tflow

    from addons.plex_cluster import default_addons

    addons = default_addons()
    hooks = [
        getattr(a, name)
        for name in ("requestheaders", "request", "responseheaders")
        for a in addons
        if hasattr(a, name)
    ]
    with taddons.context(*addons) as tctx:
        data = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
        for addon in addons:
            tctx.configure(addon, cluster_data_dir=str(data), confdir=str(data / "mitmproxy"))
        flow = tflow.tflow(resp=True)
        flow.request.path = "/library/sections/1/all?type=1&includeGuids=1"
        flow.response.headers["content-length"] = str(len(API_BODY))
        t0 = time.perf_counter()
        for _ in range(n):
            for hook in hooks:
                hook(flow)
        took = (time.perf_counter() - t0) / n * 1e6
        for addon in addons:
            if hasattr(addon, "done"):
                addon.done()
    return took


def run(quick: bool) -> dict[str, Any]:
    n_lat = 300 if quick else 1000
    secs = 1.0 if quick else 2.0
    n_ten = 1000 if quick else 3000
    results: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    receiver = Receiver()
    with upstream_process() as up_port:
        upstream = f"http://{LOCALHOST}:{up_port}"
        # Two processes each of bare and addon: CPU cost per request differs between
        # processes on a shared machine (placement, neighbours) by more than the addon costs.
        instances: list[tuple[str, MitmdumpProcess | None]] = [("direct", None)]
        for i in range(2):
            instances.append(("bare -q", bare(upstream, tmp / f"bare-{i}")))
            instances.append(
                (
                    "addon -q",
                    start(
                        mitmdump_proxy(
                            upstream, tmp / f"addon-{i}", manager=receiver.url, extra=["-q"]
                        )
                    ),
                )
            )
        instances.append(
            ("addon, flow log", start(mitmdump_proxy(upstream, tmp / "log", manager=receiver.url)))
        )
        targets: dict[str, MitmdumpProcess | None] = {}
        for kind, proxy in instances:
            targets.setdefault(kind, proxy)
        # Flow lines go to a file, not a terminal: what a container does. The machine is
        # shared, so targets take turns over several rounds and medians are reported; CPU
        # per request of the proxy process (all threads) is the steadier cost measure.
        rounds = 2 if quick else 4
        print(
            f"upstream {upstream}; {rounds} interleaved rounds (two processes each for bare "
            f"and addon) of {n_lat} sequential calls, "
            f"{secs:.0f} s at 1 connection, {n_ten} requests over 10 connections\n"
        )
        samples: dict[str, dict[str, list[float]]] = {
            name: {"lat": [], "rps_1": [], "rps_10": [], "cpu_us": []} for name in targets
        }
        for _ in range(rounds):
            order = list(instances)
            random.shuffle(order)
            for name, proxy in order:
                port = up_port if proxy is None else proxy.port
                got = samples[name]
                got["lat"] += latencies(port, "/api", n_lat)
                got["rps_1"].append(throughput(port, "/api", 1, secs))
                before = cpu_seconds(proxy.proc.pid) if proxy and proxy.proc else 0.0
                got["rps_10"].append(counted(port, "/api", 10, n_ten))
                if proxy and proxy.proc:
                    got["cpu_us"].append((cpu_seconds(proxy.proc.pid) - before) / n_ten * 1e6)
        api: dict[str, dict[str, float]] = {}
        for name, got in samples.items():
            row = {
                "p50_ms": statistics.median(got["lat"]) * 1e3,
                "p99_ms": pct(got["lat"], 0.99) * 1e3,
                "rps_1": statistics.median(got["rps_1"]),
                "rps_10": statistics.median(got["rps_10"]),
            }
            if got["cpu_us"]:
                row["cpu_us_per_req"] = statistics.median(got["cpu_us"])
                row["cpu_us_per_req_min"] = min(got["cpu_us"])
            api[name] = row
            cpu = (
                f"  CPU/req {row['cpu_us_per_req']:.0f} us (min {row['cpu_us_per_req_min']:.0f})"
                if "cpu_us_per_req" in row
                else ""
            )
            print(
                f"{name:>16}: API p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                f"{row['rps_1']:.0f} req/s @1  {row['rps_10']:.0f} req/s @10{cpu}"
            )
        results["api"] = api
        d, b, a = api["direct"], api["bare -q"], api["addon -q"]
        results["added_latency_ms"] = {
            "bare_p50": b["p50_ms"] - d["p50_ms"],
            "bare_p99": b["p99_ms"] - d["p99_ms"],
            "addon_p50": a["p50_ms"] - d["p50_ms"],
            "addon_p99": a["p99_ms"] - d["p99_ms"],
        }
        results["addon_vs_bare"] = {
            "rps_1": a["rps_1"] / b["rps_1"],
            "rps_10": a["rps_10"] / b["rps_10"],
            "capacity_by_cpu": b["cpu_us_per_req"] / a["cpu_us_per_req"],
            "capacity_by_min_cpu": b["cpu_us_per_req_min"] / a["cpu_us_per_req_min"],
            "flow_log_capacity_by_cpu": b["cpu_us_per_req"]
            / api["addon, flow log"]["cpu_us_per_req"],
        }
        hooks = hook_cost_us()
        results["addon_hooks_us_per_request"] = hooks
        results["addon_hooks_share_of_bare_cpu"] = hooks / b["cpu_us_per_req"]
        print(
            f"\naddon hooks alone (in-process, real flow): {hooks:.1f} us per API request = "
            f"{hooks / b['cpu_us_per_req']:.1%} of bare mitmdump's CPU per request"
        )
        print(
            "added latency vs direct: bare p50 +{bare_p50:.2f} ms p99 +{bare_p99:.2f} ms; "
            "addon p50 +{addon_p50:.2f} ms p99 +{addon_p99:.2f} ms".format(
                **results["added_latency_ms"]
            )
        )
        print(
            "addon / bare: {rps_1:.3f} req/s @1, {rps_10:.3f} req/s @10, "
            "{capacity_by_cpu:.3f} by median CPU per request, {capacity_by_min_cpu:.3f} by least "
            "(target >= 0.95); with flow log {flow_log_capacity_by_cpu:.3f}".format(
                **results["addon_vs_bare"]
            )
        )

        # A heartbeat through the addon: parsed, spooled before the response goes on, then
        # delivered by the background thread (its CPU counts: same process).
        addon_proxy, bare_proxy = targets["addon -q"], targets["bare -q"]
        assert addon_proxy is not None and addon_proxy.proc is not None
        assert bare_proxy is not None and bare_proxy.proc is not None
        receiver.clear()
        n_beat = n_lat
        cpu0 = cpu_seconds(addon_proxy.proc.pid)
        beat = latencies(addon_proxy.port, TIMELINE, n_beat)
        wait_for(lambda: len(receiver.received) >= n_beat + 50, timeout=120)
        addon_cpu = (cpu_seconds(addon_proxy.proc.pid) - cpu0) / (n_beat + 50) * 1e6
        cpu0 = cpu_seconds(bare_proxy.proc.pid)
        bare_beat = latencies(bare_proxy.port, TIMELINE, n_beat)
        bare_cpu = (cpu_seconds(bare_proxy.proc.pid) - cpu0) / (n_beat + 50) * 1e6
        results["heartbeat"] = {
            "addon_p50_ms": statistics.median(beat) * 1e3,
            "addon_p99_ms": pct(beat, 0.99) * 1e3,
            "addon_cpu_us": addon_cpu,
            "bare_p50_ms": statistics.median(bare_beat) * 1e3,
            "bare_p99_ms": pct(bare_beat, 0.99) * 1e3,
            "bare_cpu_us": bare_cpu,
        }
        print(
            "playback heartbeat /:/timeline: addon p50 {addon_p50_ms:.2f} ms p99 "
            "{addon_p99_ms:.2f} ms {addon_cpu_us:.0f} us CPU incl. spool + delivery; bare p50 "
            "{bare_p50_ms:.2f} ms p99 {bare_p99_ms:.2f} ms {bare_cpu_us:.0f} us CPU".format(
                **results["heartbeat"]
            )
        )
        for _, proxy in instances:
            if proxy is not None:
                proxy.stop()

        # 1 GiB through a fresh process each, so peak RSS is the stream's own
        print()
        stream: dict[str, dict[str, float]] = {}
        mbps, _ = stream_gib(up_port)
        stream["direct"] = {"MiB_s": mbps}
        addon = start(mitmdump_proxy(upstream, tmp / "addon-stream", manager=receiver.url))
        mbps, _ = stream_gib(addon.port)
        stream["addon"] = {"MiB_s": mbps, "peak_rss_MiB": addon.status_kb("VmHWM") / 1024}
        addon.stop()
        plain = bare(upstream, tmp / "bare-stream")
        mbps, _ = stream_gib(plain.port)
        stream["bare (buffers)"] = {"MiB_s": mbps, "peak_rss_MiB": plain.status_kb("VmHWM") / 1024}
        plain.stop()
        # mitmproxy's own streaming (every body): the ceiling for the addon's stream path
        plain = bare(upstream, tmp / "bare-stream-all", ["--set", "stream_large_bodies=1"])
        mbps, _ = stream_gib(plain.port)
        stream["bare, streaming"] = {
            "MiB_s": mbps,
            "peak_rss_MiB": plain.status_kb("VmHWM") / 1024,
        }
        plain.stop()
        for name, row in stream.items():
            rss = f", peak RSS {row['peak_rss_MiB']:.0f} MiB" if "peak_rss_MiB" in row else ""
            print(f"1 GiB stream {name:>15}: {row['MiB_s']:.0f} MiB/s{rss}")
        results["stream_1gib"] = stream
        results["stream_addon_vs_direct"] = stream["addon"]["MiB_s"] / stream["direct"]["MiB_s"]
        results["stream_addon_vs_bare_streaming"] = (
            stream["addon"]["MiB_s"] / stream["bare, streaming"]["MiB_s"]
        )
        print(
            f"addon / direct stream throughput: {results['stream_addon_vs_direct']:.3f}; "
            f"addon / bare streaming: {results['stream_addon_vs_bare_streaming']:.3f}"
        )

        # first byte of a live (chunked) response, 1 KiB every 0.5 s
        print()
        fb: dict[str, float] = {"direct": first_byte(up_port)}
        addon = start(mitmdump_proxy(upstream, tmp / "addon-fb", manager=receiver.url))
        fb["addon"] = first_byte(addon.port)
        addon.stop()
        plain = bare(upstream, tmp / "bare-fb")
        fb["bare"] = first_byte(plain.port)
        plain.stop()
        plain = bare(upstream, tmp / "bare-fb-sl", ["--set", "stream_large_bodies=1m"])
        fb["bare stream_large_bodies=1m"] = first_byte(plain.port)
        plain.stop()
        plain = bare(upstream, tmp / "bare-fb-s1", ["--set", "stream_large_bodies=1"])
        fb["bare stream_large_bodies=1"] = first_byte(plain.port)
        plain.stop()
        for name, secs_fb in fb.items():
            print(f"first byte of a slow chunked response, {name:>27}: {secs_fb * 1e3:.0f} ms")
        results["first_byte_ms"] = {k: v * 1e3 for k, v in fb.items()}

        print()
    results["http2"] = http2_section(tmp, receiver)
    receiver.down()
    return results
