"""`export_hub`: a pre-trained discriminator as a TF Hub text encoder (preprocessor + encoder).

The layout is the one people already load from tfhub.dev for BERT and
ELECTRA (`google/electra_small/2` with `tensorflow/bert_en_uncased_preprocess/3`),
so code written for those runs unchanged on our checkpoints:

    export_dir/
      preprocessor/   strings -> input_word_ids, input_mask, input_type_ids
                      (+ tokenize, bert_pack_inputs); assets/vocab.txt
      encoder/        a reusable SavedModel: __call__(inputs, training) ->
                      pooled_output, sequence_output, encoder_outputs, default

Both load with `tf.saved_model.load`, with Keras 3's `keras.layers.TFSMLayer`
(`call_endpoint="serving_default"`, inference) and with
`tensorflow_hub.KerasLayer` in a `tf_keras` model; only the latter fine-tunes
the encoder (`trainable=True`), because Keras 3 optimizers reject restored
variables (see DESIGN.md). The preprocessor tokenizes in the graph
(tensorflow-text `FastBertTokenizer`): the loading process must
`import tensorflow_text` first.

tensorflow-hub 0.16.1 still imports `pkg_resources`, which setuptools >= 81
no longer ships: `import tensorflow_hub` needs `setuptools<81` (pinned in
requirements-test.txt).
"""

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from keras_electra.data.text_pair_encoder import pack_pair
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.export.serving_text import sanitize_utf8
from keras_electra.models.task_builders import discriminator_from_pretrainer

_ID_NAMES = ("input_word_ids", "input_mask", "input_type_ids")
# Our feature names (the original ELECTRA's) -> TF Hub's.
_HUB_NAMES = {"input_ids": "input_word_ids", "input_mask": "input_mask",
              "segment_ids": "input_type_ids"}
_STRINGS = tf.TensorSpec([None], tf.string, name="strings")
_ENCODER_INPUTS = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in _ID_NAMES}


