"""Studies built from the package's command-line tools, run as child processes.

* `efficiency`, `report`: the ELECTRA-vs-MLM equal-compute study behind
  `python -m keras_electra.study` (the paper's Figure 1).
* `jobs`: what every study shares: one logged, resumable child process per
  run, fine-tuning results (`eval_results.json`) and pre-training curves
  (TensorBoard). `bench/transfer_study.py` uses it too.
"""
