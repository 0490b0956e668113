"""Train a WordPiece vocabulary (tensorflow-text / keras-hub) on text files.

    python -m keras_electra.build_vocab --input_files='corpus/*.txt' \
        --output=vocab.txt --vocab_size=30522

`[PAD] [UNK] [CLS] [SEP] [MASK]` come first (ids 0-4), then
`--reserved_tokens`; the file is written atomically.
"""

import sys

from absl import app, flags

flags.DEFINE_string("input_files", None, "Comma-separated text files or globs.", required=True)
flags.DEFINE_string("output", None, "Path of the vocab.txt to write.", required=True)
flags.DEFINE_integer("vocab_size", 30522, "Target vocabulary size.")
flags.DEFINE_bool("lowercase", True, "Lowercase and strip accents (uncased vocabulary).")
flags.DEFINE_list("reserved_tokens", [], "Extra reserved tokens after the five special ones.")
flags.DEFINE_integer("max_lines", None, "Train on at most this many lines.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_electra.data.text_dataset import expand_file_patterns
    from keras_electra.data.vocab import REQUIRED_TOKENS, train_vocabulary

    try:
        vocabulary = train_vocabulary(
            expand_file_patterns(FLAGS.input_files), FLAGS.output, FLAGS.vocab_size,
            lowercase=FLAGS.lowercase,
            reserved_tokens=list(REQUIRED_TOKENS) + list(FLAGS.reserved_tokens),
            max_lines=FLAGS.max_lines)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {FLAGS.output}: {len(vocabulary)} tokens")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
