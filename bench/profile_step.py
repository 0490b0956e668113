"""Where a keras_electra pre-training step spends its time: the TensorFlow profiler's top ops.

    python bench/profile_step.py                                  # small, float32, 3 steps
    python bench/profile_step.py --config=configs/electra_tiny.json --dtype=bfloat16

Trains `build_pretrainer(config)` with `fit` as `bench/pretrain_step.py` does
(batch 32 x 128, random ids, dropout 0.1), warms up, then records
`--steps` steps with `tf.profiler.experimental` and reads the trace back
with the profiler's own `framework_op_stats` tool (what TensorBoard's
Profile tab shows). Prints one JSON line: the ops' self time per step,
the `--top` op types by self time (`top_ops`: share; `top_ops_ms_per_step`),
the XLA computations' time per step, which that table leaves out
(`xla_ms_per_step`, and by traced function: `xla_computations_ms_per_step`,
e.g. `activation_forward` for the GELUs, `layer_norm_backward`,
`softmax_dropout_forward`, `mlm_chunk`), and the trace folder (open it in
TensorBoard for the timeline). The profile is taken on an otherwise idle
machine; its shares, not its times, are the result (the profiler itself
slows small ops). TensorFlow runs independent ops side by side, so self
times add up to more than the step's wall time.
"""

import itertools
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from absl import app, flags  # noqa: E402

from step_inputs import build_step, define_step_flags  # noqa: E402  (bench/)

FLAGS = flags.FLAGS
# A computation's module in a trace: "a_inference_<function>_<id>__" and more.
_MODULE = re.compile(r"^a_inference_(?P<function>.+?)_\d+__")


def define_flags():
    """The command line's flags, defined only when run as a script: tests import
    `profile_step` beside other benchmarks that define `--config` too."""
    define_step_flags(flags)
    flags.DEFINE_integer("warmup", 3, "Untraced steps first.")
    flags.DEFINE_integer("steps", 3, "Traced steps.")
    flags.DEFINE_integer("top", 12, "Op types listed.")
    flags.DEFINE_string("logdir", None, "Where the trace goes (default: a new temporary folder).")


def op_type_self_times(tool_json):
    """`{op type: total self time in microseconds}`, largest first, from the
    `framework_op_stats` tool's output (gviz DataTable JSON); host ops, no IDLE.

    The tool gives the same ops twice, in a table with the idle time and in
    one without: only the first table with the columns is read.

    >>> table = {"cols": [{"id": "type"}, {"id": "total_self_time"}],
    ...          "rows": [{"c": [{"v": "IDLE"}, {"v": 9.0}]}, {"c": [{"v": "MatMul"}, {"v": 2.0}]},
    ...                   {"c": [{"v": "MatMul"}, {"v": 1.0}]}]}
    >>> op_type_self_times(json.dumps([table, table]))
    {'MatMul': 3.0}
    """
    tables = json.loads(tool_json)
    tables = tables if isinstance(tables, list) else [tables]
    totals = {}
    for table in tables:
        columns = [c.get("id") for c in table.get("cols", [])]
        if "type" not in columns or "total_self_time" not in columns:
            continue
        kind, self_time = columns.index("type"), columns.index("total_self_time")
        where = columns.index("host_or_device") if "host_or_device" in columns else None
        for row in table.get("rows", []):
            cells = [c.get("v") if c else None for c in row["c"]]
            if where is not None and cells[where] not in ("Host", "host", None):
                continue
            if cells[kind] == "IDLE":
                continue
            totals[cells[kind]] = totals.get(cells[kind], 0.0) + float(cells[self_time] or 0)
        break
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def xla_computation_times(xspace):
    """`{function: total microseconds}` of the XLA computations run in a trace, largest first.

    The TensorFlow ops' table leaves out XLA computations (`jit_compile`
    functions). Each run is a `CpuExecutable::ExecuteAsyncOnStream` event on
    a host thread; it is named by the HLO module of the first fused kernel
    it starts (the traced Python function's name, `_MODULE`), and
    `"(unnamed)"` where it starts none.

    Args:
        xspace: the trace, an `XSpace` proto (`*.xplane.pb`).
    """
    totals = {}
    for plane in xspace.planes:
        if not plane.name.startswith("/host"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        stat_names = {k: v.name for k, v in plane.stat_metadata.items()}
        for line in plane.lines:
            events = sorted(line.events, key=lambda e: e.offset_ps)
            for i, run in enumerate(events):
                if names.get(run.metadata_id) != "CpuExecutable::ExecuteAsyncOnStream":
                    continue
                end = run.offset_ps + run.duration_ps
                within = itertools.takewhile(lambda e: e.offset_ps < end, events[i + 1:])
                modules = (stat_names.get(stat.ref_value) or stat.str_value
                           for e in within for stat in e.stats
                           if stat_names.get(stat.metadata_id) == "hlo_module")
                module = next(modules, "(unnamed)")
                match = _MODULE.match(module)
                name = match.group("function") if match else module
                totals[name] = totals.get(name, 0.0) + run.duration_ps / 1e6
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def read_xspace(path):
    """The `XSpace` proto of a `*.xplane.pb` trace file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    xspace = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        xspace.ParseFromString(f.read())
    return xspace


def main(argv):
    del argv
    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    pretrainer, batch = build_step(FLAGS.config, FLAGS.dtype, FLAGS.batch_size, FLAGS.seq_length)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    pretrainer.fit(data, steps_per_epoch=FLAGS.warmup, verbose=0)

    logdir = FLAGS.logdir or tempfile.mkdtemp(prefix="profile_step_")
    tf.profiler.experimental.start(logdir)
    pretrainer.fit(data, steps_per_epoch=FLAGS.steps, verbose=0)
    tf.profiler.experimental.stop()
    traces = [os.path.join(root, name) for root, _, names in os.walk(logdir)
              for name in names if name.endswith(".xplane.pb")]
    if not traces:
        raise SystemExit(f"{logdir}: the profiler wrote no .xplane.pb")
    data, ok = _pywrap_profiler_plugin.xspace_to_tools_data(traces, "framework_op_stats")
    if not ok:
        raise SystemExit(f"{traces[0]}: framework_op_stats could not read it")
    times = op_type_self_times(data.decode() if isinstance(data, bytes) else data)
    whole = sum(times.values()) or 1.0
    top = list(times.items())[:FLAGS.top]
    xla = {}
    for trace in traces:
        for name, us in xla_computation_times(read_xspace(trace)).items():
            xla[name] = xla.get(name, 0.0) + us
    print(json.dumps({
        "bench": "profile_step", "config": os.path.basename(FLAGS.config), "dtype": FLAGS.dtype,
        "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length, "steps": FLAGS.steps,
        "op_self_ms_per_step": round(whole / 1e3 / FLAGS.steps, 1),
        "top_ops": {k: round(v / whole, 3) for k, v in top},
        "top_ops_ms_per_step": {k: round(v / 1e3 / FLAGS.steps, 1) for k, v in top},
        "xla_ms_per_step": round(sum(xla.values()) / 1e3 / FLAGS.steps, 1),
        "xla_computations_ms_per_step": {k: round(v / 1e3 / FLAGS.steps, 1)
                                         for k, v in list(xla.items())[:FLAGS.top]},
        "trace": logdir}), flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
