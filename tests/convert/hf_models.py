"""Tiny random Hugging Face ELECTRA pairs, and original TF1 checkpoints made of them.

Shared by the conversion tests (a plain module, not a test file, so every test
target can depend on it). `torch` and `transformers` are imported by the
functions that need them: a test module `pytest.importorskip`s them first.

The HF -> original name table is written from google-research/electra's
`model/modeling.py` and `run_pretraining.py`, independently of
`keras_electra.convert`: it is the oracle the loader is checked against.
Its checkpoints are written the way `run_pretraining.py` writes them: TF1
variables saved by `tf.compat.v1.train.Saver`, with `global_step`.
"""

import os
import shutil

import numpy as np
import tensorflow as tf

# Stored once, in the `electra/embeddings` scope; the LM head weight is tied to it.
GENERATOR_SHARED = ("electra.embeddings.", "generator_lm_head.weight")
# Buffers some `transformers` versions keep in the state dict; not weights.
_BUFFERS = ("position_ids", "token_type_ids")


def hf_config(**values):
    """A `transformers.ElectraConfig`: exact GELU, epsilon 1e-12, two segments and
    `initializer_range` 0.2 (10x the usual, so logits are O(1) and a 1e-5
    tolerance means something), unless `values` says otherwise."""
    import transformers

    values = dict(dict(type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
                       initializer_range=0.2), **values)
    return transformers.ElectraConfig(**values)


