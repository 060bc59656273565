"""spam-classifier: train a spam model with scikit-learn, serve it as plain data from anywhere.

>>> from spam_classifier import load_model
>>> load_model().predict(["WINNER!! Claim your free iPhone now"])
['spam']
"""

from .artifact import Artifact, read_artifact
from .errors import (
    ArtifactError,
    ConfigurationError,
    CorpusError,
    ModelNotFoundError,
    SpamClassifierError,
    StoreError,
)
from .preprocess import preprocess
from .scorer import Model, load_model

__all__ = [
    "Artifact",
    "ArtifactError",
    "ConfigurationError",
    "CorpusError",
    "Model",
    "ModelNotFoundError",
    "SpamClassifierError",
    "StoreError",
    "load_model",
    "preprocess",
    "read_artifact",
]
