import subprocess
import sys
import textwrap
import threading
import time

import keras
import numpy as np
import pytest

from keras_electra.training import release_freed_memory as module
from keras_electra.training.release_freed_memory import ReleaseFreedMemory, release_freed_memory

needs_malloc_trim = pytest.mark.skipif(
    module._malloc_trim() is None, reason="needs glibc's malloc_trim (this C library has none)")


@needs_malloc_trim
def test_freed_heap_below_a_live_block_goes_back_to_the_system():
    # 240 MB of 4 KB blocks, all freed but the last: glibc keeps the freed
    # pages (the live block pins the heap's top) until malloc_trim. A fresh
    # process, so that no other heap state is measured.
    script = textwrap.dedent("""
        import ctypes, ctypes.util
        from keras_electra.training.release_freed_memory import release_freed_memory
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        def rss_mb():
            line = next(l for l in open("/proc/self/status") if l.startswith("VmRSS"))
            return int(line.split()[1]) / 1024
        blocks = [libc.malloc(4096) for _ in range(60_000)]
        for block in blocks:
            ctypes.memset(block, 1, 4096)
        for block in blocks[:-1]:
            libc.free(block)
        before = rss_mb()
        assert release_freed_memory() is True
        print(before, rss_mb())
    """)
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout
    before, after = map(float, output.split())
    assert before - after > 200, (before, after)


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


class _Calls:
    """Counts `release_freed_memory` calls by thread, and what ran when."""

    def __init__(self):
        self.by_thread = {"release_freed_memory": 0, "MainThread": 0}

    def __call__(self):
        self.by_thread[threading.current_thread().name] += 1
        return True


class _Recorder(keras.callbacks.Callback):
    """Sleeps in the first batch (a slow trace) and records the counts after each."""

    def __init__(self, calls):
        super().__init__()
        self.calls, self.after_batch = calls, []

    def on_train_batch_begin(self, batch, logs=None):
        if not self.after_batch:
            time.sleep(0.2)

    def on_train_batch_end(self, batch, logs=None):
        self.after_batch.append(dict(self.calls.by_thread))


@needs_malloc_trim
def test_trims_while_the_first_batch_runs_then_every_n_batches_and_epoch(monkeypatch):
    calls = _Calls()
    monkeypatch.setattr(module, "release_freed_memory", calls)
    callback = ReleaseFreedMemory(interval=0.01, every_n_batches=3)
    recorder = _Recorder(calls)
    x, y = np.ones((7, 3), "float32"), np.ones((7, 1), "float32")
    _model().fit(x, y, batch_size=1, epochs=2, verbose=0, callbacks=[callback, recorder])
    background = recorder.after_batch[0]["release_freed_memory"]
    assert background >= 5  # 0.2 s of the first batch at 0.01 s intervals
    # The thread stopped with the first batch: no background trims after it.
    assert all(c["release_freed_memory"] == background for c in recorder.after_batch)
    assert not any(t.name == "release_freed_memory" for t in threading.enumerate())
    # On the main thread: after batch 1, then batches 4, 7, 10, 13 of 14
    # (counted across the epochs), and at each of the 2 epoch ends.
    main = [c["MainThread"] for c in recorder.after_batch]
    assert main == [1, 1, 1, 2, 2, 2, 3, 4, 4, 5, 5, 5, 6, 6]
    assert calls.by_thread["MainThread"] == 7
    assert callback.trims == background + 7

    # A second fit traces anew (a new function, new shapes): the same again.
    recorder.after_batch = []
    _model().fit(x, y, batch_size=1, epochs=1, verbose=0, callbacks=[callback, recorder])
    assert recorder.after_batch[0]["release_freed_memory"] >= background + 5
    assert [c["MainThread"] - 7 for c in recorder.after_batch] == [1, 1, 1, 2, 2, 2, 3]


def test_without_malloc_trim_it_does_nothing(monkeypatch):
    monkeypatch.setattr(module, "_malloc_trim", lambda: None)
    callback = ReleaseFreedMemory(interval=0.01, every_n_batches=1)
    _model().fit(np.ones((4, 3)), np.ones((4, 1)), batch_size=1, verbose=0, callbacks=[callback])
    assert callback.trims == 0 and release_freed_memory() is False


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="interval must be > 0 and every_n_batches >= 1"):
        ReleaseFreedMemory(interval=0)
    with pytest.raises(ValueError, match="every_n_batches >= 1, got 0.2 and 0"):
        ReleaseFreedMemory(every_n_batches=0)


def test_doctests():
    import doctest
    assert doctest.testmod(module, raise_on_error=True).attempted == 1
