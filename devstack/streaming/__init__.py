"""Local streaming: the sales platform's user-activity events -> Kinesis (moto) -> a local Firehose that calls the
transformation Lambda in-process -> the recommendations bucket, with the CloudWatch metrics AWS would publish.

Modules: `sessions` (realistic sessions, pure) and `malformed` (malformed records) make the events, `source` reads
the generator's customers and products from the seeded source, `producer` writes them to Kinesis at a rate,
`lambda_runtime` invokes a handler as Lambda does, `firehose` is the delivery stream, `cloudwatch` publishes its
metrics, `pipeline` ties them together (`stream_events`). Command line: `python -m devstack.streaming --help`.

Local tooling only: nothing under `plugins/` imports it.
"""
