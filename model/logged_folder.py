"""A logged pyfunc model's folder, as MLflow writes it (an `MLmodel` file, the weights folder among
its artifacts), read without importing MLflow: a server handed such a folder (SageMaker mounts it at
/opt/ml/model) starts without MLflow's import time and memory."""

from pathlib import Path

import yaml

ARTIFACT = "model_dir"
"""The pyfunc artifact that holds the weights folder (model/pyfunc.py logs it under this name)."""
MLMODEL = "MLmodel"


def is_logged_model(folder: Path) -> bool:
    return (folder / MLMODEL).exists()


def weights_folder(model_dir: Path) -> Path:
    """The weights folder inside a logged pyfunc model folder."""
    flavors = yaml.safe_load((model_dir / MLMODEL).read_text())["flavors"]
    return model_dir / flavors["python_function"]["artifacts"][ARTIFACT]["path"]
