"""`bench/profile_step.py`'s readers of a profiler trace."""

import doctest
import glob
import os
import sys
import tempfile

import tensorflow as tf

from tests.test_case import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))

import profile_step  # noqa: E402


def test_xla_computations_are_timed_by_function_name():
    @tf.function(jit_compile=True)
    def doubled_square(x):
        return tf.square(x) * 2.0

    @tf.function(jit_compile=True)
    def row_sums(x):
        return tf.reduce_sum(tf.exp(x), axis=-1)

    x = tf.random.stateless_normal([512, 1024], seed=[1, 2])
    doubled_square(x), row_sums(x)  # compiled before the trace
    logdir = tempfile.mkdtemp(prefix="test_profile_step_")
    tf.profiler.experimental.start(logdir)
    for _ in range(3):
        doubled_square(x).numpy()
    row_sums(x).numpy()
    tf.profiler.experimental.stop()
    [trace] = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    times = profile_step.xla_computation_times(profile_step.read_xspace(trace))
    assert set(times) == {"doubled_square", "row_sums"}, times
    assert all(0 < us < 5e6 for us in times.values()), times


def test_docstring_examples():
    results = doctest.testmod(profile_step)
    assert results.attempted > 0 and results.failed == 0
