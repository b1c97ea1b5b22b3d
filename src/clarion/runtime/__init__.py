"""Workers and their plumbing: intake, orchestrator, dispatcher, leases, retries."""
