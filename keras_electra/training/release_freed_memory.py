"""`ReleaseFreedMemory`: hands the heap that tracing freed back to the system."""

import ctypes
import ctypes.util
import functools
import threading

import keras


@functools.lru_cache(maxsize=None)
def _malloc_trim():
    """glibc's `malloc_trim`, or None (musl, macOS, Windows have none)."""
    name = ctypes.util.find_library("c")
    try:
        trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory():
    """Returns the free pages of every malloc arena to the system (glibc's
    `malloc_trim(0)`, a few milliseconds); False where the C library has no
    such call.

    Example:

    >>> release_freed_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class ReleaseFreedMemory(keras.callbacks.Callback):
    """Keeps the memory that the first step frees from adding to the peak RSS.

    The first batch of a `fit` traces the step, optimises its graph and
    compiles its XLA kernels on the calling thread, which allocates and
    frees a few hundred MB, while the step's tensors are allocated on
    TensorFlow's pool threads. glibc gives each thread its own arena and
    keeps freed pages in it, so the pool threads cannot reuse what tracing
    freed, and the process holds both at its peak. During the first batch
    this callback calls `malloc_trim(0)` every `interval` seconds from a
    background thread, then once after it, at every epoch end and every
    `every_n_batches` batches (`fit`'s batches: executions with
    `steps_per_execution`). ELECTRA-Small at batch 32 x 128
    (`bench/pretrain_step.py`): peak RSS 2.82 -> 2.48 GB in bfloat16 and
    3.29 -> 3.02 GB in float32; with `--remat` 2.53 -> 2.19 and 2.48 -> 2.15
    GB; the step time is unchanged. Where the C library has no `malloc_trim`
    it does nothing.

    Args:
        interval: seconds between trims during the first batch.
        every_n_batches: batches between trims afterwards (each costs ~3 ms
            with a 2.5 GB heap).

    Example:

    >>> model.fit(dataset, callbacks=[ReleaseFreedMemory()])  # doctest: +SKIP
    """

    def __init__(self, interval=0.2, every_n_batches=500):
        super().__init__()
        if interval <= 0 or every_n_batches < 1:
            raise ValueError(f"ReleaseFreedMemory: interval must be > 0 and every_n_batches >= 1, "
                             f"got {interval} and {every_n_batches}")
        self.interval = float(interval)
        self.every_n_batches = int(every_n_batches)
        self.trims = 0  # calls made, all phases (for logs and tests)
        self._stop = None
        self._thread = None
        self._batches = self._last_trim = 0
        self._first_batch = False

    def _trim(self):
        if release_freed_memory():
            self.trims += 1

    def _trim_until_stopped(self, stop):
        while not stop.wait(self.interval):
            self._trim()

    def on_train_begin(self, logs=None):
        self._join()  # from a `fit` whose first batch raised (Keras skips on_train_end)
        self._first_batch = True
        self._batches = self._last_trim = 0

    def on_train_batch_begin(self, batch, logs=None):
        if self._first_batch and _malloc_trim() is not None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._trim_until_stopped, args=(self._stop,),
                                            name="release_freed_memory", daemon=True)
            self._thread.start()

    def on_train_batch_end(self, batch, logs=None):
        # Counted here: Keras' `batch` restarts every epoch.
        self._batches += 1
        if self._first_batch:
            self._first_batch = False
            self._join()
        elif self._batches - self._last_trim < self.every_n_batches:
            return
        self._trim()
        self._last_trim = self._batches

    def on_epoch_end(self, epoch, logs=None):
        self._trim()

    def on_train_end(self, logs=None):
        self._join()

    def _join(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
