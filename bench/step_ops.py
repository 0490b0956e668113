"""The step's ops that keras_electra does its own way, against the usual way, same process.

    python bench/step_ops.py                        # ELECTRA-Small's sizes, 7 repeats
    python bench/step_ops.py --repeats=2 --iters=2  # smoke run

A pre-training step draws a random number for every dropout decision (about
60 million at batch 32 x 128 on ELECTRA-Small) and, to sample the
generator's replacements, for every vocabulary entry of every masked
position (20 million more), and on this project's CPU those draws took
up to 16% of a step; its GELUs are a dozen element-wise passes each. This
measures, forward and backward under `tf.function`:

* `dropout`: `keras_electra.layers.fast_dropout` (two 16-bit keep decisions
  per random word) against Keras' own TensorFlow dropout
  (`tf.nn.experimental.stateless_dropout`, one float uniform per value), on
  ELECTRA-Small's attention probabilities `(32, 4, 128, 128)` and hidden
  states `(32, 128, 256)`, float32 and bfloat16.
* `sampling`: `keras_electra.objectives.sample_from_logits` (an exact
  categorical draw, one uniform per sample) against the original code's
  Gumbel-max sampler (one uniform and two logarithms per vocabulary entry),
  on `(32, 20, 30522)` generator logits with one seed per example.
* `mlm_head`: one chunk of the MLM head after its projection, as
  `objectives.chunked_mlm_loss` runs it (`chunk_loss` as one XLA
  computation: loss, its gradient, argmax and sample from one read of the
  logits) against TensorFlow's own ops for the same outputs
  (`SparseSoftmaxCrossEntropyWithLogits`, `argmax`,
  `stateless_categorical` per example), on `(152, 30522)` logits (8
  examples of 19 masked positions), float32 and bfloat16.
* `gelu`: `keras_electra.layers.activations.gelu` as a training step traces
  it (`compiled_activations`: one XLA loop each way, float32 inside)
  against Keras' own `keras.activations.gelu`, on ELECTRA-Small's
  feed-forward activations `(4096, 1024)`, float32 and bfloat16.
* `adamw`: one update of `create_optimizer`'s `FusedAdamW` (each variable's
  weight decay and Adam update one XLA loop) against Keras' own
  `keras.optimizers.AdamW` with the same settings, clipping at global norm
  1.0 included, on ELECTRA-Small's 402 trainable variables (14.2M
  parameters at `--vocab_size=30522`); float32 variables, as mixed
  precision keeps them.

Prints one JSON line per case: the median milliseconds of both
(`keras_electra_ms`, `alternative_ms`), every timing, and `speedup`
(alternative over keras_electra, above 1 is faster).
"""

import json
import os
import statistics
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_integer("repeats", 7, "Timings per side (median reported).")
flags.DEFINE_integer("iters", 5, "Calls per timing.")
flags.DEFINE_integer("vocab_size", 30522, "Sampling: vocabulary.")
flags.DEFINE_integer("masked", 20, "Sampling: masked positions per example.")
FLAGS = flags.FLAGS

DROPOUT_SHAPES = {"attention_probs": (32, 4, 128, 128), "hidden": (32, 128, 256)}
GELU_SHAPE = (4096, 1024)
RATE = 0.1


def original_gumbel_sample(logits, temperature, seeds):
    """The original ELECTRA's `sample_from_softmax` noise, one seed per example."""
    import tensorflow as tf

    def one(row):
        logits, seed = row
        uniform = tf.random.stateless_uniform(tf.shape(logits), seed)
        gumbel = -tf.math.log(-tf.math.log(uniform + 1e-9) + 1e-9)
        return tf.argmax(tf.cast(logits, tf.float32) / temperature + gumbel, -1,
                         output_type=tf.int32)
    return tf.map_fn(one, (logits, seeds), fn_output_signature=tf.int32)


