"""The one run engine: what send-test, replay, storm mode and demo all send through.

- `plan`: targets loaded once (their secrets fed to the one redactor), bodies rendered
  per step, and the pure planner behind --dry-run and --as-curl;
- `send`: one request with retries, and its redacted result;
- `run`: N incidents x a scenario at concurrency C and rate R; yields step reports to
  consumers, tracks open test incidents and cleans them up;
- `outcome`: the one mapping from results to an outcome and an exit code, and the hints;
- `pace`: the rate limiter and the fixed-size latency histogram;
- `workers`: storm mode on W processes, each its own engine; one merged report.
"""
