"""The MLM loss of a tied output layer, a few examples at a time.

A masked-LM head ends in `logits = features @ word_table^T + bias`: on
ELECTRA-Small at batch 32 that is a `(32, 19, 30522)` float32 tensor (74 MB)
per use, and the loss keeps its softmax (another 74 MB) alive until the
backward pass reaches the head, after the discriminator. `chunked_mlm_loss`
runs the projection, the loss and its gradient, the argmax and the generator's
sample one chunk of examples at a time and keeps only the gradients
with respect to the features, the table and the bias, which the backward pass
scales by the loss' upstream gradient (the loss is linear in its chunks' sums).
The numbers are those of the unchunked head up to float summation order; the
samples are exactly those of `sample_from_logits` with per-example seeds.
"""

import collections

import tensorflow as tf

from keras_electra.objectives.sampling import sample_from_logits

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
        parts = (chunks(features), chunks(targets), chunks(weights),
                 chunks(seeds) if sample else chunks(targets))
        count = tf.shape(parts[0])[0]

        def body(i, total, table_grad, bias_grad, feature_grads, predictions, samples):
            chunk, chunk_targets, chunk_weights, chunk_seeds = (part[i] for part in parts)
            rows = tf.reshape(tf.cast(chunk, compute_dtype), [-1, tf.shape(chunk)[-1]])
            logits = tied_logits(rows, word_table, bias, compute_dtype)
            # The loss op's second output is its gradient, softmax - one_hot, as
            # autodiff uses it; the rest is the projection's backward pass, with
            # the casts' gradients (cast back) that autodiff would insert.
            row_losses, backprop = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
                features=logits, labels=tf.reshape(chunk_targets, [-1]))
            row_weights = tf.reshape(chunk_weights, [-1])
            chunk_sum = tf.reduce_sum(row_losses * row_weights)
            d_logits = tf.cast(backprop * (row_weights / denominator)[:, None], compute_dtype)
            d_chunk = tf.reshape(tf.matmul(d_logits, tf.cast(word_table, compute_dtype)),
                                 tf.shape(chunk))
            d_table = tf.cast(tf.matmul(d_logits, rows, transpose_a=True), tf.float32)
            d_bias = tf.cast(tf.reduce_sum(d_logits, 0), tf.float32)
            logits = tf.reshape(logits, tf.concat([tf.shape(chunk)[:-1], [-1]], 0))
            predictions = predictions.write(i, tf.argmax(logits, -1, output_type=tf.int32))
            if sample:
                samples = samples.write(i, sample_from_logits(logits, temperature, chunk_seeds))
            return (i + 1, total + chunk_sum, table_grad + d_table, bias_grad + d_bias,
                    feature_grads.write(i, tf.cast(d_chunk, features.dtype)), predictions, samples)

        def arrays(dtype):
            return tf.TensorArray(dtype, size=count, infer_shape=True)

        word_table = tf.convert_to_tensor(word_table)
        bias = tf.convert_to_tensor(bias)
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
