"""A measuring Scrapy extension for the crawl benchmarks, added to ours and to the bare spider alike.

Enabled with `-s EXTENSIONS={"benchmarks.probe.Probe": 0} -s BENCH_PROBE_FILE=path.json`. On every
response it counts (one monotonic clock read); every `BENCH_PROBE_EVERY` responses it also records
the current and peak RSS of the process. At close it writes JSON: the timeline (responses, items,
seconds and CPU seconds since engine start, RSS) and the steady-state rate and CPU per response, the responses per second between 10 % and
90 % of all responses, which leaves out start-up (robots.txt, listing pages, SQLite schema) and the
tail (the last requests draining, the final batch, closing), so sizes can be compared for flatness.
"""

from __future__ import annotations

import json
import os
import resource
import time

from scrapy import signals

_PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return float("nan")


def peak_rss_mb() -> float:
    """VmHWM: the peak RSS of this process image (getrusage's ru_maxrss survives execve, so it may
    be the parent's)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Probe:
    def __init__(self, crawler):
        self.path = crawler.settings.get("BENCH_PROBE_FILE")
        self.every = crawler.settings.getint("BENCH_PROBE_EVERY", 50)
        self.t0, self.cpu0 = time.monotonic(), time.process_time()
        self.times: list[float] = []
        self.cpu: list[float] = []  # process CPU seconds at each response
        self.items = 0
        self.timeline: list[dict] = []
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def engine_started(self):
        self.t0, self.cpu0 = time.monotonic(), time.process_time()
        self._sample()

    def _sample(self):
        self.timeline.append({"t": time.monotonic() - self.t0, "cpu_s": time.process_time() - self.cpu0,
                              "responses": len(self.times), "items": self.items,
                              "rss_mb": current_rss_mb(), "peak_rss_mb": peak_rss_mb()})

    def response_received(self, response, request, spider):
        self.times.append(time.monotonic() - self.t0)
        self.cpu.append(time.process_time() - self.cpu0)
        if len(self.times) % self.every == 0:
            self._sample()

    def item_scraped(self, item, response, spider):
        self.items += 1

    def spider_closed(self, spider, reason):
        self._sample()
        n = len(self.times)
        lo, hi = int(n * 0.1), max(int(n * 0.9) - 1, 0)
        steady = steady_cpu = None
        if hi > lo and self.times[hi] > self.times[lo]:
            steady = (hi - lo) / (self.times[hi] - self.times[lo])
            steady_cpu = 1000 * (self.cpu[hi] - self.cpu[lo]) / (hi - lo)
        out = {"responses": n, "items": self.items, "steady_responses_per_s": steady,
               "steady_cpu_ms_per_response": steady_cpu, "engine_cpu_s": time.process_time() - self.cpu0,
               "first_response_s": self.times[0] if n else None, "last_response_s": self.times[-1] if n else None,
               "closed_s": time.monotonic() - self.t0, "vmhwm_mb": peak_rss_mb(), "timeline": self.timeline}
        if self.path:
            with open(self.path, "w", encoding="utf-8") as fh:
                json.dump(out, fh)
