"""The MLM loss of a tied output layer, a few examples at a time.

A masked-LM head ends in `logits = features @ word_table^T + bias`: on
ELECTRA-Small at batch 32 that is a `(32, 19, 30522)` float32 tensor (74 MB)
per use, and the loss keeps its softmax (another 74 MB) alive until the
backward pass reaches the head, after the discriminator. `chunked_mlm_loss`
runs the projection, then the loss and its gradient, the argmax and the
generator's sample (`chunk_loss`, one XLA computation) one chunk of examples
at a time and keeps only the gradients
with respect to the features, the table and the bias, which the backward pass
scales by the loss' upstream gradient (the loss is linear in its chunks' sums).
The numbers are those of the unchunked head up to float rounding (in bfloat16
as accurate, measured against float64: tested); the samples are exactly those
of `sample_from_logits` with per-example seeds.
"""

import collections
import functools

import tensorflow as tf

from keras_electra.layers.bfloat16_bits import narrow, widen
from keras_electra.objectives.sampling import (
    block_sums, inverse_cdf, sampling_uniforms, search_blocks, shifted_logits)

MlmOutputs = collections.namedtuple("MlmOutputs", ["loss", "predictions", "samples"])

# Rows of logits per chunk: ~18 MB of float32 logits at BERT's vocabulary,
# and matmuls still large enough to run at the machine's matmul peak.
ROWS_PER_CHUNK = 256


def tied_logits(features, word_table, bias, compute_dtype):
    """`features @ word_table^T + bias` as keras-hub's `MaskedLMHead` with a tied
    `ReversibleEmbedding` computes it (variables cast to `compute_dtype`), in float32.

    Example:

    >>> table = tf.constant([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> tied_logits(tf.constant([[[3.0, 4.0]]]), table, tf.zeros([3]), "float32").numpy().tolist()
    [[[3.0, 8.0, 7.0]]]
    """
    features = tf.cast(features, compute_dtype)
    kernel = tf.transpose(tf.cast(word_table, compute_dtype))
    logits = tf.matmul(features, kernel) + tf.cast(bias, compute_dtype)
    return tf.cast(logits, tf.float32)


def chunk_loss(logits, targets, weights, scale, temperature=None, uniforms=None):
    """The MLM loss of one chunk of logit rows and what its pass needs besides.

    Args:
        logits: `(rows, vocab)` logits, any float dtype (computed in float32).
        targets: `(rows,)` int32 original ids.
        weights: `(rows,)` float32 loss weights (0.0 for padding slots).
        scale: `(rows,)` float32 the loss' gradient with respect to each row's
            loss (`weights / normalizer`).
        temperature, uniforms: with `(rows,)` float64 uniforms, also the
            sample of `softmax(logits / temperature)` that `sample_from_logits`
            draws from them.

    Returns:
        `(loss_sum, d_logits, d_bias, predictions, samples)`: `sum(weights *
        row_losses)`; `scale * (softmax - one_hot)` in the logits' dtype, what
        `SparseSoftmaxCrossEntropyWithLogits` hands back; its column sums in
        float32; the int32 argmax; the int32 samples (the argmax without
        `uniforms`).

    Example:

    >>> logits = tf.math.log([[2.0, 1.0, 1.0]])  # softmax 1/2, 1/4, 1/4
    >>> loss, d_logits, _, ids, _ = chunk_loss(logits, [0], [1.0], [1.0])
    >>> round(float(loss), 4), d_logits.numpy().tolist(), ids.numpy().tolist()  # -log(1/2)
    (0.6931, [[-0.5, 0.25, 0.25]], [0])
    """
    logits = tf.convert_to_tensor(logits)
    shifted = shifted_logits(logits)
    exps = tf.exp(shifted)  # sample_from_logits' weights at temperature 1
    # The sampler's float64 block sums give the softmax' denominator too: one
    # pass over the row fewer.
    sums_of_blocks = block_sums(exps)
    sums = tf.reduce_sum(sums_of_blocks, -1)
    # log(sum(exp(l - max))) - (l_t - max), as the loss op computes it.
    row_losses = tf.cast(tf.math.log(sums), tf.float32) - tf.gather(shifted, targets, batch_dims=1)
    scale = tf.cast(scale, tf.float32)[:, None]
    softmax = exps * tf.cast(1.0 / sums, tf.float32)[:, None]
    d_logits = narrow((softmax - tf.one_hot(targets, tf.shape(exps)[-1])) * scale, logits.dtype)
    d_bias = tf.reduce_sum(widen(d_logits), 0)
    predictions = tf.argmax(shifted, -1, output_type=tf.int32)
    if uniforms is None:
        samples = predictions
    elif temperature == 1.0:
        samples = search_blocks(exps, sums_of_blocks, uniforms)
    else:
        samples = inverse_cdf(tf.exp(shifted / temperature), uniforms)
    return (tf.reduce_sum(row_losses * tf.cast(weights, tf.float32)), d_logits, d_bias,
            predictions, samples)


