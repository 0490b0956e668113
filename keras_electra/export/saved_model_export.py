"""`export_saved_model`: a model directory -> a TF Serving SavedModel that takes text.

The layout TF Serving watches is `BASE/NAME/VERSION` (VERSION an integer);
the SavedModel is written under a temporary name next to it and renamed
into place at the end, so the server never sees a half-written version.
`assets.extra/tf_serving_warmup_requests` holds a few real requests, which
TF Serving replays before it marks the version available (the first real
request then does not pay for graph initialisation).
"""

import json
import os
import shutil

import keras
from absl import logging

from keras_electra.export.classifier_module import ClassifierModule
from keras_electra.export.detector_module import DetectorModule
from keras_electra.export.span_module import SpanModule
from keras_electra.export.tagger_module import TaggerModule
from keras_electra.export.warmup import write_warmup_requests
from keras_electra.training.run_finetuning import (
    TASK_INFO_NAME, TASK_MODEL_NAME, load_pretrained)

# Real requests for the warmup file (and the README's examples).
WARMUP_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "ELECTRA trains a discriminator to spot replaced tokens.",
    "A short one.",
]
WARMUP_PAIRS = [
    ("The cat sat on the mat.", "A cat was sitting on a mat."),
    ("It rained all day.", "The weather was sunny."),
]
WARMUP_QUESTIONS = [
    ("Who wrote the letter?", "The letter was written by Ada Lovelace in 1843."),
    ("When did it rain?", "It rained all day on Sunday, and the weather was sunny on Monday."),
]


def export_saved_model(model_dir, export_dir, max_seq_length=None, warmup=True):
    """Exports the model in `model_dir` as a raw-text SavedModel at `export_dir`.

    `model_dir` is either a fine-tuning output (`model.keras` with its
    `task.json` and `vocab.txt`, written by `keras_electra.finetune`) or a
    pre-training model directory (ours, or a Hugging Face ELECTRA one); the
    first gives the task's signatures (`ClassifierModule`, `TaggerModule`,
    `SpanModule`), the second the replaced-token detector and embeddings
    (`DetectorModule`).

    Args:
        model_dir: the model to export.
        export_dir: `BASE/NAME/VERSION`; must not exist yet.
        max_seq_length: longest row (default: the fine-tuning length, or the
            pre-training config's `max_seq_length`).
        warmup: write `assets.extra/tf_serving_warmup_requests`.

    Returns:
        `{"export_dir", "signatures", "kind"}`.

    Example:

    >>> export_saved_model("runs/demo", "serving/electra/1")  # doctest: +SKIP
    """
    version = os.path.basename(os.path.normpath(export_dir))
    if not version.isdigit():
        raise ValueError(f"--export_dir={export_dir}: the last component must be an integer "
                         "version (TF Serving layout BASE/NAME/VERSION), e.g. serving/electra/1.")
    if os.path.exists(export_dir):
        raise ValueError(f"--export_dir={export_dir}: already exists; TF Serving versions are "
                         "immutable, export to a new version number.")
    module, kind, examples = serving_module(model_dir, max_seq_length)
    # Keras' ExportArchive, not tf.saved_model.save on an object holding the
    # Keras model: it tracks the tf.Variables the endpoints use directly, which
    # TF Serving's (TF1 session) loader needs; a tf.Module holding a Keras 3
    # model saves but fails there with "Could not find variable ..."
    # (keras-team/keras#20095).
    archive = keras.export.ExportArchive()
    for name, function in module.endpoints().items():
        function.get_concrete_function()  # traced: the archive takes its signature
        archive.add_endpoint(name, function)
    signatures = list(module.endpoints())
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{version}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        archive.write_out(tmp, verbose=False)
        if warmup:
            model_name = os.path.basename(parent)
            write_warmup_requests(tmp, model_name, "serving_default", examples)
        os.replace(tmp, export_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logging.info("Exported %s (%s) to %s with signatures %s", model_dir, kind, export_dir,
                 sorted(signatures))
    return {"export_dir": export_dir, "signatures": sorted(signatures), "kind": kind}


def serving_module(model_dir, max_seq_length=None):
    """`(module, kind, warmup inputs)` for a model directory.

    The module (`DetectorModule`, or for a fine-tuned `kind` a
    `ClassifierModule`, `TaggerModule` or `SpanModule`) holds the model and
    its in-graph text pipeline; its `endpoints()` are what gets exported
    (also by `export_tflite`, which takes the token-id one).
    """
    info_path = os.path.join(model_dir, TASK_INFO_NAME)
    if os.path.exists(info_path):
        return _task_module(model_dir, info_path, max_seq_length)
    pretrainer, config = load_pretrained(model_dir)
    if config.objective != "electra":
        # Only the "electra" objective trains the replaced-token head the
        # detector serves ("all_tokens_mlm" trains it to spot copies instead).
        raise ValueError(
            f"{model_dir}: pre-trained with objective={config.objective!r}, whose "
            "discriminator head is not a trained replaced-token detector; fine-tune it "
            "(python -m keras_electra.finetune) and export the fine-tuned model.")
    module = DetectorModule(pretrainer, config.vocab_file,
                            max_seq_length or config.max_seq_length, config.do_lower_case)
    return module, "detector", [{"text": WARMUP_TEXTS}]


def _task_module(model_dir, info_path, max_seq_length):
    with open(info_path, encoding="utf-8") as f:
        try:
            info = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{info_path}: not valid JSON ({e.msg}, line {e.lineno}).") from None
    kind = info.get("kind")
    if kind not in ("classification", "regression", "tagging", "span"):
        raise ValueError(f"{info_path}: kind={kind!r} cannot be exported yet; expected "
                         "'classification', 'regression', 'tagging' or 'span'.")
    import keras_electra  # noqa: F401  (registers the task classes for load_model)
    model = keras.saving.load_model(os.path.join(model_dir, TASK_MODEL_NAME), compile=False)
    vocab_file = os.path.join(model_dir, info.get("vocab_file", "vocab.txt"))
    lowercase = info.get("do_lower_case", True)
    if kind == "tagging":
        module = TaggerModule(model, vocab_file, max_seq_length or info["max_seq_length"],
                              labels=info.get("labels"), lowercase=lowercase)
        return module, kind, [{"text": WARMUP_TEXTS}]
    if kind == "span":
        # Windows as in fine-tuning; a --max_seq_length override re-cuts them (and the
        # answers may then differ from the runner's).
        module = SpanModule(model, vocab_file,
                            dict(info, max_seq_length=max_seq_length or info["max_seq_length"]))
        return module, kind, [{"question": [q for q, _ in WARMUP_QUESTIONS],
                               "context": [c for _, c in WARMUP_QUESTIONS]}]
    module = ClassifierModule(model, vocab_file, max_seq_length or info["max_seq_length"],
                              labels=info.get("labels"), is_pair=info.get("is_pair", False),
                              lowercase=lowercase)
    examples = ([{"text_a": [a for a, _ in WARMUP_PAIRS], "text_b": [b for _, b in WARMUP_PAIRS]}]
                if module.is_pair else [{"text": WARMUP_TEXTS}])
    return module, kind, examples
