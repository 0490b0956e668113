"""Padding-free inference for the serving signatures: `PackedEncoder`.

A served batch is padded to its longest row, and on SST-2's dev sentences
half of a batch of 32 is padding (mean 31 of a longest ~60 word pieces).
Every op of a Transformer layer except the attention product works token
by token, so `PackedEncoder` runs them on the real tokens only, gathered
into one `(tokens, width)` matrix: embeddings -> projection -> for each
layer, query/key/value projections, attention output, LayerNorms and the
feed-forward block. Only the attention itself sees the padded
`(batch, length, heads, head_size)` layout (scattered there and gathered
back), with the same Keras code the model uses
(`MultiHeadAttention._compute_attention`) and the same mask. This is the
"remove padding" of NVIDIA FasterTransformer's BERT and of ByteTransformer;
the weights are the model's own layers, called on the packed matrix.

The result equals the model's `sequence_output` at every real token (to
float32 round-off, checked when a serving module is built by
`check_packed_matches`); padding positions are 0. A batch without padding
(batch 1, or equal lengths) takes the model's own path.

`call_task_model` runs a fine-tuned task model (classifier, tagger, span
extractor) with its backbone replaced by the packed one, by walking the
model's functional graph: the heads are the model's own layers.

Example:

>>> import numpy as np
>>> from keras_electra.layers.electra_embeddings import ElectraEmbeddings
>>> from keras_electra.models.electra_backbone import ElectraBackbone
>>> backbone = ElectraBackbone(
...     ElectraEmbeddings(vocabulary_size=50, embedding_size=8, max_sequence_length=8),
...     hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32)
>>> batch = {"input_ids": np.array([[2, 7, 9, 3], [2, 5, 3, 0]], "int32"),
...          "input_mask": np.array([[1, 1, 1, 1], [1, 1, 1, 0]], "int32"),
...          "segment_ids": np.zeros((2, 4), "int32")}
>>> packed = PackedEncoder(backbone)(batch)["sequence_output"].numpy()
>>> plain = backbone(batch)["sequence_output"].numpy()
>>> bool(np.allclose(packed[batch["input_mask"] == 1], plain[batch["input_mask"] == 1],
...                  atol=1e-5))
True
>>> float(np.abs(packed[1, 3]).max())  # the padding position
0.0
"""

import contextlib

import numpy as np
import tensorflow as tf

# Read at trace time; `unpacked()` clears it for exports that want the
# model's own static-shape graph (TFLite).
_PACKING = {"enabled": True}


@contextlib.contextmanager
def unpacked():
    """Within this block, `PackedEncoder` and `call_task_model` trace the model's own path.

    TFLite converts fixed-shape `[1, max_seq_length]` signatures: there the
    packed path's data-dependent shapes and `tf.cond` cost more than the
    padding they save (measured: dynamic-int8 batch-1 p50 0.53 ms packed vs
    0.30 ms plain on the SST-2 tiny classifier).
    """
    previous = _PACKING["enabled"]
    _PACKING["enabled"] = False
    try:
        yield
    finally:
        _PACKING["enabled"] = previous


