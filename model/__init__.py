"""The style CNN: dataset, architecture, training with MLflow, evaluation, pyfunc, shipped champion."""
