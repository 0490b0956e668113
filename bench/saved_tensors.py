"""What a keras_electra pre-training step keeps for its backward pass, tensor by tensor.

    python bench/saved_tensors.py                                  # small, float32
    python bench/saved_tensors.py --config=configs/electra_tiny.json --dtype=bfloat16

Traces `ElectraPretrainer.train_step` (batch 32 x 128, dropout 0.1, as
`bench/pretrain_step.py` runs it) into a graph and lists the forward
tensors that the backward pass reads: the activations autodiff and the
custom gradients keep alive from the forward pass to the backward pass,
which set the step's peak memory. A backward op is one that the tape's
gradient ops reach by data or control edges, so the custom gradients'
recomputations count as backward. Variable reads and constants are left
out: they alias the variables, or live with the graph. Sizes are from
static shapes, before Grappler.

Prints one JSON line: `saved_mb` (all of them), `per_discriminator_layer_mb`
(the first discriminator block's) and the `--top` largest groups (op names
with their layer indices folded).
"""

import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from absl import app, flags  # noqa: E402

from step_inputs import build_step, define_step_flags  # noqa: E402  (bench/)

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags, defined only when run as a script: tests import
    `saved_tensors` beside other benchmarks that define `--config` too."""
    define_step_flags(flags)
    flags.DEFINE_integer("top", 20, "Groups listed.")


def saved_tensors(graph):
    """The forward tensors of `graph` that its gradient ops read.

    Returns `[(tensor, bytes)]`, variable reads and constants left out;
    `bytes` is None where the static shape is not fully known. Gradient ops
    are those under a `gradient_tape` name scope and every op they reach by
    data or control edges.

    Example:

    >>> import tensorflow as tf
    >>> @tf.function
    ... def step(x):
    ...     with tf.GradientTape() as tape:
    ...         tape.watch(x)
    ...         loss = tf.reduce_sum(tf.exp(x))
    ...     return tape.gradient(loss, x)
    >>> graph = step.get_concrete_function(tf.TensorSpec([8], tf.float32)).graph
    >>> [(t.op.type, size) for t, size in saved_tensors(graph)]
    [('Exp', 32)]
    """
    operations = graph.get_operations()
    backward, stack = set(), [op for op in operations if "gradient_tape" in op.name.split("/")]
    while stack:
        op = stack.pop()
        if op.name in backward:
            continue
        backward.add(op.name)
        for tensor in op.outputs:
            stack.extend(tensor.consumers())
        stack.extend(op._control_outputs)
    saved = []
    for op in operations:
        if op.name in backward or op.type in ("ReadVariableOp", "Const"):
            continue
        for tensor in op.outputs:
            if any(consumer.name in backward for consumer in tensor.consumers()):
                shape = tensor.shape
                size = (shape.num_elements() * tensor.dtype.size
                        if shape.is_fully_defined() else None)
                saved.append((tensor, size))
    return saved


def group_name(tensor):
    """The tensor's op name with layer and op indices folded: `.../layer_N/...`."""
    return re.sub(r"_\d+", "_N", re.sub(r"/\d+", "/N", tensor.op.name))


def main(argv):
    del argv
    import tensorflow as tf

    pretrainer, batch = build_step(FLAGS.config, FLAGS.dtype, FLAGS.batch_size, FLAGS.seq_length)
    batch = {k: tf.constant(v) for k, v in batch.items()}
    graph = tf.function(pretrainer.train_step).get_concrete_function(batch).graph
    saved = saved_tensors(graph)
    groups, counts = collections.Counter(), collections.Counter()
    for tensor, size in saved:
        key = f"{group_name(tensor)} {tensor.dtype.name}{tensor.shape.as_list()}"
        groups[key] += size or 0
        counts[key] += 1
    first_layer = [size or 0 for tensor, size in saved
                   if re.search(r"discriminator(_\d+)?/transformer_layer_0(_\d+)?/", tensor.op.name)]
    mb = 1 / 2**20
    print(json.dumps({
        "bench": "saved_tensors", "config": os.path.basename(FLAGS.config), "dtype": FLAGS.dtype,
        "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length,
        "saved_mb": round(sum(size or 0 for _, size in saved) * mb, 1),
        "unknown_shapes": sum(size is None for _, size in saved),
        "per_discriminator_layer_mb": round(sum(first_layer) * mb, 1),
        "top": [{"group": key, "tensors": counts[key], "mb": round(size * mb, 1)}
                for key, size in groups.most_common(FLAGS.top)]}), flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
