"""Units of scheduled work and the scheduler process around them.

Each job is a plain function a test (or `tthc scheduler --once JOB`) calls directly:

- `jobs.digest.run_digests`: the morning digests of one day, rendered and (optionally) delivered;
- `jobs.delivery.deliver`: claims and sends messages, each (day, digest, recipient) at most once;
- `jobs.scheduler`: imports from the declared sources, the refresh of derived columns, the digest
  job, and `run_scheduler`, the one long-running process (APScheduler) that runs them on time.
"""
