"""Each package has one front door: a sorted __all__ with every public name once."""

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["actors", "messages", "supervisor", "actors.connectors",
                                  "actors.recovery", "actors.testing",
                                  "actors.connectors.amqp", "actors.connectors.coap",
                                  "actors.connectors.mqtt", "actors.connectors.nats",
                                  "actors.connectors.http", "actors.connectors.openai",
                                  "actors.connectors.aws", "actors.model"])
def test_exports_sorted_unique_and_importable(name):
    """__all__ is sorted (constants, classes, functions as ruff sorts), unique and real."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for item in exported:
        assert hasattr(module, item), f"{name}.{item} is exported but missing"


@pytest.mark.parametrize("name", ["actors", "messages", "supervisor"])
def test_packages_come_from_this_repository(name):
    """`supervisor` is this project's, not supervisord's."""
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(ROOT)


def test_no_pickle_in_runtime():
    """Nothing in the runtime imports pickle-like deserialisers."""
    for path in [*ROOT.glob("actors/**/*.py"), *ROOT.glob("messages/**/*.py"),
                 *ROOT.glob("supervisor/**/*.py"), ROOT / "run_node.py"]:
        text = path.read_text()
        for banned in ("import pickle", "from pickle", "import dill", "import cloudpickle", "marshal"):
            assert banned not in text, f"{path} uses {banned}"
