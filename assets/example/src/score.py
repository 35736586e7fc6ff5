"""Scoring script for the sklearn-regression model, written for Azure ML's inference server:
init() loads the model once, run() answers each request."""

import json
import logging
import os

import joblib
import numpy

model = None


def init():
    """Load the model registered from the folder `model`, found under AZUREML_MODEL_DIR."""
    global model
    model_path = os.path.join(
        os.environ["AZUREML_MODEL_DIR"], "model", "sklearn_regression_model.pkl"
    )
    model = joblib.load(model_path)
    logging.info("model loaded from %s", model_path)


def run(raw_data):
    """Predict for {"data": [[10 floats], ...]}; returns one prediction per row."""
    data = json.loads(raw_data)["data"]
    result = model.predict(numpy.array(data))
    logging.info("scored %d rows", len(data))
    return result.tolist()