def export_hub(pretrainer, config, export_dir, max_seq_length=None):
    """Writes `export_dir/preprocessor` and `export_dir/encoder`, TF Hub's text-encoder layout.

    `preprocessor` (a plain SavedModel; load it after `import tensorflow_text`):

    * `preprocessor(strings)`: a `(batch,)` string tensor -> `input_word_ids`,
      `input_mask`, `input_type_ids`, int32 `(batch, max_seq_length)`,
      packed `[CLS] text [SEP]` exactly as fine-tuning does
      (`keras_electra.data.text_pair_encoder.TextPairEncoder`). Also the
      `serving_default` signature (input `strings`).
    * `preprocessor.tokenize(strings)`: ragged int32 word-piece ids,
      `(batch, pieces)`. TF Hub's BERT preprocessors give `(batch, words,
      pieces)`; `bert_pack_inputs` here accepts either.
    * `preprocessor.bert_pack_inputs([tokens_a, tokens_b])` (one or two
      segments, `seq_length` only `max_seq_length`, which is baked in):
      `[CLS] a [SEP] b [SEP]`, truncated longest-first, as the original
      ELECTRA/BERT `_truncate_seq_pair`.
    * `preprocessor.get_special_tokens_dict()`: `vocab_size`,
      `start_of_sequence_id`, `end_of_segment_id`, `padding_id`, `mask_id`
      (as in TF Hub's preprocessors), and `preprocessor.vocab_file`, the
      asset `assets/vocab.txt`.

    `encoder` (a TF Hub reusable SavedModel of the discriminator, generator
    dropped): `encoder(inputs, training=False)` with `inputs` a dict of
    int32 `(batch, seq)` `input_word_ids`, `input_mask`, `input_type_ids`
    returns float32 `sequence_output` `(batch, seq, hidden)`,
    `encoder_outputs` (a list, one `(batch, seq, hidden)` per Transformer
    layer, the last equal to `sequence_output`), `pooled_output` and
    `default` `(batch, hidden)`. `pooled_output` is the last layer's `[CLS]`
    vector as is: ELECTRA has no pooler (original `model/modeling.py`:
    `self.pooled_output = self.sequence_output[:, 0]`), so add your own
    dense layer if a head expects BERT's tanh pooler. Dropout runs only with
    `training=True`. Attributes `variables`, `trainable_variables` and
    `regularization_losses` (empty) make it fine-tunable with
    `hub.KerasLayer(path, trainable=True)`. The `serving_default`
    signature takes the three id tensors and returns `sequence_output`,
    `pooled_output`, `default` and `encoder_outputs_0` ... `encoder_outputs_{L-1}`
    (signatures cannot return lists).

    The export is written to a temporary directory next to `export_dir` and
    renamed into place when complete, so a crash never leaves half an
    export under the final name.

    Args:
        pretrainer: an `ElectraPretrainer` (e.g. from
            `keras_electra.training.checkpoints.load_pretrainer`).
        config: its `ElectraConfig`; `vocab_file` (required) and
            `do_lower_case` configure the tokenizer.
        export_dir: where to write; must not exist or be empty.
        max_seq_length: the preprocessor's output length; defaults to
            `config.max_seq_length`, at most `config.max_position_embeddings`.

    Example:

    >>> export_hub(pretrainer, config, "export/hub")  # doctest: +SKIP

    then, in a process running `tf_keras` (`TF_USE_LEGACY_KERAS=1`):

    >>> import tensorflow_text, tensorflow_hub as hub, tf_keras  # doctest: +SKIP
    >>> text = tf_keras.Input(shape=(), dtype=tf.string)  # doctest: +SKIP
    >>> inputs = hub.KerasLayer("export/hub/preprocessor")(text)  # doctest: +SKIP
    >>> outputs = hub.KerasLayer("export/hub/encoder", trainable=True)(inputs)  # doctest: +SKIP
    >>> logits = tf_keras.layers.Dense(2)(outputs["pooled_output"])  # doctest: +SKIP
    """
    if max_seq_length is None:
        max_seq_length = config.max_seq_length
    max_seq_length = int(max_seq_length)
    if not 3 <= max_seq_length <= config.max_position_embeddings:
        raise ValueError(f"export_hub: max_seq_length={max_seq_length} must be between 3 "
                         f"([CLS] and two [SEP]) and max_position_embeddings "
                         f"({config.max_position_embeddings}).")
    if not config.vocab_file:
        raise ValueError("export_hub: config.vocab_file is not set; the preprocessor needs "
                         "the model's vocab.txt.")
    export_dir = os.path.abspath(export_dir)
    if os.path.exists(export_dir) and (not os.path.isdir(export_dir) or os.listdir(export_dir)):
        raise FileExistsError(f"export_hub: {export_dir} already exists and is not empty; "
                              f"choose a new export_dir.")

    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(export_dir)}.tmp")
    try:
        _save_preprocessor(config.vocab_file, config.do_lower_case, max_seq_length,
                           os.path.join(staging, "preprocessor"))
        _save_encoder(discriminator_from_pretrainer(pretrainer),
                      os.path.join(staging, "encoder"))
        # rename(2) replaces an empty directory, so an empty export_dir is fine too.
        os.replace(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _save_preprocessor(vocab_file, lowercase, max_seq_length, path):
    tokenizer, vocabulary, special = make_tokenizer(vocab_file, lowercase)
    root = tf.Module(name="electra_preprocessor")
    # FastBertTokenizer bakes the vocabulary into its op; the asset is there so
    # the export is self-contained (users read it back via `root.vocab_file`).
    # Saving copies an asset under its own basename, so stage it as vocab.txt.
    vocab_dir = tempfile.mkdtemp()
    try:
        shutil.copyfile(vocab_file, os.path.join(vocab_dir, "vocab.txt"))
        root.vocab_file = tf.saved_model.Asset(os.path.join(vocab_dir, "vocab.txt"))

        @tf.function(input_signature=[_STRINGS])
        def tokenize(strings):
            # One invalid UTF-8 string would fail the whole batch in the
            # tokenizer; replace bad bytes (U+FFFD) instead. No-op on valid text.
            return tokenizer.tokenize(sanitize_utf8(strings))

        def pack(segments, seq_length):
            if not 1 <= len(segments) <= 2:
                raise ValueError(f"bert_pack_inputs takes 1 or 2 segments, got {len(segments)}.")
            # TF Hub's tokenizers give (batch, words, pieces): merge the word axis.
            tokens = [s.merge_dims(1, 2) if s.ragged_rank == 2 else s for s in segments]
            features = pack_pair(tokens[0], tokens[1] if len(tokens) == 2 else None,
                                 seq_length, special.cls, special.sep, special.pad)
            return {_HUB_NAMES[name]: value for name, value in features.items()}

        @tf.function
        def bert_pack_inputs(segments, seq_length=max_seq_length):
            return pack(segments, seq_length)

        for ragged_rank in (1, 2):
            spec = tf.RaggedTensorSpec([None] * (ragged_rank + 1), tf.int32, ragged_rank,
                                       row_splits_dtype=tf.int64)
            for num_segments in (1, 2):
                bert_pack_inputs.get_concrete_function([spec] * num_segments,
                                                       seq_length=max_seq_length)

        @tf.function(input_signature=[_STRINGS])
        def call(strings):
            return pack([tokenize(strings)], max_seq_length)

        @tf.function(input_signature=[])
        def get_special_tokens_dict():
            return {name: tf.constant(value, tf.int32) for name, value in (
                ("vocab_size", len(vocabulary)), ("start_of_sequence_id", special.cls),
                ("end_of_segment_id", special.sep), ("padding_id", special.pad),
                ("mask_id", special.mask))}

        root.tokenize = tokenize
        root.bert_pack_inputs = bert_pack_inputs
        root.get_special_tokens_dict = get_special_tokens_dict
        root.__call__ = call
        # An attribute as well as a signature: TFSMLayer calls an attribute
        # positionally (`layer(strings)`), a signature only by keyword.
        root.serving_default = call
        tf.saved_model.save(root, path, signatures={"serving_default": call})
    finally:
        shutil.rmtree(vocab_dir, ignore_errors=True)


def _encoder_outputs(backbone, inputs, training):
    """The backbone's forward pass, keeping every Transformer layer's output.

    `ElectraBackbone` only returns the last layer, so this re-runs its own
    layers in its order: embeddings -> projection -> encoder blocks.
    """
    x = backbone.embeddings(inputs["input_word_ids"], inputs["input_type_ids"],
                            training=training)
    if backbone.embeddings_projection is not None:
        x = backbone.embeddings_projection(x)
    layers = []
    for block in backbone.encoder_blocks:
        x = block(x, padding_mask=inputs["input_mask"], training=training)
        # float32 out, whatever the compute dtype (e.g. mixed_bfloat16), as TF Hub's encoders.
        layers.append(tf.cast(x, tf.float32))
    sequence_output = layers[-1]
    pooled_output = sequence_output[:, 0]
    return {"sequence_output": sequence_output, "pooled_output": pooled_output,
            "default": pooled_output, "encoder_outputs": layers}


def _check_matches_backbone(backbone):
    """Fails loudly if `_encoder_outputs` no longer mirrors the backbone's graph."""
    rng = np.random.default_rng(0)
    vocab_size = backbone.embeddings.vocabulary_size
    ids = {"input_ids": rng.integers(0, vocab_size, (2, 5)).astype("int32"),
           "input_mask": np.array([[1] * 5, [1, 1, 1, 0, 0]], "int32"),
           "segment_ids": np.array([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0]], "int32")}
    expected = tf.cast(backbone(ids, training=False)["sequence_output"], tf.float32)
    actual = _encoder_outputs(backbone, {_HUB_NAMES[k]: v for k, v in ids.items()},
                              training=False)["sequence_output"]
    if not np.allclose(actual, expected, atol=1e-5, rtol=1e-3):
        raise RuntimeError("export_hub: the per-layer forward pass does not reproduce "
                           "ElectraBackbone's sequence_output; update _encoder_outputs.")


