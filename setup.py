"""keras_electra: ELECTRA pre-training for Keras 3 / TensorFlow."""

import setuptools

CLIS = {
    "keras-electra-pretrain": "keras_electra.pretrain:run",
    "keras-electra-finetune": "keras_electra.finetune:run",
    "keras-electra-build-vocab": "keras_electra.build_vocab:run",
    "keras-electra-build-pretraining-data": "keras_electra.build_pretraining_data:run",
    "keras-electra-convert": "keras_electra.convert.__main__:run",
    "keras-electra-export": "keras_electra.export.__main__:run",
    "keras-electra-demo": "keras_electra.demo:run",
    "keras-electra-study": "keras_electra.study:run",
}

setuptools.setup(
    name="keras_electra",
    version="0.1.0",
    description="ELECTRA pre-training (Clark et al., 2020) for Keras 3 / TensorFlow",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["keras_electra", "keras_electra.*"]),
    install_requires=[
        "tensorflow==2.21.*",
        "tensorflow-text==2.21.*",
        "keras>=3.15,<4",
        "keras-hub>=0.32",
        "tensorboard",
        "absl-py",
        "safetensors",
        # Fine-tuning metrics (keras_electra.metrics).
        "scikit-learn>=1.3",
        "scipy>=1.10",
        "seqeval>=1.2",
        # Serving (keras_electra.export): PredictRequest/PredictionLog protos for
        # warmup records and the client; the LiteRT interpreter for --format=tflite.
        "tensorflow-serving-api==2.21.*",
        "ai-edge-litert>=2.3",
        # The efficiency study's plot (keras_electra.studies.report).
        "matplotlib>=3.8",
    ],
    extras_require={
        "test": ["pytest", "pytest-xdist", "torch==2.13.0", "transformers>=5",
                 # The TF Hub reusable-SavedModel path is checked with the TF Hub stack.
                 "tensorflow-hub>=0.16", "tf-keras==2.21.*"],
    },
    entry_points={"console_scripts": [f"{name}={target}" for name, target in CLIS.items()]},
)