@functools.lru_cache(maxsize=None)
def _chunk_kernel(temperature):
    # One XLA computation per chunk after the projection: the float32
    # logits, their exponentials and the one-hot never reach memory, where
    # SparseSoftmaxCrossEntropyWithLogits, the categorical draw and the argmax
    # each read the logits again (`bench/step_ops.py`'s mlm_head line).
    def mlm_chunk(projected, bias, targets, weights, scale, uniforms):
        return chunk_loss(projected + bias, targets, weights, scale, temperature,
                          None if temperature is None else uniforms)
    return tf.function(mlm_chunk, jit_compile=True, reduce_retracing=True)


def examples_per_chunk(batch_size, slots, rows_per_chunk=ROWS_PER_CHUNK):
    """The largest divisor of `batch_size` whose chunk has at most `rows_per_chunk`
    rows (at least 1): chunks of one static shape, which XLA needs.

    >>> examples_per_chunk(32, 19), examples_per_chunk(30, 19), examples_per_chunk(8, 512)
    (8, 10, 1)
    """
    most = max(1, rows_per_chunk // max(1, slots))
    return max(g for g in range(1, min(batch_size, most) + 1) if batch_size % g == 0)


def chunked_mlm_loss(features, word_table, bias, targets, weights, normalizer=None,
                     compute_dtype="float32", temperature=None, seeds=None,
                     rows_per_chunk=None):
    """`mlm_loss(tied_logits(...), targets, weights, normalizer)`, its argmax and,
    with `seeds`, the generator's samples, without the whole batch's logits.

    Args:
        features: `(batch, n, d)` the head's features at the masked positions
            (after its dense and LayerNorm).
        word_table: `(vocab, d)` the tied word embeddings (a tensor or variable).
        bias: `(vocab,)` the head's output bias.
        targets: `(batch, n)` original ids.
        weights: `(batch, n)` 1.0 for real slots.
        normalizer: the loss' denominator (default: `sum(weights)`).
        compute_dtype: the head's compute dtype ("bfloat16" under mixed precision).
        temperature, seeds: with `(batch, 2)` per-example seeds, also sample
            `softmax(logits / temperature)` as `sample_from_logits` does.
        rows_per_chunk: at most this many logit rows at a time (default
            `ROWS_PER_CHUNK`); with an unknown batch size, one example at a time.

    Returns:
        `MlmOutputs(loss, predictions, samples)`: the float32 scalar loss
        (differentiable with respect to `features`, `word_table` and `bias`),
        `(batch, n)` int32 argmax ids, and `(batch, n)` int32 samples (`None`
        without `seeds`).

    Example:

    >>> table = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> out = chunked_mlm_loss(tf.math.log([[[2.0, 1.0]]]), table, tf.zeros([3]), [[0]], [[1.0]])
    >>> round(float(out.loss), 4), out.predictions.numpy().tolist()  # -log(2/4)
    (0.6931, [[0]])
    """
    weights = tf.cast(weights, tf.float32)
    targets = tf.cast(targets, tf.int32)
    if normalizer is None:
        normalizer = tf.reduce_sum(weights)
    denominator = tf.stop_gradient(tf.cast(normalizer, tf.float32)) + 1e-6
    batch_size, slots = features.shape[0], features.shape[1]
    per_chunk = (examples_per_chunk(batch_size, slots, rows_per_chunk or ROWS_PER_CHUNK)
                 if batch_size is not None and slots is not None else 1)
    sample = seeds is not None

    def chunks(tensor):  # (batch, ...) -> (chunks, per_chunk, ...), static inner shape
        tensor = tf.convert_to_tensor(tensor)
        return tf.reshape(tensor, tf.concat([[-1, per_chunk], tf.shape(tensor)[1:]], 0))

    @tf.custom_gradient
    def loss_and_ids(features, word_table, bias):
        # (Without seeds the kernel ignores its uniforms: the weights stand in.)
        parts = (chunks(features), chunks(targets), chunks(weights),
                 chunks(sampling_uniforms(tf.shape(targets), seeds)) if sample
                 else chunks(weights))
        count = tf.shape(parts[0])[0]
        # Cast once, not once per chunk (the cast of a 30522-row table is a
        # pass over it; in float32 it is a no-op).
        table = tf.cast(word_table, compute_dtype)
        kernel = _chunk_kernel(float(temperature) if sample else None)

        def body(i, total, table_grad, bias_grad, feature_grads, predictions, samples):
            chunk, chunk_targets, chunk_weights, chunk_uniforms = (part[i] for part in parts)
            rows = tf.reshape(tf.cast(chunk, compute_dtype), [-1, tf.shape(chunk)[-1]])
            row_weights = tf.reshape(chunk_weights, [-1])
            chunk_sum, d_logits, d_bias, chunk_predictions, chunk_samples = kernel(
                tf.matmul(rows, table, transpose_b=True), tf.cast(bias, compute_dtype),
                tf.reshape(chunk_targets, [-1]), row_weights, row_weights / denominator,
                tf.reshape(chunk_uniforms, [-1]))
            # The projection's backward pass, with the casts' gradients (cast
            # back) that autodiff would insert.
            d_chunk = tf.reshape(tf.matmul(d_logits, table), tf.shape(chunk))
            d_table = tf.cast(tf.matmul(d_logits, rows, transpose_a=True), tf.float32)
            slots_shape = tf.shape(chunk)[:-1]
            predictions = predictions.write(i, tf.reshape(chunk_predictions, slots_shape))
            if sample:
                samples = samples.write(i, tf.reshape(chunk_samples, slots_shape))
            return (i + 1, total + chunk_sum, table_grad + d_table, bias_grad + d_bias,
                    feature_grads.write(i, tf.cast(d_chunk, features.dtype)), predictions, samples)

        def arrays(dtype):
            return tf.TensorArray(dtype, size=count, infer_shape=True)

        # One chunk at a time: chunks are independent, and run side by side
        # they would hold all their logits at once again.
        _, total, table_grad, bias_grad, feature_grads, predictions, samples = tf.while_loop(
            lambda i, *_: i < count, body,
            (tf.constant(0), tf.constant(0.0), tf.zeros_like(word_table, tf.float32),
             tf.zeros_like(bias, tf.float32), arrays(features.dtype), arrays(tf.int32),
             arrays(tf.int32)),
            parallel_iterations=1)
        feature_grads = tf.reshape(feature_grads.stack(), tf.shape(features))
        predictions = tf.reshape(predictions.stack(), tf.shape(targets))
        samples = tf.reshape(samples.stack(), tf.shape(targets)) if sample else predictions

        def grad(upstream, *_):  # the ids have no gradient
            upstream = tf.cast(upstream, tf.float32)
            return (tf.cast(upstream, feature_grads.dtype) * feature_grads,
                    tf.cast(upstream * table_grad, word_table.dtype),
                    tf.cast(upstream * bias_grad, bias.dtype))

        return (total / denominator, predictions, samples), grad

    loss, predictions, samples = loss_and_ids(features, word_table, bias)
    return MlmOutputs(loss, tf.stop_gradient(predictions),
                      tf.stop_gradient(samples) if sample else None)