def time_calls(function, args):
    """Median milliseconds per call and every timing, after two warm-up calls."""
    for _ in range(2):
        _touch(function(*args))
    timings = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        for _ in range(FLAGS.iters):
            _touch(function(*args))
        timings.append((time.perf_counter() - start) * 1e3 / FLAGS.iters)
    return round(statistics.median(timings), 3), [round(t, 3) for t in timings]


def _touch(result):
    import tensorflow as tf

    for tensor in tf.nest.flatten(result):
        tensor.numpy()  # the values exist: the work has run


def forward_backward(op):
    """A `tf.function` of `op(x, *rest)` and its gradient with respect to `x`."""
    import tensorflow as tf

    @tf.function
    def run(x, *rest):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = op(x, *rest)
        return tape.gradient(y, x, output_gradients=y)
    return run


def dropout_cases():
    import tensorflow as tf

    from keras_electra.layers import fast_dropout

    ours = forward_backward(lambda x, seed: fast_dropout(x, RATE, seed))
    # What `keras.layers.Dropout` runs on the TensorFlow backend.
    keras_own = forward_backward(
        lambda x, seed: tf.nn.experimental.stateless_dropout(x, RATE, seed=seed))
    for name, shape in DROPOUT_SHAPES.items():
        for dtype in ("float32", "bfloat16"):
            x = tf.cast(tf.random.stateless_normal(shape, [0, 1]), dtype)
            seed = tf.constant([1, 2])
            yield ({"op": "dropout", "tensor": name, "shape": list(shape), "dtype": dtype,
                    "alternative": "tf.nn.experimental.stateless_dropout (Keras')"},
                   time_calls(ours, (x, seed)), time_calls(keras_own, (x, seed)))


def sampling_cases():
    import tensorflow as tf

    from keras_electra.objectives import sample_from_logits

    shape = (32, FLAGS.masked, FLAGS.vocab_size)
    logits = 3.0 * tf.random.stateless_normal(shape, [3, 4])
    seeds = tf.stack([tf.range(32, dtype=tf.int64), tf.fill([32], tf.constant(7, tf.int64))], 1)
    ours = tf.function(lambda l, s: sample_from_logits(l, 1.0, s))
    original = tf.function(lambda l, s: original_gumbel_sample(l, 1.0, s))
    yield ({"op": "sampling", "tensor": "generator_logits", "shape": list(shape),
            "dtype": "float32", "alternative": "original Gumbel-max"},
           time_calls(ours, (logits, seeds)), time_calls(original, (logits, seeds)))


def tensorflow_ops_chunk(logits, targets, weights, scale, seeds):
    """`chunk_loss`'s outputs from TensorFlow's own ops (float32 loss, the
    gradient cast back to the logits' dtype, per-example categorical draws)."""
    import tensorflow as tf

    floats = tf.cast(logits, tf.float32)
    losses, backprop = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=floats, labels=targets)
    d_logits = tf.cast(backprop * scale[:, None], logits.dtype)
    per_example = tf.reshape(floats, [tf.shape(seeds)[0], -1, tf.shape(floats)[-1]])
    samples = tf.map_fn(
        lambda row: tf.random.stateless_categorical(row[0], 1, row[1], dtype=tf.int32),
        (per_example, seeds), fn_output_signature=tf.int32)
    return (tf.reduce_sum(losses * weights), d_logits,
            tf.cast(tf.reduce_sum(d_logits, 0), tf.float32),
            tf.argmax(floats, -1, output_type=tf.int32), samples)


