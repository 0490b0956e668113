r"""Build ELECTRA pre-training TFRecords from raw text (the original builder's examples).

    python -m keras_electra.build_pretraining_data \
        --input_files='../shared/data/gutenberg/train_*.txt' --vocab_file=vocab.txt \
        --output_dir=pretrain_tfrecords --max_seq_length=128 --num_shards=8 \
        --num_processes=2
    python -m keras_electra.pretrain ... \
        --input_files='pretrain_tfrecords/pretrain_data.tfrecord-*'

Input: text files, one paragraph per line, a blank line between documents.
Output in --output_dir: `pretrain_data.tfrecord-00000-of-00008` ... (with
--compression=gzip: `pretrain_data-00000-of-00008.tfrecord.gz` ...), each
record an `input_ids`/`input_mask`/`segment_ids` int64 example of
--max_seq_length, and `stats.json`. The output is byte-identical for a
given --seed whatever --num_processes is. An interrupted run resumes:
re-run the same command; complete shards are kept and skipped. See
`keras_electra/data/pretraining_data.py` for how bad input is handled.
"""

import sys
import time

from absl import app, flags

flags.DEFINE_string("input_files", None, "Comma-separated text files or globs "
                    "(one paragraph per line, blank line between documents).", required=True)
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt; the ids of [PAD] [UNK] [CLS] "
                    "[SEP] [MASK] are read from it.", required=True)
flags.DEFINE_string("output_dir", None, "Directory for the shards and stats.json.",
                    required=True)
flags.DEFINE_integer("max_seq_length", 128, "Tokens per example, [CLS]/[SEP]/[PAD] included.")
flags.DEFINE_integer("num_shards", 8, "Number of output files; documents are split among "
                     "them by position in the input, balanced by size.")
flags.DEFINE_integer("num_processes", 1, "Shards built in parallel; does not change the output.")
flags.DEFINE_enum("compression", "none", ["none", "gzip"],
                  "Shard compression; gzip shards are named *.tfrecord.gz.")
flags.DEFINE_bool("do_lower_case", True, "Lowercase and strip accents (uncased vocabulary).")
flags.DEFINE_integer("seed", 0, "Seed of the per-shard random generators.")
flags.DEFINE_integer("max_line_bytes", 1 << 20, "Lines longer than this are read in pieces "
                     "of at most this many bytes, each a line of the same document.")
flags.DEFINE_bool("split_long_lines", True, "Feed a line longer than one example as consecutive "
                  "pieces (nothing is lost); --nosplit_long_lines truncates it, as the "
                  "original builder does.")
flags.DEFINE_bool("progress", True, "Print a progress line to stderr.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_electra.data.pretraining_data import build_pretraining_data

    started = time.time()
    try:
        stats = build_pretraining_data(
            FLAGS.input_files, FLAGS.vocab_file, FLAGS.output_dir,
            max_seq_length=FLAGS.max_seq_length, num_shards=FLAGS.num_shards,
            num_processes=FLAGS.num_processes, compression=FLAGS.compression,
            do_lower_case=FLAGS.do_lower_case, seed=FLAGS.seed,
            max_line_bytes=FLAGS.max_line_bytes, split_long_lines=FLAGS.split_long_lines,
            progress=FLAGS.progress)
    except ValueError as e:
        sys.exit(f"error: {e}")
    seconds = time.time() - started
    print(f"wrote {stats['num_examples']} examples in {stats['num_shards']} shards to "
          f"{FLAGS.output_dir} ({stats['input_bytes'] / 1e6:.1f} MB of text in {seconds:.1f} s, "
          f"{stats['input_bytes'] / 1e6 / seconds:.2f} MB/s); statistics in "
          f"{FLAGS.output_dir}/stats.json")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
