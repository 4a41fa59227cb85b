"""Process-level tuning of the service, in one place: the `@bentoml.service` options, and what
each worker does once before and once after it loads the models.

Each value here was settled by a measured comparison; the reason is one line beside it and the
record is in docs/decisions/0006-worker-runtime.md. `serving/service.py` calls `service_options`
when the class is defined, `prepare_worker` first thing in a worker, and `settle_heap` once the
models are loaded (and again after a model swap).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

from features.settings import Settings
from serving.platform.timeout import install_lean_timeout

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 60  # BentoML's per-request limit: a 504 when no response has started by then
SWITCH_INTERVAL_S = 0.0005  # GIL hand-over: the encoder thread returns results sooner than at 5 ms
GC_THRESHOLDS = (50_000, 20, 20)  # a 10,000-claim batch's ~100k live objects are not rescanned ~90 times


def service_options(settings: Settings) -> dict[str, Any]:
    """Workers, request timeout, BentoML's access log (`serving.access_log`), and no tracing
    spans: no exporter is configured, and "." in excluded_urls matches every URL."""
    serving = settings.serving
    return {
        "traffic": {"timeout": REQUEST_TIMEOUT_S},
        "workers": serving.workers,
        "logging": {"access": {"enabled": serving.access_log}},
        "tracing": {"excluded_urls": ["."]},
    }


def prepare_worker(settings: Settings) -> None:
    """Before the models load: no pyarrow, BLAS single-threaded, the encoder's thread count,
    the GIL switch interval and the lean request timeout."""
    without_pyarrow()
    limit_threads(settings.serving.torch_threads)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    install_lean_timeout()


def limit_threads(torch_threads: int) -> None:
    """BLAS single-threaded (numpy and encoder threads in one request contend on few cores) and
    the sentence encoder (ONNX Runtime or torch) at `torch_threads` (0: all cores). torch is not
    imported here: a worker on the ONNX encoder never loads it (features/contact/encoder.py)."""
    from threadpoolctl import threadpool_limits

    from features.contact import encoder

    threadpool_limits(limits=1, user_api="blas")
    encoder.set_threads(torch_threads)


def without_pyarrow() -> None:
    """Workers run pandas without pyarrow. pandas 3 imports pyarrow whenever it is installed
    (~45 MB RSS a worker, most of it libarrow's pages), yet no worker path needs it: claims reach
    polars from dicts, the text and KB models take lists of strings, and pandas falls back to
    its own string storage. Applied only where pandas is not imported yet, so a process that
    already holds pyarrow (training, tests) keeps it; tests/integration/test_platform.py checks
    that the running workers map no libarrow."""
    if "pandas" not in sys.modules and "pyarrow" not in sys.modules:
        sys.modules["pyarrow"] = None  # type: ignore[assignment]  # `import pyarrow` -> ImportError


def settle_heap(refreeze: bool = False) -> None:
    """Collect once, move every live object out of the garbage collector's sight, raise the
    collection thresholds and hand free C-heap pages back.

    A worker holding all models tracks ~750k objects (spaCy, tokenizers, indexes); a full
    (generation-2) collection of them pauses the worker ~400 ms whenever it comes. Frozen
    objects are still freed by reference counting; only cycles among them wait for the next
    `settle_heap(refreeze=True)`, which runs after a model swap (one pause then, on the thread
    that swapped, instead of one now and then under traffic).
    """
    if refreeze:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    release_free_heap()


def release_free_heap() -> bool:
    """Hand the C heap's free pages back to the system (glibc `malloc_trim`, ~2 ms).

    Loading models fills buffers (artifact bytes, unpickling) that are freed afterwards, but
    glibc keeps freed pages below the top of its heap mapped, so every worker carried them: 30-40
    MB a worker, measured on the sample and on the real models. Called after loading and after
    each alias poll. False where the C library has no `malloc_trim` (not glibc): nothing happens.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    return getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own symbols: libc's
