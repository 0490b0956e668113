"""`make demo`: pre-train a tiny ELECTRA on text every Python install has.

    python -m keras_electra.demo                      # ~3 minutes on 2 CPU cores
    python -m keras_electra.demo --num_train_steps=1000 --model_dir=runs/demo_long

1. Writes a corpus from CPython's own documentation (`pydoc_data.topics`
   and the standard library's docstrings): no download, nothing copied into
   the repository. The last documents are held out for evaluation.
2. Trains a WordPiece vocabulary on it (tensorflow-text / keras-hub).
3. Pre-trains `configs/electra_tiny.json` with `fit` for 600 steps
   (generator sampling temperature 5.0: at 1.0-2.0 a run this short falls
   into the "everything is original" plateau, see README).
4. Evaluates the discriminator on held-out text against the all-original
   baseline and shows it scoring a sentence with one word replaced.
"""

import json
import os
import sys

from absl import app, flags

from keras_electra.atomic_io import atomic_write_text

flags.DEFINE_string("model_dir", "runs/demo", "Output directory.")
flags.DEFINE_integer("num_train_steps", 600, "Pre-training steps.")
flags.DEFINE_integer("vocab_size", 8192, "Target WordPiece vocabulary size.")
flags.DEFINE_string("hparams", None, "JSON overrides of the tiny config.")
FLAGS = flags.FLAGS

TINY_CONFIG = {
    "vocab_size": 8192, "embedding_size": 64, "hidden_size": 128, "num_layers": 2,
    "num_heads": 2, "intermediate_size": 512, "generator_hidden_size": 0.25,
    "max_position_embeddings": 128, "max_seq_length": 128, "temperature": 5.0,
    "learning_rate": 1e-3, "train_batch_size": 32, "num_train_steps": 600,
    "num_warmup_steps": 30,
}
ORIGINAL = "Return the number of items in the list, or zero if the list is empty."
REPLACED_WORD = "number"
# The first of these that is one token of the trained vocabulary replaces it.
REPLACEMENTS = ("because", "while", "module", "thread", "the")
HELD_OUT_DOCUMENTS = 40


def _split_corpus(corpus_path, train_path, valid_path):
    with open(corpus_path, encoding="utf-8") as f:
        documents = [d for d in f.read().split("\n\n") if d.strip()]
    for path, docs in ((train_path, documents[:-HELD_OUT_DOCUMENTS]),
                       (valid_path, documents[-HELD_OUT_DOCUMENTS:])):
        atomic_write_text(path, "\n\n".join(docs) + "\n")


def main(argv):
    del argv
    from keras_electra.config import ElectraConfig
    from keras_electra.data.builtin_corpus import write_builtin_corpus
    from keras_electra.data.text_dataset import text_dataset
    from keras_electra.data.vocab import load_vocabulary
    from keras_electra.detection import replaced_token_probabilities
    from keras_electra.training.run_pretraining import run_pretraining

    os.makedirs(FLAGS.model_dir, exist_ok=True)
    corpus = os.path.join(FLAGS.model_dir, "corpus.txt")
    train, valid = corpus + ".train", corpus + ".valid"
    size = write_builtin_corpus(corpus)
    _split_corpus(corpus, train, valid)
    print(f"[demo] corpus: {size / 1e6:.1f} MB of CPython documentation -> {corpus}")

    config = ElectraConfig.from_dict(TINY_CONFIG).with_overrides(FLAGS.hparams)
    pretrainer, _ = run_pretraining(
        config, FLAGS.model_dir, train, num_train_steps=FLAGS.num_train_steps,
        steps_per_epoch=50, vocab_size=FLAGS.vocab_size, verbose=2)
    vocab_file = os.path.join(FLAGS.model_dir, "vocab.txt")

    held_out = text_dataset(valid, vocab_file, config.max_seq_length, config.train_batch_size,
                            shuffle_buffer=0, repeat=False)
    steps = sum(1 for _ in held_out)  # a known length keeps Keras from warning at the end
    metrics = pretrainer.evaluate(held_out, steps=steps, verbose=0, return_dict=True)
    baseline = 1.0 - metrics["replaced_fraction"]
    print("[demo] held-out replaced-token detection: "
          f"accuracy {metrics['discriminator_accuracy']:.3f} vs {baseline:.3f} for always "
          f"'original'; precision {metrics['replaced_precision']:.2f}, recall "
          f"{metrics['replaced_recall']:.2f}, AUC {metrics['replaced_auc']:.3f}")

    vocabulary = set(load_vocabulary(vocab_file))
    replacement = next(word for word in REPLACEMENTS if word in vocabulary)
    corrupted = ORIGINAL.replace(REPLACED_WORD, replacement)
    for label, text in (("original", ORIGINAL), ("one word replaced", corrupted)):
        pairs = replaced_token_probabilities(pretrainer, vocab_file, [text])[0]
        print(f"[demo] {label}: {text}")
        print("       " + "  ".join(f"{token}:{p:.2f}" for token, p in pairs))
    print(json.dumps({"demo_metrics": metrics, "all_original_accuracy": baseline},
                     sort_keys=True))
    if metrics["discriminator_accuracy"] <= baseline:
        sys.exit("[demo] the discriminator did not beat the all-original baseline")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