class PackedEncoder:
    """Callable like an `ElectraBackbone` (inputs dict -> `{"sequence_output"}`), padding-free.

    Args:
        backbone: the `ElectraBackbone` whose layers (and weights) are used.
    """

    def __init__(self, backbone):
        self.backbone = backbone

    def __call__(self, inputs, training=False, **kwargs):
        del training, kwargs  # serving only: dropout is off
        if not _PACKING["enabled"]:
            return self.backbone(inputs, training=False)
        input_mask = tf.convert_to_tensor(inputs["input_mask"])
        sequence = tf.cond(
            tf.reduce_all(input_mask != 0),
            lambda: self.backbone(inputs, training=False)["sequence_output"],
            lambda: self._packed(inputs))
        return {"sequence_output": sequence}

    def _packed(self, inputs):
        backbone = self.backbone
        input_ids = tf.convert_to_tensor(inputs["input_ids"])
        mask = tf.convert_to_tensor(inputs["input_mask"]) != 0
        batch_and_length = tf.shape(input_ids)
        # (row, position) of every real token; int32 so scatter shapes match.
        tokens = tf.cast(tf.where(mask), tf.int32)

        def unpack(packed):  # (1, tokens, ...) -> (batch, length, ...), zeros at padding
            shape = tf.concat([batch_and_length, tf.shape(packed)[2:]], axis=0)
            return tf.scatter_nd(tokens, packed[0], shape)

        def pack(padded):  # (batch, length, ...) -> (1, tokens, ...)
            return tf.gather_nd(padded, tokens)[tf.newaxis]

        # The layers expect (batch, length, width) inputs: the packed tokens
        # are one "row" of a batch of 1, which every per-token op accepts.
        x = pack(backbone.embeddings(input_ids, inputs["segment_ids"], training=False))
        if backbone.embeddings_projection is not None:
            x = backbone.embeddings_projection(x)
        attention_mask = mask[:, tf.newaxis, :] & mask[:, :, tf.newaxis]
        for block in backbone.encoder_blocks:
            x = _packed_block(block, x, pack, unpack, attention_mask)
        return unpack(x)


def _packed_block(block, x, pack, unpack, attention_mask):
    """One post-LN `keras_hub.layers.TransformerEncoder` on packed tokens (inference)."""
    attention = block._self_attention_layer
    query = unpack(attention._query_dense(x))
    key = unpack(attention._key_dense(x))
    value = unpack(attention._value_dense(x))
    context, _ = attention._compute_attention(query, key, value,
                                              attention_mask=attention_mask, training=False)
    attended = attention._output_dense(pack(context))
    x = block._self_attention_layer_norm(attended + x)
    feedforward = block._feedforward_output_dense(block._feedforward_intermediate_dense(x))
    return block._feedforward_layer_norm(feedforward + x)


def call_task_model(model, features):
    """`model(features, training=False)` with the packed backbone in place of `model.backbone`.

    Walks the task model's functional graph (Keras' own executor), calling
    every layer but the backbone as the model does.
    """
    if not _PACKING["enabled"]:
        return model(features, training=False)
    packed = PackedEncoder(model.backbone)
    inputs = model._standardize_inputs(features)
    outputs = model._run_through_graph(
        inputs, operation_fn=lambda op: packed if op is model.backbone else op)
    return outputs


def check_packed_matches(backbone, atol=None):
    """Raises if `PackedEncoder` no longer reproduces `backbone` at real tokens.

    Run when a serving module is built: the packed path calls private
    layers of keras-hub's `TransformerEncoder` and Keras'
    `MultiHeadAttention`, so a library upgrade that changes them must fail
    the export, not silently change what is served.
    """
    if atol is None:  # float32 round-off, or bfloat16's 8-bit mantissa
        atol = 1e-4 if backbone.compute_dtype == "float32" else 0.1
    rng = np.random.default_rng(0)
    vocab_size = backbone.embeddings.vocabulary_size
    lengths = np.array([5, 2, 7])
    mask = (np.arange(7)[None, :] < lengths[:, None]).astype("int32")
    inputs = {"input_ids": tf.constant(rng.integers(0, vocab_size, (3, 7)) * mask, tf.int32),
              "input_mask": tf.constant(mask),
              "segment_ids": tf.constant((np.arange(7)[None, :] >= 3) * mask, tf.int32)}
    expected = tf.cast(backbone(inputs, training=False)["sequence_output"], tf.float32).numpy()
    actual = tf.cast(PackedEncoder(backbone)._packed(inputs), tf.float32).numpy()
    difference = float(np.abs(expected - actual)[mask == 1].max())
    if not difference <= atol:
        raise RuntimeError(f"PackedEncoder: differs from {backbone.name} by {difference:.3g} "
                           f"(> {atol}); the Keras / keras-hub layers it mirrors have changed.")
