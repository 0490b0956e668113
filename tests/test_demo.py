import json

from keras_electra import demo
from keras_electra.config import ElectraConfig
from tests.test_case import REPO_ROOT


def test_demo_config_is_the_tiny_config():
    # The demo embeds its config so it runs from an installed package; it must
    # stay the one in configs/.
    shipped = json.loads((REPO_ROOT / "configs" / "electra_tiny.json").read_text())
    assert ElectraConfig.from_dict(demo.TINY_CONFIG) == ElectraConfig.from_dict(shipped)


def test_split_corpus_holds_out_last_documents(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n\n".join(f"doc {i} line a\ndoc {i} line b" for i in range(50)) + "\n\n")
    demo._split_corpus(str(corpus), str(tmp_path / "t"), str(tmp_path / "v"))
    train = (tmp_path / "t").read_text().strip().split("\n\n")
    valid = (tmp_path / "v").read_text().strip().split("\n\n")
    assert len(train) == 50 - demo.HELD_OUT_DOCUMENTS and len(valid) == demo.HELD_OUT_DOCUMENTS
    assert valid[0].startswith(f"doc {50 - demo.HELD_OUT_DOCUMENTS} ")
