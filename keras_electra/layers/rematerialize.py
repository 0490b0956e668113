"""`rematerialize`: gradient checkpointing for keras-hub's `TransformerEncoder` blocks."""

import keras


def rematerialize(block):
    """Makes `block` keep no activations for backprop; returns `block`.

    Gradient checkpointing (Chen et al. 2016, "Training Deep Nets with
    Sublinear Memory Cost"): in training, the forward pass of a
    `keras_hub.layers.TransformerEncoder` keeps only its input, and the
    backward pass runs the block forward again for the activations it needs
    (`tf.recompute_grad`). A stack's activation memory falls from every
    block's to one block's, for about one more forward pass of compute.

    Dropout is replayed exactly: the recomputation draws the same masks as
    the forward pass, so the gradients are the plain block's. (Keras' own
    `keras.RematScope` reruns the dropout layers' seed generators, which
    have advanced by then, and cannot pass `padding_mask` through a
    `tf.function`.) Inference, and calls that return attention scores,
    run the plain block.

    Only the instance's `call` changes: the class, the weights, their paths
    and the saved files (`.weights.h5`, checkpoints) are the plain block's,
    so weights move freely between runs with and without it.
    TensorFlow backend only.

    Args:
        block: a built or unbuilt `keras_hub.layers.TransformerEncoder`.

    Example:

    >>> import keras_hub
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> block = rematerialize(keras_hub.layers.TransformerEncoder(8, num_heads=2))
    >>> x = tf.constant(np.ones((1, 3, 4), "float32"))
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = block(x, training=True)
    >>> tape.gradient(y, x).shape
    TensorShape([1, 3, 4])
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError("rematerialize (ElectraConfig.remat) needs the TensorFlow backend, "
                         f"got {keras.backend.backend()!r}.")
    import tensorflow as tf

    plain = block.call

    def call(inputs, padding_mask=None, attention_mask=None, training=None,
             return_attention_scores=False):
        if not training or return_attention_scores:
            return plain(inputs, padding_mask=padding_mask, attention_mask=attention_mask,
                         training=training, return_attention_scores=return_attention_scores)
        # A copy of every dropout seed-generator state, taken before the
        # forward pass; both runs of `forward` (now, and the recomputation in
        # the backward pass) start from it, so they draw the same masks and
        # leave the states where the plain block would.
        generators = dropout_seed_generators(block)
        states = [tf.identity(generator.state.value) for generator in generators]

        def forward(x):
            for generator, state in zip(generators, states):
                generator.state.assign(state)
            # The masks are closed over: `tf.recompute_grad` differentiates
            # with respect to every positional input.
            return plain(x, padding_mask=padding_mask, attention_mask=attention_mask,
                         training=training)

        return tf.recompute_grad(forward)(inputs)

    block.call = call
    block.rematerialized = True
    return block


def dropout_seed_generators(layer):
    """The `SeedGenerator` of every `Dropout` in `layer` (none where the rate is 0)."""
    return [sublayer.seed_generator for sublayer in layer._flatten_layers()
            if isinstance(sublayer, keras.layers.Dropout)
            and getattr(sublayer, "seed_generator", None) is not None]
