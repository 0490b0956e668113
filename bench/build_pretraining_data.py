"""Pre-training data builder throughput vs Hugging Face `tokenizers` (Rust).

    python bench/build_pretraining_data.py --vocab_file=vocab.txt \
        --input_files='../shared/data/gutenberg/train_*.txt' --repeats=3

Prints JSON lines (MB/s of input text, medians of `--repeats` runs):

* `build_pretraining_data`: the whole builder (tokenize, pack, serialize,
  write shards) with 1 and 2 processes, in-process, imports excluded.
* `tokenize_only`: tensorflow-text `FastBertTokenizer` (what the builder
  uses) and HF `tokenizers.BertWordPieceTokenizer.encode_batch` on the same
  lines with the same vocabulary: the like-for-like comparison, since HF
  has no ELECTRA example builder. HF runs with its default thread pool
  (all cores); the ratio is keras_electra / HF.
"""

import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("input_files", "../shared/data/gutenberg/train_*.txt", "Text globs.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt.", required=True)
flags.DEFINE_integer("max_seq_length", 128, "Example length.")
flags.DEFINE_integer("repeats", 3, "Runs per measurement (median reported).")
flags.DEFINE_list("num_processes", ["1", "2"], "Builder process counts to time.")
FLAGS = flags.FLAGS


def _median_mb_per_s(fn, num_bytes):
    times = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(num_bytes / 1e6 / statistics.median(times), 2), [round(t, 2) for t in times]


def main(argv):
    del argv
    import tensorflow as tf
    import tokenizers

    from keras_electra.data.pretraining_data import build_pretraining_data
    from keras_electra.data.text_dataset import expand_file_patterns
    from keras_electra.data.tokenizer import make_tokenizer

    files = expand_file_patterns(FLAGS.input_files)
    num_bytes = sum(os.path.getsize(f) for f in files)
    common = {"input_mb": round(num_bytes / 1e6, 1), "files": len(files),
              "cpu_count": os.cpu_count()}

    for processes in map(int, FLAGS.num_processes):
        def build():
            with tempfile.TemporaryDirectory() as out:
                build_pretraining_data(files, FLAGS.vocab_file, out,
                                       max_seq_length=FLAGS.max_seq_length, num_shards=8,
                                       num_processes=processes, progress=False)
        mb_s, times = _median_mb_per_s(build, num_bytes)
        print(json.dumps({"bench": "build_pretraining_data", "num_processes": processes,
                          "mb_per_s": mb_s, "seconds": times, **common}))

    lines = [line for f in files for line in open(f, encoding="utf-8").read().splitlines()
             if line.strip()]
    tokenizer, _, _ = make_tokenizer(FLAGS.vocab_file)

    def tf_text_tokenize():
        for i in range(0, len(lines), 1024):
            tokenizer.tokenize(tf.constant(lines[i:i + 1024])).flat_values.numpy()

    hf = tokenizers.BertWordPieceTokenizer(FLAGS.vocab_file, lowercase=True)

    def hf_tokenize():
        for i in range(0, len(lines), 1024):
            hf.encode_batch(lines[i:i + 1024], add_special_tokens=False)

    ours, ours_times = _median_mb_per_s(tf_text_tokenize, num_bytes)
    theirs, their_times = _median_mb_per_s(hf_tokenize, num_bytes)
    print(json.dumps({"bench": "tokenize_only", "tf_text_mb_per_s": ours,
                      "hf_tokenizers_mb_per_s": theirs, "ratio_tf_text_over_hf":
                      round(ours / theirs, 2), "tf_text_seconds": ours_times,
                      "hf_seconds": their_times, "hf_tokenizers_version": tokenizers.__version__,
                      **common}))


if __name__ == "__main__":
    app.run(main)
