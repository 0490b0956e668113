"""Export a model as a TF Serving SavedModel that takes raw text.

    # pre-trained model: replaced-token detector + embeddings
    python -m keras_electra.export --model_dir=runs/demo --export_dir=serving/electra/1
    # fine-tuned classifier (a finetune --model_dir, or one of its seed_<i>/)
    python -m keras_electra.export --model_dir=runs/sst2 --export_dir=serving/sst2/1
    docker run -p 8501:8501 -v $PWD/serving/sst2:/models/sst2 -e MODEL_NAME=sst2 \
        tensorflow/serving

The export directory must not exist (TF Serving versions are immutable);
`saved_model_cli show --all --dir=serving/sst2/1` lists its signatures.
"""

import json
import sys

from absl import app, flags

flags.DEFINE_string("model_dir", None, "A pre-training model directory (ours or Hugging "
                    "Face ELECTRA) or a fine-tuning output with model.keras.", required=True)
flags.DEFINE_string("export_dir", None, "BASE/NAME/VERSION, VERSION an integer.", required=True)
flags.DEFINE_integer("max_seq_length", None, "Longest row (default: the model's own).")
flags.DEFINE_bool("warmup", True, "Write assets.extra/tf_serving_warmup_requests.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_electra.export.saved_model_export import export_saved_model
    try:
        result = export_saved_model(FLAGS.model_dir, FLAGS.export_dir,
                                    max_seq_length=FLAGS.max_seq_length, warmup=FLAGS.warmup)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(result))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
