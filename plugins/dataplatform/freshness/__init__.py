"""Freshness: the sales dashboard's hourly aggregate (`dashboard_sales_refresh`) and the pipeline watchdog
(`pipeline_watchdog`), as plain Python the two DAGs call.

| module | what |
|---|---|
| `dashboard_spec`, `watchdog_spec` | `include/freshness/*.yaml` loaded into typed objects (thresholds as data) |
| `models` | what crosses a task boundary (XCom): refresh window, staged window, refresh record, verdict |
| `refresh_window` | which order times a run reads: watermark minus the late-data window, a backfill range, slices |
| `sales_extract` | the source contract (`include/contracts/sales_source.yaml`); order lines from the replica |
| `sales_aggregate` | order lines to hour x country x product line (pandas), and the lines' own totals |
| `sales_table` | the `analytics` schema in PostgreSQL: stage, publish (upsert + prune), refresh runs, freshness |
| `measurements` | what the watchdog reads: CloudWatch (GetMetricData), S3, the dashboard table, the live model |
| `verdicts` | measurement + threshold -> ok / breach / idle; when to alert (new breach, reminder, recovery); texts |
| `verdict_store` | the verdict history table, and the alert state read back from it |
| `watchdog` | one check end to end: measure, judge, alert (SNS), record, fail on a breach |
"""
