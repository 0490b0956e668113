"""Convert between a keras_electra model directory and Hugging Face checkpoints.

    # Hugging Face -> keras_electra (config.json, vocab.txt, pretrainer.weights.h5)
    python -m keras_electra.convert --from_transformers=hf/electra-small-discriminator \
        --generator_dir=hf/electra-small-generator --output_dir=runs/imported
    # keras_electra -> Hugging Face (ElectraForPreTraining + ElectraForMaskedLM)
    python -m keras_electra.convert --to_transformers --model_dir=runs/demo \
        --output_dir=hf/discriminator --generator_output_dir=hf/generator
"""

import sys

from absl import app, flags

flags.DEFINE_string("from_transformers", None,
                    "Hugging Face ElectraForPreTraining directory to import.")
flags.DEFINE_string("generator_dir", None,
                    "Hugging Face ElectraForMaskedLM directory (with --from_transformers).")
flags.DEFINE_bool("to_transformers", False, "Export --model_dir to Hugging Face format.")
flags.DEFINE_string("model_dir", None, "keras_electra model directory (with --to_transformers).")
flags.DEFINE_string("output_dir", None, "Where to write the result.", required=True)
flags.DEFINE_string("generator_output_dir", None,
                    "Where to write the generator (with --to_transformers).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_electra.convert.transformers import from_transformers, to_transformers
    from keras_electra.convert.transformers import config_from_transformers
    from keras_electra.training.checkpoints import load_pretrainer, save_pretrainer

    if bool(FLAGS.from_transformers) == FLAGS.to_transformers:
        sys.exit("error: give exactly one of --from_transformers=DIR or --to_transformers.")
    try:
        if FLAGS.from_transformers:
            config = config_from_transformers(FLAGS.from_transformers, FLAGS.generator_dir)
            pretrainer = from_transformers(FLAGS.from_transformers, FLAGS.generator_dir)
            save_pretrainer(pretrainer, config, FLAGS.output_dir)
        else:
            if not FLAGS.model_dir:
                sys.exit("error: --to_transformers needs --model_dir.")
            pretrainer, config = load_pretrainer(FLAGS.model_dir)
            to_transformers(pretrainer, FLAGS.output_dir,
                            generator_out_dir=FLAGS.generator_output_dir,
                            vocab_file=config.vocab_file)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {FLAGS.output_dir}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