def pretraining_pair(discriminator_config, generator_config, seed=0):
    """An `ElectraForPreTraining` and an `ElectraForMaskedLM` sharing embeddings, in eval mode.

    Biases and LayerNorms are moved away from their (0, 1) init, so that a
    swapped bias or LayerNorm shows in the logits.
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    discriminator = transformers.ElectraForPreTraining(discriminator_config).eval()
    generator = transformers.ElectraForMaskedLM(generator_config).eval()
    with torch.no_grad():
        for model in (discriminator, generator):
            for name, parameter in model.named_parameters():
                if name.endswith("bias") or "LayerNorm" in name:
                    parameter.add_(0.1 * torch.randn_like(parameter))
        # ELECTRA shares these between the towers; HF stores them twice.
        generator.electra.embeddings.load_state_dict(
            discriminator.electra.embeddings.state_dict())
    return discriminator, generator


def padded_batch(vocab_size, seq_length=12, lengths=(12, 9, 5), seed=0):
    """Rows of the given lengths, two segments each (the second from half the
    length), `[PAD]` = 0 after; ids from 5, past the special tokens."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    positions = np.arange(seq_length)[None, :]
    input_mask = (positions < lengths[:, None]).astype("int32")
    segment_ids = ((positions >= (lengths // 2)[:, None]) * input_mask).astype("int32")
    input_ids = rng.integers(5, vocab_size, size=(len(lengths), seq_length)).astype("int32")
    return {"input_ids": input_ids * input_mask, "input_mask": input_mask,
            "segment_ids": segment_ids}


def _hf_inputs(batch):
    import torch

    return dict(input_ids=torch.from_numpy(batch["input_ids"]).long(),
                attention_mask=torch.from_numpy(batch["input_mask"]).long(),
                token_type_ids=torch.from_numpy(batch["segment_ids"]).long())


def hf_logits(model, batch):
    """`model(...).logits` of an HF model on a batch of ours, as numpy."""
    import torch

    with torch.no_grad():
        return model(**_hf_inputs(batch)).logits.numpy()


def hf_sequence_output(model, batch):
    """The last hidden state of an HF model's `electra` encoder, as numpy."""
    import torch

    with torch.no_grad():
        return model.electra(**_hf_inputs(batch)).last_hidden_state.numpy()


def _projected(config):
    # HF's `ElectraModel` has `embeddings_project` exactly when the sizes differ.
    return config.embedding_size != config.hidden_size


def tower_names(scope, num_layers, projected=True):
    """HF `electra.*` key -> original name, for the tower under `scope`
    ("electra" for the discriminator, "generator")."""
    names = {}
    if projected:
        names["electra.embeddings_project.weight"] = f"{scope}/embeddings_project/kernel"
        names["electra.embeddings_project.bias"] = f"{scope}/embeddings_project/bias"
    for i in range(num_layers):
        for sub in ("attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense", "intermediate.dense", "output.dense"):
            original = f"{scope}/encoder/layer_{i}/{sub.replace('.', '/')}"
            names[f"electra.encoder.layer.{i}.{sub}.weight"] = f"{original}/kernel"
            names[f"electra.encoder.layer.{i}.{sub}.bias"] = f"{original}/bias"
        for sub in ("attention.output.LayerNorm", "output.LayerNorm"):
            original = f"{scope}/encoder/layer_{i}/{sub.replace('.', '/')}"
            names[f"electra.encoder.layer.{i}.{sub}.weight"] = f"{original}/gamma"
            names[f"electra.encoder.layer.{i}.{sub}.bias"] = f"{original}/beta"
    return names


def discriminator_names(num_layers, projected=True):
    """HF `ElectraForPreTraining` key -> original name (the shared embeddings included)."""
    return {
        "electra.embeddings.word_embeddings.weight": "electra/embeddings/word_embeddings",
        "electra.embeddings.position_embeddings.weight":
            "electra/embeddings/position_embeddings",
        "electra.embeddings.token_type_embeddings.weight":
            "electra/embeddings/token_type_embeddings",
        "electra.embeddings.LayerNorm.weight": "electra/embeddings/LayerNorm/gamma",
        "electra.embeddings.LayerNorm.bias": "electra/embeddings/LayerNorm/beta",
        **tower_names("electra", num_layers, projected),
        "discriminator_predictions.dense.weight": "discriminator_predictions/dense/kernel",
        "discriminator_predictions.dense.bias": "discriminator_predictions/dense/bias",
        # `tf.layers.dense` names a scope's second unnamed dense `dense_1`.
        "discriminator_predictions.dense_prediction.weight":
            "discriminator_predictions/dense_1/kernel",
        "discriminator_predictions.dense_prediction.bias":
            "discriminator_predictions/dense_1/bias",
    }


def generator_names(num_layers, projected=True):
    """HF `ElectraForMaskedLM` key -> original name, without `GENERATOR_SHARED`."""
    return {
        **tower_names("generator", num_layers, projected),
        "generator_predictions.dense.weight": "generator_predictions/dense/kernel",
        "generator_predictions.dense.bias": "generator_predictions/dense/bias",
        "generator_predictions.LayerNorm.weight": "generator_predictions/LayerNorm/gamma",
        "generator_predictions.LayerNorm.bias": "generator_predictions/LayerNorm/beta",
        "generator_lm_head.bias": "generator_predictions/output_bias",
    }


def original_variables(discriminator, generator):
    """The weights of both HF models under their original names, kernels (in, out)."""
    disc_config, gen_config = discriminator.config, generator.config
    tables = (
        (discriminator, discriminator_names(disc_config.num_hidden_layers,
                                            _projected(disc_config)), ()),
        (generator, generator_names(gen_config.num_hidden_layers, _projected(gen_config)),
         GENERATOR_SHARED),
    )
    variables = {}
    for model, table, shared in tables:
        for key, value in model.state_dict().items():
            if key.startswith(shared) or key.endswith(_BUFFERS):
                continue
            name = table[key]  # KeyError: a tensor this table does not know
            value = value.numpy()
            variables[name] = value.T if name.endswith("/kernel") else value
    assert len(variables) == sum(len(table) for _, table, _ in tables)
    return variables


def write_checkpoint(prefix, variables, step=1000):
    """A TF1 `<prefix>-<step>`, as the original Estimator writes it; returns its prefix."""
    with tf.Graph().as_default():
        for name, value in variables.items():
            tf.compat.v1.get_variable(name, initializer=tf.constant(value))
        global_step = tf.compat.v1.train.get_or_create_global_step()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(global_step.assign(step))
            return tf.compat.v1.train.Saver().save(session, str(prefix), global_step=step)


def write_original_from_pretrainer(pretrainer, directory, step=1000):
    """Our pretrainer as an original TF1 checkpoint in `directory`; returns its prefix.

    Through Hugging Face (`to_transformers`, then `from_pretrained`) and the
    independent name table above, so the checkpoint does not depend on
    `keras_electra.convert.original`.
    """
    import transformers

    from keras_electra.convert.transformers import to_transformers

    directory = os.fspath(directory)
    hf_dir = os.path.join(directory, "hf")
    to_transformers(pretrainer, os.path.join(hf_dir, "discriminator"),
                    generator_out_dir=os.path.join(hf_dir, "generator"))
    discriminator = transformers.ElectraForPreTraining.from_pretrained(
        os.path.join(hf_dir, "discriminator"))
    generator = transformers.ElectraForMaskedLM.from_pretrained(
        os.path.join(hf_dir, "generator"))
    variables = original_variables(discriminator, generator)
    shutil.rmtree(hf_dir)
    return write_checkpoint(os.path.join(directory, "model.ckpt"), variables, step=step)
