"""Fine-tuning task data: GLUE TSV readers, SQuAD windows and answers, CoNLL tagging files.

Pure Python/numpy readers (files through `tf.io.gfile`); no model code.
"""

from keras_electra.data.tasks.conll import (
    align_word_labels, iob1_to_iob2, read_conll, sequence_word_ids, tag_vocabulary,
    word_predictions)
from keras_electra.data.tasks.glue import GLUE_TASKS, get_glue_task, parse_glue_file, read_glue
from keras_electra.data.tasks.glue_task import GlueTask
from keras_electra.data.tasks.squad import read_squad, squad_predictions, squad_windows
from keras_electra.data.tasks.squad_example import SquadExample
from keras_electra.data.tasks.squad_predictions import SquadPredictions
from keras_electra.data.tasks.squad_window import SquadWindow
from keras_electra.data.tasks.tagged_sentence import TaggedSentence
from keras_electra.data.tasks.task_example import TaskExample
from keras_electra.data.tasks.tsv_layout import TsvLayout
