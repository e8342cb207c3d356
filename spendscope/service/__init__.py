"""The long-running side: the batch cycle (`spendscope run`), the scheduler and the HTTP API."""
