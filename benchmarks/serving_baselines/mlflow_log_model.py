"""Run by MLflow's interpreter: fit the benchmark's model on the same seeded data and log it
with mlflow.sklearn.log_model into a SQLite tracking store in FOLDER; prints the model URI.

    python mlflow_log_model.py FOLDER   (FOLDER holds X.npy and y.npy)
"""

from __future__ import annotations

import json
import sys
import warnings

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

folder = sys.argv[1]
X, y = np.load(f"{folder}/X.npy"), np.load(f"{folder}/y.npy")
frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
# Fitted on named columns, as MLflow hands the model a DataFrame: no warning on every call.
model = LogisticRegression(max_iter=1000).fit(frame, y)
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
with warnings.catch_warnings(), mlflow.start_run():
    warnings.simplefilter("ignore")
    try:
        info = mlflow.sklearn.log_model(model, name="model", input_example=frame.head(1))
    except TypeError:  # MLflow 2 calls it artifact_path
        info = mlflow.sklearn.log_model(model, artifact_path="model", input_example=frame.head(1))
print(json.dumps({"uri": info.model_uri, "version": mlflow.__version__}))
