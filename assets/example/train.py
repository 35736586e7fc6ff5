"""Train the example model: Ridge regression on scikit-learn's bundled diabetes data, saved
with joblib to model/sklearn_regression_model.pkl next to this file.

    python assets/example/train.py
"""

from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

MODEL_FILE = Path(__file__).resolve().parent / "model" / "sklearn_regression_model.pkl"


def main() -> None:
    features, target = load_diabetes(return_X_y=True)
    model = Ridge(alpha=0.5).fit(features, target)
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL_FILE)
    print(f"wrote {MODEL_FILE} (R^2 on training data: {model.score(features, target):.3f})")


if __name__ == "__main__":
    main()
