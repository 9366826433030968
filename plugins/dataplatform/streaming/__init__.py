"""The streaming path's deployment: the Lambda functions, their `live` aliases and the Firehose delivery stream,
as configuration in `include/streaming/` (`specs`), built (`packages`), planned against what the account
describes (`plan`), applied idempotently on the provider hooks' boto3 clients (`sync`), with a smoke test of each
new function (`smoke`).

Plain Python, except `steps`: the Airflow extension module holding the `streaming_deploy` DAG's task bodies."""