def _unique(variables):
    seen, result = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            result.append(variable)
    return result


def _save_encoder(backbone, path):
    _check_matches_backbone(backbone)

    @tf.function
    def call(inputs, training=False):
        return _encoder_outputs(backbone, inputs, training)

    # A reusable SavedModel is traced for both values of `training`;
    # hub.KerasLayer picks one with smart_cond.
    traced = [call.get_concrete_function(_ENCODER_INPUTS, training=training)
              for training in (False, True)]

    @tf.function(input_signature=[_ENCODER_INPUTS])
    def serve(inputs):
        outputs = _encoder_outputs(backbone, inputs, training=False)
        layers = outputs.pop("encoder_outputs")
        outputs.update({f"encoder_outputs_{i}": layer for i, layer in enumerate(layers)})
        return outputs

    # tf.train.Checkpoint, not tf.Module: a Module's `variables` is a
    # read-only property, and TF Hub reads these three attributes.
    # The tf.Variables the traced graphs read, not the Keras 3 variables that
    # wrap them: a root tracking the Keras objects saves, but TF1-style
    # loaders (TF Serving, saved_model_cli run) then fail with "Could not find
    # variable" (keras-team/keras#20095); Keras' own ExportArchive does this too.
    root = tf.train.Checkpoint()
    root.variables = _unique(v for function in traced for v in function.variables)
    root.trainable_variables = _unique(
        v for function in traced for v in function.trainable_variables)
    root.regularization_losses = []
    root.__call__ = call
    root.serving_default = serve  # for TFSMLayer, see _save_preprocessor
    tf.saved_model.save(root, path, signatures={"serving_default": serve})
