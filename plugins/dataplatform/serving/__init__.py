"""Serving: the recommender the Lambdas ship (model inference, Firehose transformation). Plain Python.

Imports neither Airflow nor the loader (`dataplatform.vectordb`) nor the batch code (`dataplatform.batch`);
Airflow-side modules may import it, never the reverse (`tests/plugins/serving/test_import_boundary.py`).
"""
