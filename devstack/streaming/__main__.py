"""`python -m devstack.streaming <command>`: local streaming on the local stack (`python -m devstack start` first).

    generate --events N [--rate R] [--malformed-share S] [--seed K]
        write N user-activity events (sessions of known and unknown customers, carts, long histories, a share
        of malformed records) to the local Kinesis stream, at R events/s (default: as fast as it takes them)
    deliver [--until-idle] [--seconds T] [buffering options]
        run the local Firehose: read the stream from its checkpoints, call the transformation Lambda, write
        to the recommendations bucket, publish the metrics; until the stream is drained (--until-idle), for T
        seconds, or until Ctrl-C
    run --events N [--rate R] [--malformed-share S] [--seed K]
        both, end to end, then count the bucket back: "N in = Ok + ProcessingFailed out"
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from devstack import stack
from devstack.env import local_env


def _apply_env() -> None:
    cfg = stack.StackConfig.from_env()
    env = local_env(cfg, stack.load_secrets(cfg))
    for key, value in env.items():
        os.environ.setdefault(key, value)
    sys.path[:0] = [p for p in env["PYTHONPATH"].split(":") if p not in sys.path]


def _generation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, required=True, help="how many records to write")
    p.add_argument("--rate", type=float, default=None, help="events per second (default: unthrottled)")
    p.add_argument("--malformed-share", type=float, default=0.05, help="share of malformed records (default 0.05)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.streaming", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _generation(sub.add_parser("generate", help="write events to the local Kinesis stream"))
    deliver = sub.add_parser("deliver", help="run the local Firehose")
    deliver.add_argument("--until-idle", action="store_true", help="stop when the stream is drained")
    deliver.add_argument("--seconds", type=float, default=None, help="stop after this long")
    deliver.add_argument("--processing-buffer-mb", type=float, default=None,
                         help="Lambda buffer size (default: the delivery stream's)")
    deliver.add_argument("--processing-interval", type=float, default=None, help="Lambda buffer interval, seconds")
    deliver.add_argument("--s3-buffer-mb", type=float, default=None, help="S3 buffer size")
    deliver.add_argument("--s3-interval", type=float, default=None, help="S3 buffer interval, seconds")
    _generation(sub.add_parser("run", help="generate + deliver + count back"))
    args = parser.parse_args(argv)
    _apply_env()

    import time

    from devstack.streaming import pipeline
    from devstack.streaming.firehose import Buffering, DeliveryStream, MiB
    from devstack.streaming.sessions import SessionMix

    seed = args.seed if getattr(args, "seed", None) is not None else time.time_ns() % 2**32
    if args.command == "generate":
        produced = pipeline.generate(args.events, rate=args.rate, seed=seed,
                                     mix=SessionMix(malformed_share=args.malformed_share))
        print(f"wrote {produced.records:,} records ({produced.malformed:,} malformed, {produced.bytes:,} bytes) "
              f"in {produced.seconds:.1f}s (seed {seed})")
    elif args.command == "deliver":
        from dataplatform.config import settings

        stream = DeliveryStream.from_settings(settings())
        p, d = stream.processing, stream.delivery
        stream = replace(stream, processing=Buffering(
            int(args.processing_buffer_mb * MiB) if args.processing_buffer_mb else p.size_bytes,
            args.processing_interval if args.processing_interval is not None else p.interval_seconds),
            delivery=Buffering(int(args.s3_buffer_mb * MiB) if args.s3_buffer_mb else d.size_bytes,
                               args.s3_interval if args.s3_interval is not None else d.interval_seconds))
        firehose = pipeline.open_firehose(stream)
        try:
            report = firehose.run(until_idle=args.until_idle, max_seconds=args.seconds)
        except KeyboardInterrupt:
            report = firehose.report
        print(f"read {report.read:,}: {report.ok:,} Ok, {report.processing_failed:,} ProcessingFailed "
              f"{report.failed}, {report.dropped:,} Dropped; {report.invocations} invocation(s); "
              f"{len(report.objects)} object(s) + {len(report.error_objects)} error object(s) in "
              f"s3://{stream.bucket}/; Lambda log: {firehose.function.log_path}")
    else:
        counts = pipeline.stream_events(args.events, rate=args.rate, malformed_share=args.malformed_share, seed=seed)
        print(counts.summary())
        sys.exit(0 if counts.balanced else 1)


if __name__ == "__main__":
    main()
