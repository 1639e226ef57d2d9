"""The worker: claims pending events, runs them, retries, schedules polls."""
