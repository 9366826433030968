"""The streaming path's deployment: the Lambda functions, their `live` aliases and the Firehose delivery stream,
as configuration in `include/streaming/` (`specs`), planned against what the account describes (`plan`), applied
idempotently on the provider hooks' boto3 clients (`sync`), with a smoke test of each new function (`smoke`).

Plain Python: no Airflow import (the DAG `streaming_deploy` wires it)."""