def mlm_head_cases():
    import tensorflow as tf

    from keras_electra.objectives.chunked_mlm import chunk_loss
    from keras_electra.objectives.sampling import sampling_uniforms

    examples, rows = 8, 8 * (FLAGS.masked - 1)  # ELECTRA-Small's chunk: 8 x 19 slots
    targets = tf.random.stateless_uniform([rows], [5, 5], 0, FLAGS.vocab_size, tf.int32)
    weights = tf.ones([rows])
    scale = weights / 608.0
    seeds = tf.stack([tf.range(examples), tf.fill([examples], 7)], 1)
    uniforms = tf.reshape(sampling_uniforms([examples, rows // examples], seeds), [-1])
    ours = tf.function(lambda l, t, w, s, u: chunk_loss(l, t, w, s, 1.0, u), jit_compile=True)
    theirs = tf.function(tensorflow_ops_chunk)
    for dtype in ("float32", "bfloat16"):
        logits = tf.cast(3.0 * tf.random.stateless_normal([rows, FLAGS.vocab_size], [3, 4]),
                         dtype)
        yield ({"op": "mlm_head", "tensor": "chunk_logits", "shape": [rows, FLAGS.vocab_size],
                "dtype": dtype, "alternative": "SparseSoftmaxCrossEntropyWithLogits, argmax, "
                                               "stateless_categorical"},
               time_calls(ours, (logits, targets, weights, scale, uniforms)),
               time_calls(theirs, (logits, targets, weights, scale, seeds)))


def gelu_cases():
    import keras
    import tensorflow as tf

    from keras_electra.layers.activations import compiled_activations, gelu

    with compiled_activations():  # as `ElectraPretrainer.train_step` traces it
        ours = forward_backward(gelu)
        ours.get_concrete_function(tf.TensorSpec(GELU_SHAPE, tf.float32))
        ours.get_concrete_function(tf.TensorSpec(GELU_SHAPE, tf.bfloat16))
    keras_own = forward_backward(keras.activations.gelu)
    for dtype in ("float32", "bfloat16"):
        x = tf.cast(tf.random.stateless_normal(GELU_SHAPE, [5, 6]), dtype)
        yield ({"op": "gelu", "tensor": "feedforward", "shape": list(GELU_SHAPE),
                "dtype": dtype, "alternative": "keras.activations.gelu"},
               time_calls(ours, (x,)), time_calls(keras_own, (x,)))


def adamw_cases():
    import keras
    import tensorflow as tf

    from keras_electra.builders import build_pretrainer
    from keras_electra.config import ElectraConfig
    from keras_electra.training.optimizer import NO_DECAY_NAMES, create_optimizer

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "configs", "electra_small.json")
    config = ElectraConfig.from_json(path).with_overrides({"vocab_size": FLAGS.vocab_size})
    variables = build_pretrainer(config).trainable_variables
    # Gradients of norm ~40: the clip at 1.0 is active, as early in training.
    grads = [tf.random.stateless_normal(v.shape, [7, i], stddev=0.01)
             for i, v in enumerate(variables)]
    ours = create_optimizer(config, 10_000)
    keras_own = keras.optimizers.AdamW.from_config(ours.get_config())  # same settings
    keras_own.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))

    def update(optimizer):
        @tf.function
        def run(*grads):
            optimizer.apply(list(grads), variables)
            return optimizer.iterations
        return run

    parameters = sum(int(v.shape.num_elements()) for v in variables)
    yield ({"op": "adamw", "tensor": f"{len(variables)}_variables", "shape": [parameters],
            "dtype": "float32", "alternative": "keras.optimizers.AdamW"},
           time_calls(update(ours), grads), time_calls(update(keras_own), grads))


def main(argv):
    del argv
    cases = (*dropout_cases(), *sampling_cases(), *mlm_head_cases(), *gelu_cases(),
             *adamw_cases())
    for case, (ours, ours_all), (other, other_all) in cases:
        print(json.dumps({"bench": "step_ops", **case, "keras_electra_ms": ours,
                          "alternative_ms": other, "speedup": round(other / ours, 3),
                          "keras_electra_ms_all": ours_all, "alternative_ms_all": other_all,
                          "repeats": FLAGS.repeats, "iters": FLAGS.iters}), flush=True)


if __name__ == "__main__":
    app.run(main)
