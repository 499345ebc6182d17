"""Readings of the machine that serves a model: CPU and memory through psutil, GPU through NVML when it can.

Every probe is guarded: a missing library, a machine without a GPU or a call that fails leaves the
corresponding fields out of the reading; nothing here raises.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket
from typing import Any

import psutil

__all__ = ["HostSampler"]

_log = logging.getLogger("vigil.sdk")


class HostSampler:
    """Takes one reading per :meth:`sample` call, as the fields of a ``HostMetrics`` record less ``model``.

    ``cpu_percent`` is system-wide, averaged over all cores since the previous call (0–100; the first
    reading covers the time since the sampler was built). ``memory_percent`` is the system's used
    memory (0–100) and ``memory_bytes`` the resident set size of this process. With ``nvidia-ml-py``
    installed and at least one NVIDIA GPU visible, ``gpu_percent`` is the mean utilisation over the
    visible GPUs, ``gpu_memory_bytes`` their summed used memory and ``gpu_memory_percent`` that sum over
    their summed total memory; otherwise the GPU fields are absent.
    """

    def __init__(self) -> None:
        self.host = socket.gethostname() or "unknown"
        self._process: psutil.Process | None = None
        with contextlib.suppress(Exception):
            self._process = psutil.Process(os.getpid())
            psutil.cpu_percent(interval=None)  # primes the counter: the next call measures from here
        self._nvml: Any = None
        self._gpus: list[Any] = []
        self._init_nvml()

    def _init_nvml(self) -> None:
        try:
            nvml = importlib.import_module("pynvml")
        except Exception:
            return
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            self._gpus = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = nvml
        except Exception as exc:  # no driver, no GPU: the GPU fields stay absent
            _log.debug("vigil: NVML unavailable (%s); GPU metrics are off", exc)
            self._gpus = []
            self._nvml = None

    def sample(self) -> dict[str, Any]:
        """One reading: a dict with ``host`` and whichever metric fields could be read."""
        out: dict[str, Any] = {"host": self.host}
        with contextlib.suppress(Exception):
            out["cpu_percent"] = float(psutil.cpu_percent(interval=None))
        with contextlib.suppress(Exception):
            out["memory_percent"] = float(psutil.virtual_memory().percent)
        if self._process is not None:
            with contextlib.suppress(Exception):
                out["memory_bytes"] = int(self._process.memory_info().rss)
        if self._nvml is not None and self._gpus:
            out.update(self._sample_gpus())
        return out

    def _sample_gpus(self) -> dict[str, Any]:
        nvml = self._nvml
        utils: list[float] = []
        used = 0
        total = 0
        for handle in self._gpus:
            with contextlib.suppress(Exception):
                utils.append(float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
            with contextlib.suppress(Exception):
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                used += int(mem.used)
                total += int(mem.total)
        out: dict[str, Any] = {}
        if utils:
            out["gpu_percent"] = min(100.0, max(0.0, sum(utils) / len(utils)))
        if total > 0:
            out["gpu_memory_bytes"] = used
            out["gpu_memory_percent"] = min(100.0, max(0.0, 100.0 * used / total))
        return out

    def close(self) -> None:
        """Releases NVML when it was initialised; safe to call more than once."""
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
            self._nvml = None
            self._gpus = []
