"""scheduler: jobs, schedules, job-run history and locking. It orchestrates; no business logic."""
