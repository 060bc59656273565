"""The seed-style server, as the article builds it: Flask + a joblib-loaded TF-IDF + MultinomialNB pipeline.

    python bench/seed_server.py train SMSSpamCollection model.joblib   # fit and joblib.dump the pipeline
    SEED_MODEL=model.joblib gunicorn -w 1 -k gthread --threads 8 -b 127.0.0.1:8001 seed_server:app

Only bench/load.py uses it, to compare our server with this baseline under the same load.
"""

import os
import sys

import joblib
from flask import Flask, jsonify, request

app = Flask(__name__)
_pipeline = joblib.load(os.environ["SEED_MODEL"]) if "SEED_MODEL" in os.environ else None


@app.post("/predict")
def predict():
    message = (request.get_json(silent=True) or {}).get("message")
    if not isinstance(message, str):
        return jsonify({"error": "message must be a string"}), 400
    return jsonify({"prediction": str(_pipeline.predict([message])[0])})


def train(sms_path: str, out: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    with open(sms_path, encoding="utf-8") as lines:
        rows = [line.rstrip("\n").split("\t", 1) for line in lines if "\t" in line]
    pipeline = make_pipeline(TfidfVectorizer(), MultinomialNB())
    pipeline.fit([text for _, text in rows], [label for label, _ in rows])
    joblib.dump(pipeline, out)


if __name__ == "__main__" and sys.argv[1:2] == ["train"]:
    train(sys.argv[2], sys.argv[3])
