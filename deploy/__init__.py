"""Deployment tooling: builds and uploads what the Airflow platforms take from this repo.

`deploy.mwaa` is the Amazon MWAA bundle (`python -m deploy.mwaa build|upload`). Plain Python plus boto3:
no Airflow import, so it runs from any shell or CI job.
"""
