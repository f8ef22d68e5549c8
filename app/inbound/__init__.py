"""Instagram webhooks (verify, store, dedupe, process) and Meta's deauthorize and data-deletion callbacks."""
