"""Prometheus metrics: request counts and latencies per route, the database pool, and the
master's view of the workers (whichever worker is scraped)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from diemcau.supervisor import Seat, workers_view


class _PoolCollector(Collector):
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "diemcau_db_pool_connections",
            "PostgreSQL connections in this worker's pool",
            labels=["state"],
        )
        if self.pool is not None:
            size, idle = self.pool.get_size(), self.pool.get_idle_size()
            family.add_metric(["open"], size)
            family.add_metric(["idle"], idle)
            family.add_metric(["in_use"], size - idle)
            family.add_metric(["max"], self.pool.get_max_size())
        yield family


class _WorkersCollector(Collector):
    def __init__(self) -> None:
        self.seat: Seat | None = None

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        view = workers_view(self.seat)
        workers = GaugeMetricFamily(
            "diemcau_workers",
            "Worker processes of this host's `diemcau serve`: configured, and alive now",
            labels=["state"],
        )
        workers.add_metric(["configured"], view.configured)
        workers.add_metric(["alive"], view.alive)
        yield workers
        yield CounterMetricFamily(
            "diemcau_worker_restarts",
            "Workers started again by the master after one died",
            value=view.restarts,
        )
        info = GaugeMetricFamily(
            "diemcau_worker", "The worker that answered this scrape", labels=["worker", "pid"]
        )
        info.add_metric([str(self.seat.index if self.seat else 0), str(os.getpid())], 1)
        yield info


class Metrics:
    """One registry per application, so tests and workers never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "diemcau_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "diemcau_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self._pool = _PoolCollector()
        self.registry.register(self._pool)
        self._workers = _WorkersCollector()
        self.registry.register(self._workers)

    def watch_workers(self, seat: Seat | None) -> None:
        self._workers.seat = seat

    def watch_pool(self, pool: asyncpg.Pool | None) -> None:
        self._pool.pool = pool

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
